"""Simulated register APIs: CQC under /cqc/public/v1, Companies House under /companies-house, Charity Commission under /charity-commission/register/api."""

import copy
from typing import Any

from flask import Blueprint, jsonify, request

from handlers.simulators.common import current_state, error_response, simulate

APIM_MESSAGES = {
    400: "Bad request",
    401: "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.",
    403: "Forbidden",
    404: "Resource not found",
    429: "Rate limit is exceeded. Try again later.",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}
COMPANIES_HOUSE_ERRORS = {
    400: "bad-request",
    401: "Invalid Authorization",
    403: "forbidden",
    404: "company-profile-not-found",
    429: "rate-limit-exceeded",
    500: "internal-server-error",
    502: "bad-gateway",
    503: "service-unavailable",
    504: "gateway-timeout",
}

cqc = Blueprint("cqc", __name__, url_prefix="/cqc/public/v1")
companies_house = Blueprint("companies_house", __name__, url_prefix="/companies-house")
charity_commission = Blueprint("charity_commission", __name__, url_prefix="/charity-commission/register/api")


def apim_error(status: int) -> dict[str, Any]:
    """Azure API Management's error shape, which the CQC and Charity Commission APIs sit behind."""
    return {"statusCode": status, "message": APIM_MESSAGES.get(status, "Error")}


def companies_house_error(status: int) -> dict[str, Any]:
    return {"errors": [{"error": COMPANIES_HOUSE_ERRORS.get(status, "error"), "type": "ch:service"}]}


def _subscription_key_valid(expected: str) -> bool:
    return bool(expected) and request.headers.get("Ocp-Apim-Subscription-Key") == expected


@cqc.get("/providers/<provider_id>")
def get_provider(provider_id: str):
    def view():
        state = current_state()
        if not _subscription_key_valid(state.cqc_api_key):
            return error_response(401, apim_error(401))

        with state.lock:
            provider = copy.deepcopy(state.providers.get(provider_id))
        if provider is None:
            return error_response(404, apim_error(404))

        return jsonify(provider)

    return simulate("cqc", "get_provider", view, apim_error)


@companies_house.get("/company/<company_number>")
def get_company(company_number: str):
    def view():
        state = current_state()
        auth = request.authorization
        if auth is None or auth.type != "basic" or auth.username != state.companies_house_api_key or auth.password:
            return error_response(401, companies_house_error(401))

        with state.lock:
            company = copy.deepcopy(state.companies.get(company_number))
        if company is None:
            return error_response(404, companies_house_error(404))

        return jsonify(company)

    return simulate("companies_house", "get_company", view, companies_house_error)


@charity_commission.get("/allcharitydetailsV2/<charity_number>/<int:suffix>")
def get_charity(charity_number: str, suffix: int):
    def view():
        state = current_state()
        if not _subscription_key_valid(state.charity_commission_api_key):
            return error_response(401, apim_error(401))

        with state.lock:
            charity = copy.deepcopy(state.charities.get(charity_number))
        if charity is None or charity.get("group_subsid_suffix", 0) != suffix:
            return error_response(404, apim_error(404))

        return jsonify(charity)

    return simulate("charity_commission", "get_charity", view, apim_error)
