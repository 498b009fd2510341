"""Shared column types and the metadata naming convention Alembic relies on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData
from sqlalchemy import Enum as SAEnum
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata: MetaData = SQLModel.metadata

# 64-bit ids on PostgreSQL; SQLite only auto-increments a plain INTEGER primary key.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite drops tzinfo otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return as_utc(value)

    def hot_result_processor(self, dialect: Any) -> Callable[[Any], Any] | None | bool:
        """For core/hot_reads.py: False when the driver's values are right as they are (asyncpg
        decodes a timestamptz from its binary UTC form, always with tzinfo UTC); else one call
        per value instead of SQLAlchemy's two where the driver hands over datetimes as they
        are; None where they need parsing (SQLAlchemy's own processor then)."""
        if self.impl_instance.dialect_impl(dialect).result_processor(dialect, None) is not None:
            return None
        return False if dialect.driver == "asyncpg" else as_utc


def as_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is UTC:  # asyncpg's are UTC already
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_type(enum: type[Enum]) -> SAEnum:
    """Stored as its value in a VARCHAR (no native enum: adding a value needs no migration)."""
    return SAEnum(
        enum,
        native_enum=False,
        length=20,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )
