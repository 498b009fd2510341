"""Hash-chaining audit events (SPEC 9).

Recorders only `add` events; this module's flush hook gives each new event its place in its
chain (per team, or per user for events outside any team), locking the chain's head row so
concurrent transactions append one after the other and a chain never forks. `verify` walks a
chain and reports the first event whose hash does not match: an edited, inserted or deleted row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col

from models import AuditChain, AuditEvent

PENDING = "orgward_audit_pending"


def chain_key(team_id: int | None, user_id: int | None) -> str:
    if team_id is not None:
        return f"team:{team_id}"
    if user_id is not None:
        return f"user:{user_id}"
    return "platform"


def address_chain_key(ip_address: str | None) -> str:
    if not ip_address:
        return "platform"
    return "address:" + hashlib.sha256(ip_address.encode()).hexdigest()[:24]


def digest(event_row: AuditEvent, prev_hash: str) -> str:
    body = {
        "key": event_row.chain_key,
        "seq": event_row.chain_seq,
        "prev": prev_hash,
        "action": event_row.action,
        "actor_kind": event_row.actor_kind,
        "actor_user_id": event_row.actor_user_id,
        "team_id": event_row.team_id,
        "target_type": event_row.target_type,
        "target_id": event_row.target_id,
        "ip_address": event_row.ip_address,
        "user_agent": event_row.user_agent,
        "reason": event_row.reason,
        "details": event_row.details,
        "created_at": _instant(event_row.created_at),
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _instant(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def track(session: AsyncSession | Session, event_row: AuditEvent) -> None:
    """Queue an added event for chaining at the next flush (in the order recorded)."""
    session.info.setdefault(PENDING, []).append(event_row)


def _chain_pending(session: Session, _context: Any, _instances: Any) -> None:
    pending: list[AuditEvent] = session.info.pop(PENDING, [])
    if not pending:
        return
    keys = sorted(
        {e.chain_key or chain_key(e.team_id, e.actor_user_id or e.target_id) for e in pending}
    )
    heads = _lock_heads(session, keys)
    for event_row in pending:
        event_row.chain_key = event_row.chain_key or chain_key(
            event_row.team_id, event_row.actor_user_id or event_row.target_id
        )
        head = heads[event_row.chain_key]
        head.seq += 1
        event_row.chain_seq = head.seq
        event_row.prev_hash = head.last_hash
        event_row.hash = digest(event_row, head.last_hash)
        head.last_hash = event_row.hash


def _lock_heads(session: Session, keys: Iterable[str]) -> dict[str, AuditChain]:
    # Keys are locked in sorted order, so two transactions never wait on each other crosswise.
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    keys = list(keys)
    session.execute(
        insert(AuditChain)
        .values([{"key": key, "seq": 0, "last_hash": ""} for key in keys])
        .on_conflict_do_nothing(index_elements=["key"])
    )
    rows = session.execute(
        select(AuditChain)
        .where(AuditChain.key.in_(keys))  # type: ignore[attr-defined]
        .order_by(AuditChain.key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalars()
    return {row.key: row for row in rows}


event.listen(Session, "before_flush", _chain_pending)


@dataclass(frozen=True)
class ChainCheck:
    key: str
    events: int
    broken_at_seq: int | None

    @property
    def intact(self) -> bool:
        return self.broken_at_seq is None


async def verify(db: AsyncSession, key: str) -> ChainCheck:
    """Recompute one chain from its first event; also checks it ends where its head says."""
    rows = (
        (
            await db.execute(
                select(AuditEvent).where(AuditEvent.chain_key == key).order_by(AuditEvent.chain_seq)  # type: ignore[arg-type]
            )
        )
        .scalars()
        .all()
    )
    head = await db.get(AuditChain, key)
    prev, expected_seq = "", 1
    for row in rows:
        if row.chain_seq != expected_seq or row.prev_hash != prev or digest(row, prev) != row.hash:
            return ChainCheck(key, len(rows), expected_seq)
        prev, expected_seq = row.hash, expected_seq + 1
    if head is not None and (head.seq != len(rows) or head.last_hash != prev):
        return ChainCheck(key, len(rows), expected_seq)  # events were removed from the end
    return ChainCheck(key, len(rows), None)


async def verify_all(db: AsyncSession) -> list[ChainCheck]:
    keys = (
        (await db.execute(select(col(AuditChain.key)).order_by(col(AuditChain.key))))
        .scalars()
        .all()
    )
    return [await verify(db, key) for key in keys]
