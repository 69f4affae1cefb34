"""Finding the open human tasks that belong to one enquiry or one provider, for links from the staff pages."""

from engine.models import HumanTask
from engine.runtime import Actor, Engine

# NOTE: the enquiry and provider_onboarding instances have no business key that names their record,
# so their tasks are matched by reading each candidate instance's variables. This looks at no more
# than SCAN_LIMIT open tasks; setting the record id as the business key at start would remove the scan.
SCAN_LIMIT = 200


def tasks_for_record(engine: Engine, actor: Actor, process_id: str, variable: str, record_id: int) -> list[HumanTask]:
    """Return the actor's open tasks of ``process_id`` whose instance variable ``variable`` equals ``record_id``."""
    matches = []
    checked: dict[str, bool] = {}
    for task in engine.list_tasks(actor, process_id=process_id, limit=SCAN_LIMIT):
        if task.instance_id not in checked:
            checked[task.instance_id] = engine.instance_data(task.instance_id).get(variable) == record_id
        if checked[task.instance_id]:
            matches.append(task)

    return matches


def recipient_tasks(engine: Engine, actor: Actor, business_keys: dict[int, str]) -> dict[int, list[HumanTask]]:
    """Return the actor's open tasks of each provider's enquiry_recipient instance, by provider id."""
    return {provider_id: engine.list_tasks(actor, business_key=key, limit=20) for provider_id, key in business_keys.items()}
