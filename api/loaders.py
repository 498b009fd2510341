"""Per-request DataLoaders: each list level costs one query however many parents it has."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from services import domains, invitations, teams, users
from services.context import ServiceContext
from services.domains import DomainView
from services.invitations import InvitationView
from services.pages import Page, PageRequest
from services.teams import MemberView, TeamView
from services.users import UserView

MemberPageKey = tuple[TeamView, PageRequest]


class Loaders:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self.user = DataLoader[int, UserView | None](self._users)
        self.member = DataLoader[int, MemberView | None](self._members)
        self.member_page = DataLoader[MemberPageKey, Page[MemberView]](self._member_pages)
        self.member_count = DataLoader[int, int](self._member_counts)
        self.contacts = DataLoader[TeamView, list[MemberView]](self._contacts)
        self.pending_invitations = DataLoader[int, list[InvitationView]](self._invitations)
        self.invitation = DataLoader[int, InvitationView | None](self._invitations_by_id)
        self.domains = DataLoader[int, list[DomainView]](self._domains)
        self.domain = DataLoader[int, DomainView | None](self._domains_by_id)

    async def _users(self, ids: Sequence[int]) -> list[UserView | None]:
        return await users.users_by_id(self._ctx, ids)

    async def _members(self, ids: Sequence[int]) -> list[MemberView | None]:
        return await teams.members_by_id(self._ctx, ids)

    async def _member_pages(self, keys: Sequence[MemberPageKey]) -> list[Page[MemberView]]:
        # Teams asked with the same page arguments share one query.
        groups: dict[PageRequest, list[TeamView]] = defaultdict(list)
        for team, page in keys:
            groups[page].append(team)
        results: dict[MemberPageKey, Page[MemberView]] = {}
        for page, group in groups.items():
            for team, result in zip(
                group, await teams.member_pages(self._ctx, group, page), strict=True
            ):
                results[(team, page)] = result
        return [results[key] for key in keys]

    async def _contacts(self, views: Sequence[TeamView]) -> list[list[MemberView]]:
        return await teams.contacts(self._ctx, views)

    async def _member_counts(self, team_ids: Sequence[int]) -> list[int]:
        return await teams.member_counts(self._ctx, team_ids)

    async def _invitations(self, team_ids: Sequence[int]) -> list[list[InvitationView]]:
        return await invitations.pending_for_teams(self._ctx, team_ids)

    async def _invitations_by_id(self, ids: Sequence[int]) -> list[InvitationView | None]:
        return await invitations.invitations_by_id(self._ctx, ids)

    async def _domains(self, team_ids: Sequence[int]) -> list[list[DomainView]]:
        return await domains.domains_of_teams(self._ctx, team_ids)

    async def _domains_by_id(self, ids: Sequence[int]) -> list[DomainView | None]:
        return await domains.domains_by_id(self._ctx, ids)
