"""Building the shared objects (database, handler registry, engine) from settings."""

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from careplace.config import Settings
from careplace.db import make_db_engine, make_session_factory
from engine.handler_api import HandlerRegistry
from engine.runtime import Engine
from handlers.config import HandlerSettings
from handlers.email import TEMPLATE_NAMES
from handlers.registry import build_registry

STAFF_GROUPS = {"care_manager", "provider_services", "analyst", "admin", "provider_user"}


@dataclass
class Services:
    settings: Settings
    handler_settings: HandlerSettings
    session_factory: sessionmaker[Session]
    registry: HandlerRegistry
    engine: Engine


def build_services(settings: Settings, handler_settings: HandlerSettings | None = None) -> Services:
    handler_settings = handler_settings or HandlerSettings.from_env()
    session_factory = make_session_factory(make_db_engine(settings.database_url))
    registry = build_registry(handler_settings)
    engine = Engine(session_factory, registry, known_groups=STAFF_GROUPS, known_templates=set(TEMPLATE_NAMES))
    return Services(settings, handler_settings, session_factory, registry, engine)
