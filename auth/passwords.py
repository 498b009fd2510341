"""Password hashing with argon2id. Clear-text passwords are never stored or logged."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.settings import Settings

T = TypeVar("T")

MIN_LENGTH = 10
MAX_LENGTH = 256


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)


def hasher(settings: Settings) -> PasswordHasher:
    return _hasher(settings.argon2_time_cost, settings.argon2_memory_kib)


# argon2id costs 64 MiB and tens of milliseconds a time: a burst of sign-ins queues here rather
# than exhausting memory and every thread (2 per core is enough to keep the cores busy).
_SLOTS = asyncio.Semaphore(2 * (os.cpu_count() or 1))


async def _in_thread(function: Callable[..., T], *args: object) -> T:
    async with _SLOTS:
        return await asyncio.to_thread(function, *args)


async def hash_password(settings: Settings, password: str) -> str:
    # argon2 is deliberately slow: keep it off the event loop.
    return await _in_thread(hasher(settings).hash, password)


async def verify_password(settings: Settings, password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the account has a password, so timing reveals nothing."""
    target = password_hash or _dummy_hash(settings.argon2_time_cost, settings.argon2_memory_kib)
    # Text that is not valid Unicode (unpaired surrogates) cannot be any password; check the
    # dummy's bytes instead so the answer still takes the usual time.
    usable = _encodable(password)
    secret = password if usable else "orgward-not-a-password"
    try:
        ok = await _in_thread(hasher(settings).verify, target, secret)
    except (VerificationError, InvalidHashError):
        return False
    return bool(ok) and bool(password_hash) and usable


def needs_rehash(settings: Settings, password_hash: str) -> bool:
    """Whether a hash was made with other parameters (or another algorithm) than today's."""
    try:
        return hasher(settings).check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@lru_cache(maxsize=4)
def _dummy_hash(time_cost: int, memory_kib: int) -> str:
    return _hasher(time_cost, memory_kib).hash("orgward-no-password")


def password_problem(password: str, *, username: str, email: str) -> str | None:
    """Why a new password is unacceptable, or None."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    if not _encodable(password):
        return "The password contains characters that are not valid text."
    lowered = password.lower()
    if lowered in {username.lower(), email.lower()}:
        return "The password must not be your username or email."
    if len(set(password)) < 4:
        return "The password is too easy to guess."
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
