"""Company checks: a client for the Companies House public data API and the companies_house.check_company topic."""

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

TOPIC = "companies_house.check_company"
COMPANY_PATH = "/company/{company_number}"
COMPANY_NUMBER_PATTERN = re.compile(r"^[A-Z0-9]{8}$")
INSOLVENT_STATUSES = frozenset(
    {"liquidation", "receivership", "administration", "voluntary-arrangement", "insolvency-proceedings"}
)

INPUTS = {
    "company_number": "Companies House number, e.g. 09000001 or SC000001; a shorter all-digit number is padded with zeros",
    "company_name": "optional: the name the provider gave, compared ignoring case, punctuation and a trailing Ltd or Limited",
}
OUTPUTS = {
    "company_number": "the company number in Companies House form (eight characters)",
    "company_name": "the name Companies House holds",
    "company_status": "always active, because any other status raises an error",
    "company_status_detail": "Companies House status detail, or None",
    "company_date_of_creation": "incorporation date (YYYY-MM-DD), or None",
    "company_postal_code": "postcode of the registered office, or None",
    "company_has_insolvency_history": "True when the company has had insolvency proceedings in the past",
}
ERRORS = {
    "COMPANY_NOT_FOUND": "Companies House has no company with this number",
    "COMPANY_DISSOLVED": "the company status is dissolved",
    "COMPANY_INSOLVENT": "the company is in liquidation, receivership, administration, a voluntary arrangement or insolvency proceedings",
    "COMPANY_NOT_ACTIVE": "any other status that is not active, e.g. converted-closed",
    "COMPANY_NAME_MISMATCH": "company_name was given and differs from the registered name",
    "COMPANY_INVALID_INPUT": "company_number is missing or not eight letters and digits",
}


class CompaniesHouseClient:
    """Reads company profiles, authenticating with HTTP Basic: the API key as user name and an empty password."""

    def __init__(self, settings: HandlerSettings, policy: HttpPolicy | None = None):
        self.http = ServiceClient(
            "Companies House",
            settings.companies_house_base_url,
            policy or HttpPolicy.from_settings(settings),
            required={
                env_name("companies_house_base_url"): settings.companies_house_base_url,
                env_name("companies_house_api_key"): settings.companies_house_api_key,
            },
            auth=(settings.companies_house_api_key, ""),
            max_requests_per_second=settings.companies_house_max_requests_per_second,
        )

    def close(self) -> None:
        self.http.close()

    def get_company(self, company_number: str) -> dict[str, Any] | None:
        """Fetch ``GET /company/{company_number}``, returning None when Companies House responds with 404."""
        response = self.http.request("GET", COMPANY_PATH, path_params={"company_number": company_number})
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self.http.unexpected(response, "GET", COMPANY_PATH)

        return self.http.json(response, "GET", COMPANY_PATH)


def normalise_company_number(raw: str) -> str:
    """Upper-case the number, drop spaces and pad an all-digit number to eight digits, as Companies House stores it."""
    number = re.sub(r"\s+", "", raw).upper()
    if number.isdigit():
        number = number.zfill(8)

    return number


def check_company(client: CompaniesHouseClient, inputs: dict[str, Any], context: HandlerContext) -> dict[str, Any]:
    """Pass when the company is active and has the name given, if any, and raise BusinessError otherwise."""
    number = normalise_company_number(require_text(inputs, "company_number", "COMPANY_INVALID_INPUT"))
    if not COMPANY_NUMBER_PATTERN.match(number):
        raise BusinessError(
            "COMPANY_INVALID_INPUT",
            f"company number {number!r} is invalid; it must be eight letters and digits, e.g. 09000001 or SC000001",
            {"company_number": number},
        )

    company = client.get_company(number)
    if company is None:
        raise BusinessError(
            "COMPANY_NOT_FOUND",
            f"Companies House has no company {number}; check the number with the provider",
            {"company_number": number},
        )

    status = company.get("company_status")
    registered_name = company.get("company_name") or ""
    details = {"company_number": number, "company_status": status, "company_name": registered_name}
    if status == "dissolved":
        details["company_date_of_cessation"] = company.get("date_of_cessation")
        raise BusinessError(
            "COMPANY_DISSOLVED",
            f"company {number} was dissolved on {company.get('date_of_cessation') or 'an unknown date'}; "
            "it cannot hold a contract",
            details,
        )
    if status in INSOLVENT_STATUSES:
        raise BusinessError(
            "COMPANY_INSOLVENT",
            f"company {number} has status {status!r}; refer it to the provider services team before any contract",
            details,
        )
    if status != "active":
        raise BusinessError(
            "COMPANY_NOT_ACTIVE",
            f"company {number} has status {status!r}, not 'active'; ask the provider which company is applying",
            details,
        )

    given_name = str(inputs.get("company_name") or "").strip()
    if given_name and not names_match(given_name, registered_name):
        details["given_company_name"] = given_name
        raise BusinessError(
            "COMPANY_NAME_MISMATCH",
            f"company {number} is registered as {registered_name!r}, not {given_name!r}; "
            "confirm the company with the provider",
            details,
        )

    log.info("company %s is active (task %s)", number, context.task_id)
    office = company.get("registered_office_address") or {}
    return {
        "company_number": number,
        "company_name": registered_name,
        "company_status": status,
        "company_status_detail": company.get("company_status_detail"),
        "company_date_of_creation": company.get("date_of_creation"),
        "company_postal_code": office.get("postal_code"),
        "company_has_insolvency_history": bool(company.get("has_insolvency_history")),
    }


def register(
    registry: HandlerRegistry, settings: HandlerSettings, client: CompaniesHouseClient | None = None
) -> CompaniesHouseClient:
    """Register the companies_house.check_company topic and return the client it uses."""
    client = client or CompaniesHouseClient(settings)
    registry.register(
        TopicSpec(
            topic=TOPIC,
            handler=functools.partial(check_company, client),
            description=(
                "Check that a company exists at Companies House and is active. "
                "Time-outs, 429 and 5xx are retried and then raise a transient error."
            ),
            inputs=INPUTS,
            outputs=OUTPUTS,
            errors=ERRORS,
            timeout=client.http.policy.worst_case_seconds(calls=1) + 5,
        )
    )
    return client
