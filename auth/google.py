"""Google sign-in over OpenID Connect, with Authlib's Starlette client.

The authorization-code flow with PKCE (S256), `state` and `nonce`. Authlib keeps the state, nonce
and code verifier in a signed cookie of their own (Starlette's SessionMiddleware, scoped to the
flow's path); the ID token's signature (the provider's JWKS), issuer, audience, expiry and nonce
are checked before anything else looks at it. Only the claims in `GoogleAccount` leave this
module [P3]: the tokens themselves are dropped here.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx2
import structlog
from authlib.integrations.starlette_client import OAuth, OAuthError
from joserfc.errors import JoseError
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response

from core.errors import Forbidden
from core.settings import Settings

log = structlog.get_logger("orgward.google")

PROVIDER = "google"
SCOPES = "openid email profile"
FLOW_COOKIE = "orgward_google_flow"
SIGNUP_COOKIE = "orgward_signup"
# A sign-in that takes longer than this at the provider starts over.
FLOW_SECONDS = 600
# Clock skew tolerated on the ID token's times.
LEEWAY_SECONDS = 60
DISCOVERY_SUFFIX = "/.well-known/openid-configuration"
# Google documents both spellings of its issuer.
GOOGLE_ISSUER = "https://accounts.google.com"
_FLOW_KEY = "orgward_flow"
_OAUTH_REASONS = {
    "access_denied": "access_denied",
    "mismatching_state": "invalid_state",
    # A code used twice, expired, or whose PKCE verifier does not match.
    "invalid_grant": "invalid_code",
}


class SignInRefused(Forbidden):
    """A Google sign-in that must not go on; `reason` is the code the front end receives."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class GoogleAccount:
    """What Orgward takes from a verified ID token: the subject and the [P3] claims."""

    subject: str
    email: str | None
    email_verified: bool
    name: str | None
    picture: str | None
    hd: str | None

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> GoogleAccount:
        subject = claims.get("sub")
        # Printable ASCII only: PostgreSQL refuses a NUL byte in text, and a subject is an
        # identifier, not prose (Google's are decimal digits).
        if (
            not isinstance(subject, str)
            or not 0 < len(subject) <= 255
            or not (subject.isascii() and subject.isprintable())
        ):
            raise SignInRefused("invalid_id_token", "The ID token names no valid subject.")
        verified = claims.get("email_verified")
        picture = _text(claims.get("picture"), 2048)
        hd = _text(claims.get("hd"), 253)
        return cls(
            subject=subject,
            email=_text(claims.get("email"), 254),
            # Google sends a boolean; some providers send the string "true".
            email_verified=verified is True or verified == "true",
            name=_text(claims.get("name"), 200, cut=True),
            picture=picture if picture and picture.startswith("https://") else None,
            hd=hd.lower() if hd else None,
        )


@dataclass(frozen=True, slots=True)
class Flow:
    """What the browser's flow cookie remembers between login and callback."""

    next_url: str | None
    # Set only for a flow started with `?link=1` by a signed-in user: link to that user.
    started_by: int | None


