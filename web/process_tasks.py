"""Finding the open human tasks of one record's instances by business key, for links from the staff and provider pages."""

from engine.models import HumanTask
from engine.runtime import Actor, Engine

# No record has this many open tasks at once; the limit only bounds the query.
TASKS_PER_RECORD = 20


def tasks_for_key(engine: Engine, actor: Actor, process_id: str, business_key: str) -> list[HumanTask]:
    """Return the actor's open tasks of the ``process_id`` instances whose business key is ``business_key``."""
    return engine.list_tasks(actor, process_id=process_id, business_key=business_key, limit=TASKS_PER_RECORD)


def open_task(engine: Engine, actor: Actor, process_id: str, business_key: str, element_id: str) -> HumanTask | None:
    """Return the actor's first open ``element_id`` task of the instance with ``business_key``, or None."""
    return next((task for task in tasks_for_key(engine, actor, process_id, business_key) if task.element_id == element_id), None)


def recipient_tasks(engine: Engine, actor: Actor, business_keys: dict[int, str]) -> dict[int, list[HumanTask]]:
    """Return the actor's open tasks of each provider's enquiry_recipient instance, by provider id."""
    return {provider_id: tasks_for_key(engine, actor, "enquiry_recipient", key) for provider_id, key in business_keys.items()}


def review_task_for(engine: Engine, actor: Actor, package_key: str, pending_request_ids: list[int], request_id: int) -> HumanTask | None:
    """Return the open review_change task of the care_package instance ``package_key`` that reviews change request ``request_id``.

    The record_change service task stores a request and opens its review task in one transaction,
    so the package's pending requests in id order match its open review tasks in creation order.
    When the counts differ (a request stored outside the diagram), no task is returned.
    """
    tasks = [task for task in tasks_for_key(engine, actor, "care_package", package_key) if task.element_id == "review_change"]
    if request_id not in pending_request_ids or len(tasks) != len(pending_request_ids):
        return None

    # NOTE: two review tasks created at the same instant would sort by id, which need not follow the request ids.
    tasks.sort(key=lambda task: (task.created_at, task.id))
    return tasks[sorted(pending_request_ids).index(request_id)]
