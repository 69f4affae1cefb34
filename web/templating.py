"""Jinja filters and globals: dates in UK style and London time, and the error list of a WTForms form."""

from datetime import date, datetime

from flask import Flask
from flask_wtf import FlaskForm

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


def init_app(app: Flask) -> None:
    app.add_template_filter(uk_date)
    app.add_template_global(form_errors)
