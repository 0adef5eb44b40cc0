"""The webhook worker's database side: lease due deliveries, record what each attempt gave,
retry with backoff, give up after the last delay, disable an endpoint failing for too long.

The HTTP side is app/webhook_worker.py. A delivery is leased by moving its next_attempt_at to the
end of the lease with a token of the worker's: a worker killed mid-batch leaves its deliveries to
come due again when the lease ends (delivered at least once); an outcome is written only while
the token is still there, so a worker that overran its lease cannot overwrite another's attempt.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import AuditAction, DeliveryStatus, Role
from app.models import WebhookDelivery, WebhookEndpoint
from app.models.base import utcnow
from app.repositories import webhooks as queue
from app.services import audit, events, webhook_secrets
from app.services.context import RequestContext
from app.settings import Settings

WORKER_ACTOR = "webhook worker"
WAKE_SIGNAL = queue.DELIVERIES_DUE  # set (and NOTIFY'd on PostgreSQL) when deliveries commit
ERROR_LENGTH = 500


@dataclass(frozen=True)
class Job:
    delivery_id: uuid.UUID
    endpoint_id: uuid.UUID
    organization_id: uuid.UUID
    url: str
    secret: str | None  # None: it cannot be decrypted with the configured key
    event_id: uuid.UUID
    body: str
    attempts: int
    lease_token: uuid.UUID  # the claim's: its outcome is written only while the lease holds


@dataclass(frozen=True)
class Outcome:
    job: Job
    at: datetime
    status_code: int | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def any_due(session: AsyncSession) -> bool:
    return await queue.any_due(session, utcnow())


async def claim(
    session: AsyncSession, settings: Settings, token: uuid.UUID, limit: int | None = None
) -> list[Job]:
    """Leases up to `limit` (at most WEBHOOK_BATCH_SIZE) due deliveries under `token`."""
    now = utcnow()
    lease_until = now + timedelta(seconds=settings.webhook_lease_seconds)
    size = min(limit or settings.webhook_batch_size, settings.webhook_batch_size)
    claimed = await queue.claim_due(session, now, size, lease_until, token)
    if not claimed:
        return []
    bodies = await events.events_by_seq(session, [delivery.event_seq for delivery, _ in claimed])
    jobs = []
    for delivery, endpoint in claimed:
        event = bodies[delivery.event_seq]
        jobs.append(
            Job(
                delivery_id=delivery.id,
                endpoint_id=endpoint.id,
                organization_id=endpoint.organization_id,
                url=endpoint.url,
                secret=_secret(settings, endpoint),
                event_id=event.id,
                body=event.model_dump_json(),
                attempts=delivery.attempts,
                lease_token=token,
            )
        )
    return jobs


def _secret(settings: Settings, endpoint: WebhookEndpoint) -> str | None:
    try:
        return webhook_secrets.decrypt(settings, endpoint.secret_ciphertext)
    except webhook_secrets.SecretUnavailable:
        return None


def next_delay(settings: Settings, attempts: int) -> timedelta | None:
    """The wait after the `attempts`-th failed try; None when that was the last one."""
    delays = settings.webhook_retry_delays_seconds
    return timedelta(seconds=delays[attempts - 1]) if attempts <= len(delays) else None


async def finish(session: AsyncSession, settings: Settings, outcomes: list[Outcome]) -> None:
    """Records the outcomes (each under its own lease); an endpoint with a success among them is
    working, one whose every outcome here failed is failing (and disabled when for too long)."""
    working: set[uuid.UUID] = set()
    failed: dict[uuid.UUID, datetime] = {}  # endpoint -> its first failure here
    for outcome in outcomes:
        job = outcome.job
        values = _values(settings, outcome)
        if not await queue.finish_attempt(session, job.delivery_id, job.lease_token, values):
            continue  # the lease ran out and another worker has the delivery now
        if outcome.succeeded:
            working.add(job.endpoint_id)
        else:
            failed[job.endpoint_id] = min(outcome.at, failed.get(job.endpoint_id, outcome.at))
    for endpoint_id in working:
        await queue.mark_endpoint_working(session, endpoint_id)
    for endpoint_id in failed.keys() - working:
        await queue.mark_endpoint_failing(session, endpoint_id, failed[endpoint_id])
        await _disable_if_failing_too_long(session, settings, endpoint_id)


def _values(settings: Settings, outcome: Outcome) -> dict[str, Any]:
    attempts = outcome.job.attempts + 1
    last = {
        "attempts": attempts,
        "last_attempt_at": outcome.at,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error[:ERROR_LENGTH] if outcome.error else None,
    }
    if outcome.succeeded:
        return {**last, "status": DeliveryStatus.succeeded, "delivered_at": outcome.at}
    delay = next_delay(settings, attempts)
    if delay is None:
        return {**last, "status": DeliveryStatus.failed}
    return {**last, "next_attempt_at": outcome.at + delay}


async def _disable_if_failing_too_long(
    session: AsyncSession, settings: Settings, endpoint_id: uuid.UUID
) -> None:
    endpoint = await session.get(WebhookEndpoint, endpoint_id, with_for_update=True, populate_existing=True)
    if endpoint is None or not endpoint.enabled or endpoint.failing_since is None:
        return
    failing_for = utcnow() - endpoint.failing_since
    if failing_for < timedelta(hours=settings.webhook_disable_after_hours):
        return
    endpoint.enabled = False
    hours = failing_for.total_seconds() / 3600
    endpoint.disabled_reason = f"every delivery failed for {hours:.1f} hours"
    ctx = RequestContext(
        organization_id=endpoint.organization_id,
        api_key_id=None,
        actor_name=WORKER_ACTOR,
        role=Role.admin,
        request_id=None,
    )
    await audit.record(
        session,
        ctx,
        AuditAction.webhook_endpoint_disabled,
        endpoint,
        new={"failing_since": audit.json_value(endpoint.failing_since)},
    )


def delivery_pending_at(delivery: WebhookDelivery) -> datetime | None:
    return delivery.next_attempt_at if delivery.status == DeliveryStatus.pending else None
