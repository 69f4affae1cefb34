"""Tests of uploaded documents: type, content and size checks, safe names, and the records attached."""

import pytest

from care.documents import attach_enquiry_document, attach_provider_document, check_document
from care.errors import InvalidValueError, NotFoundError

PDF = b"%PDF-1.7\n% made-up test file\n"


def test_check_document_accepts_pdf():
    assert check_document("application form.pdf", "application/pdf", PDF) == "application form.pdf"


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\Ada\\scan 1.pdf", "scan 1.pdf"),
        ("contract;rm -rf.pdf", "contract_rm -rf.pdf"),
    ],
)
def test_check_document_strips_directories(file_name, expected):
    assert check_document(file_name, "application/pdf", PDF) == expected


@pytest.mark.parametrize(
    ("file_name", "content_type", "content", "field"),
    [
        ("script.html", "text/html", b"<html>", "content_type"),
        ("fake.pdf", "application/pdf", b"MZ\x90\x00", "content"),
        ("photo.png", "image/png", PDF, "content"),
        ("...", "application/pdf", PDF, "file_name"),
    ],
)
def test_check_document_invalid_upload_raises(file_name, content_type, content, field):
    with pytest.raises(InvalidValueError) as raised:
        check_document(file_name, content_type, content)

    assert raised.value.field == field


def test_check_document_too_large_raises():
    with pytest.raises(InvalidValueError, match="larger than 64 bytes"):
        check_document("big.pdf", "application/pdf", PDF + b"0" * 64, max_bytes=64)


def test_attach_provider_document_records_upload(session, build):
    provider = build.provider()
    user = build.user()

    document = attach_provider_document(
        session,
        provider.id,
        file_name="cqc certificate.pdf",
        content_type="application/pdf",
        content=PDF,
        storage_key="providers/1/cqc.pdf",
        uploaded_by_id=user.id,
    )
    session.commit()

    assert provider.documents == [document]
    assert document.size_bytes == len(PDF)
    assert document.uploaded_at is not None


def test_attach_enquiry_document_unknown_enquiry_raises(session, build):
    with pytest.raises(NotFoundError, match="enquiry 404"):
        attach_enquiry_document(
            session,
            404,
            file_name="plan.pdf",
            content_type="application/pdf",
            content=PDF,
            storage_key="e/404",
            uploaded_by_id=None,
        )


def test_attach_enquiry_document_records_upload(session, build):
    enquiry = build.enquiry()

    document = attach_enquiry_document(
        session,
        enquiry.id,
        file_name="care plan.pdf",
        content_type="application/pdf",
        content=PDF,
        storage_key="enquiries/1/plan.pdf",
        uploaded_by_id=None,
    )

    assert enquiry.documents == [document]
