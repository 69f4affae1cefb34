"""ServiceClient and its helpers: URL building, time-outs, retries, rate limits, configuration errors and log lines."""

import logging
import time

import pytest

from engine.errors import TransientError
from handlers.http import ConfigurationError, HttpPolicy, RateLimiter, ServiceClient, UnexpectedResponseError
from handlers.simulators import fixtures

PROVIDER_PATH = "/providers/{providerId}"


@pytest.fixture
def policy(settings) -> HttpPolicy:
    return HttpPolicy.from_settings(settings)


@pytest.fixture
def cqc_http(sim, policy):
    client = ServiceClient(
        "CQC",
        sim.cqc_base_url,
        policy,
        required={"CAREPLACE_CQC_BASE_URL": sim.cqc_base_url},
        headers={"Ocp-Apim-Subscription-Key": fixtures.CQC_API_KEY},
    )
    yield client
    client.close()


def test_request_encodes_path_values(cqc_http):
    response = cqc_http.request("GET", PROVIDER_PATH, path_params={"providerId": "1-0/../x?y"})

    assert response.request.url.endswith("/providers/1-0%2F..%2Fx%3Fy")


def test_request_logs_template_not_values(cqc_http, caplog):
    caplog.set_level(logging.INFO, logger="handlers.http")

    cqc_http.request("GET", PROVIDER_PATH, path_params={"providerId": "1-000000001"})

    messages = [record.getMessage() for record in caplog.records if record.name == "handlers.http"]
    assert len(messages) == 1
    assert "GET" in messages[0]
    assert "/providers/{providerId} -> 200" in messages[0]
    assert "1-000000001" not in messages[0]


def test_request_logs_each_retry(sim, cqc_http, caplog):
    caplog.set_level(logging.WARNING, logger="handlers.http")
    sim.state.add_fault("cqc", status=502, times=2)

    response = cqc_http.request("GET", PROVIDER_PATH, path_params={"providerId": "1-000000001"})

    retries = [record.getMessage() for record in caplog.records if "retrying after HTTP 502" in record.getMessage()]
    assert response.status_code == 200
    assert len(retries) == 2


def test_request_unset_settings(policy):
    client = ServiceClient("CQC", "", policy, required={"CAREPLACE_CQC_BASE_URL": "", "CAREPLACE_CQC_API_KEY": ""})
    try:
        with pytest.raises(ConfigurationError, match="CAREPLACE_CQC_BASE_URL, CAREPLACE_CQC_API_KEY must be set"):
            client.request("GET", PROVIDER_PATH, path_params={"providerId": "1-000000001"})
    finally:
        client.close()


def test_request_retries_read_timeout(sim, cqc_http):
    sim.state.add_fault("cqc", delay=1.0, times=1)

    started = time.monotonic()
    response = cqc_http.request("GET", PROVIDER_PATH, path_params={"providerId": "1-000000001"}, timeout=(1.0, 0.3))
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert sim.state.call_count("cqc", "get_provider") == 2
    assert elapsed < 1.0, "the retry must not wait for the slow first response"


def test_json_rejects_html(cqc_http):
    response = cqc_http.request("GET", "/no-such-endpoint")

    with pytest.raises(UnexpectedResponseError, match="the body is not JSON"):
        cqc_http.json(response, "GET", "/no-such-endpoint")


def test_unexpected_points_at_credentials(sim, policy):
    client = ServiceClient("CQC", sim.cqc_base_url, policy, required={})
    try:
        response = client.request("GET", PROVIDER_PATH, path_params={"providerId": "1-000000001"})
        error = client.unexpected(response, "GET", PROVIDER_PATH)
    finally:
        client.close()

    assert error.status == 401
    assert "check the CQC credentials" in str(error)


def test_rate_limiter_spaces_requests():
    limiter = RateLimiter(per_second=10)

    started = time.monotonic()
    for _ in range(4):
        limiter.wait()
    elapsed = time.monotonic() - started

    assert elapsed >= 0.29


def test_rate_limiter_off_at_zero():
    limiter = RateLimiter(per_second=0)

    started = time.monotonic()
    for _ in range(100):
        limiter.wait()

    assert time.monotonic() - started < 0.05


def test_worst_case_seconds_counts_attempts_and_waits():
    policy = HttpPolicy(connect_timeout=1, read_timeout=2, retries=2, backoff_factor=0.5, retry_after_max=30)

    assert policy.worst_case_seconds() == 3 * 3 + 2 * 30
    assert policy.worst_case_seconds(calls=2) == 2 * (3 * 3 + 2 * 30)
