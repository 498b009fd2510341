"""POST /oauth/token against hostile headers and bodies: OAuth JSON errors, never a 500, and
nothing secret in the logs."""

from __future__ import annotations

import base64
import logging

import pytest
import structlog

from tests.apps.flows import Credentials, Partner, installed, register_app
from tests.support.world import World

GRANT = {"grant_type": "client_credentials", "team": "acme"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
BODY = b"grant_type=client_credentials&team=acme"


async def _acme_app(world: World) -> tuple[Credentials, Partner]:
    olga = await world.sign_up("olga")
    acme = await world.make_team(olga, "Acme", slug="acme")
    app = await register_app(olga)
    await installed(olga, acme, app.client_id)
    return app, Partner(world)


def _oauth_error(response, status: int, error: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"


def _b64(raw: bytes) -> bytes:
    return base64.b64encode(raw)


async def test_unreadable_basic_headers_are_invalid_client_not_500(world: World) -> None:
    _, partner = await _acme_app(world)
    for header in (
        b"Basic \xff\xfe\xe9\xe9",  # raw bytes outside ASCII
        b"Basic\t " + _b64(b"\xff\xfe:\xfd"),  # tab after the scheme, not UTF-8 inside
        b"Basic " + _b64(b"\xff\xfe:\xfd"),
        b"Basic",
        b"Basic  ",
        b"basic " + _b64(b"no-colon"),
    ):
        response = await partner.token_request(
            content=BODY, headers={**FORM, "authorization": header}
        )
        _oauth_error(response, 401, "invalid_client")
        assert response.headers["www-authenticate"] == 'Basic realm="orgward"'


async def test_any_whitespace_after_basic_reads_the_same_credentials(world: World) -> None:
    app, partner = await _acme_app(world)
    encoded = _b64(f"{app.client_id}:{app.secret}".encode())
    for separator in (b" ", b"\t", b" \t "):
        response = await partner.token_request(
            content=BODY, headers={**FORM, "authorization": b"Basic" + separator + encoded}
        )
        assert response.status_code == 200, (separator, response.text)


async def test_basic_together_with_form_credentials_is_invalid_request(world: World) -> None:
    app, partner = await _acme_app(world)
    basic = (app.client_id, app.secret)
    for extra in (
        {"client_id": app.client_id},
        {"client_secret": app.secret},
        {"client_id": app.client_id, "client_secret": app.secret},
    ):
        response = await partner.token_request({**GRANT, **extra}, basic=basic)
        _oauth_error(response, 400, "invalid_request")
    # An unreadable Basic header plus form credentials is still two ways at once.
    response = await partner.token_request(
        content=BODY + f"&client_id={app.client_id}&client_secret={app.secret}".encode(),
        headers={**FORM, "authorization": "Basic !!!"},
    )
    _oauth_error(response, 400, "invalid_request")


async def test_oversized_or_malformed_lengths_get_oauth_errors(world: World) -> None:
    app, partner = await _acme_app(world)
    declared_huge = await partner.token_request(
        content=BODY, headers={**FORM, "content-length": "2000000"}
    )
    _oauth_error(declared_huge, 413, "invalid_request")
    streamed_huge = await partner.token_request(
        content=BODY + b"&pad=" + b"x" * 1_100_000, headers=FORM
    )
    _oauth_error(streamed_huge, 413, "invalid_request")
    for length in (b"abc", b"-1", b"\xb2", b"1e3", b"", b"1 2"):
        response = await partner.token_request(
            content=BODY, headers={**FORM, "content-length": length}
        )
        _oauth_error(response, 400, "invalid_request")


async def test_an_unexpected_failure_logs_no_secrets(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from services import installation_tokens

    app, partner = await _acme_app(world)

    async def explode(ctx, request):  # type: ignore[no-untyped-def]
        leaked = request.authorization + "|" + "".join(request.form["team"])  # a local
        raise RuntimeError(f"boom {leaked}")

    monkeypatch.setattr(installation_tokens, "issue_token", explode)
    caplog.set_level(logging.INFO)
    response = await partner.token_request(
        GRANT, basic=(app.client_id, app.secret), headers={"x-request-id": "req-42"}
    )
    _oauth_error(response, 500, "server_error")
    text = caplog.text
    assert "oauth.token_failed" in text and "RuntimeError" in text and "req-42" in text
    encoded = base64.b64encode(f"{app.client_id}:{app.secret}".encode()).decode()
    assert app.secret not in text and encoded not in text and "boom" not in text


async def test_the_apps_logging_never_renders_local_variables(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """create_app configures structlog (once) so tracebacks carry no locals, whoever runs it."""
    assert structlog.is_configured()
    caplog.set_level(logging.INFO)
    hidden = "ows_" + "q" * 20 + str(world.clock.now().microsecond)

    def fail(value: str) -> None:
        raise ValueError("bad")

    try:
        fail(hidden)
    except ValueError:
        structlog.get_logger("orgward.test").exception("test.failed")
    assert "test.failed" in caplog.text and "ValueError" in caplog.text
    assert hidden not in caplog.text
