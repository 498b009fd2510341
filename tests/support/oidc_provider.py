"""A real OpenID Connect provider on loopback, for tests.

It serves discovery and JWKS, runs the authorization-code flow for one registered client,
ENFORCES PKCE (S256: an authorization request without a challenge, or a token request without
the matching verifier, is refused), refuses a code used twice, and signs ID tokens with its own
RSA key, relative to real time. Tests steer it: who signs in next, a denial, or an ID token
that is wrong in one chosen way. It records what it saw and every token it issued.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

import uvicorn
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

KEY_ID = "loopback-key-1"
REMOVE = object()


@dataclass
class Account:
    """The Google account that signs in at the provider next."""

    sub: str = "110248495921238986420"
    email: str = "ada@example.com"
    email_verified: bool | None = True
    name: str | None = "Ada Lovelace"
    picture: str | None = "https://lh3.googleusercontent.com/a/ada"
    hd: str | None = None

    def claims(self) -> dict[str, Any]:
        found = {
            "sub": self.sub,
            "email": self.email,
            "email_verified": self.email_verified,
            "name": self.name,
            "picture": self.picture,
            "hd": self.hd,
        }
        return {name: value for name, value in found.items() if value is not None}


@dataclass
class Grant:
    account: Account
    redirect_uri: str
    challenge: str
    nonce: str | None
    used: bool = False


@dataclass
class TokenRequest:
    """A token request as received (what the client sent, and what the provider answered)."""

    form: dict[str, str]
    answer: str  # "issued", or the reason it was refused


@dataclass
class Behaviour:
    account: Account = field(default_factory=Account)
    deny: bool = False
    # Claims to set in (or, with REMOVE, take out of) the next ID tokens.
    id_token_changes: dict[str, Any] = field(default_factory=dict)
    expired_id_tokens: bool = False
    sign_with_foreign_key: bool = False


class OidcProvider:
    def __init__(self, *, client_id: str, client_secret: str, redirect_uri: str) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        params = {"kid": KEY_ID, "use": "sig", "alg": "RS256"}
        self.key = RSAKey.generate_key(2048, parameters=params)  # type: ignore[arg-type]
        # Same key id, never published: a token it signs must fail signature checks.
        self.foreign_key = RSAKey.generate_key(2048, parameters=params)  # type: ignore[arg-type]
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.issuer = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self.discovery_url = f"{self.issuer}/.well-known/openid-configuration"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # --- steering -------------------------------------------------------------------------

    def reset(self) -> None:
        self.behaviour = Behaviour()
        self.authorization_requests: list[dict[str, str]] = []
        self.token_requests: list[TokenRequest] = []
        self.issued_tokens: list[str] = []
        self._grants: dict[str, Grant] = {}

    def signs_in(self, **claims: Any) -> Account:
        self.behaviour.account = Account(**claims)
        return self.behaviour.account

    # --- endpoints ------------------------------------------------------------------------

    async def discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "code_challenge_methods_supported": ["S256"],
                "claims_supported": ["sub", "email", "email_verified", "name", "picture", "hd"],
            }
        )

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    async def authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        self.authorization_requests.append(params)
        if params.get("client_id") != self.client_id:
            return PlainTextResponse("Unknown client.", status_code=400)
        if params.get("redirect_uri") != self.redirect_uri:
            # Never redirect to an unregistered address.
            return PlainTextResponse("This redirect_uri is not registered.", status_code=400)
        state = params.get("state")
        if params.get("response_type") != "code":
            return self._back({"error": "unsupported_response_type", "state": state})
        if "openid" not in params.get("scope", "").split():
            return self._back({"error": "invalid_scope", "state": state})
        if not params.get("code_challenge") or params.get("code_challenge_method") != "S256":
            return self._back(
                {
                    "error": "invalid_request",
                    "state": state,
                    "error_description": "PKCE with S256 is required.",
                }
            )
        if self.behaviour.deny:
            return self._back({"error": "access_denied", "state": state})
        code = secrets.token_urlsafe(24)
        self._grants[code] = Grant(
            self.behaviour.account, self.redirect_uri, params["code_challenge"], params.get("nonce")
        )
        return self._back({"code": code, "state": state})

    async def token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        record = TokenRequest(form=form, answer="issued")
        self.token_requests.append(record)
        if not self._client_authenticated(request, form):
            record.answer = "client authentication failed"
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if form.get("grant_type") != "authorization_code":
            record.answer = "unsupported grant type"
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        grant = self._grants.get(form.get("code", ""))
        refusal = self._refusal(grant, form)
        if refusal:
            record.answer = refusal
            return JSONResponse(
                {"error": "invalid_grant", "error_description": refusal}, status_code=400
            )
        assert grant is not None
        access_token = secrets.token_urlsafe(32)
        id_token = self._id_token(grant)
        self.issued_tokens += [access_token, id_token]
        return JSONResponse(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 3600,
                "scope": "openid email profile",
                "id_token": id_token,
            },
            headers={"cache-control": "no-store"},
        )

    # --- internals ------------------------------------------------------------------------

    def _refusal(self, grant: Grant | None, form: dict[str, str]) -> str | None:
        if grant is None:
            return "unknown code"
        if grant.used:
            return "code already used"
        grant.used = True  # a code is good for one try, whatever its outcome
        if form.get("redirect_uri") != grant.redirect_uri:
            return "redirect_uri does not match"
        verifier = form.get("code_verifier")
        if not verifier:
            return "code_verifier missing"
        if s256(verifier) != grant.challenge:
            return "code_verifier does not match"
        return None

    def _client_authenticated(self, request: Request, form: dict[str, str]) -> bool:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            decoded = base64.b64decode(header[6:]).decode()
            client_id, _, secret = decoded.partition(":")
            client_id, secret = unquote(client_id), unquote(secret)
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        return client_id == self.client_id and secret == self.client_secret

    def _id_token(self, grant: Grant) -> str:
        now = int(time.time())
        behaviour = self.behaviour
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "azp": self.client_id,
            "iat": now,
            "exp": now + 3600,
            "auth_time": now,
            **grant.account.claims(),
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        if behaviour.expired_id_tokens:
            claims.update(iat=now - 7200, exp=now - 3600, auth_time=now - 7200)
        for name, value in behaviour.id_token_changes.items():
            if value is REMOVE:
                claims.pop(name, None)
            else:
                claims[name] = value
        key = self.foreign_key if behaviour.sign_with_foreign_key else self.key
        return jwt.encode({"alg": "RS256", "kid": KEY_ID}, claims, key)

    def _back(self, params: dict[str, str | None]) -> Response:
        query = urlencode({key: value for key, value in params.items() if value is not None})
        return RedirectResponse(f"{self.redirect_uri}?{query}", status_code=302)

    # --- serving --------------------------------------------------------------------------

    def start(self) -> None:
        app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
            ]
        )
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            http="h11",
            ws="none",
            loop="asyncio",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the loopback OpenID provider did not start")
            time.sleep(0.01)  # waiting for a server thread to listen, not timing a test

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._socket.close()


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
