"""RFC 9457 problem details: the schema, the response, and the OpenAPI declarations (the handlers:
app/problem_handlers.py)."""

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.errors import PROBLEM_BASE, AppError

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"

HTTP_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Missing or invalid API key"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Resource not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    500: ("internal-error", "Internal server error"),
    503: ("service-unavailable", "The service is temporarily unavailable"),
}


# The document of app.errors.FieldError.as_dict() (the class name is the OpenAPI component's).
class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending field, e.g. `name` or `cards.3.uid`")
    loc: list[str | int] = Field(description="Location as a list: body/query/path/header, then keys")
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(description="Stable URI identifying the kind of problem")
    title: str
    status: int
    # Always sent (problem_response fills them), so required: a generated client need not guess.
    detail: str = Field(description="What went wrong in this case, for a human")
    instance: str = Field(description="The request path")
    request_id: str | None = Field(description="The request's `X-Request-ID`")
    errors: list[FieldError] | None = Field(
        default=None, description="Each invalid field (validation problems only; absent otherwise)"
    )

    model_config = {"extra": "allow"}


def problem_response(
    request: Request,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    extensions: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail or title,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", None),
    }
    if extensions:
        body.update(extensions)
    headers = dict(headers or {})
    if body["request_id"]:
        # Also set here: the 500 handler runs outside the request-id middleware.
        headers["X-Request-ID"] = body["request_id"]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def problem_responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each listed error kind, documented as a problem document."""
    by_status: dict[int, list[type[AppError]]] = {}
    for error in errors:
        by_status.setdefault(error.status, []).append(error)
    return {
        status: {
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
            "description": "; ".join(f"`{e.type_uri()}`: {e.title}" for e in kinds),
        }
        for status, kinds in sorted(by_status.items())
    }


def merge_problem_responses(
    declared: dict[int | str, dict[str, Any]], added: dict[int | str, dict[str, Any]]
) -> dict[int | str, dict[str, Any]]:
    """`declared` plus `added`; where both document a status, both descriptions are kept."""
    merged = dict(declared)
    for status, response in added.items():
        if status in merged and "description" in merged[status]:
            known = merged[status]["description"]
            extra = [part for part in response["description"].split("; ") if part not in known]
            merged[status] = {**merged[status], "description": "; ".join([known, *extra])}
        else:
            merged[status] = response
    return merged


def common_problem_responses() -> dict[int | str, dict[str, Any]]:
    """Problems every /v1 operation can answer with."""
    return {
        code: {
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
            "description": description,
        }
        for code, description in (
            (401, "Missing or invalid API key"),
            (403, "The API key's role does not allow this operation"),
            (422, "A field is invalid; `errors` lists each one"),
            (500, "Unexpected error (generic text; quote request_id)"),
            (503, "The database is unavailable or did not answer in time; retry after Retry-After seconds"),
        )
    }


def problem_schemas() -> dict[str, Any]:
    """Component schemas referenced by the problem responses (added to the OpenAPI document)."""
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = schema.pop("$defs", {})
    # `errors` is left out, not sent as null: without a default, openapi-typescript types it as
    # optional (with one, as always present).
    del schema["properties"]["errors"]["default"]
    return {"Problem": schema, **definitions}
