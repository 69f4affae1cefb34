"""Pages for care managers: enquiries, raising one, the responses side by side, selection, notes and change requests."""

import logging
import secrets

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectChoice

from care import packages as care_packages
from care.delivery import package_reference
from care.documents import attach_enquiry_document
from care.enquiries import add_note, get_enquiry
from care.errors import CareError, EnquiryClosedError, InvalidValueError, NotFoundError
from care.models.enquiries import AuthorSide, Enquiry, EnquiryNote, EnquiryStatus, Response
from care.models.packages import ChangeRequest, ChangeRequestStatus
from care.models.providers import ProviderStatus
from care.portal import enquiry_documents, note_threads, pending_change_requests, providers_by_status, service_user_by_reference
from care.responses import responses_side_by_side
from engine import audit
from engine.errors import ConflictError, FormValidationError
from engine.models import HumanTask
from engine.runtime import Actor
from handlers.care_topics import recipient_key
from handlers.note_topics import NOTE_PROCESS_ID, note_key, start_note_process
from web.access import ADMIN, CARE_MANAGER, PROVIDER_SERVICES, actor_for, roles_required, services
from web.documents import store_upload
from web.forms import ActionForm
from web.paging import fetch_page, page_number
from web.portal_forms import ChangeReviewForm, DocumentUploadForm, RaiseEnquiryForm, SelectionForm, StaffNoteForm
from web.process_tasks import open_task, recipient_tasks, review_task_for, tasks_for_key
from web.provider_account import show_domain_error

log = logging.getLogger(__name__)

blueprint = Blueprint("staff", __name__, url_prefix="/staff")

ENQUIRY_STATUSES = [status.value for status in EnquiryStatus]
PROVIDER_STATUSES = [status.value for status in ProviderStatus]


@blueprint.get("/enquiries")
@roles_required(CARE_MANAGER, ADMIN)
def enquiries():
    status = request.args.get("status") or None
    if status is not None and status not in ENQUIRY_STATUSES:
        abort(404)

    query = sa.select(Enquiry).order_by(Enquiry.respond_by, Enquiry.id)
    if status:
        query = query.where(Enquiry.status == status)
    with services().session_factory() as db:
        page = fetch_page(lambda limit, offset: db.scalars(query.limit(limit).offset(offset)).all(), page_number())

    return render_template("staff/enquiries.html", page=page, status=status or "", statuses=ENQUIRY_STATUSES)


@blueprint.route("/enquiries/new", methods=["GET", "POST"])
@roles_required(CARE_MANAGER)
def raise_enquiry():
    """Start the enquiry process for a service user and open its first task, where the care manager enters the care needed."""
    form = RaiseEnquiryForm()
    if not form.validate_on_submit():
        if form.is_submitted() and form.csrf_token.errors:
            abort(400)
        return render_template("staff/raise.html", form=form), 422 if form.is_submitted() else 200

    with services().session_factory() as db:
        try:
            service_user = service_user_by_reference(db, form.service_user_reference.data)
        except NotFoundError:
            form.service_user_reference.errors = ["No service user has this reference. Check it on the case record, such as SU-00001."]
            return render_template("staff/raise.html", form=form), 422
        service_user_id, reference = service_user.id, service_user.reference

    engine = services().engine
    business_key = f"{reference}/{secrets.token_hex(4)}"
    engine.start("enquiry", business_key=business_key, data={"service_user_id": service_user_id, "care_manager_id": current_user.id}, actor=str(current_user.id))
    log.info("user %s started an enquiry for service user %s", current_user.id, service_user_id)
    task = next((task for task in engine.list_tasks(actor_for(current_user), business_key=business_key) if task.element_id == "raise_enquiry"), None)
    if task is None:
        flash("The enquiry is started. Its first task is in your tasks.", "info")
        return redirect(url_for("tasks.task_list"))
    return redirect(url_for("tasks.task_page", task_id=task.id))


