"""Pages for provider users: their enquiries by state, one enquiry (recording the first view) and the notifications inbox."""

import logging

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from care import enquiries as care_enquiries
from care.errors import InvalidValueError, NotFoundError
from care.queries import RecipientState, enquiries_for_provider, recipient_state
from handlers.notifications import Reader, list_notifications, mark_read
from web.access import PROVIDER_USER, own_provider_id, roles_required, safe_local_path, services
from web.forms import ActionForm
from web.paging import PER_PAGE, fetch_page, page_number

log = logging.getLogger(__name__)

blueprint = Blueprint("provider", __name__, url_prefix="/provider")

STATE_LABELS = {
    RecipientState.NEW: "New",
    RecipientState.VIEWED: "Viewed, no response yet",
    RecipientState.RESPONDED: "Responded, waiting for the decision",
    RecipientState.DECIDED: "Decided",
}


@blueprint.get("/enquiries")
@roles_required(PROVIDER_USER)
def enquiries():
    provider_id = own_provider_id()
    state = request.args.get("state") or None
    if state is not None and state not in STATE_LABELS:
        abort(404)

    with services().session_factory() as db:
        try:
            page = enquiries_for_provider(db, provider_id, state, page=page_number(), per_page=PER_PAGE)
        except InvalidValueError:
            abort(404)
        rows = [(recipient, recipient.enquiry, recipient_state(recipient)) for recipient in page.items]

    return render_template("provider/enquiries.html", rows=rows, page=page, state=state or "", state_labels=STATE_LABELS)


@blueprint.get("/enquiries/<int:enquiry_id>")
@roles_required(PROVIDER_USER)
def enquiry(enquiry_id: int):
    """Show one enquiry sent to this provider and record the first time the provider viewed it.

    An enquiry that was not sent to this provider gets 403, whether or not it exists,
    so the page does not reveal which enquiry ids are in use.
    """
    provider_id = own_provider_id()
    with services().session_factory.begin() as db:
        try:
            recipient = care_enquiries.record_view(db, enquiry_id, provider_id)
        except NotFoundError:
            log.warning("user %s (provider %s) was refused enquiry %s: it was not sent to that provider", current_user.id, provider_id, enquiry_id)
            abort(403)
        record = recipient.enquiry
        notes = care_enquiries.list_notes(db, enquiry_id, provider_id)
        state = recipient_state(recipient)
        db.expunge_all()

    return render_template("provider/enquiry.html", recipient=recipient, enquiry=record, notes=notes, state=state, state_labels=STATE_LABELS)


@blueprint.get("/notifications")
@roles_required(PROVIDER_USER)
def notifications():
    provider_id = own_provider_id()
    with services().session_factory() as db:
        page = fetch_page(lambda limit, offset: list_notifications(db, user_id=current_user.id, provider_id=provider_id, limit=limit, offset=offset), page_number())

    return render_template("provider/notifications.html", page=page, action_form=ActionForm())


@blueprint.post("/notifications/<int:notification_id>/read")
@roles_required(PROVIDER_USER)
def mark_notification_read(notification_id: int):
    provider_id = own_provider_id()
    if not ActionForm().validate_on_submit():
        abort(400)

    with services().session_factory.begin() as db:
        notification = mark_read(db, notification_id, Reader(current_user.id, provider_id))
        link = notification.link

    if request.form.get("open") and safe_local_path(link):
        return redirect(link)
    flash("Notification marked as read.", "info")
    return redirect(url_for("provider.notifications"))
