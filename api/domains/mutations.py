from __future__ import annotations

import strawberry

from api.context import Info
from api.domains.types import Domain
from api.errors import Payload, typed_errors
from api.relay import parse_id
from api.teams.mutations import MemberPayload
from api.teams.types import Member
from models import Enrollment
from services import domains, enrollment


@strawberry.input
class AddDomainInput:
    team_id: strawberry.ID
    name: str = strawberry.field(description="e.g. example.com or bücher.example")


@strawberry.input
class DomainIdInput:
    domain_id: strawberry.ID


@strawberry.input
class SetDomainEnrollmentInput:
    domain_id: strawberry.ID
    enrollment: Enrollment


@strawberry.input
class JoinSuggestedTeamInput:
    team_id: strawberry.ID


@strawberry.type
class DomainPayload(Payload):
    domain: Domain | None = None


@strawberry.type
class RemoveDomainPayload(Payload):
    removed_id: strawberry.ID | None = None


def _domain_id(value: strawberry.ID) -> int:
    return parse_id(value, "Domain", "domainId")


@strawberry.type
class DomainMutations:
    @strawberry.mutation(description="Add a domain to a team; publish its txtRecord, then verify.")
    @typed_errors(DomainPayload)
    async def add_domain(self, info: Info, input: AddDomainInput) -> DomainPayload:
        view = await domains.add_domain(
            info.context.service,
            team_id=parse_id(input.team_id, "Team", "teamId"),
            name=input.name,
        )
        return DomainPayload(domain=Domain.from_view(view))

    @strawberry.mutation(
        description="Look the domain's TXT record up now. A failed check is no error: the "
        "domain's lastCheck says what was found."
    )
    @typed_errors(DomainPayload)
    async def verify_domain(self, info: Info, input: DomainIdInput) -> DomainPayload:
        view = await domains.verify_domain(
            info.context.service, domain_id=_domain_id(input.domain_id)
        )
        return DomainPayload(domain=Domain.from_view(view))

    @strawberry.mutation(description="Remove a domain from its team; its effects end.")
    @typed_errors(RemoveDomainPayload)
    async def remove_domain(self, info: Info, input: DomainIdInput) -> RemoveDomainPayload:
        await domains.remove_domain(info.context.service, domain_id=_domain_id(input.domain_id))
        return RemoveDomainPayload(removed_id=input.domain_id)

    @strawberry.mutation(description="Choose what happens to users of a verified domain.")
    @typed_errors(DomainPayload)
    async def set_domain_enrollment(
        self, info: Info, input: SetDomainEnrollmentInput
    ) -> DomainPayload:
        view = await domains.set_enrollment(
            info.context.service,
            domain_id=_domain_id(input.domain_id),
            enrollment=input.enrollment,
        )
        return DomainPayload(domain=Domain.from_view(view))

    @strawberry.mutation(description="Join, as a member, a team from viewer.suggestedTeams.")
    @typed_errors(MemberPayload)
    async def join_suggested_team(self, info: Info, input: JoinSuggestedTeamInput) -> MemberPayload:
        view = await enrollment.join_suggested_team(
            info.context.service, team_id=parse_id(input.team_id, "Team", "teamId")
        )
        return MemberPayload(member=Member.from_view(view))
