"""[P6] Only accounts whose *verified* email is in the verified domain are affected; a user who
moved to a personal email before the takeover took effect is left out."""

from __future__ import annotations

from tests.support.dns import Zone
from tests.support.world import PASSWORD, World

from .flows import TEAM_TAKEOVERS, acme, announced, kinds, notices, preview, set_managed

CHANGE_EMAIL = """
mutation($input: ChangeEmailInput!) { changeEmail(input: $input) { errors { code message } } }"""


async def test_p6_a_user_who_moved_to_a_personal_email_is_skipped(world: World, dns: Zone) -> None:
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")
    carol = await world.sign_up("carol", email="carol@acme.example")
    takeover = await announced(org.adam, org.domain, noticeDays=7)
    assert takeover["affectedCount"] == 2

    # During the notice period Carol moves her account to a personal address.
    data = await carol(
        CHANGE_EMAIL, input={"email": "carol@personal.example", "password": PASSWORD}
    )
    assert data["changeEmail"]["errors"] == []
    world.clock.advance(days=7)
    assert (await world.deliver_mail())["takeovers"] == 1
    # The notices of the takeover's effect are written out on the worker's next run.
    await world.deliver_mail()

    assert (await notices(ann))["managedBy"]["name"] == "Acme"
    viewer = await notices(carol)
    assert viewer["managedBy"] is None
    # She is told that the takeover she heard of does not concern her any more; in-app only,
    # since her new address is not verified (an address nobody proved could be anyone's).
    assert kinds(viewer) == ["takeover.skipped", "takeover.announced"]
    assert viewer["notifications"]["edges"][0]["node"]["details"]["team_name"] == "Acme"
    assert kinds(await notices(ann)) == ["takeover.effective", "takeover.announced"]
    await world.deliver_mail()
    assert world.mailbox.to("carol@personal.example", "takeover_skipped") == []
    assert world.mailbox.to("ann@acme.example", "takeover_skipped") == []
    (edge,) = (await org.adam(TEAM_TAKEOVERS, slug="acme"))["team"]["takeovers"]["edges"]
    assert (edge["node"]["managedCount"], edge["node"]["skippedCount"]) == (1, 1)


async def test_p6_skipped_accounts_with_a_verified_address_are_told_by_email_too(
    world: World, dns: Zone
) -> None:
    org = await acme(world, dns)
    carol = await world.sign_up("carol", email="carol@acme.example")
    await announced(org.adam, org.domain, noticeDays=7)
    data = await carol(
        CHANGE_EMAIL, input={"email": "carol@personal.example", "password": PASSWORD}
    )
    assert data["changeEmail"]["errors"] == []
    await world.deliver_mail()
    token = world.mailbox.token_in("carol@personal.example", "verify_email")
    await carol("mutation($t: String!) { verifyEmail(input: {token: $t}) { ok } }", t=token)
    world.clock.advance(days=7)

    assert (await world.deliver_mail())["takeovers"] == 1
    await world.deliver_mail()

    assert kinds(await notices(carol)) == ["takeover.skipped", "takeover.announced"]
    await world.deliver_mail()
    mail = world.mailbox.last_to("carol@personal.example", "takeover_skipped")
    assert "Acme" in mail["Subject"] and "acme.example" in mail.get_content()


async def test_p6_moving_back_unverified_during_the_notice_is_still_skipped(
    world: World, dns: Zone
) -> None:
    org = await acme(world, dns)
    carol = await world.sign_up("carol", email="carol@acme.example")
    await announced(org.adam, org.domain, noticeDays=7)

    # Out and back in again, without verifying the address this time.
    for address in ("carol@personal.example", "carol@acme.example"):
        data = await carol(CHANGE_EMAIL, input={"email": address, "password": PASSWORD})
        assert data["changeEmail"]["errors"] == []
    world.clock.advance(days=7)
    await world.deliver_mail()

    assert (await notices(carol))["managedBy"] is None


