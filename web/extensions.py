"""The Flask extensions, created unbound here and bound to each app with ``init_app`` in the factory."""

from flask_login import LoginManager
from flask_wtf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()
