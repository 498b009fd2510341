"""The per-request GraphQL context: one database session, the actor, and DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo

from auth.actor import Actor
from core.clock import Clock
from core.settings import Settings
from services.context import ServiceContext

if TYPE_CHECKING:
    from api.loaders import Loaders


@dataclass
class RequestContext:
    request: Request
    db: AsyncSession
    actor: Actor
    settings: Settings
    clock: Clock
    request_id: str
    cookie_authenticated: bool = False
    # Set when a mutation returned an error: the whole request is then rolled back.
    failed: bool = False
    # A session token to set (str) or clear ("") on the response after a successful commit.
    new_session_token: str | None = None
    side_engine: AsyncEngine | None = None

    @cached_property
    def response(self) -> Response:
        """Where resolvers put headers (cookies) and a status for the final response; made
        when first asked for (most requests set neither)."""
        response = Response()
        response.status_code = None  # type: ignore[assignment]
        del response.headers["content-length"]
        return response

    @property
    def response_set(self) -> Response | None:
        """The response resolvers set things on, if any did."""
        return self.__dict__.get("response")

    @cached_property
    def service(self) -> ServiceContext:
        return ServiceContext(
            db=self.db,
            actor=self.actor,
            settings=self.settings,
            clock=self.clock,
            side_engine=self.side_engine,
        )

    @cached_property
    def loaders(self) -> Loaders:
        from api.loaders import Loaders

        return Loaders(self.service)

    def release(self) -> None:
        """Let go of what the request loaded, once its answer is written. Each DataLoader
        refers back to Loaders, and the executor can still hold this context in a cycle (the
        stock one always, ours after a resolver raised): without this, every row a page read
        waited for the cycle collector, whose runs cost more than a tenth of a large page's
        time (issue 7)."""
        loaders = self.__dict__.pop("loaders", None)
        if loaders is not None:
            loaders.release()

    def act_as(self, actor: Actor) -> None:
        """Switch the actor mid-request (after sign-in or sign-out)."""
        self.actor = actor
        self.__dict__.pop("service", None)
        self.__dict__.pop("loaders", None)


Info = StrawberryInfo[RequestContext, None]
