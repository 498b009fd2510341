"""`POST /tokens/revoke`: where secret scanners report leaked Orgward tokens (SPEC 6).

The body is what GitHub secret scanning partners receive: a JSON array of
`{"token", "type", "url", "source"}` objects (a single object is accepted too), at most 100,
within 64 KiB. Nobody signs in: whoever holds a token may report it, and reporting only revokes
it. No cookie is read, so the cookie CSRF rule of /graphql does not apply; the app-wide body
limit leaves this route to its own, smaller one (api/app.py).

The answer is always `202 {"received": n}`, for live, revoked, unknown and malformed tokens
alike: GitHub's per-token `label` (true or false positive) would tell anyone posting guesses
which tokens exist. Reports are limited per address (`token_leak_reports_per_minute`).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.identity import origin_of
from api.state import AppState
from auth.actor import Actor
from core.errors import ErrorCode, InvalidInput, RateLimited
from core.logging import log_failure_without_locals
from services import token_leaks
from services.context import ServiceContext
from services.token_leaks import LeakReport

log = structlog.get_logger("orgward.token_leaks")

REVOKE_PATH = "/tokens/revoke"
MAX_BODY_BYTES = 64 * 1024
CONTENT_LENGTH = re.compile(r"[0-9]{1,18}")
NO_STORE = {"cache-control": "no-store"}
_FIELDS = ("type", "url", "source")


class Refused(Exception):
    def __init__(self, status: int, message: str, code: str = ErrorCode.INVALID_INPUT):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


async def revoke_endpoint(request: Request) -> Response:
    state: AppState = request.app.state.orgward
    try:
        reports = _reports(await _read_json(request))
    except Refused as refused:
        return _refusal(refused)
    origin = origin_of(request)
    async with state.sessions() as db:
        ctx = ServiceContext(
            db=db,
            actor=Actor.anonymous(origin),
            settings=state.settings,
            clock=state.clock,
            side_engine=state.side_engine,
        )
        try:
            revoked = await token_leaks.report_leaks(ctx, reports)
            await db.commit()
        except InvalidInput as error:
            await db.rollback()
            return _refusal(Refused(400, error.message))
        except RateLimited as error:
            await db.rollback()
            return _refusal(
                Refused(429, error.message, ErrorCode.RATE_LIMITED),
                {"retry-after": str(error.retry_after_seconds)},
            )
        except Exception as error:
            await db.rollback()
            log_failure_without_locals(
                log, "token_leaks.failed", request_id=origin.request_id, error=error
            )
            return _refusal(
                Refused(500, "The report could not be processed; send it again.", "INTERNAL")
            )
    log.info("token_leaks.reported", request_id=origin.request_id, revoked=revoked)
    return JSONResponse({"received": len(reports)}, status_code=202, headers=NO_STORE)


async def _read_json(request: Request) -> Any:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise Refused(415, "Send the report as application/json.")
    too_large = Refused(413, f"Request body over {MAX_BODY_BYTES} bytes.")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not CONTENT_LENGTH.fullmatch(declared.strip()):
            raise Refused(400, "Malformed Content-Length.")
        if int(declared) > MAX_BODY_BYTES:
            raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large
        chunks.append(chunk)
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        raise Refused(400, "The body is not valid JSON.") from None


def _reports(body: Any) -> list[LeakReport]:
    items = [body] if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise Refused(400, 'Send a JSON array of {"token": …} objects.')
    if len(items) > token_leaks.MAX_REPORTS:
        raise Refused(400, f"At most {token_leaks.MAX_REPORTS} tokens per report.")
    reports = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("token"), str):
            raise Refused(400, f"Item {index} is not an object with a string `token`.")
        extra = {name: item.get(name) for name in _FIELDS}
        if any(value is not None and not isinstance(value, str) for value in extra.values()):
            raise Refused(400, f"Item {index}: `type`, `url` and `source` must be strings.")
        reports.append(LeakReport(token=item["token"], **extra))
    return reports


def _refusal(refused: Refused, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        {"error": str(refused.code), "message": refused.message},
        status_code=refused.status,
        headers={**NO_STORE, **(headers or {})},
    )
