"""HandlerSettings: reading CAREPLACE_* variables, hiding secrets and listing what is unset."""

import pytest

from handlers.config import HandlerSettings, env_name


def test_from_env_reads_each_type():
    settings = HandlerSettings.from_env(
        {
            "CAREPLACE_CQC_BASE_URL": " http://127.0.0.1:9000/cqc ",
            "CAREPLACE_SMTP_PORT": "2525",
            "CAREPLACE_SMTP_STARTTLS": "false",
            "CAREPLACE_HTTP_READ_TIMEOUT": "4.5",
            "CAREPLACE_PAYPAL_SECRET": "made-up-secret",
        }
    )

    assert settings.cqc_base_url == "http://127.0.0.1:9000/cqc"
    assert settings.smtp_port == 2525
    assert settings.smtp_starttls is False
    assert settings.http_read_timeout == 4.5
    assert settings.paypal_secret == "made-up-secret"


def test_from_env_keeps_defaults_when_unset():
    assert HandlerSettings.from_env({}) == HandlerSettings()


def test_from_env_reads_os_environ(monkeypatch):
    monkeypatch.setenv("CAREPLACE_COMPANIES_HOUSE_API_KEY", "made-up-key")

    assert HandlerSettings.from_env().companies_house_api_key == "made-up-key"


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("CAREPLACE_SMTP_PORT", "twenty-five", "not a whole number"),
        ("CAREPLACE_HTTP_READ_TIMEOUT", "soon", "not a number"),
        ("CAREPLACE_SMTP_STARTTLS", "maybe", "not a flag"),
    ],
)
def test_from_env_rejects_bad_values(name, raw, message):
    with pytest.raises(ValueError, match=message) as caught:
        HandlerSettings.from_env({name: raw})

    assert name in str(caught.value)


def test_repr_hides_secrets():
    settings = HandlerSettings(
        cqc_api_key="made-up-cqc-key",
        companies_house_api_key="made-up-ch-key",
        charity_commission_api_key="made-up-cc-key",
        paypal_secret="made-up-paypal-secret",
        smtp_password="made-up-smtp-password",
    )

    text = repr(settings)

    for secret in ("made-up-cqc-key", "made-up-ch-key", "made-up-cc-key", "made-up-paypal-secret", "made-up-smtp-password"):
        assert secret not in text


def test_unset_variables_lists_missing_credentials():
    settings = HandlerSettings(cqc_base_url="http://127.0.0.1:1", cqc_api_key="made-up")

    unset = settings.unset_variables()

    assert "CAREPLACE_CQC_BASE_URL" not in unset
    assert "CAREPLACE_PAYPAL_SECRET" in unset
    assert "CAREPLACE_COMPANIES_HOUSE_API_KEY" in unset


def test_env_name_prefixes_setting():
    assert env_name("paypal_webhook_id") == "CAREPLACE_PAYPAL_WEBHOOK_ID"
