"""The HTTP conventions every /v1 operation gets from its route class, so that none is applied by
hand and a new route cannot forget one (tests/gates/test_conditional_requests.py proves them for
every route of the table):

* Every GET answers a strong `ETag`, the hash of its body, and 304 to a matching `If-None-Match`.
* Every change honours `If-Match` (strong comparison, RFC 9110 section 13.1.1). Its target is the
  path itself or, for an action such as `POST /cards/{id}/move`, the nearest enclosing path with a
  GET (`/cards/{id}`). The target is locked and read again inside the change's own transaction,
  and a stale tag is a 412 before anything is written.
* Every POST that changes something honours `Idempotency-Key` (app/services/idempotency.py): the
  key, the change and its response are one transaction; a retry gets the first response with
  `Idempotent-Replayed: true`. Fields marked `WITHHELD_ON_REPLAY` (an API key's secret) are never
  stored, so a replay answers them as null.
* A write whose response is the representation of a resource (the model a GET answers) carries
  that resource's ETag, so the next change can send it as `If-Match` without reading again.

An operation without side effects (authorize, preview) opts out with `@side_effect_free`; the
gates prove that such an operation changes nothing.
"""

import functools
import hashlib
import inspect
import json
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel
from starlette.datastructures import UploadFile as StarletteUploadFile

from app.db import LSN_PATTERN
from app.errors import IdempotencyInProgress, IdempotencyKeyReused, NotFound, PreconditionFailed
from app.problems import merge_problem_responses, problem_responses
from app.routers.deps import CONSISTENT_AFTER, WRITE_METHODS, Uow, current_context
from app.routers.if_match import check_if_match
from app.schemas.common import NO_CONTROL_CHARACTERS, WITHHELD_ON_REPLAY
from app.services import concurrency
from app.services import idempotency as idempotency_service
from app.services.context import RequestContext
from app.settings import Settings

REPLAYED_HEADER = "Idempotent-Replayed"
JSON = "application/json"
STORED_HEADERS = ("location", "etag")

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])

IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=1000,
        pattern=NO_CONTROL_CHARACTERS,
        description="ETag from a previous read; the change is refused (412) if the resource changed since",
    ),
]
IfNoneMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-None-Match",
        max_length=1000,
        pattern=NO_CONTROL_CHARACTERS,
        description="ETag(s) you hold; 304 without a body when the resource is unchanged",
    ),
]
ConsistentAfterHeader = Annotated[
    str | None,
    Header(
        alias=CONSISTENT_AFTER,
        pattern=LSN_PATTERN,
        description="The `X-Consistent-After` a write of yours answered: this read then sees that write "
        "(with a read replica, it is served by the primary until the replica has caught up)",
    ),
]
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=NO_CONTROL_CHARACTERS,
        description="Client-chosen key (e.g. a UUID); a retry with the same key and body returns the "
        "first response with `Idempotent-Replayed: true` instead of changing anything again",
    ),
]
Context = Annotated[RequestContext, Depends(current_context)]


# `async`: a plain `def` dependency would run in FastAPI's thread pool (a thread hop per request).
async def _current_request(request: Request) -> Request:
    return request


# A dependency, not a bare `Request` parameter: FastAPI hands the request to one such parameter
# per function, and the endpoint may declare its own.
CurrentRequest = Annotated[Request, Depends(_current_request)]
HEADERS = (IfMatchHeader, IfNoneMatchHeader, IdempotencyKeyHeader, ConsistentAfterHeader)


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    """The model as FastAPI writes it (by alias), serialized once. FastAPI would dump a returned
    model to a dict, validate that against the response model and serialize the result: three
    passes over a page of 50. The route keeps `response_model` for the OpenAPI document; the
    route class hashes these bytes for the ETag as it does any body."""
    return Response(model.__pydantic_serializer__.to_json(model, by_alias=True), status_code, media_type=JSON)


def side_effect_free(endpoint: Endpoint) -> Endpoint:
    """Marks a POST that changes nothing (a query with a body): no If-Match, no Idempotency-Key."""
    endpoint.__side_effect_free__ = True  # type: ignore[attr-defined]
    return endpoint


def reads_primary(endpoint: Endpoint) -> Endpoint:
    """Marks a GET that must read the primary, never a replica that may lag (the change feed's
    gap-free cursor, the charge-point backend's local lists, which must agree with authorize)."""
    endpoint.__reads_primary__ = True  # type: ignore[attr-defined]
    return endpoint


def is_side_effect_free(endpoint: Callable[..., Any]) -> bool:
    return bool(getattr(endpoint, "__side_effect_free__", False))


