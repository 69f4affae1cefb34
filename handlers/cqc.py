"""CQC registration checks: a client for the CQC public API (v1) and the cqc.check_registration topic."""

import functools
import logging
import re
from typing import Any

from engine.errors import BusinessError
from engine.handler_api import HandlerContext, HandlerRegistry, TopicSpec
from handlers.checks import names_match, require_text
from handlers.config import HandlerSettings, env_name
from handlers.http import HttpPolicy, ServiceClient

log = logging.getLogger(__name__)

TOPIC = "cqc.check_registration"
PROVIDER_PATH = "/providers/{providerId}"
PROVIDER_ID_PATTERN = re.compile(r"^\d+-\d+$")

INPUTS = {
    "cqc_provider_id": "CQC provider id as the provider gave it, e.g. 1-000000001",
    "provider_name": "the provider's legal name as it gave it; compared ignoring case, punctuation and a trailing Ltd or Limited",
}
OUTPUTS = {
    "cqc_registration_status": "always Registered, because any other status raises an error",
    "cqc_registered_name": "the name CQC holds for the provider",
    "cqc_registration_date": "date of registration with CQC (YYYY-MM-DD), or None",
    "cqc_overall_rating": "Outstanding, Good, Requires improvement or Inadequate; None when not yet rated",
    "cqc_rating_date": "report date of the overall rating (YYYY-MM-DD), or None",
    "cqc_location_ids": "list of the provider's CQC location ids",
    "cqc_companies_house_number": "Companies House number CQC holds for the provider, or None",
    "cqc_postal_code": "postcode of the provider's registered address, or None",
    "cqc_provider_type": "CQC provider type, e.g. Social Care Org",
}
ERRORS = {
    "CQC_NOT_FOUND": "CQC has no provider with this id",
    "CQC_DEREGISTERED": "the provider's registration status is Deregistered",
    "CQC_NOT_REGISTERED": "the provider's registration status is neither Registered nor Deregistered",
    "CQC_NAME_MISMATCH": "the name CQC holds differs from the name the provider gave",
    "CQC_INVALID_INPUT": "an input is missing or the provider id is not of the form 1-000000001",
}


class CqcClient:
    """Reads providers from the CQC public API with the subscription key in ``Ocp-Apim-Subscription-Key``."""

    def __init__(self, settings: HandlerSettings, policy: HttpPolicy | None = None):
        self.http = ServiceClient(
            "CQC",
            settings.cqc_base_url,
            policy or HttpPolicy.from_settings(settings),
            required={
                env_name("cqc_base_url"): settings.cqc_base_url,
                env_name("cqc_api_key"): settings.cqc_api_key,
            },
            headers={"Ocp-Apim-Subscription-Key": settings.cqc_api_key},
            max_requests_per_second=settings.cqc_max_requests_per_second,
        )

    def close(self) -> None:
        self.http.close()

    def get_provider(self, provider_id: str) -> dict[str, Any] | None:
        """Fetch ``GET /providers/{providerId}``, returning None when CQC responds with 404.

        Raises TransientError for time-outs, refused connections, 429 and 5xx,
        and UnexpectedResponseError for any other status (401 means a bad key).
        """
        response = self.http.request("GET", PROVIDER_PATH, path_params={"providerId": provider_id})
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self.http.unexpected(response, "GET", PROVIDER_PATH)

        return self.http.json(response, "GET", PROVIDER_PATH)


def check_registration(client: CqcClient, inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
    """Pass when CQC lists the provider as Registered under the name it gave, and raise BusinessError otherwise."""
    provider_id = require_text(inputs, "cqc_provider_id", "CQC_INVALID_INPUT")
    given_name = require_text(inputs, "provider_name", "CQC_INVALID_INPUT")
    if not PROVIDER_ID_PATTERN.match(provider_id):
        raise BusinessError(
            "CQC_INVALID_INPUT",
            f"CQC provider id {provider_id!r} is invalid; it must look like 1-000000001",
            {"cqc_provider_id": provider_id},
        )

    provider = client.get_provider(provider_id)
    if provider is None:
        raise BusinessError(
            "CQC_NOT_FOUND",
            f"CQC has no provider {provider_id}; check the id on the CQC register with the provider",
            {"cqc_provider_id": provider_id},
        )

    status = provider.get("registrationStatus")
    registered_name = provider.get("name") or ""
    details = {"cqc_provider_id": provider_id, "cqc_registration_status": status, "cqc_registered_name": registered_name}
    if status == "Deregistered":
        details["cqc_deregistration_date"] = provider.get("deregistrationDate")
        raise BusinessError(
            "CQC_DEREGISTERED",
            f"CQC provider {provider_id} was deregistered on {provider.get('deregistrationDate') or 'an unknown date'}; "
            "it cannot join the marketplace unless it registers again",
            details,
        )
    if status != "Registered":
        raise BusinessError(
            "CQC_NOT_REGISTERED",
            f"CQC provider {provider_id} has registration status {status!r}, not 'Registered'; ask the provider why",
            details,
        )
    if not names_match(given_name, registered_name):
        details["provider_name"] = given_name
        raise BusinessError(
            "CQC_NAME_MISMATCH",
            f"CQC provider {provider_id} is registered as {registered_name!r}, not {given_name!r}; "
            "confirm with the provider which organisation is applying",
            details,
        )

    log.info("CQC provider %s is registered (task %s)", provider_id, context.task_id)
    overall = (provider.get("currentRatings") or {}).get("overall") or {}
    return {
        "cqc_registration_status": status,
        "cqc_registered_name": registered_name,
        "cqc_registration_date": provider.get("registrationDate"),
        "cqc_overall_rating": overall.get("rating"),
        "cqc_rating_date": overall.get("reportDate"),
        "cqc_location_ids": list(provider.get("locationIds") or []),
        "cqc_companies_house_number": provider.get("companiesHouseNumber"),
        "cqc_postal_code": provider.get("postalCode"),
        "cqc_provider_type": provider.get("type"),
    }


def register(registry: HandlerRegistry, settings: HandlerSettings, client: CqcClient | None = None) -> CqcClient:
    """Register the cqc.check_registration topic and return the client it uses (pass ``client`` to share one)."""
    client = client or CqcClient(settings)
    registry.register(
        TopicSpec(
            topic=TOPIC,
            handler=functools.partial(check_registration, client),
            description=(
                "Check that a provider is registered with the Care Quality Commission under the name it gave. "
                "Time-outs, 429 and 5xx from CQC are retried and then raise a transient error."
            ),
            inputs=INPUTS,
            outputs=OUTPUTS,
            errors=ERRORS,
            timeout=client.http.policy.worst_case_seconds(calls=1) + 5,
        )
    )
    return client
