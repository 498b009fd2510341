"""The OAuth 2.0 token endpoint's client-credentials grant (RFC 6749 §4.4), on Authlib's
authorization server.

Authlib's server is synchronous and has no Starlette integration, so this module adapts it the
way Authlib's framework integrations do (`create_oauth2_request`, `handle_response`) with one
difference: everything the grant needs from the database (the app, its live installations) is
loaded beforehand by the caller, and a server is built per request around it. The grant then
runs without I/O, and the token it issues is handed back (`IssuedToken`) for the caller to store.

The client is authenticated first, on its own (`authenticate`), so the caller loads the app's
installations only for a client that proved who it is: an unknown client id and a wrong secret
cost the same statements.

Client credentials: a client id `owc_…` (public) and a secret `ows_…` (shown once, stored only as
a keyed hash and compared in constant time). Every request names the team with a `team`
parameter (slug or global id); the token reaches that team only, with at most the scopes the team
granted (`scope` may narrow them).
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    OAuth2Error,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.errors import (
    InsecureTransportError,
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant

from auth import token_format
from auth.oauth_requests import (
    GRANT_TYPE,
    NO_STORE,
    TeamChoice,
    TokenRequest,
    TokenResponse,
    basic_credentials,
    error_response,
    refuse_early,
)
from auth.secrets import token_hash

CLIENT_ID_PREFIX = "owc_"
CLIENT_SECRET_PREFIX = "ows_"
CLIENT_ID_RE = re.compile(r"^owc_[0-9A-Za-z]{24}$")
AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
NOT_INSTALLED = "The app is not installed in that team."
SCOPE_NOT_GRANTED = "The team has not granted every scope asked for."


def _random(length: int) -> str:
    return "".join(secrets.choice(token_format.ALPHABET) for _ in range(length))


def new_client_id() -> str:
    return CLIENT_ID_PREFIX + _random(24)


def new_client_secret() -> str:
    return CLIENT_SECRET_PREFIX + _random(40)


def plausible_client_id(value: str | None) -> bool:
    return value is not None and CLIENT_ID_RE.fullmatch(value) is not None


# --- what the caller loads and passes in ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LiveInstallation:
    id: int
    team_id: int
    team_slug: str
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    installation: LiveInstallation
    scopes: frozenset[str]
    expires_at: datetime


class AppClient(ClientMixin):  # type: ignore[misc]
    """A registered app as Authlib's client. An unknown client id gets a stand-in that never
    authenticates, so both take the same path and the same time."""

    def __init__(
        self,
        *,
        app_id: int | None,
        client_id: str,
        secret_hash: str,
        name: str = "",
        secret_key: str,
        installations: Sequence[LiveInstallation] = (),
    ) -> None:
        self.app_id = app_id
        self.client_id = client_id
        self.name = name
        self._secret_hash = secret_hash
        self.secret_key = secret_key
        self.installations = list(installations)

    @classmethod
    def unknown(cls, client_id: str, secret_key: str) -> AppClient:
        return cls(app_id=None, client_id=client_id, secret_hash="", secret_key=secret_key)

    def has_secret_hash(self, secret_hash: str) -> bool:
        """Is `secret_hash` still the hash this client authenticated against?"""
        return self.app_id is not None and hmac.compare_digest(secret_hash, self._secret_hash)

    def get_client_id(self) -> str:
        return self.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        offered = token_hash(self.secret_key, client_secret) if client_secret.isascii() else ""
        # Constant time; an unknown client's empty hash never matches.
        return hmac.compare_digest(offered, self._secret_hash) and self.app_id is not None

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in AUTH_METHODS

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == GRANT_TYPE


# --- the Authlib adapter ---------------------------------------------------------------------


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, form: Mapping[str, Sequence[str]]) -> None:
        self._datalist = {name: list(values) for name, values in form.items()}
        self._data = {name: values[0] for name, values in self._datalist.items() if values}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


class _Request(OAuth2Request):  # type: ignore[misc]
    def __init__(self, request: TokenRequest) -> None:
        headers = {"Authorization": request.authorization} if request.authorization else {}
        super().__init__("POST", request.uri, headers=headers)
        self.payload = _Payload(request.form)
        self.team = request.team
        self.installation: LiveInstallation | None = None
        self.granted: frozenset[str] = frozenset()

    @property
    def args(self) -> dict[str, str]:
        return {}

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data  # type: ignore[no-any-return]


class InstallationGrant(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def validate_token_request(self) -> None:
        # Authenticates the client, checks the grant type and that every scope is known.
        super().validate_token_request()
        request: _Request = self.request
        client: AppClient = request.client
        installation = _installation_for(client, request.team)
        requested = frozenset((request.payload.scope or "").split())
        if not requested <= installation.scopes:
            raise InvalidScopeError(SCOPE_NOT_GRANTED)
        request.installation = installation
        request.granted = requested or installation.scopes

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        request: _Request = self.request
        token = self.generate_token(
            scope=" ".join(sorted(request.granted)), include_refresh_token=False
        )
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER


def _installation_for(client: AppClient, team: TeamChoice | None) -> LiveInstallation:
    if team is None:  # refused earlier (refuse_early); kept so no default team creeps back
        raise InvalidRequestError("Missing the team parameter.")
    for installation in client.installations:
        if installation.team_id == team.team_id or installation.team_slug == team.slug:
            return installation
    # The same answer whether the team does not exist or has not installed the app.
    raise UnauthorizedClientError(NOT_INSTALLED)


def _authenticate_basic(
    query_client: Callable[[str], AppClient], request: OAuth2Request
) -> AppClient | None:
    """client_secret_basic through our one Basic parser (auth.oauth_requests), in place of
    Authlib's, which reads some headers differently and fails on others."""
    credentials = basic_credentials(request.headers.get("Authorization"))
    if not isinstance(credentials, tuple) or not all(credentials):
        return None
    client = query_client(credentials[0])
    return client if client.check_client_secret(credentials[1]) else None


