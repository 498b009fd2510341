"""`POST /oauth/token`: the OAuth 2.0 token endpoint (client-credentials grant only).

It takes no cookie and reads none, so the cookie CSRF rule of /graphql does not apply; the
client authenticates with its id and secret (HTTP Basic, or client_id and client_secret form
fields). Parameters: grant_type=client_credentials, `team` (required: the team's slug or global
id) and optional `scope` (space-separated, at most what the team granted). Answers are RFC 6749
§5 JSON with Cache-Control: no-store, oversized and malformed bodies included (the app-wide
body limit leaves this route to its own, smaller one: api/app.py).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.identity import origin_of
from api.relay import from_global_id
from api.state import AppState
from auth.actor import Actor
from auth.oauth_requests import NO_STORE, TeamChoice, TokenRequest, TokenResponse
from core.logging import log_failure_without_locals
from services import installation_tokens
from services.context import ServiceContext

log = structlog.get_logger("orgward.oauth")

TOKEN_PATH = "/oauth/token"
# A token request is a handful of short fields.
MAX_BODY_BYTES = 8192
MAX_FIELDS = 16
FORM = "application/x-www-form-urlencoded"
CONTENT_LENGTH = re.compile(r"[0-9]{1,18}")


async def token_endpoint(request: Request) -> Response:
    state: AppState = request.app.state.orgward
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != FORM:
        return _answer(_error(400, "invalid_request", f"Send the parameters as {FORM}."))
    body = await _read_body(request)
    if isinstance(body, TokenResponse):
        return _answer(body)
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        return _answer(_error(400, "invalid_request", "The form could not be read."))
    form: dict[str, list[str]] = {}
    for name, value in pairs:
        form.setdefault(name, []).append(value)
    origin = origin_of(request)
    token_request = TokenRequest(
        # Authlib refuses a non-https URI (insecure_transport). The configured public URL, not
        # the request's scheme: behind a TLS-terminating proxy every request arrives over http.
        uri=f"{state.settings.public_base_url}{TOKEN_PATH}",
        authorization=request.headers.get("authorization"),
        form=form,
        team=_team_choice(form.get("team")),
    )
    async with state.sessions() as db:
        ctx = ServiceContext(
            db=db,
            actor=Actor.anonymous(origin),
            settings=state.settings,
            clock=state.clock,
            side_engine=state.side_engine,
        )
        try:
            result = await installation_tokens.issue_token(ctx, token_request)
            if result.status == 200:
                await db.commit()
            else:
                await db.rollback()
        except Exception as error:
            await db.rollback()
            log_failure_without_locals(
                log, "oauth.token_failed", request_id=origin.request_id, error=error
            )
            result = _error(500, "server_error", "The token could not be issued; try again.")
    return _answer(result)


def _team_choice(values: list[str] | None) -> TeamChoice | None:
    if not values or not values[0].strip():
        return None
    value = values[0].strip()
    parsed = from_global_id(value)
    if parsed is not None and parsed[0] == "Team":
        return TeamChoice(team_id=parsed[1])
    return TeamChoice(slug=value.lower())


async def _read_body(request: Request) -> bytes | TokenResponse:
    """The body, read up to MAX_BODY_BYTES; else the error to answer."""
    too_large = _error(413, "invalid_request", f"Request body over {MAX_BODY_BYTES} bytes.")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not CONTENT_LENGTH.fullmatch(declared.strip()):
            return _error(400, "invalid_request", "Malformed Content-Length.")
        if int(declared) > MAX_BODY_BYTES:
            return too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _error(status: int, error: str, description: str) -> TokenResponse:
    return TokenResponse(status, {"error": error, "error_description": description}, NO_STORE)


def _answer(result: TokenResponse) -> Response:
    headers = {name: value for name, value in result.headers if name.lower() != "content-type"}
    return JSONResponse(result.body, status_code=result.status, headers=headers)
