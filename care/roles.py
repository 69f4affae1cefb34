"""The engine groups that each portal role and provider belongs to, shared by the portal and the API."""

from care.models.people import Role


def provider_group(provider_id: int) -> str:
    """Return the group that diagrams offer a provider's tasks to, as ``${'provider-' + str(provider_id)}``."""
    return f"provider-{provider_id}"


def engine_groups(role: str, provider_id: int | None) -> frozenset[str]:
    """Return the engine groups of a person or service account with ``role``.

    A provider user's only group is its provider's, so a task offered to the
    provider-user role as a whole never reaches every provider.
    """
    if role == Role.PROVIDER_USER:
        return frozenset({provider_group(provider_id)})

    return frozenset({role})
