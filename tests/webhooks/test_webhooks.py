"""Webhooks over HTTP: subscribe, receive a signed event at a real receiver and verify it with the
`standardwebhooks` library; retries with backoff, giving up, the delivery log, redelivery,
disabling an endpoint that fails for long, and the address rules."""

import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.db import Database, UnitOfWork
from app.enums import Role
from app.main import create_app
from app.models import WebhookEndpoint
from app.services import webhook_secrets
from app.settings import Settings
from app.webhook_worker import deliver_due
from tests.api.test_events import read_all
from tests.factories import Org, insert_card, insert_user_group, make_org, ok, subscribe
from tests.webhooks.receiver import running_receiver

# Retries at once: the tests run the worker's rounds themselves.
NOW = {"webhook_retry_delays_seconds": [0.0, 0.0, 0.0]}


def deliver(client: TestClient, settings: Settings, rounds: int = 1) -> int:
    """Runs the worker's rounds in the app's event loop; returns how many deliveries were tried."""
    db: Database = client.app.state.db  # type: ignore[attr-defined]

    async def run() -> int:
        tried = 0
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(rounds):
                tried += await deliver_due(db, settings, http)
        return tried

    assert client.portal is not None
    return client.portal.call(run)


def deliveries(client: TestClient, org: Org, endpoint_id: str) -> list[Any]:
    page = ok(
        client.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries", headers=org.auth(Role.integration))
    )
    return page["items"]  # type: ignore[no-any-return]


def block_a_card(client: TestClient, org: Org) -> dict[str, Any]:
    group = insert_user_group(client, org)
    card = insert_card(client, org, group["id"], f"WH{uuid.uuid4().hex[:8].upper()}")
    return ok(client.patch(f"/v1/cards/{card['id']}", json={"blocked": True}, headers=org.auth()))  # type: ignore[no-any-return]


@pytest.fixture
def worker_client(settings: Settings) -> Iterator[TestClient]:
    """The app with its in-process webhook worker running (the embedded setup's default)."""
    in_process = settings.model_copy(
        update={"webhook_worker_in_process": True, "webhook_poll_interval_seconds": 0.05}
    )
    with TestClient(create_app(in_process), raise_server_exceptions=False) as client:
        yield client


def test_subscribe_receive_and_verify_a_signed_event(worker_client: TestClient) -> None:
    client = worker_client
    org = make_org(client)
    with running_receiver() as receiver:
        endpoint = subscribe(client, org, receiver.url, event_types=["card.updated"])
        assert endpoint["secret"].startswith("whsec_") and endpoint["enabled"] is True
        card = block_a_card(client, org)
        (received,) = receiver.wait_for(1)
        time.sleep(0.3)
        assert len(receiver.received) == 1, "only the subscribed type is sent"

    payload = Webhook(endpoint["secret"]).verify(received.body, received.headers)
    assert payload["type"] == "card.updated"
    assert payload["data"]["resource"] == {"type": "card", "id": card["id"]}
    assert payload["data"]["state"]["blocked"] is True
    assert received.headers["webhook-id"] == payload["id"]
    feed, _ = read_all(client, org, expect=1, type="card.updated")
    assert feed == [payload], "a webhook body is the feed's item"
    with pytest.raises(WebhookVerificationError):
        Webhook(webhook_secrets.new_secret()).verify(received.body, received.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint["secret"]).verify(received.body.replace(b"true", b"false"), received.headers)

    deadline = time.monotonic() + 20
    while (delivery := deliveries(client, org, endpoint["id"])[0])["status"] == "pending":
        assert time.monotonic() < deadline, "the worker records the outcome after the receiver answered"
        time.sleep(0.05)
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 1
    assert delivery["last_status_code"] == 200 and delivery["event_id"] == payload["id"]
    assert delivery["next_attempt_at"] is None and delivery["delivered_at"] is not None
    shown = ok(client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=org.auth()))
    assert "secret" not in shown


