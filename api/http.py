"""GraphQL over HTTP: content negotiation, CSRF and GET rules, and one transaction per request.

A plain ASGI endpoint: the body is read once with orjson, the operation comes prepared from
api/operations.py, and the answer is encoded with orjson (SPEC 10, issue 7).
"""

from __future__ import annotations

from types import NoneType
from typing import Any, cast

import orjson
import structlog
from graphql import ExecutionResult, OperationType
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.http.ides import get_graphql_ide_html
from strawberry.schema.base import BaseSchema

from api.context import RequestContext
from api.cookies import clear_session_cookie, set_session_cookie
from api.identity import identify, origin_of
from api.operations import OperationRefused, Operations
from api.request import GraphQLRequest
from api.state import AppState
from auth import bearer, token_rate
from auth.google import SIGNUP_COOKIE
from core.request_db import RequestDatabase

log = structlog.get_logger("orgward.http")

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
QUERY_ONLY = frozenset({OperationType.QUERY})
QUERY_OR_MUTATION = frozenset({OperationType.QUERY, OperationType.MUTATION})
# The request's parameters: each may be absent or null, or else of these types.
PARAMETERS = (
    ("query", (str, NoneType), "a string"),
    ("variables", (dict, NoneType), "an object"),
    ("extensions", (dict, NoneType), "an object"),
    ("operationName", (str, NoneType), "a string"),
)


