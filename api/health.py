"""Liveness, readiness and Prometheus metrics endpoints."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.state import AppState
from core import migrate


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    state: AppState = request.app.state.orgward
    try:
        async with state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        current = await migrate.current_revision(state.engine)
    except Exception as error:  # the database is down or unreachable
        return JSONResponse({"status": "unavailable", "database": type(error).__name__}, 503)
    head = migrate.head_revision()
    if current != head:
        return JSONResponse(
            {"status": "unavailable", "migrations": {"current": current, "head": head}}, 503
        )
    return JSONResponse({"status": "ready", "migrations": {"current": current}})


async def metrics(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
