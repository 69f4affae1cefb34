"""Declarative base, column types and shared columns for the domain tables, with a naming convention Alembic can rely on."""

from collections.abc import Iterable
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from engine import clock

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Money and hours are exact decimals. SQLite keeps them as REAL, which is exact to the declared scale
# because every value has at most 12 significant digits and SQLAlchemy rounds to the scale on read.
UnitPrice = sa.Numeric(10, 2, asdecimal=True)
Amount = sa.Numeric(12, 2, asdecimal=True)
Hours = sa.Numeric(7, 2, asdecimal=True)


class UtcDateTime(sa.types.TypeDecorator):
    """An aware datetime stored in UTC, read back as UTC on SQLite too, which drops the offset."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None

        if value.tzinfo is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} rejected: pass an aware datetime, for example from engine.clock.now()"
            )

        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None

        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)

        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


class Timestamped:
    """Mixin for ``created_at`` and ``updated_at``, both taken from ``engine.clock`` so tests can move them."""

    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now, onupdate=clock.now)


def one_of(column: str, values: Iterable[str], name: str | None = None) -> sa.CheckConstraint:
    """Build a CHECK constraint that limits ``column`` to ``values``, named after the column unless ``name`` is given."""
    quoted = ", ".join(f"'{value}'" for value in values)

    return sa.CheckConstraint(f"{column} IN ({quoted})", name=name or column)


def personal_column(type_: sa.types.TypeEngine, **kwargs) -> Mapped:
    """Declare a column that contains personal data, which ``personal_fields`` lists for masking and exports."""
    info = dict(kwargs.pop("info", {}))
    info["personal"] = True

    return mapped_column(type_, info=info, **kwargs)


def personal_fields(model: type[Base]) -> list[str]:
    """Return the names of the columns of ``model`` declared with ``personal_column``."""
    return [column.key for column in model.__table__.columns if column.info.get("personal")]