def _enquiry_page(enquiry_id: int, note_form: StaffNoteForm | None = None, upload_form: DocumentUploadForm | None = None, status: int = 200):
    """Render an enquiry for council staff with the service user's details, which writes an audit event."""
    with services().session_factory.begin() as db:
        record = get_enquiry(db, enquiry_id)
        person = record.service_user
        audit.record(db, "service_user.viewed", str(current_user.id), service_user_id=person.id, enquiry_id=enquiry_id, page="staff.enquiry")
        responses = responses_side_by_side(db, enquiry_id)
        threads = note_threads(db, enquiry_id)
        documents = enquiry_documents(db, enquiry_id)
        db.expunge_all()

    names = {response.provider_id: response.provider_name for response in responses}
    note_form = note_form or StaffNoteForm(formdata=None)
    note_form.provider_id.choices = [SelectChoice(provider_id, name) for provider_id, name in names.items()]
    engine = services().engine
    actor = actor_for(current_user)
    tasks_by_provider = recipient_tasks(engine, actor, {provider_id: recipient_key(record.reference, provider_id) for provider_id in names})
    enquiry_tasks = tasks_for_key(engine, actor, "enquiry", record.reference)
    answer_tasks = _answer_tasks(actor, record.reference, threads)

    return (
        render_template(
            "staff/enquiry.html",
            enquiry=record,
            person=person,
            responses=responses,
            threads=threads,
            names=names,
            documents=documents,
            tasks_by_provider=tasks_by_provider,
            enquiry_tasks=enquiry_tasks,
            answer_tasks=answer_tasks,
            note_form=note_form,
            upload_form=upload_form or DocumentUploadForm(formdata=None),
        ),
        status,
    )


def _answer_tasks(actor: Actor, reference: str, threads: dict[int, list[EnquiryNote]]) -> dict[int, list[HumanTask]]:
    """Return the actor's open tasks of the enquiry_note instances of the providers' notes, by provider id."""
    provider_of_key = {
        note_key(reference, provider_id, note.id): provider_id for provider_id, notes in threads.items() for note in notes if note.author_side == AuthorSide.PROVIDER
    }
    if not provider_of_key:
        return {}

    query = services().engine.task_query(actor).where(HumanTask.process_id == NOTE_PROCESS_ID, HumanTask.business_key.in_(provider_of_key)).order_by(HumanTask.created_at, HumanTask.id)
    by_provider: dict[int, list[HumanTask]] = {}
    with services().session_factory() as db:
        for task in db.scalars(query):
            by_provider.setdefault(provider_of_key[task.business_key], []).append(task)
        db.expunge_all()

    return by_provider


@blueprint.get("/enquiries/<int:enquiry_id>")
@roles_required(CARE_MANAGER, ADMIN)
def enquiry(enquiry_id: int):
    return _enquiry_page(enquiry_id)


@blueprint.post("/enquiries/<int:enquiry_id>/notes")
@roles_required(CARE_MANAGER, ADMIN)
def add_enquiry_note(enquiry_id: int):
    """Reply to a provider's note, or log a phone call with it, in that provider's thread."""
    form = StaffNoteForm()
    with services().session_factory() as db:
        form.provider_id.choices = [SelectChoice(response.provider_id, response.provider_name) for response in responses_side_by_side(db, enquiry_id)]
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _enquiry_page(enquiry_id, note_form=form, status=422)

    try:
        with services().session_factory.begin() as db:
            note = add_note(db, enquiry_id, form.provider_id.data, author_id=current_user.id, body=form.body.data, via_phone=form.via_phone.data)
            note_id = note.id
    except EnquiryClosedError:
        flash("The note was not added: this enquiry is closed, so it no longer takes notes.", "error")
        return redirect(url_for("staff.enquiry", enquiry_id=enquiry_id))
    except InvalidValueError as error:
        show_domain_error(form, error)
        return _enquiry_page(enquiry_id, note_form=form, status=422)

    # The note is committed first, so it stays on record even if its process fails to start.
    start_note_process(services().engine, note_id, actor=str(current_user.id))
    flash("The note is added to the provider's thread.", "info")
    return redirect(url_for("staff.enquiry", enquiry_id=enquiry_id, _anchor="notes"))


