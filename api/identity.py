"""Who is asking: the request id, connection facts, and the cookie or bearer credential."""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from api.state import AppState
from auth import bearer, sessions
from auth.actor import Actor, Origin
from core.hot_reads import Database
from services import tokens
from services.context import ServiceContext

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Our own request ids: this process's random prefix and a counter, 32 hex digits like a UUID's,
# unique across processes and restarts without a random read (a system call) per request.
_request_prefix = os.urandom(8).hex()
_request_numbers = itertools.count(1)


def _new_prefix() -> None:
    # A forked worker (gunicorn with preloading) must not repeat its parent's ids.
    global _request_prefix
    _request_prefix = os.urandom(8).hex()


os.register_at_fork(after_in_child=_new_prefix)


def new_request_id() -> str:
    return f"{_request_prefix}{next(_request_numbers):016x}"


@dataclass(frozen=True, slots=True)
class Identified:
    actor: Actor
    request_id: str
    cookie_authenticated: bool


def origin_of(request: Request) -> Origin:
    supplied = request.headers.get("x-request-id", "")
    return Origin(
        ip_address=request.client.host if request.client else None,
        # Cut to the column size once here, for sessions and audit events alike.
        user_agent=(request.headers.get("user-agent") or "")[:512] or None,
        request_id=supplied if REQUEST_ID.match(supplied) else new_request_id(),
    )


async def identify(
    request: Request, db: Database, state: AppState, origin: Origin | None = None
) -> Identified:
    """A bearer header wins over the cookie; raises bearer.BearerError for a bad bearer and
    token_rate.TokenRateLimited for one over its limit. `origin`: origin_of(request), when
    the caller already has it."""
    origin = origin or origin_of(request)
    request_id = origin.request_id or ""
    now = state.clock.now()
    authorization = request.headers.get("authorization")
    if authorization is not None:
        anonymous = ServiceContext(
            db=cast(AsyncSession, db),
            actor=Actor.anonymous(origin),
            settings=state.settings,
            clock=state.clock,
            side_engine=state.side_engine,
        )
        actor = await tokens.authenticate(
            anonymous,
            bearer.parse_authorization(authorization),
            leases=state.token_leases,
            redis=state.redis,
        )
        return Identified(actor, request_id, cookie_authenticated=False)
    token = request.cookies.get(state.settings.session_cookie_name)
    if token:
        found = await sessions.authenticate(db, state.settings, token=token, now=now)
        if found is not None:
            user, session_id = found
            return Identified(
                Actor(user=user, origin=origin, session_id=session_id),
                request_id,
                cookie_authenticated=True,
            )
    return Identified(Actor.anonymous(origin), request_id, cookie_authenticated=False)
