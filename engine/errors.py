"""Exceptions raised by the engine; every one derives from EngineError and carries the ids involved."""


class EngineError(Exception):
    """Base class for every error the engine raises on purpose."""


class NotFoundError(EngineError):
    """A process, version, instance, task or incident does not exist."""

    def __init__(self, kind: str, key: object):
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class ConflictError(EngineError):
    """Another writer changed the record first; reload and try again."""


class AccessDeniedError(EngineError):
    """The acting user may not do this to the task or instance."""


class FieldError:
    """One invalid form field: its id and a message a person can act on."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message

    def __repr__(self) -> str:
        return f"FieldError({self.field!r}, {self.message!r})"

    def as_dict(self) -> dict:
        return {"field": self.field, "message": self.message}


class FormValidationError(EngineError):
    """Submitted task data broke the form; ``errors`` lists every field at once."""

    def __init__(self, task_id: str, errors: list[FieldError]):
        summary = "; ".join(f"{e.field}: {e.message}" for e in errors)
        super().__init__(f"task {task_id}: invalid form data ({summary})")
        self.task_id = task_id
        self.errors = errors


class DiagramError(EngineError):
    """A diagram failed to parse or lint; ``problems`` contains every finding."""

    def __init__(self, problems: list):
        lines = "\n".join(str(p) for p in problems)
        super().__init__(f"diagram rejected:\n{lines}")
        self.problems = problems


class StateVersionError(EngineError):
    """An instance's stored SpiffWorkflow state has a serializer version that the engine cannot load."""

    def __init__(self, instance_id: str | None, version: object, message: str):
        super().__init__(message)
        self.instance_id = instance_id
        self.version = version


class ScriptError(EngineError):
    """A condition, input mapping or script failed or tried something forbidden."""


class MessageNotDeliveredError(EngineError):
    """No instance was waiting for the message that was sent."""

    def __init__(self, name: str, business_key=None, correlation=None):
        where = []
        if business_key is not None:
            where.append(f"business key {business_key!r}")
        if correlation:
            where.append(f"correlation {correlation!r}")
        scope = " with " + " and ".join(where) if where else ""
        super().__init__(f"no instance{scope} is waiting for message {name!r}")
        self.name = name
        self.business_key = business_key
        self.correlation = correlation


class BusinessError(EngineError):
    """A handler outcome that the diagram routes with an error boundary event.

    ``code`` matches the ``errorCode`` of a BPMN error; when no boundary event
    catches it, the job becomes an incident without retries.
    """

    def __init__(self, code: str, message: str, details: dict | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}


class TransientError(EngineError):
    """A handler failure worth retrying later (time-out, 429, 5xx, connection refused)."""


class HandlerTimeoutError(TransientError):
    """A handler ran longer than its topic's time-out; it is retried like any transient failure."""
