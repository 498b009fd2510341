"""The load generator's figures of several runs merge into one (bench/load.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench import load

latencies = st.lists(st.floats(0.01, 500, allow_nan=False), min_size=1, max_size=60)


def _run(latencies_ms: list[float], seconds: float, *, keep: bool = True) -> load.Result:
    summary = load._summary([ms / 1000 for ms in latencies_ms], 0, seconds, "asyncio")
    if keep:
        return summary
    return load.Result(**{**load._asdict(summary), "latencies_ms": ()})


@given(st.lists(st.tuples(latencies, st.floats(0.1, 10)), min_size=1, max_size=5))
def test_runs_merge_as_one_run_of_all_their_requests(runs: list[tuple[list[float], float]]) -> None:
    merged = load.merge([_run(ms, seconds) for ms, seconds in runs])
    together = _run([ms for run, _ in runs for ms in run], sum(s for _, s in runs))
    assert merged.requests == together.requests
    assert merged.rps == together.rps
    # Latencies travel from the generator in ms to four decimals.
    assert merged.p50_ms == pytest.approx(together.p50_ms, abs=1e-4)
    assert merged.p99_ms == pytest.approx(together.p99_ms, abs=1e-4)


def test_runs_without_latencies_merge_conservatively() -> None:
    # wrk reports percentiles only: the p50 weighed by requests, the worst p99.
    fast = _run([1.0] * 30, 1.0, keep=False)
    slow = _run([3.0] * 10, 1.0, keep=False)
    merged = load.merge([fast, slow])
    assert merged.requests == 40 and merged.rps == 20
    assert merged.p50_ms == (1.0 * 30 + 3.0 * 10) / 40
    assert merged.p99_ms == 3.0
