"""Package facts for the care_package diagram: its reference, its parties and their contact addresses."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from care.enquiries import get_user
from care.journey import provider_contact_email
from care.packages import get_package


@dataclass(frozen=True)
class PackageParties:
    """The provider and care manager of one package, with the reference emails quote instead of the service user's name."""

    package_id: int
    package_reference: str
    enquiry_reference: str
    provider_id: int
    provider_name: str
    provider_email: str
    care_manager_id: int | None
    care_manager_name: str | None
    care_manager_email: str | None
    postcode_district: str
    start_on: date


def package_reference(package_id: int) -> str:
    """Return the business key of a package's care_package instance, such as ``PKG-000012``."""
    return f"PKG-{package_id:06d}"


def package_parties(session: Session, package_id: int) -> PackageParties:
    """Load the parties of a package; a package made without an enquiry quotes its own reference and has no care manager."""
    package = get_package(session, package_id)
    enquiry = package.enquiry
    care_manager = get_user(session, enquiry.raised_by_id) if enquiry is not None else None

    return PackageParties(
        package_id=package.id,
        package_reference=package_reference(package.id),
        enquiry_reference=enquiry.reference if enquiry is not None else package_reference(package.id),
        provider_id=package.provider_id,
        provider_name=package.provider.name,
        provider_email=provider_contact_email(session, package.provider_id),
        care_manager_id=care_manager.id if care_manager is not None else None,
        care_manager_name=care_manager.display_name if care_manager is not None else None,
        care_manager_email=care_manager.email if care_manager is not None else None,
        postcode_district=package.service_user.postcode_district,
        start_on=package.start_on,
    )
