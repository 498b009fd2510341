from __future__ import annotations

from datetime import datetime

import strawberry

from api.relay import Node, to_global_id
from models import DomainStatus, Enrollment
from services.domains import DomainView
from services.enrollment import SuggestedTeamView

strawberry.enum(
    DomainStatus,
    name="DomainStatus",
    description="pending until the DNS record is found; lapsed once it is gone.",
)
strawberry.enum(
    Enrollment,
    name="DomainEnrollment",
    description="What happens to users whose verified email is in the domain.",
)


@strawberry.type(description="The DNS TXT record that proves the team controls the domain.")
class TxtRecord:
    name: str = strawberry.field(
        description="Where to publish it: _orgward-challenge.<domain> (the domain itself, the "
        "apex, is accepted too)."
    )
    value: str = strawberry.field(description="orgward-domain-verification=<token>")


@strawberry.type(description="The outcome of the latest DNS check.")
class DomainCheck:
    at: datetime
    ok: bool
    message: str


@strawberry.type(description="An email domain of a team, proven by DNS. Owners and admins only.")
class Domain(Node):
    id: strawberry.ID
    name: str = strawberry.field(description="Lowercase ASCII (punycode for IDNs).")
    unicode_name: str = strawberry.field(description="The name as people read it.")
    status: DomainStatus
    enrollment: Enrollment
    token: str
    txt_record: TxtRecord
    created_at: datetime
    token_expires_at: datetime = strawberry.field(
        description="A domain still pending then is removed."
    )
    verified_at: datetime | None
    verified_until: datetime | None = strawberry.field(
        description="Each successful re-check extends this to at least 7 days ahead."
    )
    last_check: DomainCheck | None

    @classmethod
    def from_view(cls, view: DomainView) -> Domain:
        last_check = None
        if view.last_checked_at is not None:
            last_check = DomainCheck(
                at=view.last_checked_at,
                ok=bool(view.last_check_ok),
                message=view.last_check_message or "",
            )
        return cls(
            id=to_global_id("Domain", view.id),
            name=view.name,
            unicode_name=view.unicode_name,
            status=view.status,
            enrollment=view.enrollment,
            token=view.token,
            txt_record=TxtRecord(name=view.record_name, value=view.record_value),
            created_at=view.created_at,
            token_expires_at=view.token_expires_at,
            verified_at=view.verified_at,
            verified_until=view.verified_until,
            last_check=last_check,
        )


@strawberry.type(description="A team the viewer may join: their verified email is in its domain.")
class SuggestedTeam:
    team_id: strawberry.ID = strawberry.field(description="Pass it to joinSuggestedTeam.")
    slug: str
    name: str
    domain: str

    @classmethod
    def from_view(cls, view: SuggestedTeamView) -> SuggestedTeam:
        return cls(
            team_id=to_global_id("Team", view.team_id),
            slug=view.slug,
            name=view.name,
            domain=view.domain,
        )
