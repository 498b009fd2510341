"""Platform staff get no silent access to teams: that takes an audited grant (SPEC 7)."""

from __future__ import annotations

from auth.actor import Actor
from core.db import session_factory
from services import accounts
from services.context import ServiceContext
from tests.support.world import PASSWORD, World

SIGN_IN = (
    """mutation($i: SignInInput!) { signIn(input: $i) { viewer { isStaff } errors { code } } }"""
)


async def test_staff_do_not_see_teams_they_do_not_belong_to(world: World) -> None:
    olga = await world.sign_up("olga")
    team = await world.make_team(olga, name="Acme", slug="acme")
    async with session_factory(world.engine)() as db:
        ctx = ServiceContext(
            db=db, actor=Actor.system(), settings=world.settings, clock=world.clock
        )
        await accounts.create_staff(
            ctx, username="sam", email="sam@orgward.example", password=PASSWORD
        )
        await db.commit()
    staff = world.client()
    signed_in = await staff(SIGN_IN, i={"identifier": "sam", "password": PASSWORD})
    assert signed_in["signIn"]["viewer"] == {"isStaff": True}

    assert (await staff('{ team(slug: "acme") { id } }'))["team"] is None
    assert (await staff("query($id: ID!) { team(id: $id) { id } }", id=team.id))["team"] is None
    member = await olga('{ team(slug: "acme") { members { edges { node { id } } } } }')
    member_id = member["team"]["members"]["edges"][0]["node"]["id"]
    found = await staff("query($id: ID!) { node(id: $id) { id } }", id=member_id)
    assert found["node"] is None
