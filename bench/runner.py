"""Runs the benchmark: dataset, server, a correctness check, then load on both sides.

For each query the GraphQL endpoint and its hand-written baseline are checked to return the
same JSON (same rows), their SQL statements per request are counted on the server, and both are
loaded in turn with the same generator, connections and duration.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import dataset, load
from bench.dataset import Dataset, Spec
from bench.load import Request
from bench.server import bench_settings

ROOT = Path(__file__).resolve().parent.parent

MEMBER_FIELDS = "role user { id username displayName email }"
Q0 = "query Q0 { viewer { id } }"
Q2 = (
    "query Q2($slug: String!) { team(slug: $slug) { members(first: %d) { edges { node { "
    + MEMBER_FIELDS
    + " } } } domains { name status } } }"
)
Q3 = (
    "query Q3 { viewer { teams(first: 20) { edges { node { name members(first: 10) { edges "
    "{ node { " + MEMBER_FIELDS + " } } } } } } } }"
)
Q4 = (
    "query Q4($slug: String!, $after: String, $actions: [String!]) { team(slug: $slug) { "
    "auditEvents(first: 50, after: $after, filter: {actions: $actions}) { edges { cursor node "
    "{ id action actorKind targetType targetId createdAt details } } pageInfo { hasNextPage "
    "endCursor } } } }"
)


@dataclass(frozen=True, slots=True)
class Case:
    key: str
    graphql: Request
    baseline: Request


@dataclass
class Options:
    spec: Spec = dataset.QUICK
    database_url: str | None = None
    duration: float = 3.0
    warmup: float = 1.0
    connections: int = 16
    # Each side's load comes in this many parts, the sides taking turns (A B B A ...), so a
    # machine slowing down or speeding up during a query weighs on both alike.
    rounds: int = 4
    rebuild: bool = False
    only: tuple[str, ...] = ()
    log: bool = True


@dataclass
class Outcome:
    dataset: Dataset
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    rss_mb: float = 0.0
    peak_rss_mb: float = 0.0
    notes: list[str] = field(default_factory=list)


def cursor(key: int) -> str:
    return base64.urlsafe_b64encode(f"cursor:{key}".encode()).decode()


def cases(data: Dataset) -> list[Case]:
    settings = bench_settings(data.database_url)
    cookie = f"{settings.session_cookie_name}={data.session_token}"
    origin = settings.public_base_url

    def graphql(query: str, **variables: Any) -> Request:
        body = orjson.dumps({"query": query, "variables": variables})
        headers = {"content-type": "application/json", "cookie": cookie, "origin": origin}
        return Request("POST", "/graphql", headers, body)

    def baseline(path: str) -> Request:
        return Request("GET", path, {"cookie": cookie})

    bearer = {"authorization": f"Bearer {data.bearer_token}"}
    q0_bearer = Case(
        "Q0_bearer",
        Request("POST", "/graphql", {"content-type": "application/json", **bearer},
                orjson.dumps({"query": Q0, "variables": {}})),
        Request("GET", "/baseline/q0_bearer", bearer),
    )  # fmt: skip

    slug = data.team_slug
    actions = "&".join(f"action={action}" for action in data.audit_actions)
    deep = cursor(data.deep_after)
    return [
        Case("Q0", graphql(Q0), baseline("/baseline/q0")),
        q0_bearer,
        *(
            Case(f"Q2_{n}", graphql(Q2 % n, slug=slug), baseline(f"/baseline/q2/{slug}?first={n}"))
            for n in (1, 50, 200)
        ),
        Case("Q3", graphql(Q3), baseline("/baseline/q3")),
        Case(
            "Q4_first",
            graphql(Q4, slug=slug, actions=list(data.audit_actions)),
            baseline(f"/baseline/q4/{slug}?{actions}"),
        ),
        Case(
            "Q4_deep",
            graphql(Q4, slug=slug, after=deep, actions=list(data.audit_actions)),
            baseline(f"/baseline/q4/{slug}?{actions}&after={deep}"),
        ),
    ]


# --- the server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((load.HOST, 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def server(database_url: str) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """The bench server (one uvicorn worker) on a free loopback port, stopped on exit."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.server", "--database-url", database_url, "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the bench server exited with {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://{load.HOST}:{port}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the bench server did not start within 30 s")
            time.sleep(0.1)
        yield port, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident set size of a process, in MB (Linux /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0, 0.0
    values = {
        line.split(":")[0]: int(line.split()[1]) / 1024
        for line in status.splitlines()
        if line.startswith(("VmRSS", "VmHWM"))
    }
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


# --- checks ------------------------------------------------------------------------------------


def send(client: httpx.Client, request: Request) -> httpx.Response:
    return client.request(
        request.method, request.path, headers=request.headers, content=request.body or None
    )


def statements(client: httpx.Client) -> dict[str, int]:
    counts: dict[str, int] = client.get("/bench/statements").json()
    return counts


def check(client: httpx.Client, case: Case) -> tuple[int, int]:
    """Both sides answer 200 with the same JSON; returns their statements per request."""
    for request in (case.graphql, case.baseline):
        response = send(client, request)  # warm: the session's last-seen write happens here
        response.raise_for_status()
    before = statements(client)
    answer = send(client, case.graphql)
    middle = statements(client)
    expected = send(client, case.baseline)
    after = statements(client)
    body, baseline_body = answer.json(), expected.json()
    if answer.status_code != 200 or body.get("errors"):
        raise AssertionError(f"{case.key}: GraphQL answered {answer.status_code}: {body}")
    if body != baseline_body:
        raise AssertionError(
            f"{case.key}: GraphQL and baseline answers differ:\n"
            f"graphql:  {json.dumps(body)[:2000]}\nbaseline: {json.dumps(baseline_body)[:2000]}"
        )
    if not _has_rows(body["data"]):
        raise AssertionError(f"{case.key}: the answer holds no rows: {body}")
    return (
        middle["graphql"] - before["graphql"],
        after["baseline"] - middle["baseline"],
    )


def _has_rows(data: Any) -> bool:
    """Some object with an id or a non-empty list: a check on empty pages would prove little."""
    if isinstance(data, dict):
        return "id" in data or any(_has_rows(value) for value in data.values())
    return isinstance(data, list) and bool(data)


# --- the run -----------------------------------------------------------------------------------


def default_database_url(spec: Spec) -> str:
    suffix = "" if spec == dataset.FULL else "_quick" if spec == dataset.QUICK else "_custom"
    return dataset.DEFAULT_DATABASE_URL + suffix


def run(options: Options) -> Outcome:
    url = options.database_url or default_database_url(options.spec)
    started = time.perf_counter()
    data = asyncio.run(dataset.build(url, options.spec, rebuild=options.rebuild, log=options.log))
    say = print if options.log else (lambda *_a, **_k: None)
    built = f"built in {data.built_seconds:.1f} s" if data.built_seconds else "reused"
    say(
        f"dataset: {built}"
        f" ({options.spec.users:,} users, {options.spec.teams:,} teams,"
        f" {options.spec.events:,} audit events; Q2/Q4 team {data.team_slug} with"
        f" {data.team_members} members, {data.audit_matches} filtered audit events)"
    )
    outcome = Outcome(dataset=data)
    outcome.notes.append(
        "Q0_bearer: a personal access token; GraphQL also counts requests against the token's "
        "rate limit (one UPSERT per lease of 100), the baseline only looks the token up"
    )
    selected = [case for case in cases(data) if not options.only or case.key in options.only]
    with server(url) as (port, process):
        with httpx.Client(base_url=f"http://{load.HOST}:{port}", timeout=30) as client:
            client.post("/bench/counting", json={"on": True}).raise_for_status()
            counts = {case.key: check(client, case) for case in selected}
            client.post("/bench/counting", json={"on": False}).raise_for_status()
        say(f"server: pid {process.pid}, port {port}; answers checked equal for {len(counts)}")
        for case in selected:
            figures, turns = measure(port, case, options)
            gql, base = figures["graphql"], figures["baseline"]
            outcome.results[case.key] = {
                "graphql_rps": round(gql.rps, 1),
                "baseline_rps": round(base.rps, 1),
                "ratio": round(gql.rps / base.rps, 3) if base.rps else None,
                "p50_ms": round(gql.p50_ms, 2),
                "p99_ms": round(gql.p99_ms, 2),
                "statements": counts[case.key][0],
                "baseline_p50_ms": round(base.p50_ms, 2),
                "baseline_p99_ms": round(base.p99_ms, 2),
                "baseline_statements": counts[case.key][1],
                "requests": gql.requests + base.requests,
                "turn_ratios": [round(ratio, 3) for ratio in turns],
                "load_tool": gql.tool,
            }
            if options.log:
                each = " ".join(f"{ratio:.2f}" for ratio in turns)
                print(
                    f"  {case.key}: {gql.rps:,.0f} vs {base.rps:,.0f} req/s (turns: {each})",
                    flush=True,
                )
        outcome.rss_mb, outcome.peak_rss_mb = rss_mb(process.pid)
    say(f"total {time.perf_counter() - started:.0f} s")
    return outcome


def measure(port: int, case: Case, options: Options) -> tuple[dict[str, load.Result], list[float]]:
    """Both sides of a case under load: warmed up, then `options.rounds` parts each, taking
    turns, merged into one figure per side; and each turn's ratio (how much they vary says
    how steady the machine was)."""
    sides = {"graphql": case.graphql, "baseline": case.baseline}
    connections, rounds = options.connections, max(1, options.rounds)
    if options.warmup > 0:
        for request in sides.values():
            load.run(port, request, duration=options.warmup, connections=connections)
    parts: dict[str, list[load.Result]] = {side: [] for side in sides}
    for round_ in range(rounds):
        order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
        for side in order:
            result = load.run(
                port, sides[side], duration=options.duration / rounds, connections=connections
            )
            if result.errors:
                raise AssertionError(f"{case.key} {side}: {result.errors} non-200s")
            parts[side].append(result)
    turns = [
        gql.rps / base.rps if base.rps else 0.0
        for gql, base in zip(parts["graphql"], parts["baseline"], strict=True)
    ]
    return {side: load.merge(results) for side, results in parts.items()}, turns


def table(outcome: Outcome, options: Options) -> str:
    header = (
        "query", "graphql req/s", "baseline req/s", "ratio", "gql p50/p99 ms",
        "base p50/p99 ms", "statements gql/base",
    )  # fmt: skip
    rows = [header]
    for key, r in outcome.results.items():
        rows.append(
            (
                key,
                f"{r['graphql_rps']:,.0f}",
                f"{r['baseline_rps']:,.0f}",
                f"{r['ratio']:.2f}" if r["ratio"] is not None else "-",
                f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f}",
                f"{r['baseline_p50_ms']:.1f} / {r['baseline_p99_ms']:.1f}",
                f"{r['statements']} / {r['baseline_statements']}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    tool = next(iter(outcome.results.values()))["load_tool"] if outcome.results else "-"
    lines.append(
        f"{options.connections} connections, {options.duration:g} s per side in "
        f"{max(1, options.rounds)} turns after {options.warmup:g} s warm-up, load generator: "
        f"{tool}; server RSS "
        f"{outcome.rss_mb:.0f} MB (peak {outcome.peak_rss_mb:.0f} MB)"
    )
    lines.extend(f"note: {note}" for note in outcome.notes)
    return "\n".join(lines)


def as_json(outcome: Outcome) -> dict[str, Any]:
    return {
        **outcome.results,
        "_meta": {
            "rss_mb": round(outcome.rss_mb, 1),
            "peak_rss_mb": round(outcome.peak_rss_mb, 1),
            "dataset": {
                "users": outcome.dataset.spec.users,
                "teams": outcome.dataset.spec.teams,
                "audit_events": outcome.dataset.spec.events,
            },
            "notes": outcome.notes,
        },
    }
