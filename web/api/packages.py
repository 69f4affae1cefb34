"""Care packages and payments through the API: staff read all of them, a provider token only its own provider's."""

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from care.models.packages import CarePackage
from care.models.payments import Payment
from web.access import services
from web.api import paging
from web.api.auth import Principal
from web.api.operations import json_response, operation
from web.api.problems import NOT_FOUND, ApiError
from web.api.roles import PAYMENT_READERS, PROVIDERS_AND_STAFF
from web.api.schemas import PackageOut, PackagePage, PackageQuery, PaymentLineOut, PaymentOut, PaymentPage, PaymentQuery

TAG = "Packages and payments"


def package_out(package: CarePackage) -> PackageOut:
    fields = {key: getattr(package, key) for key in PackageOut.model_fields if key != "service_user_reference"}
    return PackageOut(**fields, service_user_reference=package.service_user.reference)


def payment_out(payment: Payment) -> PaymentOut:
    fields = {key: getattr(payment, key) for key in PaymentOut.model_fields if key not in ("period_start", "period_end", "lines")}
    lines = [PaymentLineOut.model_validate(line) for line in payment.lines]
    return PaymentOut(**fields, period_start=payment.run.period_start, period_end=payment.run.period_end, lines=lines)


def _packages(principal: Principal):
    statement = sa.select(CarePackage).options(selectinload(CarePackage.service_user))
    if principal.is_provider:
        statement = statement.where(CarePackage.provider_id == principal.provider_id)
    return statement


def _payments(principal: Principal):
    statement = sa.select(Payment).options(selectinload(Payment.run), selectinload(Payment.lines))
    if principal.is_provider:
        statement = statement.where(Payment.provider_id == principal.provider_id)
    return statement


@operation("GET", "/packages", summary="List care packages by id", tag=TAG, roles=PROVIDERS_AND_STAFF, query=PackageQuery, response=PackagePage)
def list_packages(principal: Principal, query: PackageQuery):
    statement = _packages(principal).order_by(CarePackage.id).limit(query.limit + 1)
    if query.status:
        statement = statement.where(CarePackage.status == query.status)
    if query.cursor:
        (last_id,) = paging.decode_cursor(query.cursor, (int,))
        statement = statement.where(CarePackage.id > last_id)

    with services().session_factory() as db:
        rows = list(db.scalars(statement))
        items, next_url = paging.page(rows, query.limit, lambda package: (package.id,))
        page = PackagePage(items=[package_out(package) for package in items], next=next_url)
    return json_response(page, headers=paging.link_header(next_url))


@operation("GET", "/packages/<int:package_id>", summary="Read a care package", tag=TAG, roles=PROVIDERS_AND_STAFF, response=PackageOut)
def get_package(principal: Principal, package_id: int):
    with services().session_factory() as db:
        package = db.scalars(_packages(principal).where(CarePackage.id == package_id)).first()
        if package is None:
            raise ApiError(NOT_FOUND, f"care package {package_id} not found; check the id, or that it belongs to this token's provider")
        reply = package_out(package)
    return json_response(reply)


@operation("GET", "/payments", summary="List payments by id", tag=TAG, roles=PAYMENT_READERS, query=PaymentQuery, response=PaymentPage)
def list_payments(principal: Principal, query: PaymentQuery):
    statement = _payments(principal).order_by(Payment.id).limit(query.limit + 1)
    if query.status:
        statement = statement.where(Payment.status == query.status)
    if query.cursor:
        (last_id,) = paging.decode_cursor(query.cursor, (int,))
        statement = statement.where(Payment.id > last_id)

    with services().session_factory() as db:
        rows = list(db.scalars(statement))
        items, next_url = paging.page(rows, query.limit, lambda payment: (payment.id,))
        page = PaymentPage(items=[payment_out(payment) for payment in items], next=next_url)
    return json_response(page, headers=paging.link_header(next_url))


@operation("GET", "/payments/<int:payment_id>", summary="Read a payment with its lines", tag=TAG, roles=PAYMENT_READERS, response=PaymentOut)
def get_payment(principal: Principal, payment_id: int):
    with services().session_factory() as db:
        payment = db.scalars(_payments(principal).where(Payment.id == payment_id)).first()
        if payment is None:
            raise ApiError(NOT_FOUND, f"payment {payment_id} not found; check the id, or that it belongs to this token's provider")
        reply = payment_out(payment)
    return json_response(reply)
