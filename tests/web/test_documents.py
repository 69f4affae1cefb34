"""Document uploads and downloads: type and size checks, storage outside the web root, and who may download."""

import dataclasses
import io

import pytest
import sqlalchemy as sa

from care.models.enquiries import EnquiryDocument
from care.models.providers import ProviderDocument
from engine.models import AuditEvent

PDF = b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n"


@pytest.fixture
def upload_dir(services, tmp_path):
    folder = tmp_path / "uploads"
    services.settings = dataclasses.replace(services.settings, upload_dir=folder)
    return folder


def _stored_files(folder):
    return sorted(path.name for path in folder.glob("*")) if folder.exists() else []


def _upload(client, token, content, name="application.pdf", content_type="application/pdf", path="/provider/documents"):
    return client.post(path, data={"csrf_token": token, "document": (io.BytesIO(content), name, content_type)}, content_type="multipart/form-data")


def _count(session_factory, model):
    with session_factory() as db:
        return db.scalar(sa.select(sa.func.count()).select_from(model))


def test_provider_document_upload_and_download(logged_in, csrf_token, people, upload_dir, session_factory):
    owner = logged_in(people.provider_user)
    response = _upload(owner, csrf_token(owner, "/provider/documents"), PDF, name="../../CQC certificate.pdf")
    with session_factory() as db:
        document = db.scalar(sa.select(ProviderDocument))

    download = owner.get(f"/documents/provider/{document.id}")
    download_data = download.data
    download.close()
    staff = logged_in(people.provider_services).get(f"/documents/provider/{document.id}")
    staff.close()
    other = logged_in(people.other_provider_user).get(f"/documents/provider/{document.id}")

    assert response.status_code == 302
    assert document.file_name == "CQC certificate.pdf"
    assert _stored_files(upload_dir) == [document.storage_key]
    assert download.status_code == 200
    assert download_data == PDF
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert staff.status_code == 200
    assert other.status_code == 403


@pytest.mark.parametrize(
    ("content", "name", "content_type"),
    [(b"MZ\x90\x00 not a document", "virus.exe", "application/octet-stream"), (b"<html>not a pdf</html>", "fake.pdf", "application/pdf")],
)
def test_provider_document_bad_type_refused(content, name, content_type, logged_in, csrf_token, people, upload_dir, session_factory):
    client = logged_in(people.provider_user)

    response = _upload(client, csrf_token(client, "/provider/documents"), content, name, content_type)

    assert response.status_code == 422
    assert 'id="field-document-error"' in response.get_data(as_text=True)
    assert _stored_files(upload_dir) == []
    assert _count(session_factory, ProviderDocument) == 0


def test_provider_document_oversized_refused(app, logged_in, csrf_token, people, upload_dir, session_factory):
    app.config["CAREPLACE_MAX_DOCUMENT_BYTES"] = 1000
    client = logged_in(people.provider_user)

    response = _upload(client, csrf_token(client, "/provider/documents"), PDF + b"0" * 1000)

    assert response.status_code == 422
    assert "too large" in response.get_data(as_text=True)
    assert _stored_files(upload_dir) == []
    assert _count(session_factory, ProviderDocument) == 0


def test_provider_document_missing_file_shows_field_error(logged_in, csrf_token, people, upload_dir):
    client = logged_in(people.provider_user)

    response = client.post("/provider/documents", data={"csrf_token": csrf_token(client, "/provider/documents")})

    assert response.status_code == 422
    assert 'href="#field-document"' in response.get_data(as_text=True)


def test_enquiry_document_download_scoped_and_audited(logged_in, csrf_token, people, enquiry_id, upload_dir, session_factory):
    care_manager = logged_in(people.care_manager)
    path = f"/staff/enquiries/{enquiry_id}/documents"
    uploaded = _upload(care_manager, csrf_token(care_manager, f"/staff/enquiries/{enquiry_id}"), PDF, name="assessment.pdf", path=path)
    with session_factory() as db:
        document_id = db.scalar(sa.select(EnquiryDocument.id))

    recipient = logged_in(people.provider_user).get(f"/documents/enquiry/{document_id}")
    recipient.close()
    other = logged_in(people.other_provider_user).get(f"/documents/enquiry/{document_id}")

    assert uploaded.status_code == 302
    assert recipient.status_code == 200
    assert recipient.headers["Content-Disposition"].startswith("attachment")
    assert other.status_code == 403
    with session_factory() as db:
        downloads = list(db.scalars(sa.select(AuditEvent).where(AuditEvent.kind == "enquiry_document.downloaded")))
    assert [event.actor for event in downloads] == [str(people.provider_user.id)]


def test_enquiry_document_bad_type_refused(logged_in, csrf_token, people, enquiry_id, upload_dir, session_factory):
    client = logged_in(people.care_manager)

    response = _upload(client, csrf_token(client, f"/staff/enquiries/{enquiry_id}"), b"plain text", "notes.txt", "text/plain", path=f"/staff/enquiries/{enquiry_id}/documents")

    assert response.status_code == 422
    assert _stored_files(upload_dir) == []
    assert _count(session_factory, EnquiryDocument) == 0
