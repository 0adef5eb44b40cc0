from collections.abc import Iterator
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from app.cli import OPENAPI_PATH, openapi_document
from app.enums import (
    AuditAction,
    AuthorizationReason,
    AuthorizationStatus,
    EntityType,
    Ocpp16AuthorizationStatus,
    SessionStatus,
)


def test_committed_openapi_document_is_current() -> None:
    assert OPENAPI_PATH.read_text() == openapi_document(), (
        "openapi/openapi.json is stale: run `.venv/bin/ugs export-openapi` and commit it"
    )


def test_every_operation_is_named_tagged_and_documents_its_errors(client: TestClient) -> None:
    document = client.app.openapi()  # type: ignore[attr-defined]
    operation_ids = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            operation_ids.append(operation["operationId"])
            assert operation.get("tags"), f"{method} {path} has no tag"
            assert "_" in operation["operationId"], operation["operationId"]
            if path.startswith("/v1/"):
                responses = operation["responses"]
                for status in ("401", "403", "422", "500"):
                    assert status in responses, f"{method} {path} does not document {status}"
                    assert "application/problem+json" in responses[status]["content"]
                if "{" in path:
                    assert "404" in responses, f"{method} {path} does not document 404"
    assert len(operation_ids) == len(set(operation_ids))


def test_every_route_is_in_the_document(client: TestClient) -> None:
    document = client.app.openapi()  # type: ignore[attr-defined]
    checked = 0
    for context in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        route = context.original_route
        if isinstance(route, APIRoute) and route.include_in_schema:
            for method in route.methods or ():
                assert method.lower() in document["paths"][str(context.path)], (method, context.path)
                checked += 1
    assert checked > 40, "the route table looks empty; did the routing API change?"


def test_statuses_reasons_and_audit_kinds_are_enums_in_the_document(client: TestClient) -> None:
    schemas = client.app.openapi()["components"]["schemas"]  # type: ignore[attr-defined]

    def enum_of(schema: str, field: str) -> list[str]:
        reference = schemas[schema]["properties"][field]["$ref"].rsplit("/", 1)[1]
        return schemas[reference]["enum"]  # type: ignore[no-any-return]

    assert enum_of("AuthorizeResponse", "status") == [s.value for s in AuthorizationStatus]
    assert enum_of("AuthorizeResponse", "ocpp16_status") == [s.value for s in Ocpp16AuthorizationStatus]
    assert enum_of("AuthorizeResponse", "reason") == [r.value for r in AuthorizationReason]
    assert enum_of("SessionRead", "decision_status") == [s.value for s in AuthorizationStatus]
    assert enum_of("SessionRead", "decision_reason") == [r.value for r in AuthorizationReason]
    assert enum_of("SessionRead", "status") == [s.value for s in SessionStatus]
    assert enum_of("AuditEventRead", "action") == [a.value for a in AuditAction]
    assert enum_of("AuditEventRead", "entity_type") == [e.value for e in EntityType]


# Clients that compile: what generators need from the document -------------------------------


def document_of(client: TestClient) -> dict[str, Any]:
    document: dict[str, Any] = client.app.openapi()  # type: ignore[attr-defined]
    return document


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        *_, section, name = node["$ref"].split("/")
        node = document["components"][section][name]
    return node


