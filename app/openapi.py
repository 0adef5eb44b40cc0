"""The OpenAPI document's finishing pass: what every operation gets by rule, declared once.

FastAPI writes each operation from its route. What follows from the kind of operation alone
(method, path, status, response schema) is added here, so that no route can forget it and
client generators see one consistent document:

- Response headers, declared once in `components/headers` and referenced: `X-Request-ID` on every
  response; `ETag` on a JSON 200 of a `/v1` GET, on its 304, and on a 200/201 of a write that
  returns a resource (a schema some `/v1` GET returns); `Location` on every 201;
  `Idempotent-Replayed` on the 2xx of an operation that takes `Idempotency-Key`; `Retry-After` on
  every 503 and 409.
- Conditional and idempotent requests: 304 on JSON `/v1` GETs (If-None-Match); 412 on
  PUT/PATCH/DELETE and on POST actions on an existing resource (If-Match); 409 on an operation that
  takes `Idempotency-Key` (the same key still running, or used for another request).
- The `X-Request-ID` request header, declared once in `components/parameters`.
- One spelling per header: FastAPI spells a `Header()` parameter without alias in lower case
  (`if-match`); the names in `HEADER_SPELLINGS` are written as the HTTP specifications do.
- Request bodies carry no `default` keyword. openapi-typescript (default options) makes a property
  with a default required in a component schema, even one only ever sent by the client, so a
  TypeScript user would have to send `type`, `blocked` or five nulls to `/v1/authorize`. The
  default is stated in the description instead; the server applies it as before.
"""

import copy
import json
from collections.abc import Iterator
from typing import Any

from app.errors import PreconditionFailed
from app.problems import PROBLEM_MEDIA_TYPE, PROBLEM_REF

JSON = "application/json"
WRITE_METHODS = ("put", "patch", "delete", "post")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

HEADER_SPELLINGS = {
    name.lower(): name
    for name in (
        "ETag",
        "Idempotency-Key",
        "Idempotent-Replayed",
        "If-Match",
        "If-None-Match",
        "Location",
        "Retry-After",
        "X-Request-ID",
    )
}

RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's id (the one sent, if valid, else a new one); it is in the "
        "log line and the audit record of the request. Quote it when reporting a problem.",
        "required": True,
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": "Strong validator of this representation: send it as `If-None-Match` to get "
        "a 304 while it is unchanged, or as `If-Match` to change the resource only if unchanged.",
        "schema": {"type": "string"},
    },
    "Location": {
        "description": "Where the created resource is read (after a bulk add or an import: the "
        "group's card list)",
        "required": True,
        "schema": {"type": "string", "format": "uri-reference"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored response of an earlier request with the "
        "same `Idempotency-Key` (nothing was changed again)",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying: on a 503, and on a 409 while a request "
        "with the same `Idempotency-Key` is still running",
        "schema": {"type": "integer", "minimum": 0},
    },
}

REQUEST_ID_PARAMETER: dict[str, Any] = {
    "name": "X-Request-ID",
    "in": "header",
    "required": False,
    "description": "Your id for this request (1-128 of `A-Z a-z 0-9 . _ : -`); it is returned "
    "in `X-Request-ID`, logged and audited. Without it (or if invalid) the server makes one.",
    "schema": {"type": "string", "maxLength": 128, "pattern": "^[A-Za-z0-9._:\\-]{1,128}$"},
}


def header_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


def problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}}}


NOT_MODIFIED: dict[str, Any] = {
    "description": "Not modified: the representation still has the ETag sent in `If-None-Match`",
}
PRECONDITION_FAILED = problem(f"`{PreconditionFailed.type_uri()}`: {PreconditionFailed.title}")
IDEMPOTENCY_CONFLICT = problem(
    "A request with the same `Idempotency-Key` is still running (retry after `Retry-After` "
    "seconds), or the key was used for a different request"
)


def finish(document: dict[str, Any]) -> dict[str, Any]:
    """The document with the rules above applied (a copy; `document` is left as it is)."""
    document = copy.deepcopy(document)
    components = document.setdefault("components", {})
    components.setdefault("headers", {}).update(copy.deepcopy(RESPONSE_HEADERS))
    components.setdefault("parameters", {})["X-Request-ID"] = copy.deepcopy(REQUEST_ID_PARAMETER)
    resources = readable_resources(document)
    for path, method, operation in operations(document):
        canonical_header_parameters(document, operation)
        if not takes_header(document, operation, "X-Request-ID"):
            operation.setdefault("parameters", []).append({"$ref": "#/components/parameters/X-Request-ID"})
        add_conditional_responses(document, path, method, operation)
        add_response_headers(document, path, method, operation, resources)
    strip_request_defaults(document)
    return document


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def is_v1(path: str) -> bool:
    return path.startswith("/v1/")


