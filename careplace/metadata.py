"""The table metadata of every package, for Alembic and for test clean-up."""

from sqlalchemy import MetaData

import care.models
import engine.models
import scheduler.models


def all_metadata() -> list[MetaData]:
    return [engine.models.Base.metadata, care.models.Base.metadata, scheduler.models.Base.metadata]
