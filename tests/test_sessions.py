"""Sign-in, sign-out and server-side sessions: listing, revoking, rotation, new devices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlmodel import col

from api.relay import from_global_id, to_global_id
from models import AuditEvent, User, UserStatus
from tests.support.client import GraphQLClient
from tests.support.world import PASSWORD, Person, World

COOKIE = "orgward_session"

SIGN_IN = """
mutation SignIn($input: SignInInput!) {
  signIn(input: $input) {
    viewer { username email lastLoginAt }
    errors { __typename code field message }
  }
}"""

SIGN_OUT = "mutation { signOut { ok errors { __typename code field message } } }"

VIEWER = "{ viewer { username } }"

SESSIONS = """
{ viewer { sessions { id ipAddress userAgent createdAt lastSeenAt expiresAt current } } }
"""

REVOKE_SESSION = """
mutation Revoke($id: ID!) {
  revokeSession(input: {sessionId: $id}) { ok errors { __typename code field message } }
}"""

SESSION_NODE = """
query Node($id: ID!) { node(id: $id) { id ... on Session { userAgent current } } }
"""


async def set_status(world: World, username: str, status: UserStatus) -> None:
    async with world.engine.begin() as connection:
        await connection.execute(
            update(User).where(col(User.username) == username).values(status=status)
        )


def iso(moment: datetime) -> str:
    return moment.isoformat()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


async def sign_in(
    world: World,
    identifier: str,
    password: str = PASSWORD,
    *,
    browser: GraphQLClient | None = None,
    user_agent: str = "pytest-browser/1.0",
) -> GraphQLClient:
    browser = browser or world.client(user_agent=user_agent)
    data = await browser(SIGN_IN, input={"identifier": identifier, "password": password})
    assert data["signIn"]["errors"] == [], data["signIn"]["errors"]
    return browser


def with_cookie(world: World, token: str) -> GraphQLClient:
    """A different browser that replays a stolen or remembered session cookie."""
    browser = world.client()
    browser.http.cookies.set(COOKIE, token)
    return browser


def cookie_of(browser: GraphQLClient | Person) -> str:
    client = browser.client if isinstance(browser, Person) else browser
    token = client.http.cookies.get(COOKIE)
    assert token
    return token


async def sessions_of(person: Person | GraphQLClient) -> list[dict[str, Any]]:
    return (await person(SESSIONS))["viewer"]["sessions"]


# --- sign-in --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "identifier", ["alice", "ALICE", " Alice ", "alice@example.org", "Alice@Example.ORG"]
)
async def test_sign_in_by_username_or_email_ignoring_case(world: World, identifier: str) -> None:
    await world.sign_up("alice")
    world.clock.advance(hours=1)

    browser = world.client()
    data = await browser(SIGN_IN, input={"identifier": identifier, "password": PASSWORD})

    assert data["signIn"]["errors"] == []
    assert data["signIn"]["viewer"] == {
        "username": "alice",
        "email": "alice@example.org",
        "lastLoginAt": iso(world.clock.now()),
    }
    assert await browser(VIEWER) == {"viewer": {"username": "alice"}}


async def test_sign_in_sets_an_httponly_lax_session_cookie(world: World) -> None:
    await world.sign_up("alice")

    response = await world.client().post(
        SIGN_IN, {"input": {"identifier": "alice", "password": PASSWORD}}
    )

    attributes = [part.strip().lower() for part in response.headers["set-cookie"].split(";")]
    assert attributes[0].startswith(f"{COOKIE}=")
    assert {"httponly", "samesite=lax", "path=/"} <= set(attributes)


@pytest.mark.parametrize(
    ("identifier", "password"),
    [
        ("alice", "wrong password!"),
        ("alice@example.org", "wrong password!"),
        ("nobody", PASSWORD),
        ("nobody@example.org", PASSWORD),
        ("", PASSWORD),
        ("n" * 10_000, PASSWORD),
        ("ali\x00ce", PASSWORD),
        ("alice", "p" * 10_000),
    ],
)
async def test_a_failed_sign_in_never_reveals_whether_the_account_exists(
    world: World, identifier: str, password: str
) -> None:
    await world.sign_up("alice")
    browser = world.client()

    response = await browser.post(
        SIGN_IN, {"input": {"identifier": identifier, "password": password}}
    )

    payload = response.json()["data"]["signIn"]
    assert payload == {
        "viewer": None,
        "errors": [
            {
                "__typename": "MutationError",
                "code": "INVALID_INPUT",
                "field": "identifier",
                "message": "The username/email or password is wrong.",
            }
        ],
    }
    assert "set-cookie" not in response.headers
    assert await browser(VIEWER) == {"viewer": None}


@pytest.mark.parametrize("status", [UserStatus.DEACTIVATED, UserStatus.PENDING_DELETION])
async def test_an_inactive_account_cannot_sign_in_and_its_sessions_stop(
    world: World, status: UserStatus
) -> None:
    alice = await world.sign_up("alice")
    await set_status(world, "alice", status)

    right = await world.client()(SIGN_IN, input={"identifier": "alice", "password": PASSWORD})
    wrong = await world.client()(SIGN_IN, input={"identifier": "alice", "password": "nope!"})

    assert [(e["code"], e["field"]) for e in right["signIn"]["errors"]] == [("FORBIDDEN", None)]
    assert [e["code"] for e in wrong["signIn"]["errors"]] == ["INVALID_INPUT"]
    assert await alice(VIEWER) == {"viewer": None}


async def test_a_deleted_account_looks_like_no_account(world: World) -> None:
    await world.sign_up("alice")
    await set_status(world, "alice", UserStatus.DELETED)

    deleted = await world.client()(SIGN_IN, input={"identifier": "alice", "password": PASSWORD})
    unknown = await world.client()(SIGN_IN, input={"identifier": "nobody", "password": PASSWORD})

    assert deleted == unknown
    assert [e["code"] for e in deleted["signIn"]["errors"]] == ["INVALID_INPUT"]


async def test_failed_sign_ins_stay_on_record(world: World) -> None:
    alice = await world.sign_up("alice")

    await world.client(user_agent="Attacker/1.0")(
        SIGN_IN, input={"identifier": "alice", "password": "guess!"}
    )

    async with world.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(
                    col(AuditEvent.target_type),
                    col(AuditEvent.target_id),
                    col(AuditEvent.ip_address),
                    col(AuditEvent.user_agent),
                ).where(col(AuditEvent.action) == "user.sign_in_failed")
            )
        ).all()
    user_pk = from_global_id(alice.id)[1]  # type: ignore[index]
    assert [tuple(row) for row in rows] == [("user", user_pk, "127.0.0.1", "Attacker/1.0")]


async def test_sign_in_rotates_the_session(world: World) -> None:
    alice = await world.sign_up("alice")
    before = cookie_of(alice)

    await sign_in(world, "alice", browser=alice.client)

    after = cookie_of(alice)
    assert after != before
    assert await alice(VIEWER) == {"viewer": {"username": "alice"}}
    assert await with_cookie(world, before)(VIEWER) == {"viewer": None}
    assert len(await sessions_of(alice)) == 1


async def test_signing_in_as_someone_else_ends_the_previous_session(world: World) -> None:
    alice = await world.sign_up("alice")
    await world.sign_up("bob")
    alices_cookie = cookie_of(alice)

    await sign_in(world, "bob", browser=alice.client)

    assert await alice(VIEWER) == {"viewer": {"username": "bob"}}
    assert await with_cookie(world, alices_cookie)(VIEWER) == {"viewer": None}


async def test_sign_out_ends_the_session(world: World) -> None:
    alice = await world.sign_up("alice")
    token = cookie_of(alice)

    response = await alice.client.post(SIGN_OUT)

    assert response.json()["data"]["signOut"] == {"ok": True, "errors": []}
    assert f'{COOKIE}=""' in response.headers["set-cookie"]
    assert await alice(VIEWER) == {"viewer": None}
    assert await with_cookie(world, token)(VIEWER) == {"viewer": None}


async def test_sign_out_needs_a_session(world: World) -> None:
    data = await world.client()(SIGN_OUT)

    assert [e["code"] for e in data["signOut"]["errors"]] == ["UNAUTHENTICATED"]


async def test_a_session_expires_after_its_lifetime(world: World) -> None:
    alice = await world.sign_up("alice")

    world.clock.advance(days=29, hours=23)
    assert await alice(VIEWER) == {"viewer": {"username": "alice"}}
    world.clock.advance(hours=2)
    assert await alice(VIEWER) == {"viewer": None}


async def test_a_forged_cookie_is_anonymous(world: World) -> None:
    await world.sign_up("alice")

    for token in ("forged", "x" * 5000, "ali\x7fce"):
        assert await with_cookie(world, token)(VIEWER) == {"viewer": None}


# --- listing sessions -----------------------------------------------------------------------


async def test_viewer_lists_sessions_with_device_and_connection_facts(world: World) -> None:
    alice = await world.sign_up("alice")
    signed_up_at = world.clock.now()
    world.clock.advance(hours=2)
    phone = await sign_in(world, "alice", user_agent="Phone/2.0")
    phone_signed_in_at = world.clock.now()

    sessions = await sessions_of(phone)

    assert [(s["userAgent"], s["current"]) for s in sessions] == [
        ("Phone/2.0", True),
        ("pytest-browser/1.0", False),
    ]
    newest, oldest = sessions
    assert newest["ipAddress"] == oldest["ipAddress"] == "127.0.0.1"
    assert parse(newest["createdAt"]) == parse(newest["lastSeenAt"]) == phone_signed_in_at
    assert parse(oldest["createdAt"]) == parse(oldest["lastSeenAt"]) == signed_up_at
    assert parse(newest["expiresAt"]) == phone_signed_in_at + timedelta(days=30)
    assert [s["current"] for s in await sessions_of(alice)] == [False, True]


async def test_last_seen_moves_with_use(world: World) -> None:
    alice = await world.sign_up("alice")
    world.clock.advance(minutes=30)

    await alice(VIEWER)
    [session] = await sessions_of(alice)

    assert parse(session["lastSeenAt"]) == world.clock.now()
    assert parse(session["createdAt"]) < world.clock.now()


async def test_sessions_need_a_signed_in_viewer(world: World) -> None:
    assert await world.client()(SESSIONS) == {"viewer": None}


async def test_a_session_is_a_node_only_for_its_owner(world: World) -> None:
    alice = await world.sign_up("alice")
    bob = await world.sign_up("bob")
    [session] = await sessions_of(alice)

    assert (await alice(SESSION_NODE, id=session["id"]))["node"] == {
        "id": session["id"],
        "userAgent": "pytest-browser/1.0",
        "current": True,
    }
    assert await bob(SESSION_NODE, id=session["id"]) == {"node": None}
    assert await world.client()(SESSION_NODE, id=session["id"]) == {"node": None}


# --- revoking sessions ----------------------------------------------------------------------


async def test_revoking_another_session_signs_that_browser_out(world: World) -> None:
    alice = await world.sign_up("alice")
    laptop = await sign_in(world, "alice", user_agent="Laptop/1.0")
    other = next(s for s in await sessions_of(alice) if not s["current"])

    data = await alice(REVOKE_SESSION, id=other["id"])

    assert data["revokeSession"] == {"ok": True, "errors": []}
    assert await laptop(VIEWER) == {"viewer": None}
    assert await alice(VIEWER) == {"viewer": {"username": "alice"}}
    assert [s["current"] for s in await sessions_of(alice)] == [True]


async def test_revoking_the_current_session_signs_out(world: World) -> None:
    alice = await world.sign_up("alice")
    [session] = await sessions_of(alice)

    response = await alice.client.post(REVOKE_SESSION, {"id": session["id"]})

    assert response.json()["data"]["revokeSession"] == {"ok": True, "errors": []}
    assert f'{COOKIE}=""' in response.headers["set-cookie"]
    assert await alice(VIEWER) == {"viewer": None}


async def test_revoking_someone_elses_session_is_not_found(world: World) -> None:
    alice = await world.sign_up("alice")
    bob = await world.sign_up("bob")
    [bobs] = await sessions_of(bob)

    data = await alice(REVOKE_SESSION, id=bobs["id"])

    assert [(e["code"], e["field"]) for e in data["revokeSession"]["errors"]] == [
        ("NOT_FOUND", "sessionId")
    ]
    assert await bob(VIEWER) == {"viewer": {"username": "bob"}}


async def test_revoking_an_unknown_session_is_not_found(world: World) -> None:
    alice = await world.sign_up("alice")
    [mine] = await sessions_of(alice)
    unknown = to_global_id("Session", 999_999)

    data = await alice(REVOKE_SESSION, id=unknown)

    assert [(e["code"], e["field"]) for e in data["revokeSession"]["errors"]] == [
        ("NOT_FOUND", "sessionId")
    ]
    assert mine["id"] != unknown


@pytest.mark.parametrize("bad_id", ["garbage", to_global_id("User", 1), ""])
async def test_revoking_with_an_id_that_is_not_a_session_is_invalid(
    world: World, bad_id: str
) -> None:
    alice = await world.sign_up("alice")

    data = await alice(REVOKE_SESSION, id=bad_id)

    assert [(e["code"], e["field"]) for e in data["revokeSession"]["errors"]] == [
        ("INVALID_INPUT", "sessionId")
    ]
    assert await alice(VIEWER) == {"viewer": {"username": "alice"}}


async def test_revoking_needs_a_signed_in_user(world: World) -> None:
    alice = await world.sign_up("alice")
    [session] = await sessions_of(alice)

    data = await world.client()(REVOKE_SESSION, id=session["id"])

    assert [e["code"] for e in data["revokeSession"]["errors"]] == ["UNAUTHENTICATED"]
    assert await alice(VIEWER) == {"viewer": {"username": "alice"}}


# --- new devices ----------------------------------------------------------------------------


async def test_a_sign_in_from_a_new_device_sends_a_notice(world: World) -> None:
    alice = await world.sign_up("alice")

    await sign_in(world, "alice", user_agent="Unknown-Tablet/9.1")
    await world.deliver_mail()

    [notice] = world.mailbox.to(alice.email, "new_device_sign_in")
    assert notice["Subject"] == "New sign-in to your account"
    body = notice.get_content()
    assert "Unknown-Tablet/9.1" in body and "127.0.0.1" in body


async def test_a_sign_in_from_a_known_device_sends_no_notice(world: World) -> None:
    alice = await world.sign_up("alice")  # with the default pytest-browser user agent

    await sign_in(world, "alice")
    await sign_in(world, "alice", browser=alice.client)
    await world.deliver_mail()

    assert world.mailbox.to(alice.email, "new_device_sign_in") == []


@pytest.mark.parametrize(
    "user_agent", ["Mozilla/5.0 " + "(extension) " * 100, ""], ids=["long", "empty"]
)
async def test_a_device_gets_one_notice_whatever_its_user_agent(
    world: World, user_agent: str
) -> None:
    alice = await world.sign_up("alice")

    await sign_in(world, "alice", user_agent=user_agent)
    await sign_in(world, "alice", user_agent=user_agent)
    await world.deliver_mail()

    assert len(world.mailbox.to(alice.email, "new_device_sign_in")) == 1


async def test_signing_up_sends_no_new_device_notice(world: World) -> None:
    alice = await world.sign_up("alice")

    await world.deliver_mail()

    assert world.mailbox.to(alice.email, "new_device_sign_in") == []