def json_schema_ref(response: dict[str, Any]) -> str | None:
    ref = response.get("content", {}).get(JSON, {}).get("schema", {}).get("$ref")
    return ref if isinstance(ref, str) else None


def readable_resources(document: dict[str, Any]) -> set[str]:
    """The schemas a `/v1` GET answers 200 with: a write answering one of them returns a resource."""
    return {
        ref
        for path, method, operation in operations(document)
        if is_v1(path) and method == "get"
        for ref in [json_schema_ref(operation.get("responses", {}).get("200", {}))]
        if ref is not None
    }


def parameter_of(document: dict[str, Any], parameter: dict[str, Any]) -> dict[str, Any]:
    """An operation's parameter, also when it is a reference to `components/parameters`."""
    ref = parameter.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/parameters/"):
        found: dict[str, Any] = document["components"]["parameters"][ref.rsplit("/", 1)[1]]
        return found
    return parameter


def canonical_header_parameters(document: dict[str, Any], operation: dict[str, Any]) -> None:
    for parameter in (parameter_of(document, p) for p in operation.get("parameters", [])):
        if parameter.get("in") == "header":
            parameter["name"] = HEADER_SPELLINGS.get(parameter["name"].lower(), parameter["name"])


def takes_header(document: dict[str, Any], operation: dict[str, Any], name: str) -> bool:
    return any(
        parameter.get("in") == "header" and parameter.get("name") == name
        for parameter in (parameter_of(document, p) for p in operation.get("parameters", []))
    )


def is_json_get(path: str, method: str, operation: dict[str, Any]) -> bool:
    return (
        is_v1(path) and method == "get" and JSON in operation["responses"].get("200", {}).get("content", {})
    )


def is_action_on_existing(document: dict[str, Any], path: str, method: str) -> bool:
    """POST /v1/things/{id}/verb: the parent is a readable item and the path itself is no collection."""
    parent, _, _ = path.rpartition("/")
    parent_item = document["paths"].get(parent, {})
    return (
        is_v1(path)
        and method == "post"
        and parent.endswith("}")
        and "get" in parent_item
        and "get" not in document["paths"][path]
    )


def add_conditional_responses(
    document: dict[str, Any], path: str, method: str, operation: dict[str, Any]
) -> None:
    responses = operation["responses"]
    if is_json_get(path, method, operation):
        responses.setdefault("304", copy.deepcopy(NOT_MODIFIED))
    if is_v1(path) and (
        method in ("put", "patch", "delete") or is_action_on_existing(document, path, method)
    ):
        responses.setdefault("412", copy.deepcopy(PRECONDITION_FAILED))
    if takes_header(document, operation, "Idempotency-Key"):
        responses.setdefault("409", copy.deepcopy(IDEMPOTENCY_CONFLICT))
    operation["responses"] = dict(sorted(responses.items()))


def add_response_headers(
    document: dict[str, Any], path: str, method: str, operation: dict[str, Any], resources: set[str]
) -> None:
    idempotent = takes_header(document, operation, "Idempotency-Key")
    for status, response in operation["responses"].items():
        names = ["X-Request-ID"]
        if status == "304" or (status == "200" and is_json_get(path, method, operation)):
            names.append("ETag")
        if (
            is_v1(path)
            and method in WRITE_METHODS
            and status in ("200", "201")
            and json_schema_ref(response) in resources
        ):
            names.append("ETag")
        if status == "201":
            names.append("Location")
        if idempotent and status.startswith("2"):
            names.append("Idempotent-Replayed")
        if status in ("409", "503"):
            names.append("Retry-After")
        headers = response.setdefault("headers", {})
        for name in names:
            headers[name] = header_ref(name)
        response["headers"] = dict(sorted(headers.items()))


def request_schemas(document: dict[str, Any]) -> set[str]:
    """Names of the component schemas a request body uses, directly or through references."""
    schemas = document.get("components", {}).get("schemas", {})
    found: set[str] = set()
    pending = [operation.get("requestBody", {}) for _, _, operation in operations(document)]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[1]
                if name not in found:
                    found.add(name)
                    pending.append(schemas.get(name, {}))
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


def strip_request_defaults(document: dict[str, Any]) -> None:
    schemas = document.get("components", {}).get("schemas", {})
    for name in sorted(request_schemas(document)):
        for field in schemas[name].get("properties", {}).values():
            if "default" not in field:
                continue
            default = field.pop("default")
            if default is not None:  # an omitted nullable field is null: nothing to say
                text = f"Default: `{json.dumps(default)}`."
                field["description"] = f"{field['description']} {text}" if "description" in field else text
