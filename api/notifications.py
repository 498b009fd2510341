"""The viewer's in-app notices (takeover announced, effective, cancelled; accounts released)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.errors import Payload, typed_errors
from api.relay import Connection, Node, connection_edges, from_cursor, parse_id, to_global_id
from services import notifications
from services.notifications import NotificationView
from services.pages import PageRequest


@strawberry.type(description="A notice to the viewer, e.g. that a team will manage their account.")
class Notification(Node):
    id: strawberry.ID
    kind: str = strawberry.field(
        description="takeover.announced, takeover.effective, takeover.cancelled, "
        "managed_account.released, …"
    )
    details: JSON = strawberry.field(
        description="What the notice says, as data: team name, domain, dates."
    )
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def from_view(cls, view: NotificationView) -> Notification:
        return cls(
            id=to_global_id("Notification", view.id),
            kind=view.kind,
            details=JSON(view.details),
            created_at=view.created_at,
            read_at=view.read_at,
        )


@strawberry.type
class NotificationConnection(Connection[Notification]):
    @strawberry.field(description="How many of the viewer's notices are unread (all pages).")
    async def unread_count(self, info: Info) -> int:
        return await notifications.unread_count(info.context.service)


async def viewer_notifications(
    info: Info, first: int | None, after: str | None, unread_only: bool
) -> NotificationConnection:
    page = await notifications.my_notifications(
        info.context.service, PageRequest.of(first, from_cursor(after)), unread_only=unread_only
    )
    edges, page_info = connection_edges(page, Notification.from_view)
    return NotificationConnection(edges=edges, page_info=page_info)


@strawberry.input
class MarkNotificationsReadInput:
    ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="These notices (up to 200)…"
    )
    all: bool = strawberry.field(default=False, description="…or every unread one.")


@strawberry.type
class MarkNotificationsReadPayload(Payload):
    marked_count: int | None = None


@strawberry.type
class NotificationMutations:
    @strawberry.mutation(description="Mark the viewer's own notices read.")
    @typed_errors(MarkNotificationsReadPayload)
    async def mark_notifications_read(
        self, info: Info, input: MarkNotificationsReadInput
    ) -> MarkNotificationsReadPayload:
        ids = (
            [parse_id(value, "Notification", "ids") for value in input.ids]
            if input.ids is not None
            else None
        )
        count = await notifications.mark_read(info.context.service, ids=ids, everything=input.all)
        return MarkNotificationsReadPayload(marked_count=count)
