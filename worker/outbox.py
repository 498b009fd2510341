"""Delivering the email outbox over SMTP, with retries and exponential backoff.

Due messages are first *claimed* in one short transaction (their due time moves a lease ahead,
so no other worker takes them), then each is sent and its outcome recorded in a transaction of
its own: no lock is held while SMTP talks, and one bad message never undoes the others. A
worker that dies mid-batch leaves its claimed messages to be retried when the lease ends
(delivery is at least once).
"""

from __future__ import annotations

import email.utils
from datetime import datetime, timedelta
from email.message import EmailMessage

import aiosmtplib
import structlog
from sqlalchemy import select, update
from sqlmodel import col

from models import OutboxMessage
from worker.context import WorkerContext

log = structlog.get_logger(__name__)

MAX_ATTEMPTS = 8
BATCH_SIZE = 50
LEASE = timedelta(minutes=5)


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, … capped at 2 h."""
    return min(timedelta(seconds=30 * 2 ** (attempts - 1)), timedelta(hours=2))


def compose(message: OutboxMessage, sender: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.to_address
    mail["Subject"] = message.subject
    if message.reply_to:
        mail["Reply-To"] = message.reply_to
    mail["Date"] = email.utils.format_datetime(message.created_at)
    # An explicit domain: make_msgid would otherwise look up this host's name (blocking DNS).
    mail["Message-ID"] = email.utils.make_msgid(
        idstring=f"outbox-{message.id}", domain="orgward.invalid"
    )
    mail["X-Orgward-Kind"] = message.kind
    mail.set_content(message.body)
    return mail


async def deliver_outbox(ctx: WorkerContext) -> int:
    """Send due messages; returns how many were delivered. Safe with several workers."""
    now = ctx.clock.now()
    delivered = 0
    for message in await _claim(ctx, now):
        try:
            await aiosmtplib.send(
                compose(message, ctx.settings.smtp_sender),
                hostname=ctx.settings.smtp_host,
                port=ctx.settings.smtp_port,
                username=ctx.settings.smtp_username,
                password=ctx.settings.smtp_password,
                start_tls=ctx.settings.smtp_starttls,
                timeout=ctx.settings.smtp_timeout_seconds,
            )
        except Exception as error:  # any failure of one message is that message's failure
            await _failed(ctx, message, f"{type(error).__name__}: {error}"[:2000], now)
            continue
        await _sent(ctx, message, now)
        delivered += 1
    return delivered


async def _claim(ctx: WorkerContext, now: datetime) -> list[OutboxMessage]:
    async with ctx.sessions() as db, db.begin():
        candidates = (
            select(col(OutboxMessage.id))
            .where(
                col(OutboxMessage.sent_at).is_(None),
                col(OutboxMessage.failed_at).is_(None),
                col(OutboxMessage.due_at) <= now,
            )
            .order_by(col(OutboxMessage.due_at), col(OutboxMessage.id))
            .limit(BATCH_SIZE)
            .with_for_update(skip_locked=True)
        )
        ids = list((await db.execute(candidates)).scalars())
        if not ids:
            return []
        # The due_at condition makes the claim atomic where FOR UPDATE is a no-op (SQLite).
        claimed = await db.execute(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id).in_(ids),
                col(OutboxMessage.due_at) <= now,
                col(OutboxMessage.sent_at).is_(None),
            )
            .values(due_at=now + LEASE, attempts=OutboxMessage.attempts + 1)
            .returning(OutboxMessage)
        )
        return sorted(claimed.scalars().all(), key=lambda message: message.id or 0)


async def _sent(ctx: WorkerContext, message: OutboxMessage, now: datetime) -> None:
    async with ctx.sessions() as db, db.begin():
        await db.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == message.id)
            .values(sent_at=now, last_error=None)
        )


async def _failed(ctx: WorkerContext, message: OutboxMessage, error: str, now: datetime) -> None:
    gave_up = message.attempts >= MAX_ATTEMPTS
    async with ctx.sessions() as db, db.begin():
        await db.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == message.id)
            .values(
                last_error=error,
                failed_at=now if gave_up else None,
                due_at=now if gave_up else now + backoff(message.attempts),
            )
        )
    if gave_up:
        log.error("outbox.gave_up", message_id=message.id, error=error)
    else:
        log.warning("outbox.retry", message_id=message.id, attempts=message.attempts, error=error)
