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
