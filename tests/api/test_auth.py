from fastapi.testclient import TestClient

from app.enums import Role
from tests.factories import Org, ok


class TestAuthentication:
    def test_missing_malformed_and_unknown_keys_are_401(self, client: TestClient) -> None:
        for headers in (
            {},
            {"Authorization": "Bearer"},
            {"Authorization": "Basic abc"},
            {"Authorization": "Bearer ugs_000000000000_not-a-real-secret"},
            {"Authorization": "Bearer something-else"},
        ):
            response = client.get("/v1/charging-groups", headers=headers)
            assert response.status_code == 401, headers
            assert response.json()["type"].endswith("/unauthenticated")
            assert response.headers["www-authenticate"] == "Bearer"

    def test_right_prefix_wrong_secret_is_401(self, client: TestClient, org: Org) -> None:
        key = org.keys[Role.admin]
        tampered = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
        response = client.get("/v1/charging-groups", headers={"Authorization": f"Bearer {tampered}"})
        assert response.status_code == 401


class TestApiKeys:
    def test_admin_creates_lists_and_revokes(self, client: TestClient, org: Org) -> None:
        created = ok(
            client.post("/v1/api-keys", json={"name": "CPMS", "role": "integration"}, headers=org.auth()),
            201,
        )
        secret = created["key"]
        assert secret.startswith(f"ugs_{created['prefix']}_")
        bearer = {"Authorization": f"Bearer {secret}"}
        assert client.get("/v1/charging-groups", headers=bearer).status_code == 200

        listed = ok(client.get("/v1/api-keys", headers=org.auth()))["items"]
        mine = next(item for item in listed if item["id"] == created["id"])
        assert "key" not in mine and mine["prefix"] == created["prefix"]

        revoked = ok(client.delete(f"/v1/api-keys/{created['id']}", headers=org.auth()))
        assert revoked["revoked_at"] is not None
        assert client.get("/v1/charging-groups", headers=bearer).status_code == 401

    def test_only_admin_manages_keys(self, client: TestClient, org: Org) -> None:
        for role in (Role.operator, Role.viewer, Role.integration):
            assert client.get("/v1/api-keys", headers=org.auth(role)).status_code == 403
            response = client.post(
                "/v1/api-keys", json={"name": "x", "role": "admin"}, headers=org.auth(role)
            )
            assert response.status_code == 403

    def test_cannot_revoke_another_organizations_key(
        self, client: TestClient, org: Org, other_org: Org
    ) -> None:
        created = ok(
            client.post("/v1/api-keys", json={"name": "x", "role": "viewer"}, headers=org.auth()),
            201,
        )
        assert client.delete(f"/v1/api-keys/{created['id']}", headers=other_org.auth()).status_code == 404
        assert (
            client.get(
                "/v1/charging-groups", headers={"Authorization": f"Bearer {created['key']}"}
            ).status_code
            == 200
        )

    def test_key_creation_is_audited_without_the_secret(self, client: TestClient, org: Org) -> None:
        created = ok(
            client.post("/v1/api-keys", json={"name": "audited", "role": "viewer"}, headers=org.auth()),
            201,
        )
        events = ok(client.get("/v1/audit-events", params={"entity_id": created["id"]}, headers=org.auth()))
        (event,) = events["items"]
        assert event["action"] == "api_key.created"
        assert created["key"] not in str(event)
