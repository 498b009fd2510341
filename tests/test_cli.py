"""The `orgward` command end to end: a real server process on loopback."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core import migrate

ORGWARD = [sys.executable, "-m", "core.cli"]
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGWARD_")}
    env.update(
        ORGWARD_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        ORGWARD_SMTP_PORT=str(_free_port()),
        ORGWARD_ARGON2_MEMORY_KIB="1024",
        ORGWARD_ARGON2_TIME_COST="1",
        **extra,
    )
    return env


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    port = _free_port()
    process = subprocess.Popen(
        [*ORGWARD, "serve", "--demo", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Application startup complete" in line:
                break
        yield f"http://127.0.0.1:{port}", lines
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_serve_demo_prints_graphiql_url_and_credentials_that_sign_in(
    demo_server: tuple[str, list[str]],
) -> None:
    base, lines = demo_server
    output = "".join(lines)
    assert f"{base}/graphql" in output
    owner = re.search(r"owner\s+(\w+)\s+password: (\S+)", output)
    assert owner, output
    # The served address is the trusted origin when no public URL is configured (GraphiQL).
    with httpx.Client(base_url=base, headers={"origin": base}) as http:
        signed_in = http.post(
            "/graphql",
            json={
                "query": "mutation($i: SignInInput!) { signIn(input: $i) { viewer { username "
                "teams { edges { node { slug members { totalCount } } } } } errors { code } } }",
                "variables": {"i": {"identifier": owner.group(1), "password": owner.group(2)}},
            },
        ).json()
        assert http.get("/readyz").json()["status"] == "ready"
    viewer = signed_in["data"]["signIn"]["viewer"]
    assert viewer["username"] == owner.group(1)
    assert viewer["teams"]["edges"][0]["node"] == {"slug": "acme", "members": {"totalCount": 4}}


def test_migrate_and_create_staff(tmp_path: Path) -> None:
    env = _env(tmp_path)
    migrated = subprocess.run(
        [*ORGWARD, "migrate"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert migrated.returncode == 0, migrated.stderr
    assert f"revision {migrate.head_revision()}" in migrated.stdout
    created = subprocess.run(
        [*ORGWARD, "create-staff", "--username", "sam", "--email", "sam@orgward.example"],
        cwd=ROOT,
        env=env,
        input="a long staff password\na long staff password\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    assert "Staff account 'sam' created." in created.stdout
    again = subprocess.run(
        [*ORGWARD, "create-staff", "--username", "SAM", "--email", "other@orgward.example"],
        cwd=ROOT,
        env=env,
        input="a long staff password\na long staff password\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 2 and "username" in again.stderr


def test_production_refuses_to_start_with_the_default_secret(tmp_path: Path) -> None:
    result = subprocess.run(
        [*ORGWARD, "serve"],
        cwd=ROOT,
        env=_env(tmp_path, ORGWARD_ENVIRONMENT="production"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "ORGWARD_SECRET_KEY" in result.stderr


def test_demo_data_is_refused_in_production(tmp_path: Path) -> None:
    result = subprocess.run(
        [*ORGWARD, "serve", "--demo"],
        cwd=ROOT,
        env=_env(tmp_path, ORGWARD_ENVIRONMENT="production", ORGWARD_SECRET_KEY="s" * 40),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--demo" in result.stderr
