"""Read-side rules for the portal pages: what one provider may see, and the lists council staff work through."""

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from care.errors import NotFoundError
from care.models.enquiries import EnquiryDocument, EnquiryNote, EnquiryRecipient
from care.models.packages import CarePackage, ChangeRequest, ChangeRequestStatus, PackageStatus, Visit
from care.models.payments import Payment, PaymentRun
from care.models.people import ServiceUser
from care.models.providers import Provider, ProviderDocument


def provider_packages(session: Session, provider_id: int, *, limit: int, offset: int) -> list[CarePackage]:
    """Return one page of the provider's care packages: active first, then suspended, then ended, newest start first."""
    status_order = sa.case({PackageStatus.ACTIVE.value: 0, PackageStatus.SUSPENDED.value: 1}, value=CarePackage.status, else_=2)

    return list(
        session.scalars(
            sa.select(CarePackage)
            .where(CarePackage.provider_id == provider_id)
            .order_by(status_order, CarePackage.start_on.desc(), CarePackage.id)
            .limit(limit)
            .offset(offset)
        )
    )


def provider_package(session: Session, package_id: int, provider_id: int) -> CarePackage:
    """Return the package when it belongs to the provider, else raise NotFoundError so other ids stay hidden."""
    package = session.get(CarePackage, package_id)
    if package is None or package.provider_id != provider_id:
        raise NotFoundError("care package", package_id)

    return package


def package_visits(session: Session, package_id: int, *, limit: int, offset: int) -> list[Visit]:
    """Return one page of a package's communication sheet, latest visit first."""
    return list(
        session.scalars(
            sa.select(Visit).where(Visit.package_id == package_id).order_by(Visit.visit_on.desc(), Visit.id.desc()).limit(limit).offset(offset)
        )
    )


def provider_payments(session: Session, provider_id: int, *, limit: int, offset: int) -> list[Payment]:
    """Return one page of the provider's payments with their run and lines (the remittance), newest period first."""
    return list(
        session.scalars(
            sa.select(Payment)
            .join(PaymentRun, PaymentRun.id == Payment.run_id)
            .where(Payment.provider_id == provider_id)
            .options(selectinload(Payment.run), selectinload(Payment.lines))
            .order_by(PaymentRun.period_end.desc(), Payment.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )


def pending_change_requests(session: Session, *, limit: int, offset: int) -> list[ChangeRequest]:
    """Return one page of change requests waiting for a care manager's review, oldest first."""
    return list(
        session.scalars(
            sa.select(ChangeRequest)
            .where(ChangeRequest.status == ChangeRequestStatus.PENDING)
            .options(selectinload(ChangeRequest.package).selectinload(CarePackage.provider))
            .order_by(ChangeRequest.created_at, ChangeRequest.id)
            .limit(limit)
            .offset(offset)
        )
    )


def service_user_by_reference(session: Session, reference: str) -> ServiceUser:
    """Return the service user with ``reference`` (such as SU-00001), or raise NotFoundError."""
    service_user = session.scalar(sa.select(ServiceUser).where(ServiceUser.reference == reference.strip().upper()))
    if service_user is None:
        raise NotFoundError("service user", reference)

    return service_user


def provider_documents(session: Session, provider_id: int) -> list[ProviderDocument]:
    return list(
        session.scalars(sa.select(ProviderDocument).where(ProviderDocument.provider_id == provider_id).order_by(ProviderDocument.uploaded_at, ProviderDocument.id))
    )


def enquiry_documents(session: Session, enquiry_id: int) -> list[EnquiryDocument]:
    return list(
        session.scalars(sa.select(EnquiryDocument).where(EnquiryDocument.enquiry_id == enquiry_id).order_by(EnquiryDocument.uploaded_at, EnquiryDocument.id))
    )


def provider_document_for(session: Session, document_id: int, provider_id: int | None) -> ProviderDocument:
    """Return an application document to its own provider, or to council staff when ``provider_id`` is None.

    Raises NotFoundError for another provider's document, so its existence stays hidden.
    """
    document = session.get(ProviderDocument, document_id)
    if document is None or (provider_id is not None and document.provider_id != provider_id):
        raise NotFoundError("document", document_id)

    return document


def enquiry_document_for(session: Session, document_id: int, provider_id: int | None) -> EnquiryDocument:
    """Return an enquiry document to a provider the enquiry was sent to, or to council staff when ``provider_id`` is None."""
    document = session.get(EnquiryDocument, document_id)
    if document is None:
        raise NotFoundError("document", document_id)

    if provider_id is not None:
        sent_to_provider = session.scalar(
            sa.select(EnquiryRecipient.id).where(EnquiryRecipient.enquiry_id == document.enquiry_id, EnquiryRecipient.provider_id == provider_id)
        )
        if sent_to_provider is None:
            raise NotFoundError("document", document_id)

    return document


def note_threads(session: Session, enquiry_id: int) -> dict[int, list[EnquiryNote]]:
    """Return every note of an enquiry grouped by the provider whose thread it is in, oldest first; for council staff only."""
    threads: dict[int, list[EnquiryNote]] = {}
    notes = session.scalars(
        sa.select(EnquiryNote).where(EnquiryNote.enquiry_id == enquiry_id).order_by(EnquiryNote.created_at, EnquiryNote.id)
    )
    for note in notes:
        threads.setdefault(note.provider_id, []).append(note)

    return threads


def providers_by_status(session: Session, status: str | None, *, limit: int, offset: int) -> list[Provider]:
    """Return one page of providers by name, with their districts and documents loaded, narrowed to ``status`` when given."""
    query = sa.select(Provider).options(selectinload(Provider.districts), selectinload(Provider.documents)).order_by(Provider.name, Provider.id)
    if status:
        query = query.where(Provider.status == status)

    return list(session.scalars(query.limit(limit).offset(offset)))
