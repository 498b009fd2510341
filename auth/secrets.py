"""Opaque random tokens (sessions, email links, invitations) stored only as keyed hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(secret_key: str, token: str) -> str:
    """HMAC-SHA256: a leaked database alone cannot be used to forge or check tokens."""
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def plausible_token(token: str) -> bool:
    """Our tokens are short URL-safe text; anything else (unpaired surrogates included, which
    cannot even be hashed) matches nothing, so it is refused before any database work."""
    return 0 < len(token) <= 128 and token.isascii() and token.isprintable()
