"""The Starlette application."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route

from api import google, health, oauth, token_leaks
from api.audit.export import export_audit_events
from api.http import OrgwardGraphQL
from api.limits_http import BodySizeLimit
from api.metrics import MetricsMiddleware
from api.schema import create_schema
from api.state import AppState
from auth import token_rate
from auth.google import flow_cookie
from core import migrate
from core.clock import Clock, SystemClock
from core.db import create_engine, create_side_engine, session_factory
from core.logging import ensure_logging
from core.settings import Settings
from worker.context import WorkerContext
from worker.runner import run_forever

# Allocations (less frees) between collections of the young generation; CPython's is 700.
YOUNG_GENERATION_THRESHOLD = 10_000

log = structlog.get_logger("orgward.app")


def create_app(
    settings: Settings | None = None,
    *,
    engine: AsyncEngine | None = None,
    clock: Clock | None = None,
    run_worker: bool | None = None,
    apply_migrations: bool | None = None,
) -> Starlette:
    settings = settings or Settings()
    settings.check_startable()
    ensure_logging(settings)
    engine = engine or create_engine(settings)
    state = AppState(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        clock=clock or SystemClock(),
        side_engine=create_side_engine(settings),
        redis=token_rate.connect(settings.redis_url),
    )
    graphql = OrgwardGraphQL(create_schema(settings), state)
    with_worker = settings.worker_in_process() if run_worker is None else run_worker
    migrate_on_start = (
        (not settings.is_production) if apply_migrations is None else apply_migrations
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if migrate_on_start:
            await migrate.upgrade(engine)
        if settings.is_production:
            # What start-up built (schema, mappers, compiled statements) lives as long as the
            # process: kept out of the collector's scans, a full collection no longer walks
            # ~200,000 objects in the middle of a request (issue 7: p99 of a 50-member page
            # under load 285 -> 132 ms).
            gc.collect()
            gc.freeze()
            # Requests leave no cycles behind (tests/test_request_memory.py), so the young
            # generation only fills with a large page's live rows and objects; at the default
            # 700 a 200-member page set off a collection of them every request (5% of its
            # time). Collections stay as thorough, just rarer.
            gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *gc.get_threshold()[1:])
        stop = asyncio.Event()
        worker = None
        if with_worker:
            context = WorkerContext(
                engine=engine, sessions=state.sessions, settings=settings, clock=state.clock
            )
            worker = asyncio.create_task(run_forever(context, stop))
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                await worker
            await engine.dispose()
            if state.side_engine is not None:
                await state.side_engine.dispose()
            if state.redis is not None:
                await state.redis.aclose()

    middleware = [
        Middleware(MetricsMiddleware),
        Middleware(BodySizeLimit, exempt_paths=[oauth.TOKEN_PATH, token_leaks.REVOKE_PATH]),
    ]
    if settings.allowed_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.allowed_origins,
                allow_credentials=True,
                allow_methods=["GET", "POST"],
                allow_headers=["content-type", "authorization", "x-request-id"],
            )
        )
    if settings.google_enabled:
        middleware.append(flow_cookie(settings))
    app = Starlette(
        routes=[
            # First: nearly every request is one, and routes are matched in order.
            Route("/graphql", graphql, methods=["GET", "POST"]),
            *(google.routes(settings) if settings.google_enabled else []),
            Route(oauth.TOKEN_PATH, oauth.token_endpoint, methods=["POST"]),
            Route(token_leaks.REVOKE_PATH, token_leaks.revoke_endpoint, methods=["POST"]),
            Route("/teams/{slug}/audit-events.jsonl", export_audit_events, methods=["GET"]),
            Route("/healthz", health.healthz),
            Route("/readyz", health.readyz),
            Route("/metrics", health.metrics),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.orgward = state
    return app