@blueprint.post("/enquiries/<int:enquiry_id>/documents")
@roles_required(CARE_MANAGER)
def upload_enquiry_document(enquiry_id: int):
    """Attach a document to an enquiry; the providers it was sent to can download it."""
    form = DocumentUploadForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _enquiry_page(enquiry_id, upload_form=form, status=422)

    def attach(**upload) -> int:
        with services().session_factory.begin() as db:
            return attach_enquiry_document(db, enquiry_id, uploaded_by_id=current_user.id, **upload).id

    try:
        document_id = store_upload(form.document.data, attach)
    except InvalidValueError:
        form.document.errors = ["The file must be a PDF, PNG or JPEG whose contents match its type. Save it again in one of those formats and upload it."]
        return _enquiry_page(enquiry_id, upload_form=form, status=422)

    log.info("user %s attached document %s to enquiry %s", current_user.id, document_id, enquiry_id)
    flash("The document is attached to the enquiry.", "info")
    return redirect(url_for("staff.enquiry", enquiry_id=enquiry_id))


@blueprint.route("/enquiries/<int:enquiry_id>/select", methods=["GET", "POST"])
@roles_required(CARE_MANAGER, ADMIN)
def select(enquiry_id: int):
    """Complete the enquiry diagram's selection task: select a provider that accepted, or close the enquiry."""
    engine = services().engine
    actor = actor_for(current_user)
    with services().session_factory() as db:
        record = get_enquiry(db, enquiry_id)
        reference = record.reference
        accepted = [response for response in responses_side_by_side(db, enquiry_id) if response.response == Response.ACCEPTED]

    task = open_task(engine, actor, "enquiry", reference, "select_provider")
    if task is None:
        flash(f"Enquiry {reference} has no open selection task, so there is nothing to select.", "error")
        return redirect(url_for("staff.enquiry", enquiry_id=enquiry_id))

    form = SelectionForm()
    form.provider_id.choices = [SelectChoice(response.provider_id, f"{response.provider_name}, £{response.unit_price} an hour") for response in accepted]
    status = 200
    if form.validate_on_submit():
        if form.decision.data == "select" and form.provider_id.data is None:
            form.provider_id.errors = ["Choose the provider to select"]
            status = 422
        else:
            submitted = {"decision": form.decision.data}
            if form.decision.data == "select":
                submitted["selected_provider_id"] = str(form.provider_id.data)
            try:
                engine.complete(task.id, submitted, actor)
            except FormValidationError as error:
                for field_error in error.errors:
                    target = form.provider_id if field_error.field == "selected_provider_id" else form.decision
                    target.errors = [*target.errors, field_error.message]
                status = 422
            except ConflictError:
                flash("Someone else completed the selection first. The page shows the current state.", "error")
                return redirect(url_for("staff.enquiry", enquiry_id=enquiry_id))
            else:
                log.info("user %s completed the selection of enquiry %s", current_user.id, enquiry_id)
                flash("Your decision is recorded. Every provider that responded will be told the outcome.", "info")
                return redirect(url_for("staff.enquiry", enquiry_id=enquiry_id))
    elif form.is_submitted():
        if form.csrf_token.errors:
            abort(400)
        status = 422

    return render_template("staff/select.html", form=form, reference=reference, enquiry_id=enquiry_id, accepted=accepted), status


