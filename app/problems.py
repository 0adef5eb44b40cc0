"""RFC 9457 problem details: the schema, every exception handler, and OpenAPI declarations."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db import is_database_unavailable
from app.errors import PROBLEM_BASE, AlreadyExists, AppError, InvalidInput, PreconditionFailed

logger = logging.getLogger("app.errors")

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


def field_errors(errors: Any) -> list[dict[str, Any]]:
    result = []
    for error in errors:
        loc = [part if isinstance(part, int) else str(part) for part in error.get("loc", ())]
        path = loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc
        result.append(
            {
                "field": ".".join(str(part) for part in path) or str(loc[0] if loc else ""),
                "loc": loc,
                "msg": str(error.get("msg", "invalid")),
                "type": str(error.get("type", "value_error")),
            }
        )
    return result


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    if exc.status == 503:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if "retry_after" in exc.extensions:
        headers["Retry-After"] = str(exc.extensions["retry_after"])
    return problem_response(
        request,
        status=exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        extensions=exc.extensions,
        headers=headers,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = field_errors(exc.errors())
    fields = ", ".join(sorted({e["field"] for e in errors}))
    return problem_response(
        request,
        status=422,
        slug=InvalidInput.slug,
        title=InvalidInput.title,
        detail=f"Invalid fields: {fields}" if fields else InvalidInput.title,
        extensions={"errors": errors},
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug, title = HTTP_SLUGS.get(exc.status_code, (f"http-{exc.status_code}", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
        detail = f"{request.method} is not allowed here; allowed: {headers['Allow']}."
    return problem_response(
        request, status=exc.status_code, slug=slug, title=title, detail=detail, headers=headers or None
    )


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at this URL. Starlette's 405 names only the methods of the
    first route whose path matched, while here each method of a path is a route of its own."""
    path, root_path = request.scope["path"], request.scope.get("root_path", "")
    if root_path and path.startswith(root_path):  # behind a proxy prefix (uvicorn --root-path)
        path = path[len(root_path) :]
    methods: set[str] = set()
    for context in iter_route_contexts(request.app.routes):
        if context.path and context.methods and compile_path(context.path)[0].match(path):
            methods.update(context.methods)
    return sorted(methods)


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    # Services check uniqueness first; this is the race where two requests both passed the check.
    logger.info("integrity error: %s", exc, extra={"request_id": getattr(request.state, "request_id", None)})
    return problem_response(
        request,
        status=409,
        slug=AlreadyExists.slug,
        title=AlreadyExists.title,
        detail="The change conflicts with a concurrent change or an existing resource; retry.",
    )


async def _stale_data(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(request, status=412, slug=PreconditionFailed.slug, title=PreconditionFailed.title)


RETRY_AFTER_SECONDS = 5


def database_unavailable_response(request: Request, exc: BaseException) -> JSONResponse:
    logger.warning(
        "database unavailable: %s: %s",
        type(exc).__name__,
        str(exc).split("\n", 1)[0] or "no answer in time",
        extra={"request_id": getattr(request.state, "request_id", None)},
    )
    slug, title = HTTP_SLUGS[503]
    return problem_response(
        request,
        status=503,
        slug=slug,
        title=title,
        detail="The database is unavailable or did not answer in time; retry later.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def unexpected_error_response(request: Request, exc: BaseException) -> JSONResponse:
    """Any exception no handler took: 503 when the database is unavailable, else a generic 500."""
    if is_database_unavailable(exc):
        return database_unavailable_response(request, exc)
    logger.error(
        "unhandled error",
        exc_info=exc,
        extra={"request_id": getattr(request.state, "request_id", None)},
    )
    slug, title = HTTP_SLUGS[500]
    return problem_response(
        request,
        status=500,
        slug=slug,
        title=title,
        detail="An unexpected error occurred. Quote the request_id when reporting it.",
    )


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    return unexpected_error_response(request, exc)


class ProblemMiddleware:
    """Every exception ends here as a problem response, and goes no further.

    Starlette's outermost ServerErrorMiddleware renders an unhandled exception and then re-raises
    it for the server to log; uvicorn then closes the connection, so a keep-alive client loses
    its next request too. Once the response has started (a streamed export) there is nothing
    left to send a problem in: then the exception goes on and the connection is closed, which is
    how a client learns that the body is incomplete.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_and_note(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        except Exception as exc:
            if started:
                raise
            response = unexpected_error_response(Request(scope), exc)
            await response(scope, receive, send)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(StaleDataError, _stale_data)
    # What no handler above takes ends in ProblemMiddleware (innermost middleware, add it first);
    # this one only sees errors of the outer middlewares.
    app.add_exception_handler(Exception, _unhandled)


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
