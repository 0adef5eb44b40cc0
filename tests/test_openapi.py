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