class HTTPError(Exception):
    """Refused at the HTTP level: a plain-text answer with this status."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Answer(Response):
    """A GraphQL answer: its JSON and headers set directly (Starlette's `init_headers` works
    them out of a mapping for each response)."""

    CONTENT_TYPES = {
        JSON: f"{JSON}; charset=utf-8".encode(),
        GRAPHQL_RESPONSE: f"{GRAPHQL_RESPONSE}; charset=utf-8".encode(),
    }

    def __init__(self, body: bytes, status_code: int, media_type: str, request_id: str) -> None:
        self.status_code = status_code
        self.body = body
        self.background = None
        self.raw_headers = [
            (b"content-length", str(len(body)).encode()),
            (b"content-type", self.CONTENT_TYPES[media_type]),
            (b"x-request-id", request_id.encode("latin-1")),
        ]


class OrgwardGraphQL:
    def __init__(self, schema: BaseSchema, state: AppState) -> None:
        self.state = state
        self.operations = Operations(schema, state.settings)  # type: ignore[arg-type]
        self.ide_html = None if state.settings.is_production else get_graphql_ide_html()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await PlainTextResponse("Not found", status_code=404)(scope, receive, send)
            return
        request = GraphQLRequest(scope, receive)
        try:
            response = await self.handle(request)
        except HTTPError as error:
            response = PlainTextResponse(error.reason, status_code=error.status)
        except bearer.BearerError as error:
            response = PlainTextResponse(
                error.description, status_code=401, headers={"www-authenticate": error.challenge}
            )
        except token_rate.TokenRateLimited as error:
            response = rate_limited(error)
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        method = request.method
        if method not in ("GET", "POST"):
            raise HTTPError(405, "GraphQL only supports GET and POST requests.")
        if method == "GET" and wants_ide(request):
            if self.ide_html is None:
                raise HTTPError(404, "Not Found")
            return HTMLResponse(self.ide_html)
        params = await self._params(request)
        if "authorization" not in request.headers:
            self._check_origin(request)
        state = self.state
        db = RequestDatabase(state.engine, state.sessions)
        # Known before anything can fail, so even a failed identification is logged with it.
        origin = origin_of(request)
        request_id = origin.request_id
        try:
            who = await identify(request, db, state, origin)
            if method == "GET" and who.cookie_authenticated:
                raise HTTPError(
                    405, "Cookie-authenticated GraphQL requests must use POST, not GET."
                )
            context = RequestContext(
                request=request,
                db=cast(AsyncSession, db),  # it stands in for the session: core/request_db.py
                actor=who.actor,
                settings=state.settings,
                clock=state.clock,
                request_id=who.request_id,
                cookie_authenticated=who.cookie_authenticated,
                side_engine=state.side_engine,
            )
            try:
                result = await self.operations.run(
                    params.get("query"),
                    variables=params.get("variables"),
                    operation_name=params.get("operationName"),
                    context=context,
                    allowed=QUERY_ONLY if method == "GET" else QUERY_OR_MUTATION,
                    request_id=who.request_id,
                )
            except OperationRefused as refused:
                raise HTTPError(refused.status, refused.reason) from None
            finally:
                context.release()
            response = self._response(request, context, result)
        except BaseException as error:
            # Cancelled too (a client gone, a shutdown): the connection goes back either way.
            await db.end(commit=False)
            if not isinstance(error, Exception) or isinstance(
                error, HTTPError | bearer.BearerError | token_rate.TokenRateLimited
            ):
                raise
            log.exception("graphql.request_failed", request_id=request_id)
            return internal_error(request_id)
        try:
            await db.end(commit=not context.failed and response.status_code < 400)
        except Exception:
            log.exception("graphql.commit_failed", request_id=request_id)
            return internal_error(request_id)
        self._apply_session_cookie(context, response)
        return response

    # --- the request --------------------------------------------------------------------------

    async def _params(self, request: Request) -> dict[str, Any]:
        """query, variables and operationName from the query string (GET) or a JSON body."""
        if request.method == "GET":
            query = request.query_params
            params: dict[str, Any] = {
                "query": query.get("query"),
                "operationName": query.get("operationName"),
            }
            if "variables" in query:
                params["variables"] = self._json(query["variables"])
        else:
            content_type = request.headers.get("content-type", "")
            if "application/json" not in content_type.split(";")[0].lower():
                raise HTTPError(400, "Unsupported content type")
            params = self._json(await request.body())
            if isinstance(params, list):
                raise HTTPError(400, "Batching is not enabled")
            if not isinstance(params, dict):
                raise HTTPError(400, "The request body must be a JSON object.")
        for name, kinds, label in PARAMETERS:
            if not isinstance(params.get(name), kinds):
                raise HTTPError(
                    400, f"The GraphQL operation's `{name}` must be {label} or null, if provided."
                )
        return params

    @staticmethod
    def _json(data: str | bytes) -> Any:
        try:
            # orjson refuses unpaired surrogates, which no database could store.
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            raise HTTPError(400, "Unable to parse request body as JSON") from None

    def _check_origin(self, request: Request) -> None:
        """CSRF: a POST that carries our session cookie must come from a trusted origin."""
        if request.method != "POST":
            return
        settings = self.state.settings
        origin = request.headers.get("origin")
        if origin is None and (referer := request.headers.get("referer")):
            origin = "/".join(referer.split("/")[:3])
        # The pending-sign-up cookie authorizes completeSignup: it is ambient authority too.
        has_cookie = any(
            name in request.cookies for name in (settings.session_cookie_name, SIGNUP_COOKIE)
        )
        if origin is None:
            if has_cookie:
                raise HTTPError(403, "Cookie-authenticated requests must send an Origin header.")
            return
        if origin.lower() not in settings.trusted_origins:
            raise HTTPError(403, "Cross-origin request refused.")

    # --- the answer ---------------------------------------------------------------------------

    def _response(
        self, request: Request, context: RequestContext, result: ExecutionResult
    ) -> Response:
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [error.formatted for error in result.errors]
        media_type = negotiate(request.headers.get("accept"))
        set_by_resolvers = context.response_set
        status = (set_by_resolvers and set_by_resolvers.status_code) or 200
        failed_before_execution = (
            result.data is None
            and bool(result.errors)
            and not any(error.path for error in result.errors or [])
        )
        if failed_before_execution and media_type == GRAPHQL_RESPONSE:
            # GraphQL over HTTP: a request that never executed has no data and a 4xx status.
            del body["data"]
            status = 400
        response = Answer(orjson.dumps(body), status, media_type, context.request_id)
        if set_by_resolvers is not None:
            response.raw_headers.extend(set_by_resolvers.raw_headers)
        return response

    def _apply_session_cookie(self, context: RequestContext, response: Response) -> None:
        token = context.new_session_token
        if token:
            set_session_cookie(response, self.state.settings, token)
        elif token == "":
            clear_session_cookie(response, self.state.settings)


def wants_ide(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return request.query_params.get("query") is None and ("text/html" in accept or "*/*" in accept)


def internal_error(request_id: str | None) -> Response:
    body = {
        "errors": [
            {
                "message": f"Internal server error (request id {request_id}).",
                "extensions": {"code": "INTERNAL_SERVER_ERROR"},
            }
        ]
    }
    return Response(orjson.dumps(body), status_code=500, media_type=JSON)


def rate_limited(error: token_rate.TokenRateLimited) -> Response:
    """A token over its limit: the whole request is refused before it runs (HTTP 429)."""
    body = {
        "errors": [
            {
                "message": str(error),
                "extensions": {
                    "code": "RATE_LIMITED",
                    "retryAfterSeconds": error.retry_after_seconds,
                },
            }
        ]
    }
    return Response(
        orjson.dumps(body),
        status_code=429,
        media_type=JSON,
        headers={"retry-after": str(error.retry_after_seconds)},
    )


def negotiate(accept: str | None) -> str:
    """application/graphql-response+json when the client prefers it; JSON otherwise."""
    if not accept:
        return JSON
    best, best_q = JSON, -1.0
    for part in accept.split(","):
        media, *params = [piece.strip() for piece in part.split(";")]
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        if media == GRAPHQL_RESPONSE and q > best_q:
            best, best_q = GRAPHQL_RESPONSE, q
        elif media in (JSON, "application/*", "*/*") and q > best_q:
            best, best_q = JSON, q
    return best
