"""Per-request DataLoaders: each list level costs one query however many parents it has."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import cached_property

from strawberry.dataloader import DataLoader

from models import EmailChangeStatus, UserStatus
from services import (
    domains,
    email_changes,
    installations,
    invitations,
    managed_accounts,
    teams,
    users,
)
from services.context import ServiceContext
from services.domains import DomainView
from services.email_changes import EmailChangeView
from services.installations import InstallationView
from services.invitations import InvitationView
from services.managed_accounts import ManagedAccountView, ManagedSettings, settings_of_teams
from services.pages import Page, PageRequest
from services.teams import MemberView, TeamView
from services.users import UserView

# The team, the page, and whether the page shows timestamps (teams.member_pages).
MemberPageKey = tuple[TeamView, PageRequest, bool]
# The team, the page, the statuses asked for, the domain (services.managed_accounts.domain_filter).
ManagedPageKey = tuple[TeamView, PageRequest, tuple[UserStatus, ...], str | None]
EmailChangePageKey = tuple[TeamView, PageRequest, tuple[EmailChangeStatus, ...]]


class Loaders:
    """The request's DataLoaders, each made on first use (a request needs one or two)."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def release(self) -> None:
        """Drop the loaders made so far and what they cached (each refers back here through
        its batch function: a cycle that would keep every loaded row until collected)."""
        self.__dict__.clear()

    @cached_property
    def user(self) -> DataLoader[int, UserView | None]:
        return DataLoader(self._users)

    @cached_property
    def member(self) -> DataLoader[int, MemberView | None]:
        return DataLoader(self._members)

    @cached_property
    def member_page(self) -> DataLoader[MemberPageKey, Page[MemberView]]:
        return DataLoader(self._member_pages)

    @cached_property
    def member_count(self) -> DataLoader[int, int]:
        return DataLoader(self._member_counts)

    @cached_property
    def contacts(self) -> DataLoader[TeamView, list[MemberView]]:
        return DataLoader(self._contacts)

    @cached_property
    def pending_invitations(self) -> DataLoader[int, list[InvitationView]]:
        return DataLoader(self._invitations)

    @cached_property
    def invitation(self) -> DataLoader[int, InvitationView | None]:
        return DataLoader(self._invitations_by_id)

    @cached_property
    def domains(self) -> DataLoader[int, list[DomainView]]:
        return DataLoader(self._domains)

    @cached_property
    def domain(self) -> DataLoader[int, DomainView | None]:
        return DataLoader(self._domains_by_id)

    @cached_property
    def installation_page(self) -> DataLoader[tuple[int, PageRequest], Page[InstallationView]]:
        return DataLoader(self._installation_pages)

    @cached_property
    def managed_settings(self) -> DataLoader[TeamView, ManagedSettings | None]:
        return DataLoader(self._managed_settings)

    @cached_property
    def managed_account_page(self) -> DataLoader[ManagedPageKey, Page[ManagedAccountView] | None]:
        return DataLoader(self._managed_account_pages)

    @cached_property
    def email_change_page(self) -> DataLoader[EmailChangePageKey, Page[EmailChangeView] | None]:
        return DataLoader(self._email_change_pages)

    async def _users(self, ids: Sequence[int]) -> list[UserView | None]:
        return await users.users_by_id(self._ctx, ids)

    async def _members(self, ids: Sequence[int]) -> list[MemberView | None]:
        return await teams.members_by_id(self._ctx, ids)

    async def _member_pages(self, keys: Sequence[MemberPageKey]) -> list[Page[MemberView]]:
        # Teams asked with the same page arguments share one query.
        groups: dict[tuple[PageRequest, bool], list[TeamView]] = defaultdict(list)
        for team, page, timestamps in keys:
            groups[(page, timestamps)].append(team)
        results: dict[MemberPageKey, Page[MemberView]] = {}
        for (page, timestamps), group in groups.items():
            pages = await teams.member_pages(self._ctx, group, page, timestamps=timestamps)
            for team, result in zip(group, pages, strict=True):
                results[(team, page, timestamps)] = result
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

    async def _installation_pages(
        self, keys: Sequence[tuple[int, PageRequest]]
    ) -> list[Page[InstallationView]]:
        # Teams asked with the same page arguments share one query.
        groups: dict[PageRequest, list[int]] = defaultdict(list)
        for team_id, page in keys:
            groups[page].append(team_id)
        results: dict[tuple[int, PageRequest], Page[InstallationView]] = {}
        for page, team_ids in groups.items():
            pages = await installations.installation_pages(self._ctx, team_ids, page)
            for team_id, result in zip(team_ids, pages, strict=True):
                results[(team_id, page)] = result
        return [results[key] for key in keys]

    async def _managed_settings(self, views: Sequence[TeamView]) -> list[ManagedSettings | None]:
        return await settings_of_teams(self._ctx, views)

    async def _managed_account_pages(
        self, keys: Sequence[ManagedPageKey]
    ) -> list[Page[ManagedAccountView] | None]:
        # Teams asked with the same arguments share one query.
        groups: dict[tuple[PageRequest, tuple[UserStatus, ...], str | None], list[TeamView]]
        groups = defaultdict(list)
        for team, page, statuses, domain in keys:
            groups[(page, statuses, domain)].append(team)
        results: dict[ManagedPageKey, Page[ManagedAccountView] | None] = {}
        for (page, statuses, domain), group in groups.items():
            pages = await managed_accounts.managed_account_pages(
                self._ctx, group, page, statuses=statuses, domain=domain
            )
            for team, result in zip(group, pages, strict=True):
                results[(team, page, statuses, domain)] = result
        return [results[key] for key in keys]

    async def _email_change_pages(
        self, keys: Sequence[EmailChangePageKey]
    ) -> list[Page[EmailChangeView] | None]:
        # Teams asked with the same arguments share one query.
        groups: dict[tuple[PageRequest, tuple[EmailChangeStatus, ...]], list[TeamView]]
        groups = defaultdict(list)
        for team, page, statuses in keys:
            groups[(page, statuses)].append(team)
        results: dict[EmailChangePageKey, Page[EmailChangeView] | None] = {}
        for (page, statuses), group in groups.items():
            pages = await email_changes.team_request_pages(self._ctx, group, statuses, page)
            for team, result in zip(group, pages, strict=True):
                results[(team, page, statuses)] = result
        return [results[key] for key in keys]
