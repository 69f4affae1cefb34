"""The WSGI entry point for gunicorn: ``gunicorn 'web.wsgi:app'``, with settings from the environment."""

from careplace.config import Settings
from web import create_app

app = create_app(Settings.from_env())
