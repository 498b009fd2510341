"""viewer.notifications (newest first, cursor pages) and markNotificationsRead: each user reads
and marks only their own notices."""

from __future__ import annotations

from tests.support.dns import Zone
from tests.support.world import World

from .flows import CANCEL, MARK_READ, acme, announced, notices


async def mark(person, **input):  # type: ignore[no-untyped-def]
    return (await person(MARK_READ, input=input))["markNotificationsRead"]


async def three_notices(world: World, dns: Zone):  # type: ignore[no-untyped-def]
    """Ann is told of an announcement, its cancellation, and a second announcement."""
    org = await acme(world, dns)
    ann = await world.sign_up("ann", email="ann@acme.example")
    first = await announced(org.adam, org.domain)
    await org.adam(CANCEL, input={"takeoverId": first["id"]})
    await announced(org.adam, org.domain)
    await world.deliver_mail()
    return org, ann


async def test_notices_page_newest_first(world: World, dns: Zone) -> None:
    _, ann = await three_notices(world, dns)

    page = (await notices(ann, first=2))["notifications"]
    assert [e["node"]["kind"] for e in page["edges"]] == [
        "takeover.announced",
        "takeover.cancelled",
    ]
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["unreadCount"] == 3
    rest = (await notices(ann, first=2, after=page["pageInfo"]["endCursor"]))["notifications"]
    assert [e["node"]["kind"] for e in rest["edges"]] == ["takeover.announced"]
    assert rest["pageInfo"]["hasNextPage"] is False


async def test_mark_some_then_all_read(world: World, dns: Zone) -> None:
    _, ann = await three_notices(world, dns)
    edges = (await notices(ann))["notifications"]["edges"]
    newest = edges[0]["node"]["id"]

    assert await mark(ann, ids=[newest]) == {"markedCount": 1, "errors": []}
    # Marking it again changes nothing.
    assert await mark(ann, ids=[newest]) == {"markedCount": 0, "errors": []}
    viewer = await notices(ann)
    assert viewer["notifications"]["unreadCount"] == 2
    assert viewer["notifications"]["edges"][0]["node"]["readAt"] is not None
    unread = (await notices(ann, unreadOnly=True))["notifications"]["edges"]
    assert newest not in [e["node"]["id"] for e in unread] and len(unread) == 2

    assert await mark(ann, all=True) == {"markedCount": 2, "errors": []}
    assert (await notices(ann))["notifications"]["unreadCount"] == 0


async def test_nobody_marks_or_reads_someone_elses_notices(world: World, dns: Zone) -> None:
    org, ann = await three_notices(world, dns)
    ids = [e["node"]["id"] for e in (await notices(ann))["notifications"]["edges"]]

    assert await mark(org.adam, ids=ids) == {"markedCount": 0, "errors": []}
    assert await mark(org.adam, all=True) == {"markedCount": 0, "errors": []}
    assert (await notices(org.adam))["notifications"]["edges"] == []
    assert (await notices(ann))["notifications"]["unreadCount"] == 3
    anonymous = world.client()
    payload = (await anonymous(MARK_READ, input={"all": True}))["markNotificationsRead"]
    assert [e["code"] for e in payload["errors"]] == ["UNAUTHENTICATED"]


async def test_mark_read_names_ids_or_all(world: World, dns: Zone) -> None:
    _, ann = await three_notices(world, dns)
    some = [e["node"]["id"] for e in (await notices(ann))["notifications"]["edges"]]

    for input in ({}, {"ids": some, "all": True}):
        payload = await mark(ann, **input)
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID_INPUT", "ids")]
    payload = await mark(ann, ids=["VGVhbTox"])  # a Team id
    assert [e["code"] for e in payload["errors"]] == ["INVALID_INPUT"]