def each_operation(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def header_names(document: dict[str, Any]) -> Iterator[str]:
    """Every header the document names: parameters, response headers, components."""
    components = document["components"]
    yield from components.get("headers", {})
    for parameter in components.get("parameters", {}).values():
        if parameter["in"] == "header":
            yield parameter["name"]
    for _, _, operation in each_operation(document):
        for parameter in operation.get("parameters", []):
            parameter = resolve(document, parameter)
            if parameter["in"] == "header":
                yield parameter["name"]
        for response in operation["responses"].values():
            yield from response.get("headers", {})


def test_one_spelling_per_header(client: TestClient) -> None:
    spellings: dict[str, set[str]] = {}
    for name in header_names(document_of(client)):
        spellings.setdefault(name.lower(), set()).add(name)
    mixed = {key: names for key, names in spellings.items() if len(names) > 1}
    assert not mixed, f"headers spelled more than one way: {mixed}"
    named = {name for names in spellings.values() for name in names}
    expected = {
        "ETag",
        "Idempotency-Key",
        "Idempotent-Replayed",
        "If-Match",
        "Location",
        "Retry-After",
        "X-Request-ID",
    }
    assert expected <= named, expected - named


def is_page(schema: dict[str, Any]) -> bool:
    properties = schema.get("properties", {})
    return properties.get("items", {}).get("type") == "array" and "next_cursor" in properties


def test_only_list_operations_take_limit_and_cursor(client: TestClient) -> None:
    """`limit`/`cursor` belong to a GET that answers a page (items + next_cursor); a change that
    answers with a page-shaped body shows its first page and takes no paging."""
    document = document_of(client)
    lists = 0
    for path, method, operation in each_operation(document):
        query = {
            parameter["name"]
            for parameter in (resolve(document, p) for p in operation.get("parameters", []))
            if parameter["in"] == "query"
        }
        content = operation["responses"].get("200", {}).get("content", {})
        answers_page = "application/json" in content and is_page(
            resolve(document, content["application/json"]["schema"])
        )
        if {"limit", "cursor"} & query:
            assert method == "get" and answers_page, f"{method.upper()} {path} is no list but takes paging"
        if method == "get" and answers_page:
            assert {"limit", "cursor"} <= query, f"GET {path} answers a page but takes no paging"
            lists += 1
    assert lists >= 10, "fewer list operations than expected: is_page no longer recognises a page?"


def declared_headers(response: dict[str, Any]) -> set[str]:
    return set(response.get("headers", {}))


def test_response_headers_and_conditional_responses_are_declared(client: TestClient) -> None:
    document = document_of(client)
    for header in ("X-Request-ID", "ETag", "Location", "Idempotent-Replayed", "Retry-After"):
        assert "schema" in document["components"]["headers"][header], header
    idempotent = 0
    for path, method, operation in each_operation(document):
        where = f"{method.upper()} {path}"
        responses = operation["responses"]
        for status, response in responses.items():
            for reference in response.get("headers", {}).values():
                assert reference["$ref"].startswith("#/components/headers/"), (where, status)
                resolve(document, reference)
            assert "X-Request-ID" in declared_headers(response), (where, status)
            if status == "201":
                assert "Location" in declared_headers(response), where
            if status in ("409", "503"):
                assert "Retry-After" in declared_headers(response), (where, status)
        if not path.startswith("/v1/"):
            continue
        ok_content = responses.get("200", {}).get("content", {})
        if method == "get" and "application/json" in ok_content:
            assert "ETag" in declared_headers(responses["200"]), where
            assert "ETag" in declared_headers(responses["304"]), where
        if method in ("put", "patch", "delete") or path.endswith(("/archive", "/restore", "/move", "/stop")):
            assert "412" in responses, f"{where} does not document 412 (If-Match)"
        names = {resolve(document, p)["name"] for p in operation.get("parameters", [])}
        if "Idempotency-Key" in names:
            idempotent += 1
            assert "409" in responses, where
            for status in (status for status in responses if status.startswith("2")):
                assert "Idempotent-Replayed" in declared_headers(responses[status]), (where, status)
        assert "X-Request-ID" in names, f"{where} does not declare the X-Request-ID request header"
    assert idempotent >= 5, "fewer operations with Idempotency-Key than expected"
    resource = document["paths"]["/v1/user-groups/{user_group_id}"]
    assert "ETag" in declared_headers(resource["patch"]["responses"]["200"])
    assert "ETag" in declared_headers(document["paths"]["/v1/user-groups"]["post"]["responses"]["201"])


def request_body_schemas(document: dict[str, Any]) -> set[str]:
    schemas = document["components"]["schemas"]
    found: set[str] = set()
    pending: list[Any] = [operation.get("requestBody") for _, _, operation in each_operation(document)]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending += node
        elif isinstance(node, dict):
            name = node.get("$ref", "").removeprefix("#/components/schemas/")
            if name and name not in found and name in schemas:
                found.add(name)
                pending.append(schemas[name])
            pending += node.values()
    return found


def test_request_fields_with_a_default_are_optional_for_generators(client: TestClient) -> None:
    """openapi-typescript (default options) makes a property with a `default` required in a
    component schema: a request body states its defaults in the description only."""
    document = document_of(client)
    names = request_body_schemas(document)
    assert {"UserGroupCreate", "CardCreate", "AuthorizeRequest", "ChargePointCreate"} <= names
    for name in names:
        schema = document["components"]["schemas"][name]
        for field, definition in schema.get("properties", {}).items():
            assert "default" not in definition, f"{name}.{field} has a default"
    kind = document["components"]["schemas"]["UserGroupCreate"]["properties"]["type"]
    assert "type" not in document["components"]["schemas"]["UserGroupCreate"]["required"]
    assert kind["description"].endswith('Default: `"cards_only"`.')
