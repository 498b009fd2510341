"""`GET /teams/{slug}/audit-events.jsonl`: a team's audit trail as JSON lines, oldest first.

A read with no side effect but its own audit event, so a cookie GET is fine here (the
browser's same-origin policy keeps other sites from reading the answer)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from api.http import internal_error, rate_limited
from api.identity import identify, origin_of
from api.state import AppState
from auth import bearer, token_rate
from core.errors import DomainError, InvalidInput
from services import audit_log, teams
from services.audit_log import AuditFilter, audit_filter
from services.context import ServiceContext

log = structlog.get_logger("orgward.audit_export")


async def export_audit_events(request: Request) -> Response:
    state: AppState = request.app.state.orgward
    db = state.sessions()
    origin = origin_of(request)  # its request id answers even a failed identification
    try:
        who = await identify(request, db, state, origin)
        where = _filter(request)
        ctx = ServiceContext(
            db=db,
            actor=who.actor,
            settings=state.settings,
            clock=state.clock,
            side_engine=state.side_engine,
        )
        team = await teams.find_team(ctx, slug=request.path_params["slug"])
        if team is None:
            await db.close()
            return PlainTextResponse("No such team.", status_code=404)
        events = audit_log.export_team_events(ctx, team, where)
        first = await anext(events, None)  # checks policy and records the export
        await db.commit()
    except bearer.BearerError as error:
        await db.close()
        return PlainTextResponse(
            error.description, status_code=401, headers={"www-authenticate": error.challenge}
        )
    except token_rate.TokenRateLimited as error:
        await db.close()
        return rate_limited(error)
    except DomainError as error:
        await db.close()
        status = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403}.get(error.code.value, 400)
        return PlainTextResponse(error.message, status_code=status)
    except Exception:
        # As the GraphQL endpoint answers: logged with the request id, no details out.
        await db.close()
        log.exception("audit_export.failed", request_id=origin.request_id)
        return internal_error(origin.request_id)
    except BaseException:
        await db.close()
        raise

    async def lines() -> AsyncIterator[bytes]:
        try:
            if first is not None:
                yield orjson.dumps(first.as_json()) + b"\n"
            async for event in events:
                yield orjson.dumps(event.as_json()) + b"\n"
        finally:
            await db.close()

    filename = f"{team.slug}-audit-events.jsonl"
    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={
            "content-disposition": f'attachment; filename="{filename}"',
            "x-request-id": who.request_id,
        },
    )


def _filter(request: Request) -> AuditFilter:
    params = request.query_params
    try:
        since = datetime.fromisoformat(params["since"]) if "since" in params else None
        until = datetime.fromisoformat(params["until"]) if "until" in params else None
    except ValueError:
        raise InvalidInput("since and until must be ISO 8601 date-times.") from None
    return audit_filter(actions=params.getlist("action"), since=since, until=until)
