"""Tables of the care marketplace domain."""

from care.models.base import Base
from care.models import account_tokens  # noqa: F401  (registers the account_tokens table)
from care.models.enquiries import Enquiry, EnquiryDocument, EnquiryNote, EnquiryRecipient
from care.models import messaging  # noqa: F401  (registers the outbox and notification tables)
from care.models.packages import Assessment, CarePackage, ChangeRequest, PackageStatusChange, Visit
from care.models.payments import Payment, PaymentLine, PaymentRun, Recoup
from care.models.people import ServiceUser, User
from care.models.providers import Provider, ProviderDistrict, ProviderDocument, ProviderStatusChange
from care.models.service_accounts import ServiceAccount

__all__ = [
    "Assessment",
    "Base",
    "CarePackage",
    "ChangeRequest",
    "Enquiry",
    "EnquiryDocument",
    "EnquiryNote",
    "EnquiryRecipient",
    "PackageStatusChange",
    "Payment",
    "PaymentLine",
    "PaymentRun",
    "Provider",
    "ProviderDistrict",
    "ProviderDocument",
    "ProviderStatusChange",
    "Recoup",
    "ServiceUser",
    "User",
    "Visit",
]