class InstallationTokenServer(AuthorizationServer):  # type: ignore[misc]
    """One per token request, around the client the caller loaded for it."""

    def __init__(
        self,
        *,
        client: AppClient,
        catalog: Sequence[str],
        now: datetime,
        lifetime: timedelta,
    ) -> None:
        super().__init__(scopes_supported=list(catalog))
        self._client = client
        self._now = now
        self._lifetime = lifetime
        self.issued: IssuedToken | None = None
        self.register_grant(InstallationGrant)
        self.register_token_generator("default", self._generate)
        self.register_client_auth_method("client_secret_basic", _authenticate_basic)

    # Authlib's hooks ---------------------------------------------------------------------

    def query_client(self, client_id: str) -> AppClient:
        if client_id == self._client.client_id:
            return self._client
        return AppClient.unknown(client_id, self._client.secret_key)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass  # Authlib's default raises; nothing here listens

    def create_oauth2_request(self, request: TokenRequest) -> _Request:
        return _Request(request)

    def handle_response(
        self, status: int, body: dict[str, Any], headers: list[tuple[str, str]]
    ) -> TokenResponse:
        kept = [(k, v) for k, v in headers if k.lower() not in ("cache-control", "pragma")]
        return TokenResponse(status, body, kept + NO_STORE)

    def handle_error_response(self, request: Any, error: OAuth2Error) -> TokenResponse:
        return error_response(error)

    def save_token(self, token: dict[str, Any], request: _Request) -> None:
        assert request.installation is not None
        self.issued = IssuedToken(
            token=token["access_token"],
            installation=request.installation,
            scopes=request.granted,
            expires_at=self._now + self._lifetime,
        )

    def _generate(
        self,
        grant_type: str,
        client: AppClient,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = False,
    ) -> dict[str, Any]:
        return {
            "access_token": token_format.new_token(token_format.TokenKind.INSTALLATION),
            "token_type": "Bearer",
            "expires_in": int(self._lifetime.total_seconds()),
            "scope": scope or "",
        }

    # Entry point -------------------------------------------------------------------------

    def refuse(self, error: str) -> TokenResponse:
        """An error response decided after the grant ran (the rows changed meanwhile)."""
        refusal: OAuth2Error = {
            "invalid_client": InvalidClientError(),
            "unauthorized_client": UnauthorizedClientError(NOT_INSTALLED),
            "invalid_scope": InvalidScopeError(SCOPE_NOT_GRANTED),
        }[error]
        return self.handle_error_response(None, refusal)

    def authenticate(self, request: TokenRequest) -> TokenResponse | None:
        """Authenticate the client alone (Authlib's methods, ours for Basic), for a request that
        `refuse_early` let through: None once it has, else the error to answer (invalid_client,
        or insecure_transport). `respond` then runs the grant with what the caller loaded."""
        try:
            oauth_request = self.create_oauth2_request(request)
            self.authenticate_client(oauth_request, AUTH_METHODS)
        except OAuth2Error as error:
            return self.handle_error_response(None, error)
        return None

    def respond(self, request: TokenRequest) -> TokenResponse:
        early = refuse_early(request)
        if early is not None:
            return early
        try:
            return self.create_token_response(request)  # type: ignore[no-any-return]
        except InsecureTransportError as error:
            return self.handle_error_response(None, error)