class GoogleSignIn:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.issuer = settings.google_discovery_url.removesuffix(DISCOVERY_SUFFIX)
        self.client: Any = OAuth().register(
            PROVIDER,
            client_id=settings.google_client_id,
            client_secret=settings.google_client_secret,
            server_metadata_url=settings.google_discovery_url,
            client_kwargs={"scope": SCOPES, "code_challenge_method": "S256", "timeout": 10},
        )

    async def start(
        self, request: Request, *, next_url: str | None, started_by: int | None
    ) -> Response:
        """Redirect to the provider; the flow cookie remembers where to go back and for whom.

        `started_by` is given only for a link flow (`?link=1`): the provider is then asked to
        let the user choose the account (`prompt=select_account`), so a link never happens
        silently with whatever Google account the browser is signed in to."""
        state = secrets.token_urlsafe(32)
        request.session.clear()
        request.session[_FLOW_KEY] = {"state": state, "next": next_url, "user": started_by}
        extra = {"prompt": "select_account"} if started_by is not None else {}
        try:
            response: Response = await self.client.authorize_redirect(
                request, self.settings.google_callback_url, state=state, **extra
            )
        except (httpx2.HTTPError, ValueError, KeyError, RuntimeError) as error:
            log.warning("google.discovery_failed", error=repr(error))
            raise _unreachable() from None
        return response

    async def finish(self, request: Request) -> tuple[Flow, GoogleAccount]:
        """Check the provider's answer and exchange the code; the flow is used up either way."""
        flow = request.session.get(_FLOW_KEY)
        try:
            state = request.query_params.get("state") or ""
            if not isinstance(flow, dict) or not hmac.compare_digest(
                str(flow.get("state")).encode(), state.encode()
            ):
                raise SignInRefused("invalid_state", "This sign-in was not started here.")
            token = await self._exchange(request)
        finally:
            request.session.clear()
        userinfo = token.pop("userinfo", None)
        token.clear()  # [P3] no provider token outlives this request
        if not userinfo:
            raise SignInRefused("invalid_id_token", "The provider sent no ID token.")
        account = GoogleAccount.from_claims(dict(userinfo))
        return Flow(next_url=flow.get("next"), started_by=flow.get("user")), account

    async def _exchange(self, request: Request) -> dict[str, Any]:
        try:
            token: dict[str, Any] = await self.client.authorize_access_token(
                request, claims_options=self._claims_options(), leeway=LEEWAY_SECONDS
            )
        except OAuthError as error:
            reason = _OAUTH_REASONS.get(error.error or "", "provider_error")
            log.info(
                "google.refused", reason=reason, error=error.error, description=error.description
            )
            raise SignInRefused(reason, "Google sign-in did not complete.") from None
        except JoseError as error:
            log.warning("google.id_token_rejected", error=repr(error))
            raise SignInRefused("invalid_id_token", "The ID token is not valid.") from None
        except (httpx2.HTTPError, ValueError, KeyError) as error:
            log.warning("google.provider_failed", error=repr(error))
            raise _unreachable() from None
        return token

    def _claims_options(self) -> dict[str, Any]:
        """Issuer pinned by configuration (not by the discovery document); audience is us."""
        issuers = [self.issuer] + (["accounts.google.com"] if self.issuer == GOOGLE_ISSUER else [])
        return {
            "iss": {"essential": True, "values": issuers},
            "aud": {"essential": True, "values": [self.settings.google_client_id]},
            "sub": {"essential": True},
            "exp": {"essential": True},
        }


def flow_cookie(settings: Settings) -> Middleware:
    """The signed cookie holding the flow (state, nonce, PKCE verifier, next), only sent to the
    callback's folder and short-lived."""
    return Middleware(
        SessionMiddleware,
        secret_key=_derived_key(settings.secret_key, "google-flow"),
        session_cookie=FLOW_COOKIE,
        max_age=FLOW_SECONDS,
        path=urlsplit(settings.google_callback_url).path.rsplit("/", 1)[0] or "/",
        same_site="lax",
        https_only=settings.secure_cookies,
    )


def signup_cookie_path(settings: Settings) -> str:
    """The ticket is only ever read by `completeSignup`, at /graphql."""
    return urlsplit(settings.public_base_url).path.rstrip("/") + "/graphql"


def _unreachable() -> SignInRefused:
    return SignInRefused("provider_unavailable", "Google sign-in is not reachable right now.")


def _derived_key(secret_key: str, purpose: str) -> str:
    return hmac.new(secret_key.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def _text(value: object, max_length: int, *, cut: bool = False) -> str | None:
    """A claim as text a database can store: a display text (`cut`) loses what is unprintable
    and its excess; anything else unusual is dropped whole."""
    if not isinstance(value, str):
        return None
    if cut:
        value = " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())
        return value[:max_length] or None
    value = value.strip()
    if not value or len(value) > max_length or not value.isprintable():
        return None
    return value
