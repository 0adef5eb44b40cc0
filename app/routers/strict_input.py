"""Input the route would silently drop is refused instead (422), for every /v1 route at once.

FastAPI on its own ignores a query parameter or form field the route does not declare, keeps only
the last of two values for a parameter that takes one (`?limit=1&limit=2`, two files where one is
expected), and keeps only the last of two equal keys in a JSON object. Each of those hides a
client's mistake (a misspelt filter returns everything; one of two uploads is lost), so
every /v1 router (`app/routers/__init__.py::include_v1`) runs `refuse_ambiguous_input` before each operation.
"""

import json
import types
import typing
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request, params
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

_SEQUENCE_ORIGINS = (list, tuple, set, frozenset, Sequence, typing.Sequence)


@dataclass(frozen=True)
class _Declared:
    """What one route accepts: query parameter and form field names, which take several, and
    which are required."""

    query: frozenset[str]
    query_lists: frozenset[str]
    form: frozenset[str]
    form_lists: frozenset[str]
    required: frozenset[tuple[str, str]]


# Routes are not hashable (Starlette compares them by value); the weak reference tells a live route
# from a collected one whose id was reused.
_declared_by_route: dict[int, tuple[weakref.ref[APIRoute], _Declared]] = {}


def declared_input(route: APIRoute) -> _Declared:
    cached = _declared_by_route.get(id(route))
    if cached is not None and cached[0]() is route:
        return cached[1]
    declared = _declared(route.dependant)
    _declared_by_route[id(route)] = (weakref.ref(route), declared)
    return declared


async def refuse_ambiguous_input(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    declared = declared_input(route)
    given = {("query", name) for name in request.query_params}
    errors = _multidict_errors(
        "query", request.query_params.multi_items(), declared.query, declared.query_lists
    )
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        errors += _duplicate_key_errors(await request.body())
    elif media_type in ("multipart/form-data", "application/x-www-form-urlencoded") and declared.form:
        form = await request.form()  # parsed and cached by FastAPI already
        given |= {("body", name) for name in form}
        errors += _multidict_errors("body", form.multi_items(), declared.form, declared.form_lists)
    if errors:
        # Raising here skips FastAPI's own checks, so the missing required inputs are added: the
        # problem lists everything wrong, as FastAPI's would.
        errors += [
            {"loc": where, "msg": "Field required", "type": "missing"}
            for where in sorted(declared.required - given)
        ]
        raise RequestValidationError(errors)


def _multidict_errors(
    where: str, items: Sequence[tuple[str, Any]], names: frozenset[str], lists: frozenset[str]
) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for name, _ in items:
        counts[name] = counts.get(name, 0) + 1
    for name, count in counts.items():
        if name not in names:
            allowed = ", ".join(sorted(names)) or "none"
            errors.append(
                {
                    "loc": (where, name),
                    "msg": f"unknown parameter; this operation takes: {allowed}",
                    "type": "unknown_parameter",
                }
            )
        elif count > 1 and name not in lists:
            errors.append(
                {
                    "loc": (where, name),
                    "msg": f"given {count} times; this parameter takes one value",
                    "type": "repeated_parameter",
                }
            )
    return errors


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _duplicate_key_errors(body: bytes) -> list[dict[str, Any]]:
    if not body:
        return []
    try:
        json.loads(body, object_pairs_hook=_unique_keys)
    except _DuplicateKey as duplicate:
        return [
            {
                "loc": ("body", duplicate.key),
                "msg": f"the key {duplicate.key!r} appears twice in one JSON object; only one is meaningful",
                "type": "duplicate_key",
            }
        ]
    except (ValueError, RecursionError):
        return []  # not JSON at all: FastAPI's own parsing reports it
    return []


def _declared(dependant: Dependant) -> _Declared:
    query: set[str] = set()
    query_lists: set[str] = set()
    form: set[str] = set()
    form_lists: set[str] = set()
    required: set[tuple[str, str]] = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        pending.extend(current.dependencies)
        for field in current.query_params:
            query.add(field.alias)
            if _takes_several(field.field_info.annotation):
                query_lists.add(field.alias)
            if field.field_info.is_required():
                required.add(("query", field.alias))
        for field in current.body_params:
            if not isinstance(field.field_info, params.Form):  # File is a Form too; JSON is not
                continue
            form.add(field.alias)
            if _takes_several(field.field_info.annotation):
                form_lists.add(field.alias)
            if field.field_info.is_required():
                required.add(("body", field.alias))
    return _Declared(
        frozenset(query), frozenset(query_lists), frozenset(form), frozenset(form_lists), frozenset(required)
    )


def _takes_several(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _takes_several(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_takes_several(arg) for arg in typing.get_args(annotation) if arg is not type(None))
    return origin in _SEQUENCE_ORIGINS