class ApiRoute(APIRoute):
    """APIRoute with the conventions above. Every /v1 router is built with `route_class=ApiRoute`."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {method.upper() for method in kwargs.get("methods") or ()}
        self.changes_state = bool(methods & WRITE_METHODS) and not is_side_effect_free(endpoint)
        # Read by app/routers/deps.py::unit_of_work, which chooses the replica or the primary.
        self.reads_primary = bool(getattr(endpoint, "__reads_primary__", False))
        responses = dict(kwargs.get("responses") or {})
        if self.changes_state:
            endpoint = _with_preconditions(endpoint, idempotent="POST" in methods)
            errors = [PreconditionFailed, NotFound]
            if "POST" in methods:
                errors += [IdempotencyKeyReused, IdempotencyInProgress]
            responses = merge_problem_responses(responses, problem_responses(*errors))
        elif "GET" in methods:
            endpoint = _with_extra_parameters(
                endpoint, {"if_none_match": IfNoneMatchHeader, "consistent_after": ConsistentAfterHeader}
            )
            responses.setdefault(304, {"description": "Not modified: the ETag in If-None-Match is current"})
        kwargs["responses"] = responses
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.changes_state:

            async def write_handler(request: Request) -> Response:
                response = await handler(request)
                await _finish_write(request, self, response)
                return response

            return write_handler
        if "GET" in (self.methods or ()):

            async def read_handler(request: Request) -> Response:
                return _conditional_read(request, await handler(request))

            return read_handler
        return handler


def _with_extra_parameters(endpoint: Endpoint, extra: dict[str, Any]) -> Endpoint:
    """The endpoint with more keyword-only parameters, which FastAPI resolves like its own (the
    dependency cache gives them the same session and caller). The endpoint never sees them."""

    @functools.wraps(endpoint)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        for name in extra:
            kwargs.pop(name, None)
        return await endpoint(*args, **kwargs)

    _extend_signature(wrapper, endpoint, extra)
    return wrapper  # type: ignore[return-value]


def _extend_signature(wrapper: Any, endpoint: Callable[..., Any], extra: dict[str, Any]) -> None:
    signature = inspect.signature(endpoint)
    clashes = set(extra) & set(signature.parameters)
    assert not clashes, f"{endpoint.__name__} declares {clashes}; the route class provides them"
    added = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=annotation,
            # Headers are optional; the request, session and caller are always resolved.
            default=None if annotation in HEADERS else inspect.Parameter.empty,
        )
        for name, annotation in extra.items()
    ]
    wrapper.__signature__ = signature.replace(parameters=[*signature.parameters.values(), *added])


def _with_preconditions(endpoint: Endpoint, *, idempotent: bool) -> Endpoint:
    extra: dict[str, Any] = {
        "route_request": CurrentRequest,
        "route_session": Uow,
        "route_context": Context,
        "if_match": IfMatchHeader,
    }
    if idempotent:
        extra["idempotency_key"] = IdempotencyKeyHeader

    @functools.wraps(endpoint)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        request: Request = kwargs.pop("route_request")
        session = kwargs.pop("route_session")
        ctx: RequestContext = kwargs.pop("route_context")
        if_match: str | None = kwargs.pop("if_match")
        key: str | None = kwargs.pop("idempotency_key", None)
        request.state.route_session = session
        request.state.route_context = ctx
        if if_match is not None:
            await check_if_match(request, session, ctx, if_match)
        if key is not None:
            settings: Settings = request.app.state.settings
            stored = await idempotency_service.claim(
                session,
                ctx,
                key,
                await _fingerprint(request),
                ttl=timedelta(hours=settings.idempotency_ttl_hours),
                wait=timedelta(seconds=settings.idempotency_wait_seconds),
            )
            if stored is not None:
                request.state.replayed = True
                return JSONResponse(
                    stored.body,
                    status_code=stored.status_code,
                    headers={**stored.headers, REPLAYED_HEADER: "true"},
                )
            request.state.idempotency_key = key
        return await endpoint(*args, **kwargs)

    _extend_signature(wrapper, endpoint, extra)
    return wrapper  # type: ignore[return-value]


async def _fingerprint(request: Request) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.url.path, request.url.query):
        digest.update(part.encode() + b"\n")
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        # FastAPI has parsed the form already (the raw stream is gone); its parts are the body.
        for name, value in (await request.form()).multi_items():
            digest.update(name.encode() + b"\n")
            if isinstance(value, StarletteUploadFile):
                digest.update((value.filename or "").encode() + b"\n" + await value.read())
                await value.seek(0)
            else:
                digest.update(value.encode())
    else:
        digest.update(await request.body())
    return digest.hexdigest()


def _conditional_read(request: Request, response: Response) -> Response:
    body = getattr(response, "body", None)
    if response.status_code != 200 or not isinstance(body, bytes):
        return response  # a stream (CSV export) has no single body to hash
    etag = concurrency.etag_of(body)
    response.headers["ETag"] = etag
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and concurrency.if_none_match_hits(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return response


async def _finish_write(request: Request, route: ApiRoute, response: Response) -> None:
    """Runs before the unit of work commits: the stored response is part of the change."""
    if getattr(request.state, "replayed", False):
        return
    body = getattr(response, "body", b"")
    if response.status_code in (200, 201) and body and _is_representation(request, route):
        response.headers["ETag"] = concurrency.etag_of(body)
    key = getattr(request.state, "idempotency_key", None)
    if key is None:
        return
    stored = idempotency_service.StoredResponse(
        status_code=response.status_code,
        body=_withhold_secrets(route, response),
        headers={name: response.headers[name] for name in STORED_HEADERS if name in response.headers},
    )
    await idempotency_service.remember(request.state.route_session, request.state.route_context, key, stored)


def _is_representation(request: Request, route: ApiRoute) -> bool:
    return route.response_model is not None and route.response_model in _read_models(request)


def _read_models(request: Request) -> frozenset[Any]:
    """The models single GETs answer with (computed once per app)."""
    state = request.app.state
    if not hasattr(state, "read_models"):
        state.read_models = frozenset(
            context.original_route.response_model
            for context in iter_route_contexts(request.app.routes)
            if isinstance(context.original_route, APIRoute)
            and "GET" in (context.original_route.methods or ())
            and context.original_route.response_model is not None
        )
    return state.read_models  # type: ignore[no-any-return]


def _withhold_secrets(route: ApiRoute, response: Response) -> Any:
    body = json.loads(bytes(response.body)) if response.body else None
    model = route.response_model
    if isinstance(body, dict) and isinstance(model, type) and issubclass(model, BaseModel):
        for name, field in model.model_fields.items():
            extra = field.json_schema_extra
            if isinstance(extra, dict) and all(extra.get(k) == v for k, v in WITHHELD_ON_REPLAY.items()):
                body[field.alias or name] = None
    return body
