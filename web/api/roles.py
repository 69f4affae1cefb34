"""Which roles may call which group of endpoints, and the provider scoping of provider tokens."""

from care.models.people import Role

ALL_ROLES = frozenset(role.value for role in Role)
# Council staff who read process state; analysts included, providers not.
STAFF = frozenset({Role.CARE_MANAGER.value, Role.PROVIDER_SERVICES.value, Role.ANALYST.value, Role.ADMIN.value})
# Council staff who change process state: start instances, send messages, raise enquiries.
CASEWORK = frozenset({Role.CARE_MANAGER.value, Role.PROVIDER_SERVICES.value, Role.ADMIN.value})
PROVIDERS_AND_STAFF = STAFF | {Role.PROVIDER_USER.value}
PAYMENT_READERS = frozenset({Role.PROVIDER_USER.value, Role.PROVIDER_SERVICES.value, Role.ANALYST.value, Role.ADMIN.value})
OPERATORS = frozenset({Role.ANALYST.value, Role.ADMIN.value})
ADMIN_ONLY = frozenset({Role.ADMIN.value})
