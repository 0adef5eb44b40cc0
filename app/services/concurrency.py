"""ETags from the version column, and the If-Match check."""

from typing import Any

from app.errors import PreconditionFailed


def etag_of(entity: Any) -> str:
    return f'"{entity.version}"'


def assert_if_match(entity: Any, if_match: str | None) -> None:
    """No header: last write wins. A header: it must name the current version, or 412."""
    if if_match is None:
        return
    candidates = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" in candidates or etag_of(entity) in candidates:
        return
    raise PreconditionFailed(
        f"If-Match {if_match} does not match the current ETag {etag_of(entity)}; "
        "read the resource again and reapply your change.",
        current_etag=etag_of(entity),
    )