def test_a_failing_receiver_gets_the_event_again_until_it_takes_it(
    client: TestClient, org: Org, settings: Settings
) -> None:
    with running_receiver(statuses=[500, 503]) as receiver:
        endpoint = subscribe(client, org, receiver.url)
        insert_user_group(client, org)
        deliver(client, settings.model_copy(update=NOW), rounds=4)
        got = receiver.received
    assert [r.status for r in got] == [500, 503, 200]
    assert len({r.headers["webhook-id"] for r in got}) == 1, "every try is the same message"
    (log,) = deliveries(client, org, endpoint["id"])
    assert log["status"] == "succeeded" and log["attempts"] == 3 and log["last_error"] is None
    assert (
        ok(client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=org.auth()))["failing_since"] is None
    )


def test_a_retry_waits_for_its_delay(client: TestClient, org: Org, settings: Settings) -> None:
    with running_receiver(statuses=[500] * 10) as receiver:
        endpoint = subscribe(client, org, receiver.url)
        insert_user_group(client, org)
        deliver(client, settings)  # the default schedule: the next try is 5 s later
        (waiting,) = deliveries(client, org, endpoint["id"])
        assert waiting["status"] == "pending" and waiting["attempts"] == 1
        assert waiting["last_status_code"] == 500 and "500" in waiting["last_error"]
        assert deliver(client, settings) == 0, "not due again before its delay"
    waited = datetime.fromisoformat(waiting["next_attempt_at"]) - datetime.fromisoformat(
        waiting["last_attempt_at"]
    )
    assert waited == timedelta(seconds=settings.webhook_retry_delays_seconds[0])


def test_the_last_failure_gives_up(client: TestClient, org: Org, settings: Settings) -> None:
    with running_receiver(statuses=[500] * 10) as receiver:
        endpoint = subscribe(client, org, receiver.url)
        insert_user_group(client, org)
        deliver(client, settings.model_copy(update=NOW), rounds=6)
        assert len(receiver.received) == 4  # the first try and three retries
    (given_up,) = deliveries(client, org, endpoint["id"])
    assert given_up["status"] == "failed" and given_up["attempts"] == 4
    assert given_up["next_attempt_at"] is None


def test_the_default_schedule_retries_for_more_than_a_day() -> None:
    delays = Settings().webhook_retry_delays_seconds
    assert sum(delays) > 24 * 3600
    assert delays == sorted(delays), "the waits grow"


def test_redeliver_sends_the_event_again_as_a_new_delivery(
    client: TestClient, org: Org, settings: Settings
) -> None:
    with running_receiver() as receiver:
        endpoint = subscribe(client, org, receiver.url)
        insert_user_group(client, org)
        deliver(client, settings)
        (first,) = deliveries(client, org, endpoint["id"])
        response = client.post(
            f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{first['id']}/redeliver",
            headers=org.auth(Role.integration),
        )
        again = ok(response, 202)
        assert again["status"] == "pending" and again["event_id"] == first["event_id"]
        assert response.headers["location"].endswith(again["id"])
        deliver(client, settings)
        assert receiver.ids() == [first["event_id"], first["event_id"]]
    log = deliveries(client, org, endpoint["id"])
    assert [d["id"] for d in log] == [again["id"], first["id"]] and {d["status"] for d in log} == {
        "succeeded"
    }


