"""Passwords: argon2id hashes, verification, upgrading old hashes on sign-in, changing them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from argon2 import PasswordHasher, Type
from sqlalchemy import select, text, update
from sqlmodel import col

from auth import passwords
from core.settings import Settings
from models import User
from tests.support.client import GraphQLClient
from tests.support.world import PASSWORD, World

NEW_PASSWORD = "a much better passphrase"

SIGN_IN = """
mutation SignIn($input: SignInInput!) {
  signIn(input: $input) { viewer { username } errors { __typename code field message } }
}"""

CHANGE_PASSWORD = """
mutation ChangePassword($input: ChangePasswordInput!) {
  changePassword(input: $input) { viewer { username } errors { __typename code field message } }
}"""

VIEWER = "{ viewer { username } }"


async def stored_hash(world: World, username: str) -> str:
    async with world.engine.connect() as connection:
        value = await connection.scalar(
            select(col(User.password_hash)).where(col(User.username) == username)
        )
    assert isinstance(value, str)
    return value


async def store_hash(world: World, username: str, password_hash: str) -> None:
    async with world.engine.begin() as connection:
        await connection.execute(
            update(User).where(col(User.username) == username).values(password_hash=password_hash)
        )


async def sign_in(browser: GraphQLClient, identifier: str, password: str) -> dict[str, Any]:
    data = await browser(SIGN_IN, input={"identifier": identifier, "password": password})
    return data["signIn"]


async def post_raw(browser: GraphQLClient, body: str) -> dict[str, Any]:
    """Send JSON text as is (to carry what a JSON encoder would refuse to produce)."""
    response = await browser.http.post(
        "/graphql", content=body.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    return response.json()


# --- hashing --------------------------------------------------------------------------------


async def test_passwords_are_stored_as_argon2id_hashes(world: World) -> None:
    await world.sign_up("alice")

    stored = await stored_hash(world, "alice")

    assert stored.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert PASSWORD not in stored
    assert await passwords.verify_password(world.settings, stored, PASSWORD)


async def test_production_defaults_follow_owasp_guidance() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    hashed = await passwords.hash_password(settings, PASSWORD)

    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=1$")
    assert await passwords.verify_password(settings, hashed, PASSWORD)
    assert not await passwords.verify_password(settings, hashed, PASSWORD + "!")
    assert not passwords.needs_rehash(settings, hashed)


async def test_the_same_password_hashes_differently_each_time(world: World) -> None:
    first = await passwords.hash_password(world.settings, PASSWORD)
    second = await passwords.hash_password(world.settings, PASSWORD)

    assert first != second
    assert await passwords.verify_password(world.settings, second, PASSWORD)


@pytest.mark.parametrize("stored", [None, "", "not a hash", "$argon2id$v=19$m=1024,t=1,p=1$x$y"])
async def test_verification_fails_without_a_usable_hash(world: World, stored: str | None) -> None:
    assert await passwords.verify_password(world.settings, stored, "orgward-no-password") is False
    assert await passwords.verify_password(world.settings, stored, PASSWORD) is False


def test_hashes_made_with_other_parameters_need_rehashing(world: World) -> None:
    current = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    costlier = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1).hash(PASSWORD)
    argon2i = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.I).hash(
        PASSWORD
    )

    assert not passwords.needs_rehash(world.settings, current)
    assert passwords.needs_rehash(world.settings, costlier)
    assert passwords.needs_rehash(world.settings, argon2i)


# --- upgrading on sign-in -------------------------------------------------------------------


@pytest.mark.parametrize(
    "old_hasher",
    [
        PasswordHasher(time_cost=2, memory_cost=2048, parallelism=2),
        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.I),
    ],
    ids=["other-parameters", "argon2i"],
)
async def test_sign_in_upgrades_an_outdated_hash(world: World, old_hasher: PasswordHasher) -> None:
    await world.sign_up("alice")
    old = old_hasher.hash(PASSWORD)
    await store_hash(world, "alice", old)

    payload = await sign_in(world.client(), "alice", PASSWORD)

    assert payload == {"viewer": {"username": "alice"}, "errors": []}
    upgraded = await stored_hash(world, "alice")
    assert upgraded != old
    assert upgraded.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert (await sign_in(world.client(), "alice", PASSWORD))["errors"] == []


async def test_a_failed_sign_in_leaves_an_outdated_hash_alone(world: World) -> None:
    await world.sign_up("alice")
    old = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1).hash(PASSWORD)
    await store_hash(world, "alice", old)

    payload = await sign_in(world.client(), "alice", "not the password")

    assert [e["code"] for e in payload["errors"]] == ["INVALID_INPUT"]
    assert await stored_hash(world, "alice") == old


async def test_an_up_to_date_hash_is_kept_on_sign_in(world: World) -> None:
    await world.sign_up("alice")
    before = await stored_hash(world, "alice")

    await sign_in(world.client(), "alice", PASSWORD)

    assert await stored_hash(world, "alice") == before


async def test_an_account_without_a_password_cannot_sign_in_with_one(world: World) -> None:
    await world.sign_up("alice")
    async with world.engine.begin() as connection:
        await connection.execute(
            update(User).where(col(User.username) == "alice").values(password_hash=None)
        )

    for password in (PASSWORD, "", "orgward-no-password"):
        payload = await sign_in(world.client(), "alice", password)
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [
            ("INVALID_INPUT", "identifier")
        ]


# --- unusual characters ---------------------------------------------------------------------


async def test_passwords_may_hold_any_unicode_text(world: World) -> None:
    password = "пароль 密码 🔑 with\ttab and \x00 nul"
    await world.sign_up("alice", password=password)

    assert (await sign_in(world.client(), "alice", password))["errors"] == []
    assert (await sign_in(world.client(), "alice", password.replace("\x00", "")))["errors"][0][
        "code"
    ] == "INVALID_INPUT"


async def test_a_password_that_is_not_valid_text_is_refused_at_sign_up(world: World) -> None:
    body = json.dumps(
        {
            "query": "mutation($i: SignUpInput!) { signUp(input: $i) { errors { code field } } }",
            "variables": {
                "i": {
                    "username": "alice",
                    "email": "alice@example.org",
                    "password": "lone surrogate @@",
                    "birthDate": "1990-05-17",
                }
            },
        }
    ).replace("@@", "\\ud800")

    response = await world.client().http.post(
        "/graphql", content=body.encode(), headers={"content-type": "application/json"}
    )

    assert response.status_code == 400  # refused at the HTTP edge, before any work
    async with world.engine.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM user_account"))).scalar() == 0


async def test_a_password_that_is_not_valid_text_never_signs_in(world: World) -> None:
    await world.sign_up("alice")
    body = json.dumps(
        {
            "query": "mutation($i: SignInInput!) { signIn(input: $i) { errors { code field } } }",
            "variables": {"i": {"identifier": "alice", "password": "x@@"}},
        }
    ).replace("@@", "\\udfff")

    response = await world.client().http.post(
        "/graphql", content=body.encode(), headers={"content-type": "application/json"}
    )

    assert response.status_code == 400  # refused at the HTTP edge, before any work


async def test_an_identifier_that_is_not_valid_text_never_signs_in(world: World) -> None:
    body = json.dumps(
        {
            "query": "mutation($i: SignInInput!) { signIn(input: $i) { errors { code field } } }",
            "variables": {"i": {"identifier": "alice@@", "password": PASSWORD}},
        }
    ).replace("@@", "\\ud800")

    response = await world.client().http.post(
        "/graphql", content=body.encode(), headers={"content-type": "application/json"}
    )

    assert response.status_code == 400  # refused at the HTTP edge, before any work


# --- changing the password ------------------------------------------------------------------


async def test_changing_the_password_needs_the_current_one(world: World) -> None:
    alice = await world.sign_up("alice")

    data = await alice(
        CHANGE_PASSWORD, input={"currentPassword": "guess work!", "newPassword": NEW_PASSWORD}
    )

    assert data["changePassword"]["viewer"] is None
    assert [(e["code"], e["field"]) for e in data["changePassword"]["errors"]] == [
        ("INVALID_INPUT", "currentPassword")
    ]
    assert (await sign_in(world.client(), "alice", PASSWORD))["errors"] == []
    assert (await sign_in(world.client(), "alice", NEW_PASSWORD))["errors"] != []


@pytest.mark.parametrize("new", ["short", "alice", "x" * 257, "abababababab"])
async def test_a_weak_new_password_is_refused(world: World, new: str) -> None:
    alice = await world.sign_up("alice")

    data = await alice(CHANGE_PASSWORD, input={"currentPassword": PASSWORD, "newPassword": new})

    assert [(e["code"], e["field"]) for e in data["changePassword"]["errors"]] == [
        ("INVALID_INPUT", "newPassword")
    ]
    assert (await sign_in(world.client(), "alice", PASSWORD))["errors"] == []


async def test_changing_the_password_signs_out_other_sessions_only(world: World) -> None:
    alice = await world.sign_up("alice")
    laptop = world.client(user_agent="Laptop/1.0")
    await sign_in(laptop, "alice", PASSWORD)

    data = await alice(
        CHANGE_PASSWORD, input={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}
    )

    assert data["changePassword"] == {"viewer": {"username": "alice"}, "errors": []}
    assert await alice(VIEWER) == {"viewer": {"username": "alice"}}
    assert await laptop(VIEWER) == {"viewer": None}
    assert (await sign_in(world.client(), "alice", PASSWORD))["errors"][0]["code"] == (
        "INVALID_INPUT"
    )
    assert (await sign_in(world.client(), "alice", NEW_PASSWORD))["errors"] == []
    assert (await stored_hash(world, "alice")).startswith("$argon2id$")


async def test_changing_the_password_needs_a_signed_in_user(world: World) -> None:
    data = await world.client()(
        CHANGE_PASSWORD, input={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}
    )

    assert [e["code"] for e in data["changePassword"]["errors"]] == ["UNAUTHENTICATED"]
