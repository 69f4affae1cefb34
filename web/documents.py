"""Uploaded documents: storage under ``Settings.upload_dir`` outside the web root, and downloads for those allowed."""

import logging
import secrets
from collections.abc import Callable
from pathlib import Path

from flask import Blueprint, abort, current_app, send_file
from flask_login import current_user
from werkzeug.datastructures import FileStorage

from care.documents import MAX_DOCUMENT_BYTES, check_document
from care.errors import NotFoundError
from care.portal import enquiry_document_for, provider_document_for
from engine import audit
from web.access import ADMIN, CARE_MANAGER, PROVIDER_SERVICES, PROVIDER_USER, roles_required, services

log = logging.getLogger(__name__)

blueprint = Blueprint("documents", __name__, url_prefix="/documents")


def _upload_dir() -> Path:
    return Path(services().settings.upload_dir)


def _stored_path(storage_key: str) -> Path:
    # Keys are generated here as hex tokens, so a key never contains a path separator.
    if not storage_key.isalnum():
        raise ValueError(f"invalid storage key {storage_key!r}: keys are hexadecimal tokens")

    return _upload_dir() / storage_key


def store_upload(upload: FileStorage, attach: Callable[..., int]) -> int:
    """Check an upload, write its bytes to document storage and record it with ``attach``; return the record id.

    ``attach(file_name=, content_type=, content=, storage_key=)`` runs the domain rule in a
    transaction and returns the new record's id. The file is written only after the type and size
    checks pass, and removed again when recording fails, so a refused upload leaves nothing stored.
    """
    content = upload.read()
    file_name = upload.filename or ""
    content_type = upload.mimetype or ""
    # Flask's MAX_CONTENT_LENGTH caps the whole request first; this caps each document.
    check_document(file_name, content_type, content, max_bytes=current_app.config.get("CAREPLACE_MAX_DOCUMENT_BYTES", MAX_DOCUMENT_BYTES))

    storage_key = secrets.token_hex(16)
    path = _stored_path(storage_key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    try:
        record_id = attach(file_name=file_name, content_type=content_type, content=content, storage_key=storage_key)
    except BaseException:
        path.unlink(missing_ok=True)
        raise

    return record_id


def _send_stored(storage_key: str, file_name: str, content_type: str):
    path = _stored_path(storage_key)
    if not path.is_file():
        log.warning("document file %s is missing from the upload folder", storage_key)
        abort(404)

    response = send_file(path, mimetype=content_type, as_attachment=True, download_name=file_name, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _scope() -> int | None:
    """Return the provider id that limits what the user may download, or None for council staff."""
    if current_user.role == PROVIDER_USER:
        return current_user.provider_id
    return None


@blueprint.get("/provider/<int:document_id>")
@roles_required(PROVIDER_USER, PROVIDER_SERVICES, ADMIN)
def provider_document(document_id: int):
    """Send an application document to its own provider or to the provider services team; others get 403."""
    with services().session_factory() as db:
        try:
            document = provider_document_for(db, document_id, _scope())
        except NotFoundError:
            log.warning("user %s denied provider document %s", current_user.id, document_id)
            abort(403)
        storage_key, file_name, content_type = document.storage_key, document.file_name, document.content_type

    return _send_stored(storage_key, file_name, content_type)


@blueprint.get("/enquiry/<int:document_id>")
@roles_required(PROVIDER_USER, CARE_MANAGER, PROVIDER_SERVICES, ADMIN)
def enquiry_document(document_id: int):
    """Send an enquiry document to a provider the enquiry went to, or to council staff, and audit the download.

    Enquiry documents describe the service user, so each download is a view of their details.
    """
    with services().session_factory.begin() as db:
        try:
            document = enquiry_document_for(db, document_id, _scope())
        except NotFoundError:
            log.warning("user %s denied enquiry document %s", current_user.id, document_id)
            abort(403)
        storage_key, file_name, content_type = document.storage_key, document.file_name, document.content_type
        audit.record(db, "enquiry_document.downloaded", str(current_user.id), document_id=document_id, enquiry_id=document.enquiry_id)

    return _send_stored(storage_key, file_name, content_type)
