"""Typed mutation errors, and the one place where domain errors become GraphQL values."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import strawberry

from core.errors import DomainError, ErrorCode, RateLimited

# The domain's enum is the GraphQL enum: registering it here keeps one source of truth.
strawberry.enum(ErrorCode, name="ErrorCode", description="Stable error codes.")


@strawberry.interface(description="An expected failure of a mutation.")
class Error:
    code: ErrorCode
    message: str
    field: str | None = strawberry.field(description="The input field at fault, if one is.")


@strawberry.type
class MutationError(Error):
    pass


@strawberry.type
class RateLimitedError(Error):
    retry_after_seconds: int


@strawberry.type
class Payload:
    errors: list[Error] = strawberry.field(default_factory=list)


def to_error(error: DomainError) -> Error:
    if isinstance(error, RateLimited):
        return RateLimitedError(
            code=error.code,
            message=error.message,
            field=error.field,
            retry_after_seconds=error.retry_after_seconds,
        )
    return MutationError(code=error.code, message=error.message, field=error.field)


P = ParamSpec("P")
R = TypeVar("R", bound=Payload)


def typed_errors(
    payload: type[R],
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Turn a DomainError raised by the resolver into `payload(errors=[...])`.

    The request's transaction is then rolled back, so a failed mutation never half-writes.
    """

    def decorate(resolver: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(resolver)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await resolver(*args, **kwargs)
            except DomainError as error:
                info: Any = kwargs.get("info")
                info.context.failed = True
                return payload(errors=[to_error(error)])

        return wrapper

    return decorate
