"""Instance ETags from the optimistic ``row_version`` column, and the If-Match check of calls that change an instance."""

from flask import request

from web.api.problems import PRECONDITION_FAILED, PRECONDITION_REQUIRED, ApiError


def instance_etag(row_version: int) -> str:
    """Return the ETag header value of an instance at ``row_version``, a strong validator such as ``"7"``."""
    return f'"{row_version}"'


def check_if_match(instance_id: str, row_version: int, *, required: bool) -> None:
    """Raise 428 when If-Match is required and missing, and 412 when it names no current ETag of the instance.

    ``*`` matches any version. Weak ETags never match, because If-Match uses the strong comparison (RFC 9110).
    """
    if "If-Match" not in request.headers:
        if required:
            raise ApiError(
                PRECONDITION_REQUIRED,
                f"this call changes instance {instance_id}, so send 'If-Match: {instance_etag(row_version)}' from a fresh read of the instance",
            )
        return

    if_match = request.if_match
    if if_match.star_tag or if_match.contains(str(row_version)):
        return

    raise ApiError(
        PRECONDITION_FAILED,
        f"instance {instance_id} is now at ETag {instance_etag(row_version)}, not the one in If-Match; read it again and retry",
        headers={"ETag": instance_etag(row_version)},
    )
