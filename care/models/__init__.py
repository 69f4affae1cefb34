"""Tables of the care marketplace domain."""

from care.models.base import Base
from care.models import messaging  # noqa: F401  (registers the outbox and notification tables)

__all__ = ["Base"]
