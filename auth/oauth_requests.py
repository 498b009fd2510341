"""The token endpoint's requests and answers (RFC 6749 §5), apart from the grant itself:
reading client credentials, the refusals made before a client authenticates, and the JSON error
shape with `Cache-Control: no-store`."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidRequestError,
    UnsupportedGrantTypeError,
)

GRANT_TYPE = "client_credentials"
NO_STORE = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
# RFC 6749 §2.3.1: a client that failed to authenticate through HTTP Basic gets 401 with a
# challenge. Every failure gets the same answer, so unknown ids and wrong secrets look alike.
CLIENT_AUTH_FAILED = "Client authentication failed."
BASIC_CHALLENGE = ("WWW-Authenticate", 'Basic realm="orgward"')


@dataclass(frozen=True, slots=True)
class TeamChoice:
    """The `team` parameter, parsed: a slug, or the key of a Team global id."""

    slug: str | None = None
    team_id: int | None = None


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A POST to the token endpoint, read and parsed by the HTTP layer."""

    uri: str
    authorization: str | None
    form: Mapping[str, Sequence[str]]
    team: TeamChoice | None = None


@dataclass(frozen=True, slots=True)
class TokenResponse:
    status: int
    body: dict[str, Any]
    headers: list[tuple[str, str]] = field(default_factory=list)


def error_response(error: OAuth2Error) -> TokenResponse:
    status, body, headers = error()
    kept = [(k, v) for k, v in headers if k.lower() not in ("cache-control", "pragma")]
    if isinstance(error, InvalidClientError):
        # Authlib's challenge carries no realm, which RFC 7617 requires.
        status, body["error_description"] = 401, CLIENT_AUTH_FAILED
        kept = [(k, v) for k, v in kept if k.lower() != "www-authenticate"] + [BASIC_CHALLENGE]
    return TokenResponse(status, body, kept + NO_STORE)


def refuse_early(request: TokenRequest) -> TokenResponse | None:
    """The answer to a request that is refused before its client authenticates, if it is one:
    such a request is not counted as a failed client authentication."""
    refusal = malformed(request)
    return error_response(refusal) if refusal is not None else None


def malformed(request: TokenRequest) -> OAuth2Error | None:
    """Refusals Authlib leaves to the framework, or makes before authenticating the client:
    repeated parameters (RFC 6749 §3.2), a missing or unsupported grant type, no team, two ways
    of authenticating at once (§2.3), an unreadable Basic header. (Descriptions never quote the
    request: Authlib refuses some characters in them.)"""
    if any(len(values) > 1 for values in request.form.values()):
        return InvalidRequestError("A parameter appears more than once.")
    grant_type = (request.form.get("grant_type") or [""])[0]
    if not grant_type:
        return InvalidRequestError("Missing the grant_type parameter.")
    if grant_type != GRANT_TYPE:
        unsupported = UnsupportedGrantTypeError(GRANT_TYPE)
        unsupported.description = f"Only grant_type={GRANT_TYPE} is supported."
        return unsupported
    if request.team is None:
        # Always required: an app may be installed in teams its partner does not know of (anyone
        # may install it), and those must not change which team a request reaches.
        return InvalidRequestError("Missing the team parameter: the team's slug or global id.")
    in_form = bool(request.form.get("client_secret") or request.form.get("client_id"))
    if in_form and is_basic(request.authorization):
        return InvalidRequestError("Authenticate with HTTP Basic or with form fields, not both.")
    if basic_credentials(request.authorization) is False:
        return InvalidClientError()
    return None


def _scheme_and_value(authorization: str | None) -> tuple[str, str]:
    # Any whitespace may follow the scheme (RFC 9110 §11.4 allows 1*SP; be lenient).
    parts = (authorization or "").strip().split(None, 1)
    return (parts[0].lower() if parts else ""), (parts[1] if len(parts) > 1 else "")


def is_basic(authorization: str | None) -> bool:
    return _scheme_and_value(authorization)[0] == "basic"


def basic_credentials(authorization: str | None) -> tuple[str, str] | None | bool:
    """(client id, secret) from an HTTP Basic header; None without one; False if unreadable.
    The one parser of Basic credentials: the server's client_secret_basic method uses it too."""
    scheme, encoded = _scheme_and_value(authorization)
    if scheme != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except ValueError:  # binascii.Error, UnicodeDecodeError, and non-ASCII input all are
        return False
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return False
    return unquote(client_id), unquote(secret)


def claimed_client_id(request: TokenRequest) -> str | None:
    """The client id a request claims to be, before anything is verified."""
    basic = basic_credentials(request.authorization)
    if isinstance(basic, tuple):
        return basic[0]
    values = request.form.get("client_id")
    return values[0] if values else None


def temporarily_unavailable(retry_after_seconds: int, description: str) -> TokenResponse:
    """HTTP 429 with Retry-After. RFC 6749 registers no rate-limit error for the token endpoint;
    `temporarily_unavailable` (§4.1.2.1) says "try again later" to any client, where RFC 8628's
    `slow_down` means "poll less often" to a device-flow client."""
    return TokenResponse(
        429,
        {"error": "temporarily_unavailable", "error_description": description},
        [("Retry-After", str(max(1, retry_after_seconds))), *NO_STORE],
    )
