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
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
from standardwebhooks.webhooks import Webhook

from app.db import Database, UnitOfWork, open_session
from app.db.listen import listen
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


async def lease(db: Database, settings: Settings, limit: int, outcomes: Sequence[Outcome] = ()) -> list[Job]:
    """Records `outcomes` and leases up to `limit` due deliveries, in one transaction (on SQLite
    one turn of the write lock, which the API's writers want too)."""
    if not outcomes:
        reader = await open_session(db, write=False)
        try:  # a cheap read first: an idle poll takes no write lock (SQLite has one for everybody)
            if not await webhook_delivery.any_due(reader):
                return []
        finally:
            await reader.close()
    async with UnitOfWork(db) as session:
        await webhook_delivery.finish(session, settings, list(outcomes))
        jobs = await webhook_delivery.claim(session, settings, uuid.uuid4(), limit) if limit > 0 else []
    failed = sum(1 for outcome in outcomes if not outcome.succeeded)
    if failed:
        logger.info(
            "webhook deliveries: %d sent, %d failed (will be retried)", len(outcomes) - failed, failed
        )
    return jobs


async def record(db: Database, settings: Settings, outcomes: list[Outcome]) -> None:
    await lease(db, settings, 0, outcomes)


async def deliver_due(db: Database, settings: Settings, client: httpx.AsyncClient) -> int:
    """One round: lease a batch, send it, record it; returns how many deliveries it tried."""
    jobs = await lease(db, settings, settings.webhook_batch_size)
    if not jobs:
        return 0
    await record(db, settings, list(await asyncio.gather(*(send(client, settings, job) for job in jobs))))
    return len(jobs)


class Pipeline:
    """Keeps up to WEBHOOK_CONCURRENCY deliveries on the way: leases more as soon as any ends and
    records the outcomes that ended meanwhile in one transaction. A slow receiver holds only its
    own slots, and no delivery waits for the slowest of a batch (the earlier rounds did: the
    worker's throughput was one batch per slowest try, below the rate of changes)."""

    def __init__(self, db: Database, settings: Settings, client: httpx.AsyncClient, wake: asyncio.Event):
        self.db, self.settings, self.client, self.wake = db, settings, client, wake
        self.sending: set[asyncio.Task[Outcome]] = set()
        self.ended: list[Outcome] = []

    def _start(self, job: Job) -> None:
        task = asyncio.create_task(send(self.client, self.settings, job))
        self.sending.add(task)
        task.add_done_callback(self._on_end)

    def _on_end(self, task: asyncio.Task[Outcome]) -> None:
        self.sending.discard(task)
        if not task.cancelled():
            if task.exception() is None:
                self.ended.append(task.result())
            else:  # its lease runs out and it is tried again
                logger.error("webhook delivery crashed", exc_info=task.exception())
        self.wake.set()

    async def step(self) -> bool:
        """Records what ended and fills the free slots; True when it leased any."""
        outcomes, self.ended = self.ended, []
        free = self.settings.webhook_concurrency - len(self.sending)
        if free <= 0 and not outcomes:
            return False
        jobs = await lease(self.db, self.settings, free, outcomes)
        for job in jobs:
            self._start(job)
        return bool(jobs)

    async def drain(self) -> None:
        """Lets what is on the way end and records it (a stop finishes the deliveries in hand)."""
        if self.sending:
            await asyncio.wait(set(self.sending))
        if self.ended:
            await record(self.db, self.settings, self.ended)
            self.ended = []


async def run_worker(
    db: Database, settings: Settings, stop: asyncio.Event | None = None, *, notified: bool = False
) -> None:
    """Delivers until `stop` is set (or cancelled). Wakes when a transaction of this process adds
    deliveries, with `notified` on PostgreSQL also on NOTIFY from any process (`ugs worker`: one
    connection more), and otherwise every poll interval. The API's in-process worker needs no
    NOTIFY: the process that commits wakes its own worker, and any worker may send any delivery."""
    wake = db.commit_signal(webhook_delivery.WAKE_SIGNAL)
    helpers = [asyncio.create_task(listen(db, webhook_delivery.WAKE_SIGNAL, wake))] if notified else []
    if stop is not None:
        helpers.append(asyncio.create_task(_set_on(stop, wake)))
    timeout = httpx.Timeout(settings.webhook_timeout_seconds)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        pipeline = Pipeline(db, settings, client, wake)
        try:
            while stop is None or not stop.is_set():
                wake.clear()
                try:
                    leased = await pipeline.step()
                except Exception:  # a database outage must not end the loop; leases make retrying safe
                    logger.warning("webhook delivery round failed", exc_info=True)
                    leased = False
                if not leased:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), settings.webhook_poll_interval_seconds)
            await pipeline.drain()
        finally:  # cancelled (the API stopping): what is on the way is sent again after its lease
            for task in [*helpers, *pipeline.sending]:
                task.cancel()


async def _set_on(stop: asyncio.Event, wake: asyncio.Event) -> None:
    await stop.wait()
    wake.set()
