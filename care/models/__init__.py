"""Tables of the care marketplace domain."""

from care.models.base import Base

__all__ = ["Base"]