async def test_p6_an_unverified_email_in_the_domain_is_never_affected(
    world: World, dns: Zone
) -> None:
    org = await acme(world, dns)
    dave = await world.sign_up("dave", email="dave@acme.example", verified=False)

    assert (await preview(org.adam, org.domain))["affectedCount"] == 0
    takeover = await announced(org.olga, org.domain, noticeDays=0)

    assert takeover["affectedCount"] == 0
    viewer = await notices(dave)
    assert viewer["managedBy"] is None
    assert kinds(viewer) == []


async def test_p6_other_domains_and_subdomains_are_never_affected(world: World, dns: Zone) -> None:
    org = await acme(world, dns)
    erin = await world.sign_up("erin", email="erin@other.example")
    gina = await world.sign_up("gina", email="gina@eng.acme.example")
    # A name that merely ends like the domain.
    hugo = await world.sign_up("hugo", email="hugo@notacme.example")

    assert (await preview(org.adam, org.domain))["affectedCount"] == 0
    await announced(org.olga, org.domain, noticeDays=0)

    for person in (erin, gina, hugo):
        viewer = await notices(person)
        assert viewer["managedBy"] is None and kinds(viewer) == [], person.username


async def test_p6_accounts_managed_by_another_team_are_not_affected(
    world: World, dns: Zone
) -> None:
    org = await acme(world, dns)
    zed = await world.sign_up("zed", email="zed@zeta.example")
    zeta = await world.make_team(zed, name="Zeta", slug="zeta")
    frank = await world.sign_up("frank", email="frank@acme.example")
    await set_managed(world, frank, zeta, "zeta.example")

    assert (await preview(org.adam, org.domain))["affectedCount"] == 0
    takeover = await announced(org.olga, org.domain, noticeDays=0)

    assert takeover["managedCount"] == 0
    assert (await notices(frank))["managedBy"]["name"] == "Zeta"


async def test_p6_an_account_managed_elsewhere_during_the_notice_is_skipped(
    world: World, dns: Zone
) -> None:
    org = await acme(world, dns)
    zed = await world.sign_up("zed", email="zed@zeta.example")
    zeta = await world.make_team(zed, name="Zeta", slug="zeta")
    frank = await world.sign_up("frank", email="frank@acme.example")
    await announced(org.olga, org.domain, noticeDays=3)
    await set_managed(world, frank, zeta, "zeta.example")

    world.clock.advance(days=3)
    await world.deliver_mail()

    assert (await notices(frank))["managedBy"]["name"] == "Zeta"
    (edge,) = (await org.adam(TEAM_TAKEOVERS, slug="acme"))["team"]["takeovers"]["edges"]
    assert edge["node"]["skippedCount"] == 1


async def test_p5_an_account_that_joins_the_domain_after_the_announcement_is_not_taken(
    world: World, dns: Zone
) -> None:
    org = await acme(world, dns)
    await announced(org.olga, org.domain, noticeDays=2)
    # Hank verifies an address in the domain after the users were told: he never was.
    hank = await world.sign_up("hank", email="hank@acme.example")

    world.clock.advance(days=2)
    await world.deliver_mail()

    assert (await notices(hank))["managedBy"] is None
    # A new preview names him; a new announcement would tell him first.
    assert (await preview(org.adam, org.domain))["affectedCount"] == 1


async def test_p5_an_internationalized_domain(world: World, dns: Zone) -> None:
    # Addresses keep their domain in Unicode; the domain's name is ASCII (punycode).
    org = await acme(world, dns, name="bücher.example")
    ana = await world.sign_up("ana", email="ana@bücher.example")

    assert (await preview(org.adam, org.domain))["affectedCount"] == 1
    takeover = await announced(org.olga, org.domain, noticeDays=0)

    assert takeover["domainName"] == "xn--bcher-kva.example"
    assert takeover["managedCount"] == 1
    assert (await notices(ana))["managedBy"]["domain"] == "bücher.example"
