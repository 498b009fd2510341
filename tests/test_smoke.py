from tests.support.world import World

VIEWER = "{ viewer { username email teams { edges { node { slug } } } } }"


async def test_sign_up_then_viewer(world: World) -> None:
    alice = await world.sign_up("alice")
    data = await alice(VIEWER)
    assert data["viewer"]["username"] == "alice"
    assert data["viewer"]["email"] == "alice@example.org"
