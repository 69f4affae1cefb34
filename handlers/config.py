"""Settings for the outside systems the handlers call, read from CAREPLACE_* environment variables."""

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class HandlerSettings:
    """Base URLs, credentials, HTTP limits and SMTP settings for the handlers.

    The defaults point at nothing real: every base URL and the SMTP host are
    empty, so a handler whose service is not configured fails with a message
    naming the missing variable instead of calling a live service. Secrets are
    left out of ``repr``.
    """

    cqc_base_url: str = ""
    cqc_api_key: str = field(default="", repr=False)
    cqc_max_requests_per_second: float = 5.0

    companies_house_base_url: str = ""
    companies_house_api_key: str = field(default="", repr=False)
    companies_house_max_requests_per_second: float = 2.0

    charity_commission_base_url: str = ""
    charity_commission_api_key: str = field(default="", repr=False)
    charity_commission_max_requests_per_second: float = 5.0

    paypal_base_url: str = ""
    paypal_client_id: str = ""
    paypal_secret: str = field(default="", repr=False)
    paypal_webhook_id: str = ""

    public_base_url: str = "http://127.0.0.1:5000"

    smtp_host: str = ""
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_sender: str = "careplace@localhost"

    http_connect_timeout: float = 3.05
    http_read_timeout: float = 10.0
    http_retries: int = 2
    http_backoff_factor: float = 0.5
    http_retry_after_max: int = 30

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "HandlerSettings":
        """Build settings from ``environ`` (default ``os.environ``), keeping the default of each unset variable.

        ======================================================  =========================================================
        variable                                                sets
        ======================================================  =========================================================
        CAREPLACE_CQC_BASE_URL                                  CQC API base, e.g. https://api.service.cqc.org.uk/public/v1
        CAREPLACE_CQC_API_KEY                                   CQC subscription key (Ocp-Apim-Subscription-Key)
        CAREPLACE_CQC_MAX_REQUESTS_PER_SECOND                   client-side rate limit for CQC, 0 for none (default 5)
        CAREPLACE_COMPANIES_HOUSE_BASE_URL                      e.g. https://api.company-information.service.gov.uk
        CAREPLACE_COMPANIES_HOUSE_API_KEY                       Companies House API key (HTTP Basic user name)
        CAREPLACE_COMPANIES_HOUSE_MAX_REQUESTS_PER_SECOND       client-side rate limit (default 2: 600 per 5 minutes)
        CAREPLACE_CHARITY_COMMISSION_BASE_URL                   e.g. https://api.charitycommission.gov.uk/register/api
        CAREPLACE_CHARITY_COMMISSION_API_KEY                    Charity Commission subscription key
        CAREPLACE_CHARITY_COMMISSION_MAX_REQUESTS_PER_SECOND    client-side rate limit, 0 for none (default 5)
        CAREPLACE_PAYPAL_BASE_URL                               e.g. https://api-m.sandbox.paypal.com
        CAREPLACE_PAYPAL_CLIENT_ID                              PayPal REST app client id
        CAREPLACE_PAYPAL_SECRET                                 PayPal REST app secret
        CAREPLACE_PAYPAL_WEBHOOK_ID                             id of the PayPal webhook whose events are verified
        CAREPLACE_PUBLIC_BASE_URL                               base of deep links in emails (default http://127.0.0.1:5000)
        CAREPLACE_SMTP_HOST                                     SMTP server host; empty (the default) sends no email
        CAREPLACE_SMTP_PORT                                     SMTP server port (default 587)
        CAREPLACE_SMTP_STARTTLS                                 true (the default) to upgrade the connection with STARTTLS
        CAREPLACE_SMTP_USER                                     SMTP user name, empty for no login
        CAREPLACE_SMTP_PASSWORD                                 SMTP password
        CAREPLACE_SMTP_SENDER                                   From address of outgoing email
        CAREPLACE_HTTP_CONNECT_TIMEOUT                          seconds to wait for a TCP connection (default 3.05)
        CAREPLACE_HTTP_READ_TIMEOUT                             seconds to wait between bytes of a response (default 10)
        CAREPLACE_HTTP_RETRIES                                  retries after a 429, a 5xx, a time-out or a dropped connection (default 2)
        CAREPLACE_HTTP_BACKOFF_FACTOR                           seconds; retry n waits factor * 2 ** (n - 1) (default 0.5)
        CAREPLACE_HTTP_RETRY_AFTER_MAX                          maximum seconds honoured from a Retry-After header (default 30)
        ======================================================  =========================================================

        Raises ValueError naming the variable when a number or flag does not parse.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for setting in fields(cls):
            name = env_name(setting.name)
            if name not in environ:
                continue

            values[setting.name] = _PARSERS[type(setting.default)](name, environ[name])

        return cls(**values)

    def unset_variables(self) -> list[str]:
        """List the variables that the outside-system clients need but that are empty."""
        required = (
            "cqc_base_url",
            "cqc_api_key",
            "companies_house_base_url",
            "companies_house_api_key",
            "charity_commission_base_url",
            "charity_commission_api_key",
            "paypal_base_url",
            "paypal_client_id",
            "paypal_secret",
            "paypal_webhook_id",
        )
        return [env_name(name) for name in required if not getattr(self, name)]


def env_name(setting: str) -> str:
    """Return the environment variable that sets ``setting``, e.g. ``CAREPLACE_CQC_API_KEY``."""
    return "CAREPLACE_" + setting.upper()


def _parse_str(_name: str, raw: str) -> str:
    return raw.strip()


def _parse_int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number; set it to e.g. 3") from None


def _parse_float(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number; set it to e.g. 2.5") from None


def _parse_bool(name: str, raw: str) -> bool:
    text = raw.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False

    raise ValueError(f"{name}={raw!r} is not a flag; set it to true or false")


_PARSERS: dict[type, Callable[[str, str], Any]] = {
    str: _parse_str,
    int: _parse_int,
    float: _parse_float,
    bool: _parse_bool,
}
