"""Declarative base: naming convention, UUID keys, UTC timestamps, version column for ETags."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Dialect, Enum, MetaData, Numeric, String, TypeDecorator, Uuid
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from app.enums import EntityType

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python on every database (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; all times are UTC and timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ExactDecimal(TypeDecorator[Decimal]):
    """NUMERIC on PostgreSQL; on SQLite a string, because SQLite's NUMERIC is a float."""

    impl = Numeric(18, 6)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(18, 6))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


def str_enum(enum_class: type[StrEnum]) -> Enum:
    """Enums are stored as their string values (no native PostgreSQL type to migrate)."""
    return Enum(
        enum_class,
        native_enum=False,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        uuid.UUID: Uuid(),
        dict[str, Any]: JSON(),
        Decimal: ExactDecimal(),
    }


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


def same_time_as(other: str) -> Callable[[DefaultExecutionContext], datetime]:
    """A default that takes the row's `other` timestamp when it has one, else the time now. Given to
    both created_at and updated_at, a new row gets one timestamp for both, whichever of the two is
    filled first (explicitly, or by the other's default)."""

    def default(context: DefaultExecutionContext) -> datetime:
        value = context.get_current_parameters().get(other)  # type: ignore[no-untyped-call]
        return value if isinstance(value, datetime) else utcnow()

    return default


class CreatedAtMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TimestampsMixin(CreatedAtMixin):
    """On creation, updated_at equals created_at exactly."""

    created_at: Mapped[datetime] = mapped_column(default=same_time_as("updated_at"))
    updated_at: Mapped[datetime] = mapped_column(default=same_time_as("created_at"), onupdate=utcnow)


class VersionedMixin:
    """An integer bumped on every UPDATE; it is the ETag, and stale writes fail."""

    version: Mapped[int] = mapped_column(default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}


# A bulk statement (Core insert/update/delete) on an audited table bypasses the per-object audit
# check; it must carry this execution option, which says that the caller records the change itself.
AUDITED_BULK = "audited_bulk"


class Audited:
    """A model whose every change needs an audit record in the same transaction.

    The record's old/new values are read from the mapped row (app/services/audit.py): every mapped
    column is in them except the ones named here. A new column is audited without further work;
    leaving one out is a decision made here, in the open.
    """

    __audit_entity__: ClassVar[EntityType]
    # id and organization_id are the record's own entity_id and organization_id; created_at is the
    # creation record's time; version and updated_at move with every write and say nothing new.
    __audit_internal__: ClassVar[frozenset[str]] = frozenset(
        {"id", "organization_id", "created_at", "updated_at", "version"}
    )
