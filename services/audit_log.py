"""Reading the audit trail: a team's owners and admins page through and export their events."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, Select, String, any_, bindparam, select
from sqlmodel import col

from auth import policy
from auth.actor import Actor
from auth.scopes import Scope
from core.errors import InvalidInput
from core.hot_reads import HotRead
from models import AuditEvent
from services import audit
from services.context import ServiceContext
from services.pages import Page, PageRequest
from services.teams import TeamView

EXPORT_BATCH = 1000


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actions: tuple[str, ...] = ()
    actor_user_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


MAX_FILTER_ACTIONS = 50
ACTION_RE = re.compile(r"^[a-z0-9_.]{1,64}$")


def audit_filter(
    *,
    actions: Sequence[str] = (),
    actor_user_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AuditFilter:
    """A validated filter: bounded action lists, well-formed names, time-zoned instants."""
    if len(actions) > MAX_FILTER_ACTIONS:
        raise InvalidInput(f"Filter on at most {MAX_FILTER_ACTIONS} actions.", field="actions")
    if not all(ACTION_RE.fullmatch(action) for action in actions):
        raise InvalidInput("Actions look like member.role_changed.", field="actions")
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput("Give a time zone, e.g. 2026-01-05T00:00:00Z.", field=name)
    return AuditFilter(tuple(actions), actor_user_id, since, until)


# Not frozen: a page builds fifty of these, and a frozen dataclass's __init__ costs about three
# times as much (one object.__setattr__ per field).
@dataclass(slots=True)
class AuditEventView:
    id: int
    action: str
    actor_kind: str
    actor_user_id: int | None
    team_id: int | None
    target_type: str | None
    target_id: int | None
    ip_address: str | None
    user_agent: str | None
    reason: str | None
    details: dict[str, Any]
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__slots__}
        data["created_at"] = self.created_at.isoformat()
        return data


COLUMNS: tuple[Any, ...] = (
    AuditEvent.id,
    AuditEvent.action,
    AuditEvent.actor_kind,
    AuditEvent.actor_user_id,
    AuditEvent.team_id,
    AuditEvent.target_type,
    AuditEvent.target_id,
    AuditEvent.ip_address,
    AuditEvent.user_agent,
    AuditEvent.reason,
    AuditEvent.details,
    col(AuditEvent.created_at),
)
# Rows of COLUMNS build views positionally.
assert tuple(column.key for column in COLUMNS) == AuditEventView.__slots__


def _matching(where: AuditFilter, *, actions_in: bool) -> Select[Any]:
    """A team's events passing the filters that `where` gives, all as bind parameters
    (`_params`): the statement depends only on which filters are given, so each shape is
    built and compiled once. `actions_in`: an expanding IN list, for the session on any
    database; otherwise `= ANY(array)`, for PostgreSQL hot reads (which take no IN lists)."""
    statement = select(*COLUMNS).where(col(AuditEvent.team_id) == bindparam("team_id"))
    if where.actions:
        action = col(AuditEvent.action)
        statement = statement.where(
            action.in_(bindparam("actions", expanding=True))
            if actions_in
            else action == any_(bindparam("actions", type_=ARRAY(String)))
        )
    if where.actor_user_id is not None:
        statement = statement.where(col(AuditEvent.actor_user_id) == bindparam("actor_user_id"))
    if where.since is not None:
        statement = statement.where(col(AuditEvent.created_at) >= bindparam("since"))
    if where.until is not None:
        statement = statement.where(col(AuditEvent.created_at) < bindparam("until"))
    return statement


def _params(team_id: int, where: AuditFilter) -> dict[str, Any]:
    params: dict[str, Any] = {"team_id": team_id}
    if where.actions:
        params["actions"] = list(where.actions)
    if where.actor_user_id is not None:
        params["actor_user_id"] = where.actor_user_id
    if where.since is not None:
        params["since"] = where.since
    if where.until is not None:
        params["until"] = where.until
    return params


def _team_page(where: AuditFilter, *, after: bool) -> HotRead:
    """A team's page of events for a person (no app filter), one per filter shape."""
    key = (bool(where.actions), where.actor_user_id is not None, where.since is not None,
           where.until is not None, after)  # fmt: skip
    read = _TEAM_PAGES.get(key)
    if read is None:
        statements = []
        for actions_in in (False, True):
            statement = _matching(where, actions_in=actions_in)
            if after:
                statement = statement.where(col(AuditEvent.id) < bindparam("after"))
            statements.append(
                statement.order_by(col(AuditEvent.id).desc()).limit(bindparam("limit"))
            )
        read = _TEAM_PAGES[key] = HotRead(statements[0], elsewhere=statements[1])
    return read


_TEAM_PAGES: dict[tuple[bool, ...], HotRead] = {}


def _view(row: Sequence[Any], actor: Actor) -> AuditEventView:
    """From a row of COLUMNS."""
    view = AuditEventView(*row)
    if policy.audit_origin_visible(actor, view.details):
        return view
    return replace(view, ip_address=None, user_agent=None)


async def team_events(
    ctx: ServiceContext, team: TeamView, where: AuditFilter, page: PageRequest
) -> Page[AuditEventView]:
    """Newest first; the cursor is the last event id seen."""
    policy.require_audit_reader(ctx.actor, team.viewer_role)
    if ctx.actor.installation is None:
        # A person's dashboard: a hot read, one prepared statement per filter shape.
        read = _team_page(where, after=page.after is not None)
        rows = await read.rows(
            ctx.db, **_params(team.id, where), limit=page.first + 1, after=page.after
        )
        return Page.from_rows([(row.id, _view(row, ctx.actor)) for row in rows], page)
    # An app's token: the policy's filter on its team's trail comes on top.
    statement = (
        _matching(where, actions_in=True)
        .where(*policy.audit_event_filter(ctx.actor))
        .order_by(col(AuditEvent.id).desc())
        .limit(page.first + 1)
    )
    if page.after is not None:
        statement = statement.where(col(AuditEvent.id) < page.after)
    rows = await ctx.db.execute(statement, _params(team.id, where))
    return Page.from_rows([(row.id, _view(row, ctx.actor)) for row in rows], page)


async def export_team_events(
    ctx: ServiceContext, team: TeamView, where: AuditFilter
) -> AsyncIterator[AuditEventView]:
    """Every matching event, oldest first, read in keyset batches (memory stays flat)."""
    policy.require_audit_reader(ctx.actor, team.viewer_role)
    audit.audit_exported(ctx, team_id=team.id)
    await ctx.db.flush()
    last = 0
    while True:
        rows = (
            await ctx.db.execute(
                _matching(where, actions_in=True)
                .where(*policy.audit_event_filter(ctx.actor), col(AuditEvent.id) > last)
                .order_by(col(AuditEvent.id))
                .limit(EXPORT_BATCH),
                _params(team.id, where),
            )
        ).all()
        for row in rows:
            yield _view(row, ctx.actor)
        if len(rows) < EXPORT_BATCH:
            return
        last = rows[-1].id


async def events_by_id(ctx: ServiceContext, ids: Sequence[int]) -> list[AuditEventView | None]:
    """For node(id:): events of teams the viewer owns or administers, in one query."""
    if not ids or policy.is_nobody(ctx.actor):
        return [None for _ in ids]
    managed = policy.managed_team_ids(ctx.actor, Scope.AUDIT_READ)
    rows = await ctx.db.execute(
        select(*COLUMNS).where(
            col(AuditEvent.id).in_(set(ids)),
            col(AuditEvent.team_id).in_(managed),
            *policy.audit_event_filter(ctx.actor),
        )
    )
    found = {row.id: _view(row, ctx.actor) for row in rows}
    return [found.get(event_id) for event_id in ids]
