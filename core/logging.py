"""Structured logs: readable in development, JSON lines in production."""

from __future__ import annotations

import logging
import traceback
from typing import Any

import structlog

from core.settings import Settings


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    renderer = (
        structlog.processors.JSONRenderer()
        if settings.is_production
        # Plain tracebacks: the default (rich, when installed) prints every frame's locals,
        # which may hold passwords, tokens or client secrets.
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )


def ensure_logging(settings: Settings) -> None:
    """For create_app: configure logging unless whoever runs the app (the CLI) already did, so a
    server started any other way never falls back to structlog's defaults (locals in tracebacks)."""
    if not structlog.is_configured():
        configure_logging(settings)


def log_failure_without_locals(
    log: Any, event: str, *, request_id: str | None, error: Exception
) -> None:
    """Log an unexpected failure by its type and where it was raised, never its message or a
    traceback: on routes that handle secrets (client credentials, reported tokens) the frames'
    locals and the message may hold them."""
    log.error(
        event,
        request_id=request_id,
        error_type=type(error).__name__,
        raised_at=[
            f"{frame.filename}:{frame.lineno} {frame.name}"
            for frame in traceback.extract_tb(error.__traceback__)[-3:]
        ],
    )
