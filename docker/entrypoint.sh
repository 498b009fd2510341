#!/bin/sh
# api: apply migrations, then serve; worker: run background sweeps. Anything else runs as given.
set -e
case "$1" in
  api)
    orgward migrate
    exec orgward serve --host 0.0.0.0 --port "${PORT:-8000}"
    ;;
  worker)
    exec orgward worker
    ;;
  *)
    exec "$@"
    ;;
esac
