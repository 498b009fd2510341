"""The benchmark server: the real Orgward app plus the hand-written baseline, in one process.

`python -m bench.server --database-url URL --port P` serves, with one uvicorn worker on
127.0.0.1:
- /graphql (and the rest of the app) built by api.app.create_app, production settings;
- /baseline/… (bench/baseline.py), inserted into the same app's router, so both pass through
  the same middleware and share the process, the event loop and the CPU;
- GET /bench/statements: SQL statements sent so far by the app's engines (GraphQL) and by the
  baseline's asyncpg pool, which the runner reads before and after one request; POST
  /bench/counting {"on": true|false} starts and stops counting the app's (off under load).
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
import uvicorn
from sqlalchemy import event
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.app import create_app
from bench.baseline import Baseline
from bench.dataset import SECRET_KEY, asyncpg_dsn
from core.settings import Settings


class StatementCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *_args: Any, **_kwargs: Any) -> None:
        self.count += 1


def bench_settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        environment="production",  # type: ignore[arg-type]
        secret_key=SECRET_KEY,
        run_worker_in_process=False,
        # The load is one token's: count every request, but never refuse one.
        token_rate_per_minute=1_000_000_000,
    )


def build_app(database_url: str) -> Starlette:
    settings = bench_settings(database_url)
    app = create_app(settings, run_worker=False, apply_migrations=False)
    state = app.state.orgward
    counter = StatementCounter()
    engines = [engine.sync_engine for engine in (state.engine, state.side_engine) if engine]
    baseline = Baseline(
        dsn=asyncpg_dsn(database_url),
        secret_key=settings.secret_key,
        cookie_name=settings.session_cookie_name,
    )

    async def statements(_request: Request) -> Response:
        body = {"graphql": counter.count, "baseline": baseline.statements}
        return Response(orjson.dumps(body), media_type="application/json")

    async def counting(request: Request) -> Response:
        # On while the runner checks the answers, off under load: SQLAlchemy's event
        # dispatch for a listener costs the GraphQL side time the baseline's `+= 1` does not.
        on = orjson.loads(await request.body())["on"]
        for engine in engines:
            listening = event.contains(engine, "before_cursor_execute", counter)
            if on and not listening:
                event.listen(engine, "before_cursor_execute", counter)
            elif not on and listening:
                event.remove(engine, "before_cursor_execute", counter)
        return Response(b"{}", media_type="application/json")

    # Right after /graphql (the app's first route): neither side matches the other's paths
    # first, but for one pattern.
    assert app.router.routes[0].path == "/graphql"  # type: ignore[attr-defined]
    app.router.routes[1:1] = [
        *baseline.routes(),
        Route("/bench/statements", statements),
        Route("/bench/counting", counting, methods=["POST"]),
    ]
    app_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_: Starlette) -> AsyncIterator[None]:
        async with app_lifespan(app_):
            await baseline.start()
            try:
                yield
            finally:
                await baseline.stop()

    app.router.lifespan_context = lifespan
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        build_app(args.database_url),
        host="127.0.0.1",
        port=args.port,
        workers=1,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
