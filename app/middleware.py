"""Pure ASGI middleware: request id + access log + metrics, and request body limits."""

import logging
import re
import time
import uuid
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logging_config import current_request_id
from app.metrics import HTTP_LATENCY, HTTP_REQUESTS
from app.problems import problem_response
from app.services.context import RequestContext

access_logger = logging.getLogger("app.access")

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

# The authenticated caller, put on the request state by the auth dependency for the access log.
CALLER_STATE_KEY = "caller"
# The primary's WAL position after a write's commit (app/routers/deps.py::unit_of_work), answered
# as X-Consistent-After: the commit happens after the endpoint returns, so it is added here.
CONSISTENT_AFTER_STATE_KEY = "consistent_after"
CONSISTENT_AFTER_HEADER = "x-consistent-after"

JSON_TYPES = ("application/json",)
BODY_TYPES_ALLOWED = ("application/json", "multipart/form-data", "text/csv")


class RequestContextMiddleware:
    """Accepts or generates X-Request-ID, returns it, logs one line per request, counts it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        token = current_request_id.set(request_id)
        started = time.perf_counter()
        status_code = 500

        async def send_with_request_id(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                consistent_after = state.get(CONSISTENT_AFTER_STATE_KEY)
                if consistent_after is not None and status_code < 400:
                    headers[CONSISTENT_AFTER_HEADER] = consistent_after
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            self._finish(scope, state, started, status_code)
            current_request_id.reset(token)

    @staticmethod
    def _finish(scope: Scope, state: dict[str, Any], started: float, status_code: int) -> None:
        elapsed = time.perf_counter() - started
        route = _route_template(scope)
        method = scope["method"]
        HTTP_REQUESTS.labels(method, route, str(status_code)).inc()
        HTTP_LATENCY.labels(method, route).observe(elapsed)
        caller = state.get(CALLER_STATE_KEY)
        access_logger.info(
            "%s %s %s",
            method,
            scope["path"],
            status_code,
            extra={
                "request_id": state["request_id"],
                "method": method,
                "path": scope["path"],
                "route": route,
                "status": status_code,
                "duration_ms": round(elapsed * 1000, 2),
                # Who called (never the key itself): set once the API key is verified.
                "organization_id": str(caller.organization_id) if caller else None,
                "api_key_id": str(caller.api_key_id) if caller and caller.api_key_id else None,
            },
        )


def remember_caller(request: Request, ctx: RequestContext) -> RequestContext:
    """Called where the API key is verified, so the access line can name the organization and key."""
    setattr(request.state, CALLER_STATE_KEY, ctx)
    return ctx


class BodyLimitMiddleware:
    """Refuses bodies over the limit (413) and bodies of a media type we do not read (415).

    Content-Length is checked up front; a chunked body is counted while it streams and the
    request fails as soon as it passes the limit, so nothing of it is ever processed.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        limit = self.max_body_bytes
        too_large = f"The body may be at most {limit} bytes."
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, 413, "payload-too-large", too_large)
            return
        has_body = (declared not in (None, "0")) or "transfer-encoding" in headers
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if has_body and not _is_allowed_media_type(media_type):
            detail = f"Content-Type {media_type or '(none)'} is not accepted; send application/json."
            await self._refuse(scope, receive, send, 415, "unsupported-media-type", detail)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException, so FastAPI's body parsing lets it through as a 413.
                    raise HTTPException(413, too_large)
            return message

        await self.app(scope, limited_receive, send)

    @staticmethod
    async def _refuse(
        scope: Scope, receive: Receive, send: Send, status: int, slug: str, detail: str
    ) -> None:
        title = "Request body too large" if status == 413 else "Unsupported media type"
        response = problem_response(Request(scope), status=status, slug=slug, title=title, detail=detail)
        await response(scope, receive, send)


def _is_allowed_media_type(media_type: str) -> bool:
    return media_type in BODY_TYPES_ALLOWED or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _route_template(scope: Scope) -> str:
    """The template of the matched route, prefix included (`/v1/cards/{card_id}`), so metrics get
    one series per route, not per id. FastAPI keeps an included router's route as it was declared
    (`/cards/{card_id}`, no `/v1`) and records the route with its prefix beside it in the scope."""
    effective = scope.get("fastapi", {}).get("effective_route_context")
    template = getattr(effective, "path_format", None) or getattr(scope.get("route"), "path_format", None)
    return template if isinstance(template, str) else "unmatched"
