"""Uploaded documents: type and size checks, and the records of files attached to applications and enquiries."""

import logging
import re
from pathlib import PurePosixPath, PureWindowsPath

from sqlalchemy.orm import Session

from care.enquiries import get_enquiry
from care.errors import InvalidValueError
from care.models.enquiries import EnquiryDocument
from care.models.providers import ProviderDocument
from care.providers import get_provider

log = logging.getLogger(__name__)

# Accepted content types, each with the leading bytes that every file of that type starts with.
SIGNATURES = {
    "application/pdf": b"%PDF-",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff",
}
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
UNSAFE_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9._ ()-]+")


def check_document(file_name: str, content_type: str, content: bytes, max_bytes: int = MAX_DOCUMENT_BYTES) -> str:
    """Raise InvalidValueError unless the upload is a PDF, PNG or JPEG of at most ``max_bytes``, and return a safe file name.

    The type must match the file's leading bytes as well as ``content_type``. The returned name
    contains no directory part and only letters, digits, spaces and ``._()-``.
    """
    expected = SIGNATURES.get(content_type)
    if expected is None:
        raise InvalidValueError("content_type", content_type, "upload a PDF, PNG or JPEG file")

    if not content.startswith(expected):
        raise InvalidValueError("content", file_name, f"the file is not a valid {content_type} file, so upload it again")

    if len(content) > max_bytes:
        raise InvalidValueError("content", len(content), f"the file is larger than {max_bytes} bytes, so split or compress it")

    base_name = PureWindowsPath(PurePosixPath(file_name).name).name
    safe_name = UNSAFE_NAME_CHARACTERS.sub("_", base_name).strip(" .")[:200]
    if not safe_name:
        raise InvalidValueError("file_name", file_name, "give the file a name")

    return safe_name


def attach_provider_document(
    session: Session,
    provider_id: int,
    *,
    file_name: str,
    content_type: str,
    content: bytes,
    storage_key: str,
    uploaded_by_id: int | None,
) -> ProviderDocument:
    """Check an upload to a provider's application and record it; the caller stores ``content`` under ``storage_key``."""
    provider = get_provider(session, provider_id)
    safe_name = check_document(file_name, content_type, content)

    document = ProviderDocument(
        provider_id=provider.id,
        file_name=safe_name,
        content_type=content_type,
        size_bytes=len(content),
        storage_key=storage_key,
        uploaded_by_id=uploaded_by_id,
    )
    session.add(document)
    session.flush()
    log.info("document %s attached to provider %s", document.id, provider.id)

    return document


def attach_enquiry_document(
    session: Session,
    enquiry_id: int,
    *,
    file_name: str,
    content_type: str,
    content: bytes,
    storage_key: str,
    uploaded_by_id: int | None,
) -> EnquiryDocument:
    """Check a care manager's upload to an enquiry and record it; the caller stores ``content`` under ``storage_key``."""
    enquiry = get_enquiry(session, enquiry_id)
    safe_name = check_document(file_name, content_type, content)

    document = EnquiryDocument(
        enquiry_id=enquiry.id,
        file_name=safe_name,
        content_type=content_type,
        size_bytes=len(content),
        storage_key=storage_key,
        uploaded_by_id=uploaded_by_id,
    )
    session.add(document)
    session.flush()
    log.info("document %s attached to enquiry %s", document.id, enquiry.id)

    return document
