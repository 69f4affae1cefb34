"""Provider services team pages: one provider's application with documents and onboarding tasks, and recording a new contact."""

import logging
import secrets

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from care.models.people import User
from care.portal import provider_documents
from care.providers import get_provider
from handlers.account_topics import reissue_set_password_link
from handlers.care_topics import provider_key
from web.access import ADMIN, PROVIDER_SERVICES, actor_for, roles_required, services
from web.forms import ActionForm
from web.process_tasks import tasks_for_key

log = logging.getLogger(__name__)

blueprint = Blueprint("staff_providers", __name__, url_prefix="/staff/providers")

# The onboarding tasks a provider services officer completes, in the order the diagram reaches them.
REVIEW_TASKS = ("register", "review_cqc", "review_registry", "offer_workshop", "final_review")


@blueprint.get("/<int:provider_id>")
@roles_required(PROVIDER_SERVICES, ADMIN)
def provider(provider_id: int):
    """Show an application: details, status history, documents, and links to the open review and go-live tasks."""
    with services().session_factory() as db:
        record = get_provider(db, provider_id)
        history = list(record.status_history)
        districts = [district.postcode_district for district in record.districts]
        documents = provider_documents(db, provider_id)
        users = [(user.id, user.email, user.password_hash is not None) for user in db.scalars(sa.select(User).where(User.provider_id == provider_id).order_by(User.id))]
        db.expunge_all()

    tasks = tasks_for_key(services().engine, actor_for(current_user), "provider_onboarding", provider_key(provider_id))
    return render_template("staff/provider.html", provider=record, history=history, districts=districts, documents=documents, tasks=tasks, review_tasks=REVIEW_TASKS, users=users, action_form=ActionForm())


@blueprint.post("/contact")
@roles_required(PROVIDER_SERVICES, ADMIN)
def record_contact():
    """Start the onboarding process for a provider that got in touch, and open its first task to record the contact."""
    if not ActionForm().validate_on_submit():
        abort(400)

    engine = services().engine
    business_key = f"onboarding-{secrets.token_hex(4)}"
    engine.start("provider_onboarding", business_key=business_key, actor=str(current_user.id))
    log.info("user %s started onboarding %s", current_user.id, business_key)
    task = next((task for task in engine.list_tasks(actor_for(current_user), business_key=business_key) if task.element_id == "record_contact"), None)
    if task is None:
        flash("Onboarding is started. Its first task is in your tasks.", "info")
        return redirect(url_for("tasks.task_list"))
    return redirect(url_for("tasks.task_page", task_id=task.id))


@blueprint.post("/<int:provider_id>/users/<int:user_id>/set-password-link")
@roles_required(PROVIDER_SERVICES, ADMIN)
def send_set_password_link(provider_id: int, user_id: int):
    """Replace a provider user's set-password link with a new one and email the access instructions again."""
    if not ActionForm().validate_on_submit():
        abort(400)

    try:
        with services().session_factory.begin() as db:
            reissue_set_password_link(db, provider_id, user_id, actor=str(current_user.id), base_url=services().handler_settings.public_base_url)
    except LookupError:
        log.info("user %s: no set-password link sent, user %s is not a user of provider %s", current_user.id, user_id, provider_id)
        abort(404)

    flash("A new set-password link is on its way to the user. Earlier links no longer work.", "info")
    return redirect(url_for("staff_providers.provider", provider_id=provider_id))
