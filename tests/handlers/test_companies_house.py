"""The Companies House client and the companies_house.check_company topic, over real HTTP against the simulator."""

import pytest
import requests

from engine.errors import BusinessError, TransientError
from engine.handler_api import HandlerRegistry
from handlers import companies_house
from handlers.http import UnexpectedResponseError


@pytest.fixture
def client(settings):
    client = companies_house.CompaniesHouseClient(settings)
    yield client
    client.close()


@pytest.fixture
def check(client, make_context):
    registry = HandlerRegistry()
    companies_house.register(registry, None, client=client)
    handler = registry.get(companies_house.TOPIC).handler

    def run(**inputs):
        return handler(inputs, make_context(companies_house.TOPIC))

    return run


def test_check_company_active(check):
    outputs = check(company_number="09000001", company_name="Brightwater Home Care Ltd")

    assert outputs["company_number"] == "09000001"
    assert outputs["company_name"] == "BRIGHTWATER HOME CARE LTD"
    assert outputs["company_status"] == "active"
    assert outputs["company_date_of_creation"] == "2014-11-20"
    assert outputs["company_postal_code"] == "ZZ1 1AA"
    assert outputs["company_has_insolvency_history"] is False


def test_check_company_pads_short_number(check):
    assert check(company_number=" 9000001 ")["company_number"] == "09000001"


def test_check_company_dissolved(check):
    with pytest.raises(BusinessError) as caught:
        check(company_number="09000003")

    assert caught.value.code == "COMPANY_DISSOLVED"
    assert caught.value.details["company_date_of_cessation"] == "2022-03-15"


def test_check_company_dissolved_switched_over_http(sim, check):
    response = requests.patch(
        sim.base_url + "/_sim/companies-house/companies/09000002", json={"company_status": "dissolved"}, timeout=5
    )
    assert response.status_code == 200

    with pytest.raises(BusinessError) as caught:
        check(company_number="09000002")

    assert caught.value.code == "COMPANY_DISSOLVED"


def test_check_company_liquidation(check):
    with pytest.raises(BusinessError) as caught:
        check(company_number="09000004")

    assert caught.value.code == "COMPANY_INSOLVENT"
    assert caught.value.details["company_status"] == "liquidation"


def test_check_company_converted_closed(sim, check):
    sim.state.update_company("09000001", company_status="converted-closed")

    with pytest.raises(BusinessError) as caught:
        check(company_number="09000001")

    assert caught.value.code == "COMPANY_NOT_ACTIVE"


def test_check_company_not_found(check):
    with pytest.raises(BusinessError) as caught:
        check(company_number="09999999")

    assert caught.value.code == "COMPANY_NOT_FOUND"


def test_check_company_name_mismatch(check):
    with pytest.raises(BusinessError) as caught:
        check(company_number="09000001", company_name="Meadowlark Care Services Ltd")

    assert caught.value.code == "COMPANY_NAME_MISMATCH"


@pytest.mark.parametrize("number", ["0900000123", "09-00001", "SC00001?"])
def test_check_company_invalid_number(check, number):
    with pytest.raises(BusinessError) as caught:
        check(company_number=number)

    assert caught.value.code == "COMPANY_INVALID_INPUT"


def test_check_company_429_then_success(sim, check):
    sim.state.add_fault("companies_house", status=429, retry_after=1, times=1)

    assert check(company_number="09000001")["company_status"] == "active"
    assert sim.state.call_count("companies_house", "get_company") == 2


def test_check_company_503_exhausted(sim, check):
    sim.state.add_fault("companies_house", status=503)

    with pytest.raises(TransientError, match="HTTP 503"):
        check(company_number="09000001")


def test_check_company_bad_key(sim, check):
    sim.state.companies_house_api_key = "another-key"

    with pytest.raises(UnexpectedResponseError) as caught:
        check(company_number="09000001")

    assert caught.value.status == 401
