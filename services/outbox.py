"""Queueing email in the outbox, inside the transaction of the change that causes it."""

from __future__ import annotations

from models import OutboxMessage
from services.context import ServiceContext
from services.emails import Email


def send_email(
    ctx: ServiceContext, *, to: str, email: Email, reply_to: str | None = None
) -> OutboxMessage:
    now = ctx.now()
    message = OutboxMessage(
        kind=email.kind,
        to_address=to,
        reply_to=reply_to,
        subject=email.subject,
        body=email.body,
        created_at=now,
        due_at=now,
    )
    ctx.db.add(message)
    return message
