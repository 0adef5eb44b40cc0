"""If-Match for a change: lock the target, read it again through its own GET inside the change's
transaction, and refuse a stale tag (412) before anything is written."""

from typing import Any

from fastapi import Request
from starlette.routing import Match
from starlette.types import Message

from app.errors import NotFound, PreconditionFailed
from app.routers.deps import SHARED_SESSION_STATE
from app.services import concurrency
from app.services.context import RequestContext

# What the If-Match read takes from the change's request: the caller's key, nothing conditional.
FORWARDED_HEADERS = (b"authorization", b"host")


async def check_if_match(request: Request, session: Any, ctx: RequestContext, if_match: str) -> None:
    target = _target_path(request)
    await concurrency.lock_resource(session, ctx, target.lower())
    status, etag = await _read_current(request, session, target)
    if status == 404:
        raise NotFound(f"{target} does not exist.")
    if not concurrency.if_match_allows(if_match, etag):
        raise PreconditionFailed(
            f"If-Match {if_match} does not match the current ETag {etag} of {target}; "
            "read the resource again and reapply your change.",
            current_etag=etag,
        )


def _target_path(request: Request) -> str:
    """The path itself, or the nearest enclosing path that answers GET."""
    parts = request.url.path.rstrip("/").split("/")
    while len(parts) > 2:
        path = "/".join(parts)
        scope = {"type": "http", "method": "GET", "path": path, "root_path": ""}
        for route in request.app.router.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return path
        parts.pop()
    return request.url.path


async def _read_current(request: Request, session: Any, path: str) -> tuple[int, str | None]:
    """GET `path` inside this request's transaction (the route's own code, same caller), so the
    comparison sees exactly what the change will change."""
    scope = {
        "type": "http",
        "asgi": request.scope.get("asgi", {"version": "3.0"}),
        "http_version": request.scope.get("http_version", "1.1"),
        "method": "GET",
        "scheme": request.scope.get("scheme", "http"),
        "server": request.scope.get("server"),
        "client": request.scope.get("client"),
        "root_path": request.scope.get("root_path", ""),
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(name, value) for name, value in request.scope["headers"] if name in FORWARDED_HEADERS],
        "app": request.app,
        "state": {"request_id": getattr(request.state, "request_id", None), SHARED_SESSION_STATE: session},
    }
    for name in ("starlette.exception_handlers", "fastapi_middleware_astack"):
        if name in request.scope:
            scope[name] = request.scope[name]
    status = 500
    etag: str | None = None

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status, etag
        if message["type"] == "http.response.start":
            status = message["status"]
            for name, value in message.get("headers", []):
                if name.lower() == b"etag":
                    etag = value.decode()

    await request.app.router(scope, receive, send)
    return status, etag if status == 200 else None
