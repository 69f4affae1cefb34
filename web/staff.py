"""Pages for council staff: care managers' enquiries with the responses side by side, and the provider services team's providers list."""

import sqlalchemy as sa
from flask import Blueprint, abort, render_template, request
from sqlalchemy.orm import selectinload

from care.models.enquiries import Enquiry, EnquiryStatus
from care.models.providers import Provider, ProviderStatus
from care.responses import responses_side_by_side
from care.enquiries import get_enquiry
from web.access import ADMIN, CARE_MANAGER, PROVIDER_SERVICES, roles_required, services
from web.paging import fetch_page, page_number

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


@blueprint.get("/enquiries/<int:enquiry_id>")
@roles_required(CARE_MANAGER, ADMIN)
def enquiry(enquiry_id: int):
    with services().session_factory() as db:
        record = get_enquiry(db, enquiry_id)
        responses = responses_side_by_side(db, enquiry_id)

    return render_template("staff/enquiry.html", enquiry=record, responses=responses)


@blueprint.get("/providers")
@roles_required(PROVIDER_SERVICES, ADMIN)
def providers():
    status = request.args.get("status") or None
    if status is not None and status not in PROVIDER_STATUSES:
        abort(404)

    query = sa.select(Provider).options(selectinload(Provider.districts)).order_by(Provider.name, Provider.id)
    if status:
        query = query.where(Provider.status == status)
    with services().session_factory() as db:
        page = fetch_page(lambda limit, offset: db.scalars(query.limit(limit).offset(offset)).all(), page_number())

    return render_template("staff/providers.html", page=page, status=status or "", statuses=PROVIDER_STATUSES)
