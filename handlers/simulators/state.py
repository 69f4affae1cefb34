"""In-memory state of the simulators: register records, injected faults, call counts and the PayPal book."""

import copy
import threading
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from handlers.simulators import fixtures
from handlers.simulators.paypal_book import PayPalBook

APIS = ("cqc", "companies_house", "charity_commission", "paypal")
FAULT_STATUSES = frozenset({400, 401, 403, 404, 429, 500, 502, 503, 504})


@dataclass
class Fault:
    """A failure injected into matching requests of one simulated API.

    ``operation`` narrows the fault to one endpoint (for example
    ``get_provider`` or ``create_payout``); None matches every endpoint of the
    API. ``delay`` waits before handling the request, which simulates a slow
    service. ``delay_after`` handles the request and then waits before
    responding, which simulates a response lost after the work was done.
    ``status`` responds with that error status in the API's own error shape
    instead of handling the request, and ``retry_after`` adds a Retry-After
    header in seconds. ``times`` is how many requests the fault affects; None means
    every request until the faults are cleared.
    """

    api: str
    operation: str | None = None
    status: int | None = None
    delay: float = 0.0
    delay_after: float = 0.0
    retry_after: int | None = None
    times: int | None = None

    def __post_init__(self) -> None:
        if self.api not in APIS:
            raise ValueError(f"fault api {self.api!r} is unknown; use one of {', '.join(APIS)}")
        if self.status is not None and self.status not in FAULT_STATUSES:
            raise ValueError(f"fault status {self.status} is not simulated; use one of {sorted(FAULT_STATUSES)}")
        if self.delay < 0 or self.delay_after < 0:
            raise ValueError("fault delays must be zero or more seconds")
        if self.times is not None and self.times < 1:
            raise ValueError(f"fault times {self.times} must be at least 1, or None for every request")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SimulatorState:
    """Everything the simulators remember, guarded by one re-entrant lock so request threads and tests can share it.

    Tests and the demo flip the switches here in Python; the ``/_sim/``
    control endpoints call the same methods over HTTP.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.reset()

    def reset(self) -> None:
        """Restore the invented records and credentials and forget faults, calls and payouts."""
        with self.lock:
            self.cqc_api_key = fixtures.CQC_API_KEY
            self.companies_house_api_key = fixtures.COMPANIES_HOUSE_API_KEY
            self.charity_commission_api_key = fixtures.CHARITY_COMMISSION_API_KEY
            self.providers: dict[str, dict[str, Any]] = copy.deepcopy(fixtures.CQC_PROVIDERS)
            self.companies: dict[str, dict[str, Any]] = copy.deepcopy(fixtures.COMPANIES)
            self.charities: dict[str, dict[str, Any]] = copy.deepcopy(fixtures.CHARITIES)
            self.faults: list[Fault] = []
            self.calls: Counter[str] = Counter()
            self.paypal = PayPalBook(
                self.lock, fixtures.PAYPAL_CLIENT_ID, fixtures.PAYPAL_SECRET, fixtures.PAYPAL_WEBHOOK_ID
            )

    def add_fault(self, api: str, **options: Any) -> Fault:
        """Inject a fault with the options that ``Fault`` describes. Faults apply in the order they were added."""
        fault = Fault(api, **options)
        with self.lock:
            self.faults.append(fault)

        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def take_fault(self, api: str, operation: str) -> Fault | None:
        """Return the first fault matching a request and use up one of its ``times``."""
        with self.lock:
            for fault in self.faults:
                if fault.api != api or fault.operation not in (None, operation):
                    continue

                if fault.times is not None:
                    fault.times -= 1
                    if fault.times == 0:
                        self.faults.remove(fault)

                return fault

        return None

    def count_call(self, api: str, operation: str) -> None:
        with self.lock:
            self.calls[f"{api}.{operation}"] += 1

    def call_count(self, api: str, operation: str) -> int:
        with self.lock:
            return self.calls[f"{api}.{operation}"]

    def update_provider(self, provider_id: str, **fields: Any) -> dict[str, Any]:
        """Create or change a CQC provider, e.g. ``update_provider("1-000000001", registrationStatus="Deregistered")``."""
        return self._update(self.providers, provider_id, {"providerId": provider_id, "locationIds": []}, fields)

    def update_company(self, company_number: str, **fields: Any) -> dict[str, Any]:
        """Create or change a company, e.g. ``update_company("09000001", company_status="dissolved")``."""
        return self._update(self.companies, company_number, {"company_number": company_number}, fields)

    def update_charity(self, charity_number: str, **fields: Any) -> dict[str, Any]:
        """Create or change a charity, e.g. ``update_charity("1200001", reg_status="RM")``."""
        defaults = {"reg_charity_number": int(charity_number), "group_subsid_suffix": 0}
        return self._update(self.charities, charity_number, defaults, fields)

    def _update(
        self, records: dict[str, dict[str, Any]], key: str, defaults: dict[str, Any], fields: dict[str, Any]
    ) -> dict[str, Any]:
        with self.lock:
            record = records.setdefault(key, defaults)
            record.update(copy.deepcopy(fields))
            return copy.deepcopy(record)

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less when the server is stopping."""
        if seconds > 0:
            self.stopping.wait(seconds)
