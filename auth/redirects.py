"""Where a browser may be sent after signing in: allow-listed origins only (no open redirect)."""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit, urlunsplit

MAX_LENGTH = 2048


def safe_next(value: str, *, allowed_origins: Collection[str], base_url: str) -> str | None:
    """The absolute URL to go to, or None when `value` must not be followed.

    A path (`/teams/acme`) is taken relative to `base_url` (the front end). Browsers read more
    into URLs than `urlsplit` does: they drop tabs and newlines, take a backslash for a slash,
    and follow `//host` to another site; such values are refused rather than interpreted.
    """
    if not value or len(value) > MAX_LENGTH or "\\" in value:
        return None
    if any(ord(ch) <= 32 or ord(ch) == 127 for ch in value) or not value.isprintable():
        return None
    if value.startswith("/"):
        if value.startswith("//"):
            return None
        value = base_url.rstrip("/") + value
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    host = parts.hostname.lower()
    netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port is not None else "")
    if f"{scheme}://{netloc}" not in allowed_origins:
        return None
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, parts.fragment))
