"""Webhook delivery: the loop that `ugs worker` runs, and the API process too when
WEBHOOK_WORKER_IN_PROCESS is true (the default, so the embedded setup needs nothing more).

Each round leases a batch of due deliveries (app/services/webhook_delivery.py), sends them at
once, signed per the Standard Webhooks specification with the `standardwebhooks` library, and
records the outcomes. Any number of these loops may run against one PostgreSQL database: a
delivery is leased by one of them at a time (SKIP LOCKED), so none is sent twice at once.
"""

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime

import httpx
from standardwebhooks.webhooks import Webhook

from app.db import Database, UnitOfWork, open_session
from app.services import webhook_delivery
from app.services.webhook_delivery import Job, Outcome
from app.services.webhook_urls import UrlNotAllowed, check_url
from app.settings import Settings

logger = logging.getLogger("app.webhooks")
USER_AGENT = "user-groups-service-webhooks/1"


def signed_headers(job: Job, secret: str, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers: webhook-id is the event's id, the same in every retry."""
    message_id = str(job.event_id)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, job.body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


async def send(client: httpx.AsyncClient, settings: Settings, job: Job) -> Outcome:
    at = datetime.now(UTC)
    if job.secret is None:
        return Outcome(job, at, None, "the endpoint's secret cannot be decrypted with the configured key")
    try:
        await check_url(job.url, settings)
    except UrlNotAllowed as error:
        return Outcome(job, at, None, f"not sent: {error}")
    try:
        response = await client.post(
            job.url, content=job.body.encode(), headers=signed_headers(job, job.secret, at)
        )
    except httpx.HTTPError as error:
        return Outcome(job, at, None, f"{type(error).__name__}: {error}".rstrip(": "))
    error_text = (
        None if 200 <= response.status_code < 300 else f"the receiver answered {response.status_code}"
    )
    return Outcome(job, at, response.status_code, error_text)


async def deliver_due(db: Database, settings: Settings, client: httpx.AsyncClient) -> int:
    """One round; returns how many deliveries it tried."""
    reader = await open_session(db, write=False)
    try:  # a cheap read first: an idle poll takes no write lock (SQLite has one for everybody)
        if not await webhook_delivery.any_due(reader):
            return 0
    finally:
        await reader.close()
    token = uuid.uuid4()
    async with UnitOfWork(db) as session:
        jobs = await webhook_delivery.claim(session, settings, token)
    if not jobs:
        return 0
    outcomes = list(await asyncio.gather(*(send(client, settings, job) for job in jobs)))
    async with UnitOfWork(db) as session:
        await webhook_delivery.finish(session, settings, token, outcomes)
    failed = sum(1 for outcome in outcomes if not outcome.succeeded)
    if failed:
        logger.info(
            "webhook deliveries: %d sent, %d failed (will be retried)", len(outcomes) - failed, failed
        )
    return len(jobs)


async def run_worker(db: Database, settings: Settings, stop: asyncio.Event | None = None) -> None:
    timeout = httpx.Timeout(settings.webhook_timeout_seconds)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        while stop is None or not stop.is_set():
            try:
                tried = await deliver_due(db, settings, client)
            except Exception:  # a database outage must not end the loop; leases make retrying safe
                logger.warning("webhook delivery round failed", exc_info=True)
                tried = 0
            if tried < settings.webhook_batch_size:
                if stop is None:
                    await asyncio.sleep(settings.webhook_poll_interval_seconds)
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), settings.webhook_poll_interval_seconds)
