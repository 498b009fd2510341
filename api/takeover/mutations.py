from __future__ import annotations

import strawberry

from api.context import Info
from api.errors import Payload, typed_errors
from api.relay import connection_edges, from_cursor, parse_id
from api.takeover.types import AffectedAccountConnection, Takeover
from api.users.types import User
from services import takeover, takeover_release
from services.pages import PageRequest


@strawberry.input
class PreviewTakeoverInput:
    domain_id: strawberry.ID
    first: int | None = 20
    after: str | None = None


@strawberry.input
class AnnounceTakeoverInput:
    domain_id: strawberry.ID
    notice_days: int | None = strawberry.field(
        default=None,
        description="0 to 30; the team's takeover notice (7 unless changed) when omitted. "
        "Only an owner may give less than the team's notice. With 0 the takeover takes "
        "effect at once.",
    )


@strawberry.input
class CancelTakeoverInput:
    takeover_id: strawberry.ID


@strawberry.input
class ReleaseManagedAccountsInput:
    team_id: strawberry.ID
    domain_id: strawberry.ID | None = strawberry.field(
        default=None, description="Release every account managed through this domain…"
    )
    user_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="…or these accounts (up to 1,000)."
    )


@strawberry.type
class PreviewTakeoverPayload(Payload):
    affected_count: int | None = None
    accounts: AffectedAccountConnection | None = None


@strawberry.type
class TakeoverPayload(Payload):
    takeover: Takeover | None = None


@strawberry.type
class ReleaseManagedAccountsPayload(Payload):
    released_count: int | None = None


def _domain_id(value: strawberry.ID) -> int:
    return parse_id(value, "Domain", "domainId")


@strawberry.type
class TakeoverMutations:
    @strawberry.mutation(
        description="[P5] The accounts a takeover of this verified domain would name now: "
        "how many, and a page of them. Audit-logged."
    )
    @typed_errors(PreviewTakeoverPayload)
    async def preview_takeover(
        self, info: Info, input: PreviewTakeoverInput
    ) -> PreviewTakeoverPayload:
        preview = await takeover.preview_takeover(
            info.context.service,
            domain_id=_domain_id(input.domain_id),
            page=PageRequest.of(input.first, from_cursor(input.after)),
        )
        edges, page_info = connection_edges(preview.accounts, User.from_view)
        return PreviewTakeoverPayload(
            affected_count=preview.affected_count,
            accounts=AffectedAccountConnection(edges=edges, page_info=page_info),
        )

    @strawberry.mutation(
        description="[P5] Announce that the team will manage the accounts of this verified "
        "domain after the notice period; each is told in-app and by email."
    )
    @typed_errors(TakeoverPayload)
    async def announce_takeover(self, info: Info, input: AnnounceTakeoverInput) -> TakeoverPayload:
        view = await takeover.announce_takeover(
            info.context.service,
            domain_id=_domain_id(input.domain_id),
            notice_days=input.notice_days,
        )
        return TakeoverPayload(takeover=Takeover.from_view(view))

    @strawberry.mutation(description="Call off an announced takeover; its users are told.")
    @typed_errors(TakeoverPayload)
    async def cancel_takeover(self, info: Info, input: CancelTakeoverInput) -> TakeoverPayload:
        view = await takeover.cancel_takeover(
            info.context.service,
            takeover_id=parse_id(input.takeover_id, "Takeover", "takeoverId"),
        )
        return TakeoverPayload(takeover=Takeover.from_view(view))

    @strawberry.mutation(
        description="Stop managing accounts: those of one domain, or the named ones. They are "
        "told, and their pending email-change requests are withdrawn."
    )
    @typed_errors(ReleaseManagedAccountsPayload)
    async def release_managed_accounts(
        self, info: Info, input: ReleaseManagedAccountsInput
    ) -> ReleaseManagedAccountsPayload:
        user_ids = (
            [parse_id(value, "User", "userIds") for value in input.user_ids]
            if input.user_ids is not None
            else None
        )
        count = await takeover_release.release_managed_accounts(
            info.context.service,
            team_id=parse_id(input.team_id, "Team", "teamId"),
            domain_id=_domain_id(input.domain_id) if input.domain_id is not None else None,
            user_ids=user_ids,
        )
        return ReleaseManagedAccountsPayload(released_count=count)