def test_an_endpoint_failing_for_long_is_disabled_with_an_audit_record(
    client: TestClient, org: Org, settings: Settings
) -> None:
    quick = settings.model_copy(update={**NOW, "webhook_disable_after_hours": 0.5 / 3600})
    with running_receiver(statuses=[500] * 10) as receiver:
        endpoint = subscribe(client, org, receiver.url)
        insert_user_group(client, org)
        deliver(client, quick)
        assert (
            ok(client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=org.auth()))["enabled"] is True
        )
        time.sleep(0.6)
        deliver(client, quick)
        shown = ok(client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=org.auth()))
        assert shown["enabled"] is False and "failed" in shown["disabled_reason"]
        records = ok(client.get("/v1/audit-events", params={"entity_id": endpoint["id"]}, headers=org.auth()))
        disabled = [r for r in records["items"] if r["action"] == "webhook_endpoint.disabled"]
        assert len(disabled) == 1 and disabled[0]["actor_name"] == "webhook worker"
        assert disabled[0]["old_values"]["enabled"] is True and disabled[0]["new_values"]["enabled"] is False

        insert_user_group(client, org)
        sent = len(receiver.received)
        assert deliver(client, quick) == 0, "a disabled endpoint gets nothing"
        ok(
            client.patch(
                f"/v1/webhook-endpoints/{endpoint['id']}", json={"enabled": True}, headers=org.auth()
            )
        )
        receiver.statuses.clear()
        deliver(client, quick)
        assert len(receiver.received) > sent
    shown = ok(client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=org.auth()))
    assert shown["enabled"] is True and shown["disabled_reason"] is None and shown["failing_since"] is None


def test_a_disabled_endpoint_gets_no_deliveries(client: TestClient, org: Org) -> None:
    endpoint = subscribe(client, org, "http://127.0.0.1:9/off", enabled=False)
    insert_user_group(client, org)
    assert deliveries(client, org, endpoint["id"]) == []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/hook",
        "file:///etc/passwd",
        "http://10.0.0.8/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[fd00::1]/hook",
        "http://0.0.0.0/hook",
        "http://user:pw@127.0.0.1/hook",
        "http:///nohost",
        "http://no-such-host.invalid/hook",
    ],
)
def test_urls_that_may_not_receive_webhooks_are_refused(client: TestClient, org: Org, url: str) -> None:
    response = client.post("/v1/webhook-endpoints", json={"url": url}, headers=org.auth())
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", "url"]
    assert ok(client.get("/v1/webhook-endpoints", headers=org.auth()))["items"] == []


def test_loopback_is_refused_unless_allowed(client: TestClient, org: Org, settings: Settings) -> None:
    assert settings.webhook_allowed_networks == ["127.0.0.0/8"], "the test run allows loopback"
    endpoint = subscribe(client, org, "http://127.0.0.1:9/hook")
    insert_user_group(client, org)
    deliver(client, settings.model_copy(update={"webhook_allowed_networks": []}))
    (refused,) = deliveries(client, org, endpoint["id"])
    assert refused["last_status_code"] is None and "not sent" in refused["last_error"]
    patched = client.patch(
        f"/v1/webhook-endpoints/{endpoint['id']}", json={"url": "http://10.1.2.3/"}, headers=org.auth()
    )
    assert patched.status_code == 422


def test_the_secret_is_stored_encrypted(client: TestClient, org: Org, settings: Settings) -> None:
    endpoint = subscribe(client, org, "http://127.0.0.1:9/hook")
    db: Database = client.app.state.db  # type: ignore[attr-defined]

    async def stored() -> str:
        async with UnitOfWork(db) as session:
            statement = select(WebhookEndpoint.secret_ciphertext).where(
                WebhookEndpoint.id == uuid.UUID(endpoint["id"])
            )
            return (await session.execute(statement)).scalar_one()

    assert client.portal is not None
    ciphertext = client.portal.call(stored)
    secret_text = endpoint["secret"].removeprefix("whsec_")
    assert secret_text not in ciphertext and endpoint["secret"] not in ciphertext
    assert webhook_secrets.decrypt(settings, ciphertext) == endpoint["secret"]
    records = ok(client.get("/v1/audit-events", params={"entity_id": endpoint["id"]}, headers=org.auth()))
    assert secret_text not in str(records)


def test_endpoints_belong_to_their_organization(client: TestClient, org: Org, other_org: Org) -> None:
    endpoint = subscribe(client, org, "http://127.0.0.1:9/hook")
    insert_user_group(client, other_org)
    assert deliveries(client, org, endpoint["id"]) == []
    assert client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=other_org.auth()).status_code == 404
    assert ok(client.get("/v1/webhook-endpoints", headers=other_org.auth()))["items"] == []
