"""Delivering the email outbox over SMTP, with retries and exponential backoff."""

from __future__ import annotations

import email.utils
from datetime import timedelta
from email.message import EmailMessage

import aiosmtplib
import structlog
from sqlalchemy import select
from sqlmodel import col

from models import OutboxMessage
from worker.context import WorkerContext

log = structlog.get_logger(__name__)

MAX_ATTEMPTS = 8
BATCH_SIZE = 50


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
    mail["Message-ID"] = email.utils.make_msgid(idstring=f"outbox-{message.id}")
    mail["X-Orgward-Kind"] = message.kind
    mail.set_content(message.body)
    return mail


async def deliver_outbox(ctx: WorkerContext) -> int:
    """Send due messages; returns how many were delivered. Safe with several workers."""
    settings = ctx.settings
    now = ctx.clock.now()
    delivered = 0
    async with ctx.sessions() as db, db.begin():
        due = (
            await db.execute(
                select(OutboxMessage)
                .where(
                    col(OutboxMessage.sent_at).is_(None),
                    col(OutboxMessage.failed_at).is_(None),
                    col(OutboxMessage.due_at) <= now,
                )
                .order_by(col(OutboxMessage.due_at), col(OutboxMessage.id))
                .limit(BATCH_SIZE)
                .with_for_update(skip_locked=True)
            )
        ).scalars().all()
        for message in due:
            try:
                await aiosmtplib.send(
                    compose(message, settings.smtp_sender),
                    hostname=settings.smtp_host,
                    port=settings.smtp_port,
                    username=settings.smtp_username,
                    password=settings.smtp_password,
                    start_tls=settings.smtp_starttls,
                    timeout=settings.smtp_timeout_seconds,
                )
            except (aiosmtplib.SMTPException, OSError) as error:
                message.attempts += 1
                message.last_error = f"{type(error).__name__}: {error}"[:2000]
                if message.attempts >= MAX_ATTEMPTS:
                    message.failed_at = now
                    log.error("outbox.gave_up", message_id=message.id, error=message.last_error)
                else:
                    message.due_at = now + backoff(message.attempts)
                    log.warning("outbox.retry", message_id=message.id, attempts=message.attempts,
                                error=message.last_error)
                continue
            message.attempts += 1
            message.sent_at = now
            message.last_error = None
            delivered += 1
    return delivered
