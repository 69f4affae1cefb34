"""The allowed status transitions of providers, enquiries, packages, change requests and payment runs."""

from collections.abc import Mapping

from care.errors import InvalidTransitionError
from care.models.enquiries import EnquiryStatus
from care.models.packages import ChangeRequestStatus, PackageStatus
from care.models.payments import PaymentRunStatus
from care.models.providers import ProviderStatus

Transitions = Mapping[str, frozenset[str]]

PROVIDER: Transitions = {
    ProviderStatus.CONTACTED: frozenset({ProviderStatus.APPLIED, ProviderStatus.REMOVED}),
    ProviderStatus.APPLIED: frozenset({ProviderStatus.REGISTERED, ProviderStatus.REMOVED}),
    # A registered provider goes live after the checks pass and the council's final review.
    ProviderStatus.REGISTERED: frozenset({ProviderStatus.CHECKS_FAILED, ProviderStatus.LIVE, ProviderStatus.REMOVED}),
    # After a person resolves a failed check, the provider returns to registered for the checks to run again.
    ProviderStatus.CHECKS_FAILED: frozenset({ProviderStatus.REGISTERED, ProviderStatus.REMOVED}),
    ProviderStatus.LIVE: frozenset({ProviderStatus.SUSPENDED, ProviderStatus.REMOVED}),
    ProviderStatus.SUSPENDED: frozenset({ProviderStatus.LIVE, ProviderStatus.REMOVED}),
    ProviderStatus.REMOVED: frozenset(),
}

ENQUIRY: Transitions = {
    EnquiryStatus.DRAFT: frozenset({EnquiryStatus.OPEN, EnquiryStatus.CANCELLED}),
    EnquiryStatus.OPEN: frozenset(
        {EnquiryStatus.SELECTING, EnquiryStatus.PROVISIONAL, EnquiryStatus.CLOSED, EnquiryStatus.CANCELLED}
    ),
    # The care manager may reopen an enquiry to send it to more providers.
    EnquiryStatus.SELECTING: frozenset(
        {EnquiryStatus.OPEN, EnquiryStatus.PROVISIONAL, EnquiryStatus.CLOSED, EnquiryStatus.CANCELLED}
    ),
    EnquiryStatus.PROVISIONAL: frozenset({EnquiryStatus.CONFIRMED, EnquiryStatus.CANCELLED}),
    EnquiryStatus.CONFIRMED: frozenset({EnquiryStatus.CLOSED}),
    EnquiryStatus.CLOSED: frozenset(),
    EnquiryStatus.CANCELLED: frozenset(),
}

PACKAGE: Transitions = {
    PackageStatus.ACTIVE: frozenset({PackageStatus.SUSPENDED, PackageStatus.ENDED}),
    PackageStatus.SUSPENDED: frozenset({PackageStatus.ACTIVE, PackageStatus.ENDED}),
    PackageStatus.ENDED: frozenset(),
}

CHANGE_REQUEST: Transitions = {
    ChangeRequestStatus.PENDING: frozenset({ChangeRequestStatus.APPROVED, ChangeRequestStatus.REJECTED}),
    ChangeRequestStatus.APPROVED: frozenset(),
    ChangeRequestStatus.REJECTED: frozenset(),
}

PAYMENT_RUN: Transitions = {
    PaymentRunStatus.DRAFT: frozenset({PaymentRunStatus.SUBMITTED}),
    PaymentRunStatus.SUBMITTED: frozenset({PaymentRunStatus.PAID, PaymentRunStatus.PARTIALLY_FAILED}),
    # Failed items are paid by a later retry of the same batch.
    PaymentRunStatus.PARTIALLY_FAILED: frozenset({PaymentRunStatus.PAID}),
    PaymentRunStatus.PAID: frozenset(),
}


def check_transition(transitions: Transitions, kind: str, record_id: object, current: str, requested: str) -> None:
    """Raise InvalidTransitionError unless ``transitions`` allows ``current`` to move to ``requested``."""
    allowed = transitions.get(current, frozenset())
    if requested not in allowed:
        raise InvalidTransitionError(kind, record_id, current, requested, allowed)