@blueprint.get("/change-requests")
@roles_required(CARE_MANAGER, ADMIN)
def change_requests():
    with services().session_factory() as db:
        page = fetch_page(lambda limit, offset: pending_change_requests(db, limit=limit, offset=offset), page_number())
        rows = [(item, item.package, item.package.provider.name) for item in page.items]
        db.expunge_all()

    return render_template("staff/change_requests.html", page=page, rows=rows, form=ChangeReviewForm(formdata=None))


@blueprint.post("/change-requests/<int:request_id>")
@roles_required(CARE_MANAGER, ADMIN)
def review_change(request_id: int):
    """Complete the care_package diagram's review task of a change request: approve it from a date, or reject it with a note."""
    form = ChangeReviewForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        flash(f"Change request {request_id} was not reviewed: choose approve or reject.", "error")
        return redirect(url_for("staff.change_requests"))

    try:
        package_id, pending_ids = _check_review(request_id, form)
    except CareError as error:
        flash(f"Change request {request_id} was not reviewed: {error}.", "error")
        return redirect(url_for("staff.change_requests"))

    engine = services().engine
    actor = actor_for(current_user)
    task = review_task_for(engine, actor, package_reference(package_id), pending_ids, request_id)
    if task is None:
        log.warning("change request %s of care package %s has no open review task to complete", request_id, package_id)
        flash(f"Change request {request_id} was not reviewed: its care package process has no open review task for it. Ask an administrator to check the package's instance.", "error")
        return redirect(url_for("staff.change_requests"))

    submitted = {
        "change_decision": form.decision.data,
        "effective_from": form.effective_from.data.isoformat() if form.effective_from.data else "",
        "review_note": form.note.data or "",
    }
    try:
        engine.complete(task.id, submitted, actor)
    except FormValidationError as error:
        problems = "; ".join(f"{field_error.field} {field_error.message}" for field_error in error.errors)
        flash(f"Change request {request_id} was not reviewed: {problems}.", "error")
    except ConflictError:
        flash(f"Change request {request_id} was reviewed by someone else first. The list shows the current state.", "error")
    else:
        log.info("user %s completed the review of change request %s", current_user.id, request_id)
        flash(f"Change request {request_id} is {'approved' if form.decision.data == 'approve' else 'rejected'}. The provider is told the decision.", "info")

    return redirect(url_for("staff.change_requests"))


def _check_review(request_id: int, form: ChangeReviewForm) -> tuple[int, list[int]]:
    """Apply the review with the care rules in a transaction that is rolled back; return the package id and its pending request ids.

    The diagram's worker applies the review later, where a rejected value would become an incident,
    so invalid input is reported to the care manager here instead.
    """
    with services().session_factory() as db:
        change = db.get(ChangeRequest, request_id)
        if change is None:
            raise NotFoundError("change request", request_id)
        package_id = change.package_id
        pending_ids = list(db.scalars(sa.select(ChangeRequest.id).where(ChangeRequest.package_id == package_id, ChangeRequest.status == ChangeRequestStatus.PENDING)))

        if form.decision.data == "approve":
            if form.effective_from.data is None:
                raise InvalidValueError("effective_from", None, "enter the date the new terms apply from")
            care_packages.approve_change(db, request_id, reviewed_by_id=current_user.id, effective_from=form.effective_from.data, note=form.note.data or None)
        else:
            care_packages.reject_change(db, request_id, reviewed_by_id=current_user.id, note=form.note.data or "")
        db.rollback()

    return package_id, pending_ids


@blueprint.get("/providers")
@roles_required(PROVIDER_SERVICES, ADMIN)
def providers():
    """List providers by status, with their application documents: contacts, applications and live providers."""
    status = request.args.get("status") or None
    if status is not None and status not in PROVIDER_STATUSES:
        abort(404)

    with services().session_factory() as db:
        page = fetch_page(lambda limit, offset: providers_by_status(db, status, limit=limit, offset=offset), page_number())

    return render_template("staff/providers.html", page=page, status=status or "", statuses=PROVIDER_STATUSES, action_form=ActionForm())
