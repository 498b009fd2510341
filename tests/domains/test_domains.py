"""Adding and verifying a team's domains over DNS (SPEC 4), against a real DNS server."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from core.db import session_factory
from models import Domain, DomainStatus, Role
from tests.domains.flows import (
    ADD_DOMAIN,
    DOMAIN_NODE,
    REMOVE_DOMAIN,
    SET_ENROLLMENT,
    TEAM_DOMAINS,
    VERIFY_DOMAIN,
    add_domain,
    publish,
    team_with_admin,
    verified_domain,
    verify,
)
from tests.support.dns import Zone
from tests.support.world import World
from worker.context import WorkerContext
from worker.domains import end_expired_domains

TRAIL = """
query($slug: String!) {
  team(slug: $slug) {
    auditEvents(first: 50) { edges { node { action actorKind targetType targetId details } } }
  }
}"""

RECORD_PREFIX = "orgward-domain-verification="


# --- adding ---------------------------------------------------------------------------------


async def test_an_admin_adds_a_domain_and_is_shown_the_record_to_publish(world: World) -> None:
    _, adam, team = await team_with_admin(world)

    domain = await add_domain(adam, team, "  Acme.EXAMPLE. ")

    assert domain["name"] == "acme.example"
    assert domain["status"] == "PENDING"
    assert domain["enrollment"] == "OFF"
    assert len(domain["token"]) >= 32
    assert domain["txtRecord"] == {
        "name": "_orgward-challenge.acme.example",
        "value": RECORD_PREFIX + domain["token"],
    }
    assert domain["tokenExpiresAt"] == (world.clock.now() + timedelta(days=7)).isoformat()
    assert domain["verifiedAt"] is None and domain["verifiedUntil"] is None
    assert domain["lastCheck"] is None


async def test_the_token_is_shown_again_to_the_teams_admins(world: World) -> None:
    olga, adam, team = await team_with_admin(world)
    added = await add_domain(adam, team, "acme.example")

    listed = (await olga(TEAM_DOMAINS, slug="acme"))["team"]["domains"]
    node = (await adam(DOMAIN_NODE, id=added["id"]))["node"]

    assert listed == [added]
    assert node == {"__typename": "Domain", **added}


async def test_idna_names_are_stored_in_punycode_and_shown_in_unicode(
    world: World, dns: Zone
) -> None:
    _, adam, team = await team_with_admin(world)

    domain = await add_domain(adam, team, "Bücher.Example")
    publish(dns, domain)
    verified = (await verify(adam, domain))["domain"]

    assert domain["name"] == "xn--bcher-kva.example"
    assert domain["unicodeName"] == "bücher.example"
    assert domain["txtRecord"]["name"] == "_orgward-challenge.xn--bcher-kva.example"
    assert verified["status"] == "VERIFIED"


@pytest.mark.parametrize(
    "name",
    [
        "*.acme.example",
        "acme..example",
        "",
        "   ",
        ".",
        "https://acme.example/",
        "admin@acme.example",
        "acme example",
        "192.0.2.1",
        "localhost",
        "under_score.example",
        "-acme.example",
        "x" * 64 + ".example",
        "a." * 130 + "example",
        "a." * 117 + "example",
        "acme.example\x00",
    ],
    ids=[
        "wildcard",
        "empty-label",
        "empty",
        "blank",
        "dot",
        "url",
        "address",
        "space",
        "ip-address",
        "single-label",
        "underscore",
        "leading-hyphen",
        "long-label",
        "long-name",
        "too-long-for-the-proof-record",
        "nul",
    ],
)
async def test_malformed_names_are_invalid_input(world: World, name: str) -> None:
    _, adam, team = await team_with_admin(world)

    payload = (await adam(ADD_DOMAIN, input={"teamId": team.id, "name": name}))["addDomain"]

    assert payload["domain"] is None
    assert [(e["__typename"], e["code"], e["field"]) for e in payload["errors"]] == [
        ("MutationError", "INVALID_INPUT", "name")
    ]
    assert (await adam(TEAM_DOMAINS, slug="acme"))["team"]["domains"] == []


@pytest.mark.parametrize("name", ["com", "co.uk", "example", "github.io", "XN--P1AI"])
async def test_public_suffixes_can_never_be_added(world: World, name: str) -> None:
    _, adam, team = await team_with_admin(world)

    payload = (await adam(ADD_DOMAIN, input={"teamId": team.id, "name": name}))["addDomain"]

    (error,) = payload["errors"]
    assert (error["code"], error["field"]) == ("INVALID_INPUT", "name")
    assert "public suffix" in error["message"]


@pytest.mark.parametrize(
    "name", ["gmail.com", "Outlook.com.", "googlemail.com", "proton.me", "web.de", "mail.yahoo.com"]
)
async def test_public_email_providers_can_never_be_added(world: World, name: str) -> None:
    _, adam, team = await team_with_admin(world)

    payload = (await adam(ADD_DOMAIN, input={"teamId": team.id, "name": name}))["addDomain"]

    (error,) = payload["errors"]
    assert (error["code"], error["field"]) == ("INVALID_INPUT", "name")
    assert "email provider" in error["message"]


async def test_a_team_adds_a_domain_once(world: World) -> None:
    _, adam, team = await team_with_admin(world)
    await add_domain(adam, team, "acme.example")

    payload = await adam(ADD_DOMAIN, input={"teamId": team.id, "name": "ACME.example."})

    (error,) = payload["addDomain"]["errors"]
    assert (error["code"], error["field"]) == ("CONFLICT", "name")


# --- verifying ------------------------------------------------------------------------------


async def test_a_record_at_the_challenge_name_verifies_the_domain(world: World, dns: Zone) -> None:
    _, adam, team = await team_with_admin(world)
    domain = await add_domain(adam, team, "acme.example")
    dns.publish("_orgward-challenge.acme.example", RECORD_PREFIX + domain["token"])
    world.clock.advance(hours=2)

    payload = await verify(adam, domain)

    now = world.clock.now()
    assert payload["errors"] == []
    verified = payload["domain"]
    assert verified["status"] == "VERIFIED"
    assert verified["verifiedAt"] == now.isoformat()
    assert verified["verifiedUntil"] == (now + timedelta(days=7)).isoformat()
    assert verified["lastCheck"] == {
        "at": now.isoformat(),
        "ok": True,
        "message": "Found the TXT record at _orgward-challenge.acme.example.",
    }


async def test_a_record_at_the_apex_verifies_the_domain_too(world: World, dns: Zone) -> None:
    _, adam, team = await team_with_admin(world)
    domain = await add_domain(adam, team, "acme.example")
    dns.publish("acme.example", "v=spf1 -all")
    dns.publish("acme.example", RECORD_PREFIX + domain["token"])

    verified = (await verify(adam, domain))["domain"]

    assert verified["status"] == "VERIFIED"
    assert verified["lastCheck"]["message"] == "Found the TXT record at acme.example."


async def test_a_record_split_into_several_strings_is_joined(world: World, dns: Zone) -> None:
    _, adam, team = await team_with_admin(world)
    domain = await add_domain(adam, team, "acme.example")
    value = RECORD_PREFIX + domain["token"]
    dns.publish("_orgward-challenge.acme.example", value[:20], value[20:40], value[40:])

    assert (await verify(adam, domain))["domain"]["status"] == "VERIFIED"


async def test_a_record_with_another_token_is_a_failed_check(world: World, dns: Zone) -> None:
    _, adam, team = await team_with_admin(world)
    domain = await add_domain(adam, team, "acme.example")
    dns.publish("_orgward-challenge.acme.example", RECORD_PREFIX + "someone-elses-token")

    payload = await verify(adam, domain)

    assert payload["errors"] == []
    checked = payload["domain"]
    assert checked["status"] == "PENDING"
    assert checked["verifiedAt"] is None
    assert checked["lastCheck"]["ok"] is False
    assert "does not match" in checked["lastCheck"]["message"]


async def test_no_record_at_all_is_a_failed_check_naming_both_places(
    world: World, dns: Zone
) -> None:
    _, adam, team = await team_with_admin(world)
    domain = await add_domain(adam, team, "acme.example")

    checked = (await verify(adam, domain))["domain"]

    assert checked["status"] == "PENDING"
    assert checked["lastCheck"]["ok"] is False
    assert checked["lastCheck"]["message"] == (
        "No TXT record orgward-domain-verification=<token> was found at "
        "_orgward-challenge.acme.example or acme.example."
    )


async def test_a_servfail_answer_is_a_failed_check_not_a_crash(world: World, dns: Zone) -> None:
    _, adam, team = await team_with_admin(world)
    domain = await add_domain(adam, team, "acme.example")
    publish(dns, domain)
    dns.fail("acme.example")

    payload = await verify(adam, domain)

    assert payload["errors"] == []
    assert payload["domain"]["status"] == "PENDING"
    assert payload["domain"]["lastCheck"]["ok"] is False
    assert "SERVFAIL" in payload["domain"]["lastCheck"]["message"]


async def test_a_dns_server_that_never_answers_is_a_failed_check(
    unanswered_world: World,
) -> None:
    _, adam, team = await team_with_admin(unanswered_world)
    domain = await add_domain(adam, team, "acme.example")

    payload = await verify(adam, domain)

    assert payload["errors"] == []
    assert payload["domain"]["status"] == "PENDING"
    assert payload["domain"]["lastCheck"]["ok"] is False
    assert "timeout" in payload["domain"]["lastCheck"]["message"]


async def test_checking_a_verified_domain_again_extends_it(world: World, dns: Zone) -> None:
    _, adam, team = await team_with_admin(world)
    domain = await verified_domain(dns, adam, team, "acme.example")
    first_verified_at = domain["verifiedAt"]
    world.clock.advance(days=3)

    again = (await verify(adam, domain))["domain"]

    assert again["verifiedAt"] == first_verified_at
    assert again["verifiedUntil"] == (world.clock.now() + timedelta(days=7)).isoformat()


async def test_a_token_older_than_seven_days_no_longer_verifies(world: World, dns: Zone) -> None:
    _, adam, team = await team_with_admin(world)
    domain = await add_domain(adam, team, "acme.example")
    publish(dns, domain)
    world.clock.advance(days=7)

    (error,) = (await verify(adam, domain))["errors"]

    assert (error["code"], error["field"]) == ("INVALID_INPUT", "domainId")
    assert dns.asked == []


# --- one team per domain --------------------------------------------------------------------


async def test_a_second_team_cannot_add_a_domain_another_team_verified(
    world: World, dns: Zone
) -> None:
    _, adam, acme = await team_with_admin(world)
    await verified_domain(dns, adam, acme, "acme.example")
    eve = await world.sign_up("eve")
    rival = await world.make_team(eve, name="Rival", slug="rival")

    body = await eve.raw(ADD_DOMAIN, input={"teamId": rival.id, "name": "acme.example"})

    (error,) = body["data"]["addDomain"]["errors"]
    assert (error["code"], error["field"]) == ("CONFLICT", "name")
    assert "acme" not in str(body).replace("acme.example", "").lower()
    assert "adam" not in str(body) and "olga" not in str(body)


async def test_of_two_teams_proving_a_domain_only_the_first_holds_it(
    world: World, dns: Zone
) -> None:
    _, adam, acme = await team_with_admin(world)
    eve = await world.sign_up("eve")
    rival = await world.make_team(eve, name="Rival", slug="rival")
    ours = await add_domain(adam, acme, "acme.example")
    theirs = await add_domain(eve, rival, "acme.example")
    publish(dns, ours)
    publish(dns, theirs, at_apex=True)
    assert (await verify(adam, ours))["domain"]["status"] == "VERIFIED"

    body = await eve.raw(
        """mutation($input: DomainIdInput!) { verifyDomain(input: $input) {
        domain { status } errors { code field message } } }""",
        input={"domainId": theirs["id"]},
    )

    assert body["data"]["verifyDomain"]["domain"] is None
    (error,) = body["data"]["verifyDomain"]["errors"]
    assert (error["code"], error["field"]) == ("CONFLICT", "domainId")
    assert "Acme" not in str(body) and "adam" not in str(body)
    rival_domains = (await eve(TEAM_DOMAINS, slug="rival"))["team"]["domains"]
    assert [d["status"] for d in rival_domains] == ["PENDING"]


async def test_the_database_refuses_a_second_verified_holder(world: World, dns: Zone) -> None:
    _, adam, acme = await team_with_admin(world)
    eve = await world.sign_up("eve")
    rival = await world.make_team(eve, name="Rival", slug="rival")
    await add_domain(eve, rival, "acme.example")
    await verified_domain(dns, adam, acme, "acme.example")

    async with session_factory(world.engine)() as db:
        with pytest.raises(IntegrityError):
            await db.execute(
                update(Domain)
                .where(Domain.team_id == rival.pk)  # type: ignore[arg-type]
                .values(status=DomainStatus.VERIFIED)
            )
        await db.rollback()


# --- who may do what ------------------------------------------------------------------------


async def test_members_neither_see_nor_manage_the_teams_domains(world: World, dns: Zone) -> None:
    _, adam, team = await team_with_admin(world)
    domain = await verified_domain(dns, adam, team, "acme.example")
    mia = await world.sign_up("mia")
    await world.add_member(team, mia, Role.MEMBER)

    assert (await mia(TEAM_DOMAINS, slug="acme"))["team"]["domains"] is None
    assert (await mia(DOMAIN_NODE, id=domain["id"]))["node"] is None
    attempts = [
        (ADD_DOMAIN, {"teamId": team.id, "name": "other.example"}, "addDomain"),
        (REMOVE_DOMAIN, {"domainId": domain["id"]}, "removeDomain"),
        (
            SET_ENROLLMENT,
            {"domainId": domain["id"], "enrollment": "AUTO_JOIN"},
            "setDomainEnrollment",
        ),
    ]
    for document, arguments, field in attempts:
        errors = (await mia(document, input=arguments))[field]["errors"]
        assert [e["code"] for e in errors] == ["FORBIDDEN"], field
    assert [e["code"] for e in (await verify(mia, domain))["errors"]] == ["FORBIDDEN"]
    assert (await adam(TEAM_DOMAINS, slug="acme"))["team"]["domains"] == [domain]


async def test_another_teams_admin_cannot_find_check_or_remove_a_domain(
    world: World, dns: Zone
) -> None:
    _, adam, team = await team_with_admin(world)
    domain = await add_domain(adam, team, "acme.example")
    eve = await world.sign_up("eve")
    await world.make_team(eve, name="Rival", slug="rival")

    assert (await eve(DOMAIN_NODE, id=domain["id"]))["node"] is None
    assert [(e["code"], e["field"]) for e in (await verify(eve, domain))["errors"]] == [
        ("NOT_FOUND", "domainId")
    ]
    removal = (await eve(REMOVE_DOMAIN, input={"domainId": domain["id"]}))["removeDomain"]
    assert [(e["code"], e["field"]) for e in removal["errors"]] == [("NOT_FOUND", "domainId")]
    addition = await eve(ADD_DOMAIN, input={"teamId": team.id, "name": "x.example"})
    assert [e["code"] for e in addition["addDomain"]["errors"]] == ["NOT_FOUND"]
    assert dns.asked == []
    assert (await adam(TEAM_DOMAINS, slug="acme"))["team"]["domains"] == [domain]


async def test_anonymous_callers_are_asked_to_sign_in(world: World) -> None:
    _, adam, team = await team_with_admin(world)
    domain = await add_domain(adam, team, "acme.example")
    anonymous = world.client()

    added = await anonymous(ADD_DOMAIN, input={"teamId": team.id, "name": "x.example"})
    removed = await anonymous(REMOVE_DOMAIN, input={"domainId": domain["id"]})

    assert [e["code"] for e in added["addDomain"]["errors"]] == ["UNAUTHENTICATED"]
    assert [e["code"] for e in removed["removeDomain"]["errors"]] == ["UNAUTHENTICATED"]
    assert (await anonymous(DOMAIN_NODE, id=domain["id"]))["node"] is None


async def test_a_malformed_domain_id_is_invalid_input(world: World) -> None:
    _, adam, team = await team_with_admin(world)

    removal = (await adam(REMOVE_DOMAIN, input={"domainId": team.id}))["removeDomain"]

    assert [(e["code"], e["field"]) for e in removal["errors"]] == [("INVALID_INPUT", "domainId")]


# --- removing, enrollment, audit ------------------------------------------------------------


async def test_removing_a_domain_ends_it_and_every_step_is_audited(world: World, dns: Zone) -> None:
    olga, adam, team = await team_with_admin(world)
    domain = await add_domain(adam, team, "acme.example")
    await verify(adam, domain)  # nothing published yet: a failed check
    publish(dns, domain)
    world.clock.advance(seconds=30)
    await verify(adam, domain)
    await olga(SET_ENROLLMENT, input={"domainId": domain["id"], "enrollment": "SUGGEST"})

    removal = (await olga(REMOVE_DOMAIN, input={"domainId": domain["id"]}))["removeDomain"]

    assert removal == {"removedId": domain["id"], "errors": []}
    assert (await olga(TEAM_DOMAINS, slug="acme"))["team"]["domains"] == []
    assert (await olga(DOMAIN_NODE, id=domain["id"]))["node"] is None
    again = (await olga(REMOVE_DOMAIN, input={"domainId": domain["id"]}))["removeDomain"]
    assert [e["code"] for e in again["errors"]] == ["NOT_FOUND"]
    events = [
        edge["node"] for edge in (await olga(TRAIL, slug="acme"))["team"]["auditEvents"]["edges"]
    ]
    domain_events = [e for e in events if e["targetType"] == "domain"]
    assert [e["action"] for e in domain_events] == [
        "domain.removed",
        "domain.enrollment_changed",
        "domain.verified",
        "domain.check_failed",
        "domain.added",
    ]
    assert {e["targetId"] for e in domain_events} == {domain["id"]}
    assert domain_events[1]["details"] == {"name": "acme.example", "from": "off", "to": "suggest"}
    assert domain_events[3]["details"]["status"] == "pending"


async def test_enrollment_is_set_per_domain(world: World, dns: Zone) -> None:
    _, adam, team = await team_with_admin(world)
    domain = await verified_domain(dns, adam, team, "acme.example")

    modes = []
    for mode in ("SUGGEST", "AUTO_JOIN", "OFF"):
        payload = await adam(SET_ENROLLMENT, input={"domainId": domain["id"], "enrollment": mode})
        modes.append(payload["setDomainEnrollment"]["domain"]["enrollment"])

    assert modes == ["SUGGEST", "AUTO_JOIN", "OFF"]


NESTED_DOMAINS = """
query { viewer { teams(first: 20) { edges { node { slug domains { name status } } } } } }"""


async def test_domains_of_many_teams_cost_as_many_statements_as_of_two(world: World) -> None:
    few = await world.sign_up("few", verified=False)
    many = await world.sign_up("many", verified=False)
    for owner, count in ((few, 2), (many, 6)):
        for number in range(count):
            team = await world.make_team(owner, name=f"{owner.username} {number}")
            await add_domain(owner, team, f"{owner.username}{number}.example")

    with world.count_statements() as two:
        few_data = await few(NESTED_DOMAINS)
    with world.count_statements() as six:
        many_data = await many(NESTED_DOMAINS)

    names = [edge["node"]["domains"][0]["name"] for edge in many_data["viewer"]["teams"]["edges"]]
    assert names == [f"many{number}.example" for number in range(6)]
    assert len(few_data["viewer"]["teams"]["edges"]) == 2
    assert six.count == two.count, (two.statements, six.statements)


# --- checks asked by admins: cooldown, races, DNS messages ----------------------------------


async def test_an_admin_checks_a_domain_at_most_every_thirty_seconds(
    world: World, dns: Zone
) -> None:
    olga, adam, team = await team_with_admin(world)
    domain = await add_domain(adam, team, "acme.example")
    await verify(adam, domain)
    dns.asked.clear()
    world.clock.advance(seconds=20)

    refused = await verify(olga, domain)

    assert refused["domain"] is None
    assert refused["errors"] == [
        {
            "__typename": "RateLimitedError",
            "code": "RATE_LIMITED",
            "field": "domainId",
            "message": "This domain was checked moments ago; try again in 10 seconds.",
            "retryAfterSeconds": 10,
        }
    ]
    assert dns.asked == []
    world.clock.advance(seconds=10)
    assert (await verify(olga, domain))["errors"] == []
    events = [e["node"] for e in (await olga(TRAIL, slug="acme"))["team"]["auditEvents"]["edges"]]
    assert [e["action"] for e in events if e["targetType"] == "domain"] == [
        "domain.check_failed",
        "domain.check_failed",
        "domain.added",
    ]


async def test_a_domain_the_sweep_removes_during_the_lookup_is_not_found(
    world: World, dns: Zone
) -> None:
    _, adam, team = await team_with_admin(world)
    domain = await add_domain(adam, team, "acme.example")
    publish(dns, domain)
    world.clock.advance(days=7, seconds=-1)
    answer = dns.hold("_orgward-challenge.acme.example")
    context = WorkerContext(
        engine=world.engine,
        sessions=session_factory(world.engine),
        settings=world.settings,
        clock=world.clock,
    )

    checking = asyncio.create_task(adam.raw(VERIFY_DOMAIN, input={"domainId": domain["id"]}))
    assert await asyncio.to_thread(answer.reached.wait, 10)
    world.clock.advance(seconds=1)
    removed = await end_expired_domains(context)
    answer.release.set()
    body = await checking

    assert removed == 1
    assert "errors" not in body, body
    payload = body["data"]["verifyDomain"]
    assert payload["domain"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NOT_FOUND", "domainId")]
    assert (await adam(TEAM_DOMAINS, slug="acme"))["team"]["domains"] == []


async def test_a_cname_loop_is_reported_as_such(world: World, dns: Zone) -> None:
    _, adam, team = await team_with_admin(world)
    domain = await add_domain(adam, team, "acme.example")
    dns.alias("_orgward-challenge.acme.example", "loop.acme.example")
    dns.alias("loop.acme.example", "_orgward-challenge.acme.example")

    checked = (await verify(adam, domain))["domain"]

    assert checked["lastCheck"]["ok"] is False
    assert checked["lastCheck"]["message"] == (
        "The DNS lookup failed: the CNAME records at _orgward-challenge.acme.example form a "
        "loop or a chain too long to follow."
    )


async def test_a_record_behind_a_cname_verifies_the_domain(world: World, dns: Zone) -> None:
    _, adam, team = await team_with_admin(world)
    domain = await add_domain(adam, team, "acme.example")
    dns.alias("_orgward-challenge.acme.example", "proofs.hosting.example")
    dns.publish("proofs.hosting.example", domain["txtRecord"]["value"])

    assert (await verify(adam, domain))["domain"]["status"] == "VERIFIED"
