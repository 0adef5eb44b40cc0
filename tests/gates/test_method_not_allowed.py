"""Gate: a method a path does not have is a 405 whose `Allow` lists every method of that path,
for every path of the route table (RFC 9110 section 15.5.6)."""

import uuid

import pytest
from fastapi.testclient import TestClient

from app.enums import Role
from tests.factories import Org
from tests.gates.conftest import OPERATIONS, Operation

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
PATHS = sorted({operation.path for operation in OPERATIONS})


def _matches(template: str, url: str) -> bool:
    """A path parameter stands for any one segment; other segments must be equal."""
    template_parts, url_parts = template.split("/"), url.split("/")
    return len(template_parts) == len(url_parts) and all(
        t.startswith("{") or t == u for t, u in zip(template_parts, url_parts, strict=True)
    )


def methods_at(url: str) -> set[str]:
    """The methods of every path of the table that this URL is an instance of (`/v1/user-groups/
    preview` is also an instance of `/v1/user-groups/{user_group_id}`)."""
    return {operation.method for operation in OPERATIONS if _matches(operation.path, url)}


def instance(path: str) -> str:
    """The path with a fresh id for each parameter: routing answers before any lookup."""
    operation = Operation("GET", path, "")
    return operation.url({name: str(uuid.uuid4()) for name in operation.path_parameters})


def test_every_path_is_in_the_table() -> None:
    assert len(PATHS) > 25
    assert methods_at("/v1/user-groups/" + str(uuid.uuid4())) == {"GET", "PATCH", "DELETE"}


@pytest.mark.parametrize("path", PATHS)
def test_other_methods_are_405_with_every_method_of_the_path(client: TestClient, org: Org, path: str) -> None:
    url = instance(path)
    allowed = methods_at(url)
    others = [method for method in METHODS if method not in allowed]
    assert others, f"{path} answers every method"
    for method in others:
        response = client.request(method, url, headers=org.auth(Role.admin))
        assert response.status_code == 405, (method, url, response.text)
        assert set(response.headers["Allow"].split(", ")) == allowed, (method, url)
        if method != "HEAD":
            problem = response.json()
            assert problem["type"].endswith("/method-not-allowed")
            assert problem["status"] == 405
