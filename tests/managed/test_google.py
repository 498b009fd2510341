"""[P5] A deactivated managed account cannot come back in through Google sign-in either."""

from __future__ import annotations

from tests.managed.conftest import DEACTIVATE, REACTIVATE, manage, only_error
from tests.support.google import (  # noqa: F401 (fixtures, known by their short names)
    Browser,
    browser_fixture,
    google_app_fixture,
    new_browser_fixture,
    oidc_provider_fixture,
    provider_fixture,
    signed_up_with_google,
)
from tests.support.world import World


async def test_p5_admin_deactivated_user_cannot_sign_in_with_google(
    world: World,
    browser: Browser,
    new_browser,  # type: ignore[no-untyped-def]
) -> None:
    await signed_up_with_google(browser, sub="g-ada", email="ada@acme.example")
    ada_id = (await browser("{ viewer { id } }"))["viewer"]["id"]
    owner = await world.sign_up("olive", email="olive@acme.example")
    team = await world.make_team(owner, "Acme", slug="acme")
    await manage(world, team, ada_id)

    data = await owner(DEACTIVATE, input={"userId": ada_id})
    assert only_error(data["deactivateUser"]) is None
    assert (await browser("{ viewer { id } }"))["viewer"] is None

    laptop = new_browser()
    landing = await laptop.sign_in_with_google()
    assert landing.query.get("error") == "account_inactive", landing.location
    assert (await laptop("{ viewer { id } }"))["viewer"] is None

    await owner(REACTIVATE, input={"userId": ada_id})
    again = new_browser()
    await again.sign_in_with_google()
    assert (await again("{ viewer { id } }"))["viewer"] == {"id": ada_id}
