"""Service settings read from the environment."""

import pytest

from careplace.config import ConfigError, Settings
from scheduler.calendar_triggers import CalendarSettings


def test_upload_dir_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    settings = Settings.from_env({"CAREPLACE_SECRET_KEY": "x" * 32, "CAREPLACE_UPLOAD_DIR": "var/uploads"})

    assert settings.upload_dir == tmp_path / "var" / "uploads"
    assert settings.upload_dir.is_absolute()


def test_secret_key_required_outside_embedded():
    with pytest.raises(ConfigError, match="CAREPLACE_SECRET_KEY"):
        Settings.from_env({})


def test_embedded_generates_secret_key():
    settings = Settings.from_env({}, embedded=True)

    assert settings.generated_secret
    assert len(settings.secret_key) >= 32


def test_worker_interval_checked():
    with pytest.raises(ConfigError, match="CAREPLACE_WORKER_INTERVAL"):
        Settings.from_env({"CAREPLACE_SECRET_KEY": "x" * 32, "CAREPLACE_WORKER_INTERVAL": "soon"})


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CAREPLACE_PAYMENT_RUN_EVERY_DAYS", "100000000000"),
        ("CAREPLACE_PAYMENT_RUN_ANCHOR", "0001-01-01"),
        ("CAREPLACE_PAYMENT_RUN_ANCHOR", "9999-12-31"),
    ],
)
def test_calendar_settings_out_of_range(variable, value):
    with pytest.raises(ConfigError, match=variable):
        CalendarSettings.from_env({variable: value})


def test_rate_limit_storage_from_environment():
    settings = Settings.from_env({"CAREPLACE_SECRET_KEY": "test-secret", "CAREPLACE_RATE_LIMIT_STORAGE": "redis://127.0.0.1:6379/0"})

    assert settings.rate_limit_storage == "redis://127.0.0.1:6379/0"
    assert Settings.from_env({"CAREPLACE_SECRET_KEY": "test-secret"}).rate_limit_storage == "memory://"


def test_rate_limits_from_environment():
    settings = Settings.from_env({"CAREPLACE_SECRET_KEY": "test-secret", "CAREPLACE_LOGIN_ACCOUNT_LIMIT": "3 per 10 minutes", "CAREPLACE_UNRELATED": "x"})

    assert settings.rate_limits == {"CAREPLACE_LOGIN_ACCOUNT_LIMIT": "3 per 10 minutes"}
