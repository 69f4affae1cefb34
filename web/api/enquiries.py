"""Enquiries through the API: raise one for a care manager, list and read them, and read the providers' responses.

A provider token reads only enquiries sent to its provider (never drafts), its own response, and
no other provider's identity or price.
"""

import logging
from datetime import datetime, timezone

import sqlalchemy as sa
from flask import url_for
from sqlalchemy.orm import selectinload

from care import enquiries as care_enquiries
from care.errors import NotAllowedError, NotFoundError
from care.models.enquiries import Enquiry, EnquiryRecipient, EnquiryStatus
from care.responses import responses_side_by_side
from engine import clock
from web.access import services
from web.api import paging
from web.api.auth import Principal
from web.api.operations import json_response, operation
from web.api.problems import NOT_FOUND, VALIDATION_FAILED, ApiError
from web.api.roles import CASEWORK, PROVIDERS_AND_STAFF
from web.api.schemas import EnquiryOut, EnquiryPage, EnquiryQuery, RaiseEnquiry, ResponseList, ResponseOut

log = logging.getLogger(__name__)

TAG = "Enquiries"
# The body field that names the record a care NotFoundError is about.
REFERENCE_FIELDS = {"service user": "service_user_id", "user": "raised_by_id"}


def enquiry_out(enquiry: Enquiry, principal: Principal) -> EnquiryOut:
    fields = {key: getattr(enquiry, key) for key in EnquiryOut.model_fields if key != "service_user_reference"}
    if principal.is_provider and enquiry.selected_provider_id != principal.provider_id:
        fields["selected_provider_id"] = None
    return EnquiryOut(**fields, service_user_reference=enquiry.service_user.reference)


def _visible(principal: Principal):
    """Return the select of the enquiries this token may read."""
    statement = sa.select(Enquiry).options(selectinload(Enquiry.service_user))
    if principal.is_provider:
        sent = sa.select(EnquiryRecipient.enquiry_id).where(EnquiryRecipient.provider_id == principal.provider_id)
        statement = statement.where(Enquiry.id.in_(sent), Enquiry.status != EnquiryStatus.DRAFT)
    return statement


def _not_found(enquiry_id: int) -> ApiError:
    return ApiError(NOT_FOUND, f"enquiry {enquiry_id} not found; check the id, or that it was sent to this token's provider")


def _utc_text(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _check_dates(body: RaiseEnquiry) -> None:
    """Raise 422 when ``expected_start_on`` is before today in England or ``respond_by`` is not in the future."""
    now = clock.now()
    today = now.astimezone(clock.LONDON).date()
    errors = []
    if body.expected_start_on < today:
        errors.append({"field": "expected_start_on", "message": f"{body.expected_start_on.isoformat()} is in the past; give {today.isoformat()} or later"})
    if body.respond_by is not None and body.respond_by <= now:
        errors.append({"field": "respond_by", "message": f"{_utc_text(body.respond_by)} is not in the future; give a time after {_utc_text(now)}"})

    if errors:
        raise ApiError(VALIDATION_FAILED, "; ".join(f"{error['field']} {error['message']}" for error in errors), errors=errors)


@operation(
    "POST", "/enquiries", summary="Raise a draft enquiry for a care manager", tag=TAG, roles=CASEWORK,
    body=RaiseEnquiry, response=EnquiryOut, status=201,
)
def raise_enquiry(principal: Principal, body: RaiseEnquiry):
    """Create a draft enquiry, due by ``respond_by`` or else by the deadline for its urgency.

    It is not sent to providers: the enquiry process does that when it runs.
    """
    _check_dates(body)
    try:
        with services().session_factory.begin() as db:
            enquiry = care_enquiries.create_enquiry(
                db,
                service_user_id=body.service_user_id,
                raised_by_id=body.raised_by_id,
                hours_per_week=body.hours_per_week,
                expected_start_on=body.expected_start_on,
                urgency=body.urgency,
                respond_by=body.respond_by,
                notes=body.notes,
            )
            reply = enquiry_out(enquiry, principal)
    except NotFoundError as error:
        field = REFERENCE_FIELDS.get(error.kind, "(body)")
        raise ApiError(VALIDATION_FAILED, f"{error.kind} {error.key} not found; give the id of an existing record", errors=[{"field": field, "message": f"{error.kind} {error.key} not found"}]) from error
    except NotAllowedError as error:
        raise ApiError(VALIDATION_FAILED, f"{error}; give the user id of a care manager", errors=[{"field": "raised_by_id", "message": "is not a care manager"}]) from error

    log.info("service account %s raised enquiry %s", principal.account_id, reply.id)
    return json_response(reply, 201, {"Location": url_for("api.get_enquiry", enquiry_id=reply.id)})


@operation("GET", "/enquiries", summary="List enquiries by id", tag=TAG, roles=PROVIDERS_AND_STAFF, query=EnquiryQuery, response=EnquiryPage)
def list_enquiries(principal: Principal, query: EnquiryQuery):
    statement = _visible(principal).order_by(Enquiry.id).limit(query.limit + 1)
    if query.status:
        statement = statement.where(Enquiry.status == query.status)
    if query.cursor:
        (last_id,) = paging.decode_cursor(query.cursor, (int,))
        statement = statement.where(Enquiry.id > last_id)

    with services().session_factory() as db:
        rows = list(db.scalars(statement))
        items, next_url = paging.page(rows, query.limit, lambda enquiry: (enquiry.id,))
        page = EnquiryPage(items=[enquiry_out(enquiry, principal) for enquiry in items], next=next_url)
    return json_response(page, headers=paging.link_header(next_url))


@operation("GET", "/enquiries/<int:enquiry_id>", summary="Read an enquiry", tag=TAG, roles=PROVIDERS_AND_STAFF, response=EnquiryOut)
def get_enquiry(principal: Principal, enquiry_id: int):
    """Read an enquiry. Unlike the portal page, this does not record the provider's first view."""
    with services().session_factory() as db:
        enquiry = db.scalars(_visible(principal).where(Enquiry.id == enquiry_id)).first()
        if enquiry is None:
            raise _not_found(enquiry_id)
        reply = enquiry_out(enquiry, principal)
    return json_response(reply)


@operation(
    "GET", "/enquiries/<int:enquiry_id>/responses", summary="Read the providers' responses to an enquiry", tag=TAG,
    roles=PROVIDERS_AND_STAFF, response=ResponseList,
)
def enquiry_responses(principal: Principal, enquiry_id: int):
    """Staff get every recipient, acceptances by price first; a provider token gets its own response only."""
    with services().session_factory() as db:
        if db.scalars(_visible(principal).where(Enquiry.id == enquiry_id)).first() is None:
            raise _not_found(enquiry_id)
        summaries = responses_side_by_side(db, enquiry_id)

    if principal.is_provider:
        summaries = [summary for summary in summaries if summary.provider_id == principal.provider_id]
    return json_response(ResponseList(items=[ResponseOut.model_validate(summary) for summary in summaries]))
