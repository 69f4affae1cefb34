"""Jinja filters and globals: dates in UK style and London time, the error list of a WTForms form and the CSRF field."""

from datetime import date, datetime

from flask import Flask
from flask_wtf import FlaskForm
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from engine.clock import LONDON


def uk_date(value: date | datetime | None) -> str:
    """Format a date as ``7 June 2027`` and a date-time as ``7 June 2027, 10:00`` in London time."""
    if value is None:
        return "–"
    if isinstance(value, datetime):
        local = value.astimezone(LONDON)
        return f"{local.day} {local:%B %Y, %H:%M}"
    return f"{value.day} {value:%B %Y}"


def form_errors(form: FlaskForm) -> list[tuple[str, str]]:
    """Return (field id, message) for every field error, leaving out the hidden CSRF field."""
    return [(field.id, message) for field in form if field.type != "CSRFTokenField" for message in field.errors]


def csrf_field() -> Markup:
    """Render the hidden CSRF token input that FlaskForm forms and CSRFProtect check on every POST.

    It renders the same token as a form's ``csrf_token`` field, without building a form for
    each button of a list. It has no ``id``, because a page repeats it once per form.
    """
    return Markup('<input name="csrf_token" type="hidden" value="{}">').format(generate_csrf())


def init_app(app: Flask) -> None:
    app.add_template_filter(uk_date)
    app.add_template_global(form_errors)
    app.add_template_global(csrf_field)
