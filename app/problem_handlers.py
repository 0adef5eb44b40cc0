"""Every exception as an RFC 9457 problem response: the handlers and the outermost catch."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import errors as errors_module
from app.db import is_database_unavailable
from app.errors import AlreadyExists, AppError, InvalidInput, PreconditionFailed
from app.problems import HTTP_SLUGS, problem_response

logger = logging.getLogger("app.errors")


def field_errors(errors: Any) -> list[dict[str, Any]]:
    """FastAPI's validation errors as the problem's `errors` (the same shape as a service's)."""
    return [
        errors_module.FieldError(
            tuple(part if isinstance(part, int) else str(part) for part in error.get("loc", ())),
            str(error.get("msg", "invalid")),
            str(error.get("type", "value_error")),
        ).as_dict()
        for error in errors
    ]


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
