"""The benchmark's command line (see README.md, "Benchmark").

python -m bench [--quick] [--json PATH] [--duration S] [--rounds N] [--connections N]
                [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench import dataset
from bench.runner import Options, as_json, run, table


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Dashboard queries through GraphQL against hand-written asyncpg routes, "
        "on one server process (PostgreSQL only).",
    )
    parser.add_argument("--quick", action="store_true", help="small dataset and short runs")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    parser.add_argument("--duration", type=float, help="seconds of load per side and query")
    parser.add_argument("--warmup", type=float, help="seconds of load before each measurement")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--rounds",
        type=int,
        help="parts each side's load comes in, the sides taking turns (default 4, 2 with --quick)",
    )
    parser.add_argument(
        "--database-url",
        help="the benchmark's own PostgreSQL database, created and dropped as needed "
        f"(default {dataset.DEFAULT_DATABASE_URL}, with _quick for --quick)",
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the dataset")
    parser.add_argument("--only", help="comma-separated queries, e.g. Q0,Q2_50")
    args = parser.parse_args()
    options = Options(
        spec=dataset.QUICK if args.quick else dataset.FULL,
        database_url=args.database_url,
        duration=args.duration or (3.0 if args.quick else 10.0),
        warmup=args.warmup if args.warmup is not None else (1.0 if args.quick else 3.0),
        connections=args.connections,
        rounds=args.rounds or (2 if args.quick else 4),
        rebuild=args.rebuild,
        only=tuple(key.strip() for key in args.only.split(",")) if args.only else (),
    )
    outcome = run(options)
    print()
    print(table(outcome, options))
    if args.json:
        args.json.write_text(json.dumps(as_json(outcome), indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
