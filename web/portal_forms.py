"""WTForms for the provider and staff portal pages; the domain rules in care/ validate the values again when they are saved."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectChoice, DateField, DecimalField, EmailField, RadioField, SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

# A plain shape check; PayPal itself confirms that the payee account exists when it is paid.
EMAIL_SHAPE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class NoteForm(FlaskForm):
    body = TextAreaField("Your note", validators=[DataRequired(message="Write the note before sending it"), Length(max=4000)])


class StaffNoteForm(FlaskForm):
    provider_id = SelectField("Provider", coerce=int, validators=[InputRequired(message="Choose the provider whose thread the note is in")])
    body = TextAreaField("Note", validators=[DataRequired(message="Write the note before sending it"), Length(max=4000)])
    via_phone = BooleanField("This records a phone call with the provider")


class ProfileForm(FlaskForm):
    services_offered = TextAreaField(
        "Services offered",
        description="One service a line, such as personal care or medication support.",
        validators=[DataRequired(message="Enter at least one service"), Length(max=1000)],
    )
    districts = StringField(
        "Postcode districts covered",
        description="The first part of each postcode, separated by commas, such as LS6, LS7.",
        validators=[DataRequired(message="Enter at least one postcode district"), Length(max=500)],
    )
    standard_hourly_rate = DecimalField(
        "Standard hourly rate in pounds",
        places=2,
        description="Pre-fills the price when you accept an enquiry, for example 21.50.",
        validators=[InputRequired(message="Enter the standard hourly rate"), NumberRange(min=0.01, message="Enter a rate of more than £0")],
    )
    paypal_email = EmailField(
        "PayPal payee email address",
        description="The email address of the PayPal account that receives your payments.",
        validators=[DataRequired(message="Enter the PayPal email address"), Length(max=320), Regexp(EMAIL_SHAPE, message="Enter an email address such as payments@example.co.uk")],
    )


class DocumentUploadForm(FlaskForm):
    document = FileField("Document", description="A PDF, PNG or JPEG file of at most 5 MB.", validators=[FileRequired(message="Choose a file to upload")])


class ChangeRequestForm(FlaskForm):
    hours_per_week = DecimalField("New hours of care a week", places=2, validators=[Optional(), NumberRange(min=0.25, max=168, message="Enter from 0.25 to 168 hours")])
    unit_price = DecimalField("New price per hour in pounds", places=2, validators=[Optional(), NumberRange(min=0.01, message="Enter a price of more than £0")])
    reason = TextAreaField(
        "What you found",
        description="The additional needs or changes, for the care manager's review.",
        validators=[DataRequired(message="Say what you found"), Length(max=4000)],
    )


class SuspendForm(FlaskForm):
    reason = RadioField("Reason", choices=[SelectChoice("hospital", "Hospital stay"), SelectChoice("holiday", "Holiday")], validators=[InputRequired(message="Choose hospital stay or holiday")])
    effective_on = DateField("First day without care", validators=[InputRequired(message="Enter the first day without care")])
    note = TextAreaField("Note for the council (optional)", validators=[Optional(), Length(max=2000)])


class ResumeForm(FlaskForm):
    effective_on = DateField("First day care starts again", validators=[InputRequired(message="Enter the first day care starts again")])
    note = TextAreaField("Note for the council (optional)", validators=[Optional(), Length(max=2000)])


class VisitForm(FlaskForm):
    visit_on = DateField("Date of the visit", validators=[InputRequired(message="Enter the date of the visit")])
    start_time = TimeField("Start time (optional)", validators=[Optional()])
    end_time = TimeField("End time (optional)", validators=[Optional()])
    duration_hours = DecimalField(
        "Duration in hours (optional)", places=2, description="Leave empty to take it from the start and end times.", validators=[Optional(), NumberRange(min=0.01, max=24, message="Enter from 0.01 to 24 hours")]
    )
    carer_initials = StringField("Carer's initials (optional)", validators=[Optional(), Length(max=10)])
    observations = TextAreaField("Observations (optional)", validators=[Optional(), Length(max=4000)])


class RaiseEnquiryForm(FlaskForm):
    service_user_reference = StringField(
        "Service user reference",
        description="Such as SU-00001. The next page asks for the hours, the start date and the providers.",
        validators=[DataRequired(message="Enter the service user's reference"), Length(max=40)],
    )


class SelectionForm(FlaskForm):
    decision = RadioField("Decision", choices=[SelectChoice("select", "Select a provider that accepted"), SelectChoice("close", "Close: no provider is suitable")], validators=[InputRequired(message="Choose select or close")])
    provider_id = RadioField("Provider", coerce=int, validators=[Optional()])


class ChangeReviewForm(FlaskForm):
    decision = RadioField("Decision", choices=[SelectChoice("approve", "Approve"), SelectChoice("reject", "Reject")], validators=[InputRequired(message="Choose approve or reject")])
    effective_from = DateField("New terms apply from (to approve)", validators=[Optional()])
    note = TextAreaField("Note for the provider (required to reject)", validators=[Optional(), Length(max=2000)])
