"""The benchmark (bench/, issue 7) runs end to end on a tiny dataset: its own database, the real
server with the baseline routes, the answer check, the load generator, the table and the JSON.
No timing is asserted: figures on a shared test machine mean nothing."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from sqlalchemy.engine import make_url

from bench import dataset
from bench.runner import Options, as_json, run, table

POSTGRES_URL = os.environ.get("ORGWARD_TEST_DATABASE_URL", "").strip()

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL,
    reason="the benchmark needs PostgreSQL: set ORGWARD_TEST_DATABASE_URL",
)

QUERIES = {"Q0", "Q0_bearer", "Q2_1", "Q2_50", "Q2_200", "Q3", "Q4_first", "Q4_deep"}


def test_the_benchmark_checks_and_loads_every_query_on_a_tiny_dataset() -> None:
    # A database of this test's own, never the suite's nor a shared benchmark database.
    name = f"orgward_bench_smoke_{uuid.uuid4().hex[:12]}"
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    options = Options(
        spec=dataset.TINY,
        database_url=url,
        duration=0.4,
        warmup=0,
        connections=2,
        rounds=2,  # the sides take turns
        log=False,
    )
    try:
        outcome = run(options)
    finally:
        asyncio.run(dataset.drop(url))

    assert set(outcome.results) == QUERIES
    for key, figures in outcome.results.items():
        # Both sides answered (the same JSON, checked by the runner before any load).
        assert figures["graphql_rps"] > 0, key
        assert figures["baseline_rps"] > 0, key
        assert figures["ratio"] is not None, key
        assert len(figures["turn_ratios"]) == 2 and all(figures["turn_ratios"]), key
        assert figures["statements"] >= 1, key
        assert figures["baseline_statements"] >= 1, key
    # Q0 is one session lookup on both sides.
    assert outcome.results["Q0"]["statements"] == 1
    assert outcome.results["Q0"]["baseline_statements"] == 1
    # Q0_bearer: the token lookup (its rate limit is served from a lease taken while warming).
    assert outcome.results["Q0_bearer"]["statements"] == 1
    assert outcome.results["Q0_bearer"]["baseline_statements"] == 1
    assert outcome.rss_mb > 0
    assert "Q2_50" in table(outcome, options)
    assert set(as_json(outcome)) == QUERIES | {"_meta"}
