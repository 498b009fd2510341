"""bench/takeover.py runs end to end on a tiny dataset (PostgreSQL only): its own database, both
sides checked to touch the same number of accounts, the report and the JSON. No timing is
asserted: figures on a shared test machine mean nothing."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from sqlalchemy.engine import make_url

from bench import takeover
from bench.dataset import drop

POSTGRES_URL = os.environ.get("ORGWARD_TEST_DATABASE_URL", "").strip()

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL,
    reason="the benchmark needs PostgreSQL: set ORGWARD_TEST_DATABASE_URL",
)


def test_the_takeover_benchmark_runs_on_a_tiny_dataset() -> None:
    name = f"orgward_bench_takeover_smoke_{uuid.uuid4().hex[:12]}"
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        outcome = asyncio.run(takeover.measure(url, users=300, in_domain=60, repeat=2, log=False))
    finally:
        asyncio.run(drop(url))

    assert len(outcome.baseline_seconds) == len(outcome.takeover_seconds) == 2
    assert outcome.ratio > 0
    # A handful of statements, however many accounts.
    assert 0 < outcome.statements < 30
    figures = outcome.as_json()
    assert {"takeover_ratio", "takeover_seconds", "bare_update_seconds"} <= set(figures)
    assert "ratio" in takeover.report(outcome)
