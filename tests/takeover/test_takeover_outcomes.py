"""Who hears what when a takeover is cancelled or accounts are released, what the release's
audit event names, an approved email change leaving the domain, and the two ways a takeover
with no notice writes its rows."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from core.db import session_factory
from models import TakeoverAccount, User
from services import takeover_effect
from services.context import ServiceContext
from tests.conftest import POSTGRES_URL
from tests.domains.flows import verified_domain
from tests.managed.conftest import APPROVE, CHANGE_EMAIL
from tests.support.dns import Zone
from tests.support.world import PASSWORD, Person, World

from .flows import CANCEL, RELEASE, acme, announced, kinds, notices, pk, set_managed, trail

MANAGED = """
query Managed($slug: String!) {
  team(slug: $slug) { managedAccounts(first: 50) { edges { node { user { username } email } } } }
}"""


async def release(person: Person, **input: Any) -> dict[str, Any]:
    return (await person(RELEASE, input=input))["releaseManagedAccounts"]


async def released_event(person: Person) -> dict[str, Any]:
    return next(e for e in await trail(person) if e["action"] == "managed_accounts.released")


async def test_a_cancellation_is_told_only_to_whom_it_concerns_and_mailed_only_if_verified(
    world: World, dns: Zone
) -> None:
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")
    bob = await world.sign_up("bob", email="bob@acme.example")
    carol = await world.sign_up("carol", email="carol@acme.example")
    zed = await world.sign_up("zed", email="zed@zeta.example")
    zeta = await world.make_team(zed, name="Zeta", slug="zeta")
    takeover = await announced(org.adam, org.domain)
    # Meanwhile another team came to manage Bob, and Carol moved to an address she has not
    # confirmed (it may not even be hers).
    await set_managed(world, bob, zeta, "zeta.example")
    data = await carol(
        CHANGE_EMAIL, input={"email": "carol@personal.example", "password": PASSWORD}
    )
    assert data["changeEmail"]["errors"] == []
    world.mailbox.clear()

    data = await org.olga(CANCEL, input={"takeoverId": takeover["id"]})

    assert data["cancelTakeover"]["errors"] == []
    await world.deliver_mail()
    assert kinds(await notices(ann)) == ["takeover.cancelled", "takeover.announced"]
    # "Your account stays managed by nobody" is not true for Bob: he is not told it.
    assert kinds(await notices(bob)) == ["takeover.announced"]
    assert kinds(await notices(carol)) == ["takeover.cancelled", "takeover.announced"]
    await world.deliver_mail()
    assert world.mailbox.last_to("ann@acme.example", "takeover_cancelled")
    assert world.mailbox.to("bob@acme.example", "takeover_cancelled") == []
    assert world.mailbox.to("carol@personal.example", "takeover_cancelled") == []


async def test_the_release_event_names_the_accounts_actually_released(
    world: World, dns: Zone
) -> None:
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")
    await world.sign_up("bob", email="bob@acme.example")
    await announced(org.olga, org.domain, noticeDays=0)

    # Olga's account is not managed: asked for, not released.
    payload = await release(org.adam, teamId=org.team.id, userIds=[org.olga.id, ann.id])

    assert payload == {"releasedCount": 1, "errors": []}
    event = await released_event(org.adam)
    assert event["details"]["user_ids"] == [pk(ann.id)]
    assert event["details"]["released_count"] == 1


async def test_a_large_release_names_the_first_thousand_accounts_and_counts_all(
    world: World, dns: Zone
) -> None:
    org = await acme(world, dns)
    now = world.clock.now()
    async with session_factory(world.engine)() as db:
        db.add_all(
            User(
                username=f"u{i}",
                email=f"u{i}@acme.example",
                email_verified_at=now,
                managed_by_team_id=org.team.pk,
                managed_since=now,
                managed_domain="acme.example",
                created_at=now,
                updated_at=now,
            )
            for i in range(1001)
        )
        await db.commit()
        ids = sorted((await db.execute(select(User.id).where(User.username.like("u%")))).scalars())  # type: ignore[attr-defined]

    payload = await release(org.adam, teamId=org.team.id, domainId=org.domain["id"])

    assert payload == {"releasedCount": 1001, "errors": []}
    details = (await released_event(org.adam))["details"]
    assert details["released_count"] == 1001
    assert details["user_ids"] == ids[:1000]


async def test_an_approved_email_outside_the_domain_releases_the_account(
    world: World, dns: Zone
) -> None:
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")
    await announced(org.olga, org.domain, noticeDays=0)
    await world.deliver_mail()
    filed = await ann(CHANGE_EMAIL, input={"email": "ann@personal.example", "password": PASSWORD})
    request = filed["changeEmail"]["emailChangeRequest"]["id"]

    data = await org.adam(APPROVE, input={"requestId": request})

    assert data["approveEmailChange"]["errors"] == []
    await world.deliver_mail()
    viewer = await notices(ann)
    assert viewer["managedBy"] is None
    assert kinds(viewer)[:2] == ["managed_account.released", "email_change.approved"]
    assert viewer["notifications"]["edges"][0]["node"]["details"]["reason"] == "left_domain"
    # The team no longer lists her, nor sees her personal address anywhere.
    listed = (await org.adam(MANAGED, slug="acme"))["team"]["managedAccounts"]["edges"]
    assert listed == []
    event = await released_event(org.adam)
    assert event["details"]["reason"] == "left_domain"
    assert event["details"]["user_ids"] == [pk(ann.id)]
    assert "ann@personal.example" not in str(event["details"])
    # Released, she changes her email herself from now on.
    again = await ann(CHANGE_EMAIL, input={"email": "ann@other.example", "password": PASSWORD})
    assert again["changeEmail"]["emailChangeRequest"] is None


async def test_an_approved_email_inside_the_domain_keeps_the_account_managed(
    world: World, dns: Zone
) -> None:
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")
    await announced(org.olga, org.domain, noticeDays=0)
    filed = await ann(CHANGE_EMAIL, input={"email": "ann.smith@acme.example", "password": PASSWORD})
    request = filed["changeEmail"]["emailChangeRequest"]["id"]

    data = await org.adam(APPROVE, input={"requestId": request})

    assert data["approveEmailChange"]["errors"] == []
    assert (await notices(ann))["managedBy"]["name"] == "Acme"
    assert "managed_accounts.released" not in [e["action"] for e in await trail(org.adam)]


async def accounts_of(world: World, takeover_id: int) -> list[tuple[str, str, str, str | None]]:
    """(address's local part, outcome, managed domain, managing team) of a takeover's rows."""
    async with session_factory(world.engine)() as db:
        rows = await db.execute(
            select(
                TakeoverAccount.email,
                TakeoverAccount.outcome,
                User.managed_domain,
                User.managed_by_team_id,
            )
            .join(User, User.id == TakeoverAccount.user_id)  # type: ignore[arg-type]
            .where(TakeoverAccount.takeover_id == takeover_id)
        )
        return sorted(
            (email.split("@")[0], str(outcome), str(domain).split(".")[0], team)
            for email, outcome, domain, team in rows
        )


@pytest.mark.parametrize("one_statement", [True, False], ids=["one-statement", "portable"])
async def test_a_takeover_with_no_notice_writes_its_final_rows_either_way(
    world: World, dns: Zone, monkeypatch: pytest.MonkeyPatch, one_statement: bool
) -> None:
    if one_statement and not POSTGRES_URL:
        pytest.skip("a data-modifying WITH needs PostgreSQL")
    org = await acme(world, dns)
    other = await verified_domain(dns, org.adam, org.team, "beta.example")
    zed = await world.sign_up("zed", email="zed@zeta.example")
    zeta = await world.make_team(zed, name="Zeta", slug="zeta")
    for domain in ("acme", "beta"):
        await world.sign_up(f"{domain}1", email=f"x1@{domain}.example")
        await world.sign_up(f"{domain}2", email=f"x2@{domain}.example")
        # Never affected: an unverified address, and an account another team manages.
        await world.sign_up(f"{domain}3", email=f"x3@{domain}.example", verified=False)
        managed = await world.sign_up(f"{domain}4", email=f"x4@{domain}.example")
        await set_managed(world, managed, zeta, "zeta.example")
    # The reference: the way the database at hand runs by default.
    reference = await announced(org.olga, org.domain, noticeDays=0)
    monkeypatch.setattr(takeover_effect, "one_statement_claim", lambda _ctx: one_statement)

    takeover = await announced(org.olga, other, noticeDays=0)

    assert (takeover["affectedCount"], takeover["managedCount"]) == (2, 2)
    rows = await accounts_of(world, pk(takeover["id"]))
    assert rows == [
        ("x1", "managed", "beta", org.team.pk),
        ("x2", "managed", "beta", org.team.pk),
    ]
    expected = [(a, b, "acme", d) for a, b, _, d in rows]
    assert await accounts_of(world, pk(reference["id"])) == expected


async def test_postgresql_claims_in_one_statement_and_sqlite_in_two(world: World) -> None:
    async with session_factory(world.engine)() as db:
        ctx = ServiceContext(db=db, actor=None, settings=world.settings, clock=world.clock)  # type: ignore[arg-type]
        assert takeover_effect.one_statement_claim(ctx) is bool(POSTGRES_URL)
