"""app/openapi.finish on small hand-made documents: the cases the app's own document may not have
today (a lower-case header next to the canonical one, a referenced parameter)."""

from typing import Any

from app.openapi import finish

PROBLEM = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def ok(schema: str) -> dict[str, Any]:
    return {"description": "ok", "content": {"application/json": {"schema": {"$ref": schema}}}}


def document() -> dict[str, Any]:
    thing = "#/components/schemas/Thing"
    return {
        "openapi": "3.1.0",
        "paths": {
            "/v1/things": {
                "post": {
                    "parameters": [{"$ref": "#/components/parameters/Key"}],
                    "requestBody": {
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/New"}}}
                    },
                    "responses": {"201": ok(thing)},
                },
            },
            "/v1/things/{id}": {
                "get": {"responses": {"200": ok(thing)}},
                "patch": {
                    "parameters": [{"name": "if-match", "in": "header", "schema": {"type": "string"}}],
                    "responses": {"200": ok(thing)},
                },
            },
            "/v1/things/{id}/close": {"post": {"responses": {"200": ok(thing), "409": PROBLEM}}},
        },
        "components": {
            "parameters": {"Key": {"name": "idempotency-key", "in": "header", "schema": {"type": "string"}}},
            "schemas": {
                "Thing": {"type": "object", "properties": {"id": {"type": "string"}}},
                "New": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "colour": {"type": "string", "default": "red", "description": "Its colour."},
                        "note": {"anyOf": [{"$ref": "#/components/schemas/Note"}, {"type": "null"}]},
                    },
                    "required": ["name"],
                },
                "Note": {
                    "type": "object",
                    "properties": {"text": {"type": ["string", "null"], "default": None}},
                },
            },
        },
    }


def test_spellings_become_canonical_also_through_references() -> None:
    finished = finish(document())
    assert finished["components"]["parameters"]["Key"]["name"] == "Idempotency-Key"
    patch = finished["paths"]["/v1/things/{id}"]["patch"]
    assert [p.get("name") for p in patch["parameters"]] == ["If-Match", None]  # + the X-Request-ID $ref
    assert patch["parameters"][1] == {"$ref": "#/components/parameters/X-Request-ID"}


def test_headers_and_responses_by_kind_of_operation() -> None:
    finished = finish(document())
    create = finished["paths"]["/v1/things"]["post"]["responses"]
    assert set(create["201"]["headers"]) == {"ETag", "Idempotent-Replayed", "Location", "X-Request-ID"}
    assert set(create["409"]["headers"]) == {"Retry-After", "X-Request-ID"}  # the referenced key counts
    assert "412" not in create  # a create changes no existing resource
    read = finished["paths"]["/v1/things/{id}"]["get"]["responses"]
    assert set(read) == {"200", "304"}
    assert set(read["304"]["headers"]) == {"ETag", "X-Request-ID"}
    assert "412" in finished["paths"]["/v1/things/{id}"]["patch"]["responses"]
    close = finished["paths"]["/v1/things/{id}/close"]["post"]["responses"]
    assert "412" in close  # an action on an existing resource
    assert "Idempotent-Replayed" not in close["200"]["headers"]  # it takes no Idempotency-Key
    assert close["409"]["headers"]["Retry-After"] == {"$ref": "#/components/headers/Retry-After"}


def test_request_defaults_move_to_the_description() -> None:
    original = document()
    finished = finish(original)
    new = finished["components"]["schemas"]["New"]["properties"]
    assert new["colour"] == {"type": "string", "description": 'Its colour. Default: `"red"`.'}
    assert finished["components"]["schemas"]["Note"]["properties"]["text"] == {"type": ["string", "null"]}
    assert finished["components"]["schemas"]["Thing"] == original["components"]["schemas"]["Thing"]
    assert original["components"]["schemas"]["New"]["properties"]["colour"]["default"] == "red"  # a copy
