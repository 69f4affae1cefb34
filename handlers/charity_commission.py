"""Charity checks: a client for the Charity Commission register API and the charity_commission.check_charity topic."""

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

TOPIC = "charity_commission.check_charity"
CHARITY_PATH = "/allcharitydetailsV2/{registeredNumber}/{suffix}"
CHARITY_NUMBER_PATTERN = re.compile(r"^\d{6,8}$")

INPUTS = {
    "charity_number": "registered charity number, e.g. 1200001",
    "charity_suffix": "optional: subsidiary suffix, 0 (the default) for the main charity",
    "charity_name": "optional: the name the provider gave, compared ignoring case, punctuation and a trailing Ltd or Limited",
}
OUTPUTS = {
    "charity_number": "the registered charity number",
    "charity_name": "the name the register holds",
    "charity_registration_status": "always R (registered), because any other status raises an error",
    "charity_registration_date": "date of registration (YYYY-MM-DD), or None",
    "charity_company_number": "Companies House number of a charitable company, or None",
}
ERRORS = {
    "CHARITY_NOT_FOUND": "the register has no charity with this number and suffix",
    "CHARITY_REMOVED": "the charity's status is RM (removed from the register)",
    "CHARITY_NOT_REGISTERED": "the charity's status is neither R nor RM",
    "CHARITY_INSOLVENT": "the register marks the charity insolvent",
    "CHARITY_IN_ADMINISTRATION": "the register marks the charity in administration",
    "CHARITY_NAME_MISMATCH": "charity_name was given and differs from the registered name",
    "CHARITY_INVALID_INPUT": "charity_number is missing or not 6 to 8 digits, or the suffix is not a whole number",
}


class CharityCommissionClient:
    """Reads charity details from the register API with the key in ``Ocp-Apim-Subscription-Key``."""

    def __init__(self, settings: HandlerSettings, policy: HttpPolicy | None = None):
        self.http = ServiceClient(
            "Charity Commission",
            settings.charity_commission_base_url,
            policy or HttpPolicy.from_settings(settings),
            required={
                env_name("charity_commission_base_url"): settings.charity_commission_base_url,
                env_name("charity_commission_api_key"): settings.charity_commission_api_key,
            },
            headers={"Ocp-Apim-Subscription-Key": settings.charity_commission_api_key},
            max_requests_per_second=settings.charity_commission_max_requests_per_second,
        )

    def close(self) -> None:
        self.http.close()

    def get_charity(self, number: str, suffix: int = 0) -> dict[str, Any] | None:
        """Fetch ``GET allcharitydetailsV2/{number}/{suffix}``, returning None for a 404 or an empty body."""
        params = {"registeredNumber": number, "suffix": suffix}
        response = self.http.request("GET", CHARITY_PATH, path_params=params)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self.http.unexpected(response, "GET", CHARITY_PATH)

        # NOTE: the register API does not document whether an unknown number gets a
        # 404 or an empty 200 body, so both count as not found.
        if not response.content.strip():
            return None

        return self.http.json(response, "GET", CHARITY_PATH) or None


def check_charity(client: CharityCommissionClient, inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
    """Pass when the charity is registered, solvent and not in administration, and raise BusinessError otherwise."""
    number = require_text(inputs, "charity_number", "CHARITY_INVALID_INPUT").replace(" ", "")
    if not CHARITY_NUMBER_PATTERN.match(number):
        raise BusinessError(
            "CHARITY_INVALID_INPUT",
            f"charity number {number!r} is invalid; it must be 6 to 8 digits, e.g. 1200001",
            {"charity_number": number},
        )

    raw_suffix = inputs.get("charity_suffix") or 0
    try:
        suffix = int(raw_suffix)
    except (TypeError, ValueError):
        raise BusinessError(
            "CHARITY_INVALID_INPUT",
            f"charity suffix {raw_suffix!r} is not a whole number; use 0 for the main charity",
            {"charity_number": number},
        ) from None

    charity = client.get_charity(number, suffix)
    if charity is None:
        raise BusinessError(
            "CHARITY_NOT_FOUND",
            f"the Charity Commission register has no charity {number} (suffix {suffix}); check the number with the provider",
            {"charity_number": number, "charity_suffix": suffix},
        )

    status = charity.get("reg_status")
    registered_name = charity.get("charity_name") or ""
    details = {"charity_number": number, "charity_registration_status": status, "charity_name": registered_name}
    if status == "RM":
        details["charity_removal_date"] = charity.get("date_of_removal")
        raise BusinessError(
            "CHARITY_REMOVED",
            f"charity {number} was removed from the register on {charity.get('date_of_removal') or 'an unknown date'}; "
            "it cannot join the marketplace as a charity",
            details,
        )
    if status != "R":
        raise BusinessError(
            "CHARITY_NOT_REGISTERED",
            f"charity {number} has register status {status!r}, not 'R'; ask the provider why",
            details,
        )
    if charity.get("insolvent"):
        raise BusinessError(
            "CHARITY_INSOLVENT",
            f"the register marks charity {number} insolvent; refer it to the provider services team",
            details,
        )
    if charity.get("in_administration"):
        raise BusinessError(
            "CHARITY_IN_ADMINISTRATION",
            f"the register marks charity {number} in administration; refer it to the provider services team",
            details,
        )

    given_name = str(inputs.get("charity_name") or "").strip()
    if given_name and not names_match(given_name, registered_name):
        details["given_charity_name"] = given_name
        raise BusinessError(
            "CHARITY_NAME_MISMATCH",
            f"charity {number} is registered as {registered_name!r}, not {given_name!r}; "
            "confirm the charity with the provider",
            details,
        )

    log.info("charity %s is registered (task %s)", number, context.task_id)
    return {
        "charity_number": number,
        "charity_name": registered_name,
        "charity_registration_status": status,
        "charity_registration_date": _date_part(charity.get("date_of_registration")),
        "charity_company_number": charity.get("charity_co_reg_number"),
    }


def _date_part(value: Any) -> str | None:
    """Cut the register's timestamps such as ``2019-07-01T00:00:00`` to the date."""
    return str(value)[:10] if value else None


def register(
    registry: HandlerRegistry, settings: HandlerSettings, client: CharityCommissionClient | None = None
) -> CharityCommissionClient:
    """Register the charity_commission.check_charity topic and return the client it uses."""
    client = client or CharityCommissionClient(settings)
    registry.register(
        TopicSpec(
            topic=TOPIC,
            handler=functools.partial(check_charity, client),
            description=(
                "Check that a charity is on the Charity Commission register, solvent and not in administration. "
                "Time-outs, 429 and 5xx are retried and then raise a transient error."
            ),
            inputs=INPUTS,
            outputs=OUTPUTS,
            errors=ERRORS,
            timeout=client.http.policy.worst_case_seconds(calls=1) + 5,
        )
    )
    return client
