"""Configuration, read from ORGWARD_* environment variables (and an optional .env file)."""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from functools import cached_property
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEY = "orgward-development-secret-change-me"
GOOGLE_DISCOVERY_URL = "https://accounts.google.com/.well-known/openid-configuration"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORGWARD_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./orgward.db"
    # PostgreSQL connections kept open per process, and how many more a burst may open (each
    # extra one is closed as soon as it is given back: under steady load that is a connect per
    # request, so the pool should cover the concurrency). A request past both waits for one,
    # up to database_pool_timeout_seconds.
    database_pool_size: int = Field(default=20, ge=1)
    database_max_overflow: int = Field(default=10, ge=0)
    database_pool_timeout_seconds: float = Field(default=30.0, gt=0)
    environment: Environment = Environment.DEVELOPMENT
    secret_key: str = DEFAULT_SECRET_KEY
    public_base_url: str = "http://127.0.0.1:8000"
    # Extra origins (besides public_base_url's) allowed to send cookie-authenticated POSTs.
    allowed_origins: list[str] = Field(default_factory=list)
    # Where links in emails point (the platform's front end); defaults to public_base_url.
    frontend_url: str | None = None

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_sender: str = "Orgward <no-reply@orgward.localhost>"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = 10.0

    # [P4] Minimum age by ISO country code; "default" applies elsewhere.
    minimum_age: dict[str, int] = Field(default_factory=lambda: {"default": 13})

    # argon2id cost; the defaults follow OWASP's guidance (tests lower them for speed).
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536

    session_cookie_name: str = "orgward_session"
    session_lifetime_days: int = 30
    email_verification_hours: int = 48
    invitation_days: int = 7

    # Brute-force limits on sign-in: failures before slowing down, and before refusing.
    signin_free_failures: int = 5
    signin_max_failures: int = 20
    signin_window_minutes: int = 15
    signin_lockout_minutes: int = 60
    signin_ip_factor: int = 5

    # Bearer tokens (SPEC 6): requests per token per minute (HTTP 429 beyond), the longest
    # lifetime of a personal access token, and where the per-token counters live (Redis when
    # set, else the database).
    token_rate_per_minute: int = Field(default=600, ge=1)
    token_max_days: int = Field(default=365, ge=1)
    redis_url: str | None = None

    # Google sign-in (OpenID Connect, SPEC 3): on once a client id and secret are set.
    google_client_id: str | None = None
    google_client_secret: str | None = None
    google_discovery_url: str = GOOGLE_DISCOVERY_URL
    # Registered at Google as the authorized redirect URI; {public_base_url}/auth/google/callback.
    google_redirect_uri: str | None = None
    # How long a new Google account may wait for its birth date before it is discarded [P4].
    google_signup_minutes: int = 30
    # The front end's sign-in page, where Google sign-in reports `?error=<code>` and asks a new
    # user to finish signing up (`?signup=...`); defaults to {frontend_url}/sign-in.
    sign_in_page_url: str | None = None
    # Origins a `next` URL may point to after sign-in, besides the front end's and the API's.
    sign_in_redirect_origins: list[str] = Field(default_factory=list)

    max_query_depth: int = 12
    max_query_aliases: int = 15
    max_query_tokens: int = 2000
    # The most objects one query may ask for (pages multiplied through nested lists).
    max_query_nodes: int = 50_000

    # Proxies whose X-Forwarded-For is believed (the client address for sessions, audit events
    # and per-address limits); comma-separated addresses, or "*" behind a private load balancer.
    forwarded_allow_ips: str = "127.0.0.1"

    # Plain attribute fields skip graphql-core's per-field resolver machinery (api/execution.py)
    # and plain resolvers skip Strawberry's per-call wrapper (api/resolvers.py); off: the stock
    # executor and wrappers, for comparison.
    fast_execution: bool = True

    # Lifetime of an installed app's access token from POST /oauth/token (SPEC 6).
    installation_token_ttl_seconds: int = Field(default=3600, ge=60, le=86400)
    # Per installation: tokens issued per hour (HTTP 429 beyond), and live tokens kept (a new one
    # beyond that revokes the oldest).
    installation_tokens_per_hour: int = Field(default=120, ge=1)
    installation_live_tokens: int = Field(default=20, ge=1)
    # Leaked-token reports (POST /tokens/revoke): well-formed tokens one address may report per
    # minute (HTTP 429 beyond).
    token_leak_reports_per_minute: int = Field(default=600, ge=1)

    worker_interval_seconds: float = 2.0
    run_worker_in_process: bool | None = None

    # The DNS server that domain verification asks (SPEC 4); none set: the system's resolver.
    dns_resolver_address: str | None = None
    dns_resolver_port: int = Field(default=53, ge=1, le=65535)
    dns_timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    @field_validator("dns_resolver_address")
    @classmethod
    def _ip_address(cls, value: str | None) -> str | None:
        # The resolver is asked by address: a host name would need a resolver of its own.
        return str(ipaddress.ip_address(value.strip())) if value and value.strip() else None

    @field_validator("smtp_username", "smtp_password")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("public_base_url", "frontend_url", "sign_in_page_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def links_base_url(self) -> str:
        return self.frontend_url or self.public_base_url

    @property
    def google_enabled(self) -> bool:
        return bool(self.google_client_id and self.google_client_secret)

    @property
    def google_callback_url(self) -> str:
        return self.google_redirect_uri or f"{self.public_base_url}/auth/google/callback"

    @property
    def sign_in_page(self) -> str:
        return self.sign_in_page_url or f"{self.links_base_url}/sign-in"

    @property
    def sign_in_redirect_allowed(self) -> frozenset[str]:
        """Origins a browser may be sent back to after signing in (no open redirect)."""
        urls = [self.links_base_url, self.public_base_url, *self.sign_in_redirect_origins]
        return frozenset(_origin(url) for url in urls)

    @cached_property
    def trusted_origins(self) -> frozenset[str]:
        return frozenset(_origin(url) for url in [self.public_base_url, *self.allowed_origins])

    @property
    def secure_cookies(self) -> bool:
        return self.is_production

    def worker_in_process(self) -> bool:
        if self.run_worker_in_process is not None:
            return self.run_worker_in_process
        return not self.is_production

    def minimum_age_for(self, country: str | None) -> int:
        table = {key.upper(): age for key, age in self.minimum_age.items()}
        default = table.get("DEFAULT", 13)
        return table.get((country or "").upper(), default)

    def check_startable(self) -> None:
        """Refuse configurations that would be unsafe to serve."""
        if self.is_production and self.secret_key == DEFAULT_SECRET_KEY:
            raise ValueError("ORGWARD_SECRET_KEY must be set to a long random value in production")
        if self.is_production and len(self.secret_key) < 32:
            raise ValueError("ORGWARD_SECRET_KEY must be at least 32 characters in production")
        if (
            self.is_production
            and self.google_enabled
            and not (
                self.google_callback_url.startswith("https://")
                and self.google_discovery_url.startswith("https://")
            )
        ):
            raise ValueError("Google sign-in needs https redirect and discovery URLs in production")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
