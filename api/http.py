"""GraphQL over HTTP: content negotiation, CSRF and GET rules, and one transaction per request."""

from __future__ import annotations

from typing import Any, overload

import orjson
import structlog
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.schema.base import BaseSchema
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from api.context import RequestContext
from api.cookies import clear_session_cookie, set_session_cookie
from api.identity import identify
from api.state import AppState
from auth import bearer, token_rate
from auth.google import SIGNUP_COOKIE

log = structlog.get_logger("orgward.http")

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


class OrgwardGraphQL(GraphQL[RequestContext, None]):
    def __init__(self, schema: BaseSchema, state: AppState) -> None:
        super().__init__(
            schema,
            graphql_ide=None if state.settings.is_production else "graphiql",
            allow_queries_via_get=True,
        )
        self.state = state

    # --- context: who is asking -----------------------------------------------------------

    async def get_context(self, request: Request, response: Response) -> RequestContext:  # type: ignore[override]
        state = self.state
        if "authorization" not in request.headers:
            self._check_origin(request)
        db = state.sessions()
        # Registered before identifying, so the session is closed whatever happens next.
        request.state.orgward_db = db
        who = await identify(request, db, state)
        context = RequestContext(
            request=request,
            response=response,
            db=db,
            actor=who.actor,
            settings=state.settings,
            clock=state.clock,
            request_id=who.request_id,
            cookie_authenticated=who.cookie_authenticated,
            side_engine=state.side_engine,
        )
        request.state.orgward = context
        response.headers["x-request-id"] = who.request_id
        return context

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
                raise HTTPException(
                    403, "Cookie-authenticated requests must send an Origin header."
                )
            return
        if origin.lower() not in settings.trusted_origins:
            raise HTTPException(403, "Cross-origin request refused.")

    async def execute_operation(
        self, request: Request, request_adapter: Any, *args: Any, **kwargs: Any
    ):  # type: ignore[override]
        context: RequestContext = request.state.orgward
        if request_adapter.method == "GET" and context.cookie_authenticated:
            raise HTTPException(
                405, "Cookie-authenticated GraphQL requests must use POST, not GET."
            )
        return await super().execute_operation(request, request_adapter, *args, **kwargs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await PlainTextResponse("Not found", status_code=404)(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self.run(request)
        except HTTPException as error:
            response = PlainTextResponse(error.reason, status_code=error.status_code)
        except bearer.BearerError as error:
            response = PlainTextResponse(
                error.description, status_code=401, headers={"www-authenticate": error.challenge}
            )
        except token_rate.TokenRateLimited as error:
            response = rate_limited(error)
        await response(scope, receive, send)

    # --- one transaction per request ------------------------------------------------------

    @overload
    async def run(
        self, request: Request, context: RequestContext = UNSET, root_value: None = UNSET
    ) -> Response: ...

    @overload
    async def run(
        self, request: WebSocket, context: RequestContext = UNSET, root_value: None = UNSET
    ) -> WebSocket: ...

    async def run(
        self,
        request: Request | WebSocket,
        context: RequestContext = UNSET,
        root_value: None = UNSET,
    ) -> Response | WebSocket:
        if isinstance(request, WebSocket):
            # Never reached: __call__ answers every non-HTTP scope itself.
            return await super().run(request, context, root_value)
        try:
            response = await super().run(request, context, root_value)
        except BaseException:
            await self._end(request, commit=False)
            raise
        context_obj: RequestContext | None = getattr(request.state, "orgward", None)
        if context_obj is None:
            return response
        try:
            await self._end(request, commit=not context_obj.failed and response.status_code < 400)
        except Exception:
            log.exception("graphql.commit_failed", request_id=context_obj.request_id)
            return self._encoded(
                {
                    "errors": [
                        {
                            "message": f"Internal server error (request id "
                            f"{context_obj.request_id}).",
                            "extensions": {"code": "INTERNAL_SERVER_ERROR"},
                        }
                    ]
                },
                status=500,
                media_type=JSON,
            )
        self._apply_session_cookie(context_obj, response)
        return response

    async def _end(self, request: Request, *, commit: bool) -> None:
        db = getattr(request.state, "orgward_db", None)
        if db is None:
            return
        try:
            if commit:
                await db.commit()
            else:
                await db.rollback()
        finally:
            await db.close()

    def _apply_session_cookie(self, context: RequestContext, response: Response) -> None:
        token = context.new_session_token
        if token:
            set_session_cookie(response, self.state.settings, token)
        elif token == "":
            clear_session_cookie(response, self.state.settings)

    # --- GraphQL over HTTP media types ----------------------------------------------------

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        response = await super().get_sub_response(request)
        response.media_type = negotiate(request.headers.get("accept"))
        return response

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        data = process_result(result)
        failed_before_execution = (
            result.data is None
            and bool(result.errors)
            and not any(error.path for error in result.errors or [])
        )
        sub_response: Response = request.state.orgward.response
        if failed_before_execution and sub_response.media_type == GRAPHQL_RESPONSE:
            # GraphQL over HTTP: a request that never executed has no data and a 4xx status.
            data.pop("data", None)
            sub_response.status_code = 400
        return data

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response = super().create_response(response_data, sub_response)
        media_type = sub_response.media_type or JSON
        response.headers["content-type"] = f"{media_type}; charset=utf-8"
        return response

    def decode_json(self, data: str | bytes) -> object:
        # orjson refuses unpaired surrogates, which no database could store.
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:  # type: ignore[override]
        return orjson.dumps(data)

    def _encoded(self, data: object, *, status: int, media_type: str) -> Response:
        return Response(self.encode_json(data), status_code=status, media_type=media_type)


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
