"""A bounded loopback load generator: N keep-alive connections to 127.0.0.1 for S seconds.

`wrk` is used when it is installed (it is not installed by the harness); otherwise a small
HTTP/1.1 client on asyncio (uvloop when present) runs in a separate process
(`python -m bench.load`, the request on stdin, the figures on stdout as JSON), so the load
generator never shares an event loop with the runner or the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
MAX_DURATION = 300.0
MAX_CONNECTIONS = 256


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""

    def raw(self) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"host: {HOST}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        if self.body:
            lines.append(f"content-length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass(frozen=True, slots=True)
class Result:
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    tool: str
    # Every request's latency, sorted (the asyncio generator's; wrk gives percentiles only).
    latencies_ms: tuple[float, ...] = ()


def merge(results: list[Result]) -> Result:
    """One figure for runs of the same request: all their requests over all their seconds,
    and the percentiles of all their latencies (where a run has none, as wrk's: of each run's
    own, the request-weighted p50 and the highest p99, which can only overstate the tail)."""
    requests = sum(result.requests for result in results)
    seconds = sum(result.seconds for result in results)
    if all(result.latencies_ms or not result.requests for result in results):
        merged = _summary(
            [ms / 1000 for result in results for ms in result.latencies_ms], 0, seconds, ""
        )
        p50, p99 = merged.p50_ms, merged.p99_ms
    else:
        p50 = sum(r.p50_ms * r.requests for r in results) / requests if requests else 0.0
        p99 = max((result.p99_ms for result in results), default=0.0)
    return Result(
        requests=requests,
        errors=sum(result.errors for result in results),
        seconds=seconds,
        rps=requests / seconds if seconds else 0.0,
        p50_ms=p50,
        p99_ms=p99,
        tool=results[0].tool if results else "-",
    )


def bounded(duration: float, connections: int) -> tuple[float, int]:
    if not 0 < duration <= MAX_DURATION:
        raise ValueError(f"duration must be in (0, {MAX_DURATION}] seconds")
    if not 1 <= connections <= MAX_CONNECTIONS:
        raise ValueError(f"connections must be in [1, {MAX_CONNECTIONS}]")
    return duration, connections


def run(port: int, request: Request, *, duration: float, connections: int) -> Result:
    """Load http://127.0.0.1:port with `request`; blocks for about `duration` seconds."""
    duration, connections = bounded(duration, connections)
    if shutil.which("wrk"):
        return _wrk(port, request, duration, connections)
    spec = {
        "port": port,
        "raw": request.raw().decode("latin-1"),
        "duration": duration,
        "connections": connections,
    }
    done = subprocess.run(
        [sys.executable, "-m", "bench.load"],
        input=json.dumps(spec).encode(),
        capture_output=True,
        timeout=duration + 60,
        check=True,
    )
    figures = json.loads(done.stdout)
    return Result(**{**figures, "latencies_ms": tuple(figures["latencies_ms"])})


# --- the asyncio generator (child process) -------------------------------------------------


async def _connection(
    port: int, raw: bytes, deadline: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            match = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
            if match is None:
                raise RuntimeError("responses without content-length are not supported")
            await reader.readexactly(int(match.group(1)))
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors[0] += 1
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _generate(port: int, raw: bytes, duration: float, connections: int) -> Result:
    latencies: list[float] = []
    errors = [0]
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(
        *(_connection(port, raw, deadline, latencies, errors) for _ in range(connections))
    )
    seconds = time.perf_counter() - started
    return _summary(latencies, errors[0], seconds, "asyncio")


def _summary(latencies: list[float], errors: int, seconds: float, tool: str) -> Result:
    ordered = sorted(latencies)

    def percentile(p: float) -> float:
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    return Result(
        requests=len(ordered),
        errors=errors,
        seconds=seconds,
        rps=len(ordered) / seconds if seconds else 0.0,
        p50_ms=percentile(0.50),
        p99_ms=percentile(0.99),
        tool=tool,
        latencies_ms=tuple(round(latency * 1000, 4) for latency in ordered),
    )


def _child() -> None:
    spec = json.loads(sys.stdin.read())
    duration, connections = bounded(spec["duration"], spec["connections"])
    raw = spec["raw"].encode("latin-1")
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    result = runner(_generate(int(spec["port"]), raw, duration, connections))
    print(json.dumps(_asdict(result)))


def _asdict(result: Result) -> dict[str, object]:
    return {name: getattr(result, name) for name in Result.__slots__}


# --- wrk (when installed) -------------------------------------------------------------------

LUA = """
wrk.method = {method}
wrk.body = {body}
{headers}
"""
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid Lua string literal for ASCII text


def _wrk(port: int, request: Request, duration: float, connections: int) -> Result:
    headers = "\n".join(
        f"wrk.headers[{_lua_string(name)}] = {_lua_string(value)}"
        for name, value in request.headers.items()
    )
    script = LUA.format(
        method=_lua_string(request.method),
        body=_lua_string(request.body.decode()),
        headers=headers,
    )
    with tempfile.TemporaryDirectory(prefix="orgward-bench-") as folder:
        path = Path(folder) / "request.lua"
        path.write_text(script)
        done = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{connections}",
                f"-d{max(1, round(duration))}s",
                "--latency",
                "-s",
                str(path),
                f"http://{HOST}:{port}{request.path}",
            ],
            capture_output=True,
            text=True,
            timeout=duration + 60,
            check=True,
        )
    out = done.stdout

    def latency(label: str) -> float:
        match = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        return float(match.group(1)) * UNITS[match.group(2)] if match else 0.0

    requests = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s)", out)
    rps = re.search(r"Requests/sec:\s*([\d.]+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    count = int(requests.group(1)) if requests else 0
    seconds = float(requests.group(2)) * UNITS[requests.group(3)] / 1000 if requests else 0.0
    return Result(
        requests=count,
        errors=int(non_2xx.group(1)) if non_2xx else 0,
        seconds=seconds,
        rps=float(rps.group(1)) if rps else 0.0,
        p50_ms=latency("50%"),
        p99_ms=latency("99%"),
        tool="wrk",
    )


if __name__ == "__main__":
    _child()
