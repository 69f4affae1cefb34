"""WTForms for the fixed forms: login, diagram upload, incident actions. Task forms are built from the diagram instead."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import EmailField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired(message="Enter your email address"), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(message="Enter your password"), Length(max=200)])


class DiagramUploadForm(FlaskForm):
    files = FileField("BPMN files", validators=[FileRequired(message="Choose one or more .bpmn files")])


class RetryIncidentForm(FlaskForm):
    variables = TextAreaField("Corrected variables (optional)", description='A JSON object, such as {"hours": 10}. Leave empty to retry with the same data.')


class CancelIncidentForm(FlaskForm):
    reason = StringField("Reason", validators=[DataRequired(message="Say why the incident is closed without a retry"), Length(max=500)])


class ActionForm(FlaskForm):
    """A form with only the CSRF token, for buttons such as claim, release and mark read."""
