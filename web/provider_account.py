"""Provider account pages: the profile with the PayPal payee, payments with their remittances, and application documents."""

import logging

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from care.documents import attach_provider_document
from care.errors import InvalidValueError
from care.portal import provider_documents, provider_payments
from care.providers import get_provider, update_profile
from web.access import PROVIDER_USER, own_provider_id, roles_required, services
from web.documents import store_upload
from web.paging import fetch_page, page_number
from web.portal_forms import DocumentUploadForm, ProfileForm

log = logging.getLogger(__name__)

blueprint = Blueprint("provider_account", __name__, url_prefix="/provider")


def split_items(text: str) -> list[str]:
    """Split a value typed as lines or comma-separated items into its stripped, non-empty items."""
    return [item.strip() for line in text.splitlines() for item in line.split(",") if item.strip()]


# Domain error fields whose form field has another name.
FIELD_ALIASES = {"postcode_district": "districts"}


def show_domain_error(form, error: InvalidValueError) -> None:
    """Put a domain rule's error beside the form field it names, or beside the first field when it names none of them."""
    name = FIELD_ALIASES.get(error.field, error.field)
    field = getattr(form, name, None) or next(field for field in form if field.type != "CSRFTokenField")
    field.errors = [*field.errors, str(error)]


@blueprint.route("/profile", methods=["GET", "POST"])
@roles_required(PROVIDER_USER)
def profile():
    """Show and save the provider's services, postcode districts covered, standard hourly rate and PayPal payee email."""
    provider_id = own_provider_id()
    form = ProfileForm()
    status = 200

    if form.validate_on_submit():
        try:
            with services().session_factory.begin() as db:
                update_profile(
                    db,
                    provider_id,
                    services_offered=split_items(form.services_offered.data),
                    districts=split_items(form.districts.data),
                    standard_hourly_rate=form.standard_hourly_rate.data,
                    paypal_email=form.paypal_email.data,
                )
        except InvalidValueError as error:
            show_domain_error(form, error)
            status = 422
        else:
            log.info("user %s updated the profile of provider %s", current_user.id, provider_id)
            flash("Your profile is saved.", "info")
            return redirect(url_for("provider_account.profile"))
    elif form.is_submitted():
        if form.csrf_token.errors:
            abort(400)
        status = 422

    with services().session_factory() as db:
        provider = get_provider(db, provider_id)
        if not form.is_submitted():
            form.services_offered.data = "\n".join(provider.services_offered or [])
            form.districts.data = ", ".join(district.postcode_district for district in provider.districts)
            form.standard_hourly_rate.data = provider.standard_hourly_rate
            form.paypal_email.data = provider.paypal_email
        name, provider_status = provider.name, provider.status

    return render_template("provider/profile.html", form=form, provider_name=name, provider_status=provider_status), status


@blueprint.get("/payments")
@roles_required(PROVIDER_USER)
def payments():
    """List the provider's payments, each with its remittance lines (hours and price per package)."""
    provider_id = own_provider_id()
    with services().session_factory() as db:
        page = fetch_page(lambda limit, offset: provider_payments(db, provider_id, limit=limit, offset=offset), page_number())
        rows = [(payment, payment.run, list(payment.lines)) for payment in page.items]

    return render_template("provider/payments.html", page=page, rows=rows)


def _documents_page(form: DocumentUploadForm, status: int = 200):
    provider_id = own_provider_id()
    with services().session_factory() as db:
        documents = provider_documents(db, provider_id)

    return render_template("provider/documents.html", form=form, documents=documents), status


@blueprint.get("/documents")
@roles_required(PROVIDER_USER)
def documents():
    return _documents_page(DocumentUploadForm(formdata=None))


@blueprint.post("/documents")
@roles_required(PROVIDER_USER)
def upload_document():
    """Store one application document after the type and size checks; a refused file leaves nothing stored."""
    provider_id = own_provider_id()
    form = DocumentUploadForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _documents_page(form, 422)

    def attach(**upload) -> int:
        with services().session_factory.begin() as db:
            return attach_provider_document(db, provider_id, uploaded_by_id=current_user.id, **upload).id

    try:
        document_id = store_upload(form.document.data, attach)
    except InvalidValueError as error:
        form.document.errors = [_upload_error_message(error)]
        return _documents_page(form, 422)

    log.info("user %s uploaded document %s for provider %s", current_user.id, document_id, provider_id)
    flash("The document is uploaded.", "info")
    return redirect(url_for("provider_account.documents"))


def _upload_error_message(error: InvalidValueError) -> str:
    if error.field == "content_type":
        return "The file must be a PDF, PNG or JPEG. Save or scan it in one of those formats and upload it again."
    if error.field == "content" and isinstance(error.value, int):
        return "The file is too large. Compress it or split it into smaller files, then upload them."
    if error.field == "content":
        return "The file's contents do not match its type. Save it again as a PDF, PNG or JPEG and upload it."
    return "The file needs a name. Rename it and upload it again."
