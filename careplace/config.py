"""Service settings read once from the environment, each checked with a message naming the variable."""

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(ValueError):
    """An environment variable is missing or invalid."""


# Variables that set failed-login and API call limits; see docs/production.md for their defaults.
RATE_LIMIT_VARIABLES = ("CAREPLACE_LOGIN_ACCOUNT_LIMIT", "CAREPLACE_LOGIN_ACCOUNT_TOTAL_LIMIT", "CAREPLACE_LOGIN_ADDRESS_LIMIT", "CAREPLACE_API_RATE_LIMIT")


@dataclass(frozen=True)
class Settings:
    """Settings for the web app, the worker and the CLI.

    ==============================  ===========================================================
    variable                        sets
    ==============================  ===========================================================
    CAREPLACE_DATABASE_URL          SQLAlchemy URL; default ``sqlite:///careplace.db`` in the
                                    working folder
    CAREPLACE_SECRET_KEY            Flask session signing key; required unless embedded
    CAREPLACE_EMBEDDED              ``1`` for the single-process demo mode (generated secret
                                    key, simulators, no SMTP)
    CAREPLACE_UPLOAD_DIR            where uploaded documents are stored (outside the web root);
                                    default ``var/uploads`` in the working folder
    CAREPLACE_WORKER_INTERVAL       seconds between scheduler passes (default 5)
    CAREPLACE_LOG_LEVEL             logging level name (default INFO)
    CAREPLACE_LOGIN_*_LIMIT and     failed-login and API call limits, such as ``5 per 15
    CAREPLACE_API_RATE_LIMIT        minutes`` (RATE_LIMIT_VARIABLES lists them)
    CAREPLACE_RATE_LIMIT_STORAGE    where failed logins and API calls are counted, as a
                                    storage URI of the limits library: ``memory://`` (the
                                    default, per process) or ``redis://host:6379/0`` (shared
                                    by every process)
    ==============================  ===========================================================
    """

    database_url: str = "sqlite:///careplace.db"
    secret_key: str = field(default="", repr=False)
    embedded: bool = False
    upload_dir: Path = Path("var/uploads")
    worker_interval: float = 5.0
    log_level: str = "INFO"
    rate_limit_storage: str = "memory://"
    # The limit variables that are set, by name; the web app checks each when it starts.
    rate_limits: dict[str, str] = field(default_factory=dict)
    generated_secret: bool = False

    @classmethod
    def from_env(cls, environ=None, *, embedded: bool | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        is_embedded = embedded if embedded is not None else env.get("CAREPLACE_EMBEDDED", "") in ("1", "true", "yes")
        secret_key = env.get("CAREPLACE_SECRET_KEY", "")
        generated = False
        if not secret_key:
            if not is_embedded:
                raise ConfigError("CAREPLACE_SECRET_KEY is not set; set it to a long random string (the embedded demo mode generates one)")
            secret_key = secrets.token_urlsafe(32)
            generated = True
        try:
            interval = float(env.get("CAREPLACE_WORKER_INTERVAL", "5"))
        except ValueError as error:
            raise ConfigError(f"CAREPLACE_WORKER_INTERVAL={env['CAREPLACE_WORKER_INTERVAL']!r} is not a number of seconds") from error
        if interval <= 0:
            raise ConfigError(f"CAREPLACE_WORKER_INTERVAL={interval} must be above 0 seconds")
        return cls(
            database_url=env.get("CAREPLACE_DATABASE_URL", "sqlite:///careplace.db"),
            secret_key=secret_key,
            embedded=is_embedded,
            # Resolved now: Flask's send_file would read a relative path against the app's package folder.
            upload_dir=Path(env.get("CAREPLACE_UPLOAD_DIR", "var/uploads")).resolve(),
            worker_interval=interval,
            log_level=env.get("CAREPLACE_LOG_LEVEL", "INFO").upper(),
            rate_limit_storage=env.get("CAREPLACE_RATE_LIMIT_STORAGE", "memory://"),
            rate_limits={name: env[name] for name in RATE_LIMIT_VARIABLES if name in env},
            generated_secret=generated,
        )

    @classmethod
    def for_cli(cls, environ=None) -> "Settings":
        """Settings for commands that need only the database (no secret key)."""
        env = dict(os.environ if environ is None else environ)
        env.setdefault("CAREPLACE_SECRET_KEY", "unused-by-the-cli")
        return cls.from_env(env)
