"""The shape of Orgward API tokens (SPEC 6): a prefix per kind, 30 random base62 characters and
a 6-character base62 CRC32 of the random part, so scanners can recognise leaked tokens offline
and a mistyped token is refused before any database work."""

from __future__ import annotations

import secrets
import zlib

from models.token import TokenKind

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LENGTH = 30
CHECKSUM_LENGTH = 6


# One enum for both the stored kind and the prefix (`token_format.TokenKind` is the model's).
PREFIXES: dict[TokenKind, str] = {TokenKind.PERSONAL: "owp", TokenKind.INSTALLATION: "owi"}
_KINDS = {prefix: kind for kind, prefix in PREFIXES.items()}


# Every base62 pair of digits, so the checksum takes three lookups (a CRC32 is under 62**6).
_PAIRS = [first + second for first in ALPHABET for second in ALPHABET]


def checksum(random_part: str) -> str:
    high, low = divmod(zlib.crc32(random_part.encode()), 62**2)
    high, middle = divmod(high, 62**2)
    return _PAIRS[high] + _PAIRS[middle] + _PAIRS[low]


def new_token(kind: TokenKind) -> str:
    random_part = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return f"{PREFIXES[kind]}_{random_part}{checksum(random_part)}"


def parse(token: str) -> TokenKind | None:
    """The token's kind if it is well formed with a valid checksum, else None."""
    prefix, sep, rest = token.partition("_")
    if not sep or len(rest) != RANDOM_LENGTH + CHECKSUM_LENGTH:
        return None
    kind = _KINDS.get(prefix)
    if kind is None:
        return None
    if not (rest.isascii() and rest.isalnum()):  # base62: exactly the ASCII letters and digits
        return None
    random_part, check = rest[:RANDOM_LENGTH], rest[RANDOM_LENGTH:]
    return kind if secrets.compare_digest(checksum(random_part), check) else None
