"""Configuration, read from ORGWARD_* environment variables (and an optional .env file)."""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEY = "orgward-development-secret-change-me"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORGWARD_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./orgward.db"
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

    max_query_depth: int = 12
    max_query_aliases: int = 15
    max_query_tokens: int = 2000

    worker_interval_seconds: float = 2.0
    run_worker_in_process: bool | None = None

    @field_validator("public_base_url", "frontend_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def links_base_url(self) -> str:
        return self.frontend_url or self.public_base_url

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
            raise ValueError(
                "ORGWARD_SECRET_KEY must be set to a long random value in production"
            )
        if self.is_production and len(self.secret_key) < 32:
            raise ValueError("ORGWARD_SECRET_KEY must be at least 32 characters in production")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
