"""[P15] Owners designate admins and billing admins; every member can see who they are and
write to the team's owners and admins."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from models import AuditEvent, OutboxMessage, Role
from tests.support.world import Person, TeamRef, World

CHANGE_ROLE = """
mutation ChangeRole($input: ChangeMemberRoleInput!) {
  changeMemberRole(input: $input) { member { role } errors { __typename code field message } }
}"""

CONTACTS = """
query Contacts($slug: String!) {
  team(slug: $slug) { contacts { role user { username displayName } } }
}"""

CONTACT_ADMINS = """
mutation Contact($input: ContactTeamAdminsInput!) {
  contactTeamAdmins(input: $input) { recipients errors { __typename code field message } }
}"""

SET_DISPLAY_NAME = """
mutation Name($input: UpdateProfileInput!) { updateProfile(input: $input) { errors { code } } }"""


class Acme:
    """Olga founded Acme; Adam, Bea and Mia joined as members; Otto is a second owner."""

    def __init__(self, team: TeamRef, people: dict[str, Person], ids: dict[str, str]) -> None:
        self.team, self.people, self.ids = team, people, ids

    def __getattr__(self, name: str) -> Person:
        return self.people[name]


async def acme(world: World) -> Acme:
    people = {
        name: await world.sign_up(name, verified=False)
        for name in ("olga", "otto", "adam", "bea", "mia")
    }
    for name, person in people.items():
        await person(SET_DISPLAY_NAME, input={"displayName": f"{name.title()} Example"})
    team = await world.make_team(people["olga"], name="Acme")
    ids = {"otto": await world.add_member(team, people["otto"], Role.OWNER)}
    for name in ("adam", "bea", "mia"):
        ids[name] = await world.add_member(team, people[name], Role.MEMBER)
    return Acme(team, people, ids)


async def post_escaped(person: Person, query: str, **variables: object) -> dict:
    """Send JSON with \\u escapes, as any client may: lone surrogates reach the server."""
    response = await person.client.http.post(
        "/graphql",
        content=json.dumps({"query": query, "variables": variables}),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body["errors"]
    return dict(body["data"])


async def audit_actions(world: World) -> list[str]:
    async with world.engine.connect() as connection:
        rows = await connection.execute(select(AuditEvent.action).order_by(AuditEvent.id))
        return [action for (action,) in rows]


async def outbox_size(world: World) -> int:
    async with world.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


async def designate(acme: Acme) -> None:
    for name, role in (("adam", "ADMIN"), ("bea", "BILLING")):
        data = await acme.olga(CHANGE_ROLE, input={"memberId": acme.ids[name], "role": role})
        assert data["changeMemberRole"] == {"member": {"role": role}, "errors": []}


def contact_input(
    acme: Acme,
    subject: str = "Invoice address",
    message: str = "Please send the invoices to our new office.",
    share: bool = True,
) -> dict:
    return {
        "input": {
            "teamId": acme.team.id,
            "subject": subject,
            "message": message,
            "shareMyEmail": share,
        }
    }


async def test_p15_owners_designate_admins_and_billing_admins(world: World) -> None:
    team = await acme(world)
    before = await audit_actions(world)

    await designate(team)

    contacts = (await team.olga(CONTACTS, slug=team.team.slug))["team"]["contacts"]
    assert [(c["user"]["username"], c["role"]) for c in contacts] == [
        ("olga", "OWNER"),
        ("otto", "OWNER"),
        ("adam", "ADMIN"),
        ("bea", "BILLING"),
    ]
    assert (await audit_actions(world))[len(before) :] == ["member.role_changed"] * 2


async def test_p15_every_member_lists_the_owners_admins_and_billing_contacts(
    world: World,
) -> None:
    team = await acme(world)
    await designate(team)

    data = await team.mia(CONTACTS, slug=team.team.slug)

    assert data["team"]["contacts"] == [
        {"role": "OWNER", "user": {"username": "olga", "displayName": "Olga Example"}},
        {"role": "OWNER", "user": {"username": "otto", "displayName": "Otto Example"}},
        {"role": "ADMIN", "user": {"username": "adam", "displayName": "Adam Example"}},
        {"role": "BILLING", "user": {"username": "bea", "displayName": "Bea Example"}},
    ]


async def test_p15_contacts_keep_private_emails_private(world: World) -> None:
    team = await acme(world)
    await designate(team)

    data = await team.mia(
        "query($slug: String!) { team(slug: $slug) { contacts { user { username email } } } }",
        slug=team.team.slug,
    )

    assert {c["user"]["username"]: c["user"]["email"] for c in data["team"]["contacts"]} == {
        "olga": None,
        "otto": None,
        "adam": None,
        "bea": None,
    }


async def test_p15_a_member_writes_to_every_owner_and_admin(world: World) -> None:
    team = await acme(world)
    await designate(team)
    world.mailbox.clear()
    before = await audit_actions(world)

    data = await team.mia(CONTACT_ADMINS, **contact_input(team))
    await world.deliver_mail()

    assert data["contactTeamAdmins"] == {"recipients": 3, "errors": []}
    received = {m["To"]: m for m in world.mailbox.messages if m["X-Orgward-Kind"] == "team_contact"}
    assert sorted(received) == ["adam@example.org", "olga@example.org", "otto@example.org"]
    for message in received.values():
        assert message["Reply-To"] == "mia@example.org"
        assert message["Subject"] == "[Acme] Invoice address"
        body = message.get_content()
        assert "Please send the invoices to our new office." in body
        assert "mia" in body
    assert world.mailbox.to("bea@example.org", "team_contact") == []
    assert (await audit_actions(world))[len(before) :] == ["team.contacted"]


@pytest.mark.parametrize("sender", ["bea", "adam", "olga"])
async def test_p15_a_contact_never_writes_to_themself(world: World, sender: str) -> None:
    team = await acme(world)
    await designate(team)
    world.mailbox.clear()

    data = await team.people[sender](CONTACT_ADMINS, **contact_input(team))
    await world.deliver_mail()

    expected = {"olga", "otto", "adam"} - {sender}
    sent = [m for m in world.mailbox.messages if m["X-Orgward-Kind"] == "team_contact"]
    assert data["contactTeamAdmins"]["recipients"] == len(expected)
    assert sorted(m["To"] for m in sent) == sorted(f"{n}@example.org" for n in expected)
    assert {m["Reply-To"] for m in sent} == {f"{sender}@example.org"}


async def test_p15_a_non_member_cannot_write_to_a_teams_admins(world: World) -> None:
    team = await acme(world)
    eve = await world.sign_up("eve", verified=False)
    outbox_before = await outbox_size(world)
    events_before = await audit_actions(world)

    data = await eve(CONTACT_ADMINS, **contact_input(team))
    anonymous = await world.client()(CONTACT_ADMINS, **contact_input(team))

    assert [(e["code"], e["field"]) for e in data["contactTeamAdmins"]["errors"]] == [
        ("NOT_FOUND", "teamId")
    ]
    assert [e["code"] for e in anonymous["contactTeamAdmins"]["errors"]] == ["UNAUTHENTICATED"]
    assert await outbox_size(world) == outbox_before
    assert await audit_actions(world) == events_before


async def test_p15_strangers_do_not_see_the_contacts(world: World) -> None:
    team = await acme(world)
    eve = await world.sign_up("eve", verified=False)

    assert await eve.raw(CONTACTS, slug=team.team.slug) == {"data": {"team": None}}


@pytest.mark.parametrize(
    ("subject", "message", "field"),
    [
        ("", "Hello", "subject"),
        ("   ", "Hello", "subject"),
        ("s" * 151, "Hello", "subject"),
        ("Hello", "", "message"),
        ("Hello", " \n\t ", "message"),
        ("Hello", "m" * 5001, "message"),
        ("Hello", "nul \x00 byte", "message"),
        ("Hello", "escape \x1b[31m red", "message"),
    ],
    ids=[
        "empty-subject",
        "blank-subject",
        "long-subject",
        "empty-message",
        "blank-message",
        "long-message",
        "nul-in-message",
        "control-in-message",
    ],
)
async def test_p15_a_bad_message_is_invalid_input_and_sends_nothing(
    world: World, subject: str, message: str, field: str
) -> None:
    team = await acme(world)
    outbox_before = await outbox_size(world)

    data = await post_escaped(team.mia, CONTACT_ADMINS, **contact_input(team, subject, message))

    assert [(e["code"], e["field"]) for e in data["contactTeamAdmins"]["errors"]] == [
        ("INVALID_INPUT", field)
    ]
    assert data["contactTeamAdmins"]["recipients"] == 0
    assert await outbox_size(world) == outbox_before


async def test_p15_a_message_keeps_its_lines_and_a_subject_cannot_add_headers(
    world: World,
) -> None:
    team = await acme(world)
    world.mailbox.clear()

    await team.mia(
        CONTACT_ADMINS,
        **contact_input(
            team,
            subject="Hi\r\nBcc: eve@example.org",
            message="First line.\n\nSecond line.",
        ),
    )
    await world.deliver_mail()

    message = world.mailbox.last_to("olga@example.org", "team_contact")
    assert message["Bcc"] is None
    assert message["Subject"] == "[Acme] Hi Bcc: eve@example.org"
    assert "First line.\n\nSecond line." in message.get_content().replace("\r\n", "\n")
    assert world.mailbox.to("eve@example.org") == []


async def test_p15_p1_a_private_sender_address_is_not_shared_unless_asked(world: World) -> None:
    team = await acme(world)
    await designate(team)
    world.mailbox.clear()

    data = await team.mia(CONTACT_ADMINS, **contact_input(team, share=False))
    await world.deliver_mail()

    assert data["contactTeamAdmins"]["errors"] == []
    sent = [m for m in world.mailbox.messages if m["X-Orgward-Kind"] == "team_contact"]
    assert sent and all(m["Reply-To"] is None for m in sent)
    for message in sent:
        assert "mia@example.org" not in message.as_string()
        assert "keeps their email address private" in message.get_content()
