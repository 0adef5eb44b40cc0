"""create_app(): middleware, exception handlers, routers. No logic."""

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline

from app import __doc__ as description
from app import metrics
from app.db import Database
from app.housekeeping import run_housekeeping
from app.logging_config import configure_logging
from app.middleware import BodyLimitMiddleware, RequestContextMiddleware
from app.openapi import finish
from app.problem_handlers import ProblemMiddleware, install_problem_handlers
from app.problems import problem_schemas
from app.routers import include_v1, ops
from app.schemas.authorization import AuthorizeRequest
from app.services.unknown_cards import SightingBuffer
from app.settings import Settings, get_settings
from app.webhook_worker import run_worker

API_VERSION = "1.0.0"
# Response headers the dashboard's JavaScript may read on a cross-origin response.
CORS_EXPOSED_HEADERS = [
    "ETag",
    "Location",
    "X-Request-ID",
    "Idempotent-Replayed",
    "Retry-After",
    "X-Consistent-After",
]
POOL_SAMPLE_SECONDS = 1.0


def operation_id(route: APIRoute) -> str:
    return route.name


def extra_schemas() -> dict[str, Any]:
    """Bodies a route parses itself (the authorize hot path), declared for the document."""
    schema = AuthorizeRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"AuthorizeRequest": schema, **schema.pop("$defs", {})}


async def _sample_pool(db: Database) -> None:
    """With several workers a scrape reaches one of them; the others' pool gauges come from
    their files, so each worker keeps them fresh."""
    while True:
        metrics.record_pool(db.pool_status())
        await asyncio.sleep(POOL_SAMPLE_SECONDS)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    housekeeping = asyncio.create_task(
        run_housekeeping(app.state.db, settings.idempotency_purge_interval_seconds)
    )
    sampler = asyncio.create_task(_sample_pool(app.state.db)) if metrics.multiprocess_dir() else None
    sightings = asyncio.create_task(
        app.state.unknown_cards.run(app.state.db, settings.unknown_cards_flush_seconds)
    )
    webhooks = (
        asyncio.create_task(run_worker(app.state.db, settings))
        if settings.webhook_worker_in_process
        else None
    )
    try:
        yield
    finally:
        for task in (housekeeping, sampler, webhooks, sightings):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        with contextlib.suppress(Exception):  # a clean stop writes what was noted
            await app.state.unknown_cards.flush(app.state.db)
        metrics.worker_stopped()
        await app.state.db.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    metrics.publish_build_info()
    app: FastAPI = FastAPIOffline(
        title="User groups service",
        version=API_VERSION,
        description=description,
        generate_unique_id_function=operation_id,
        lifespan=lifespan,
        favicon_url="data:,",
        redoc_url=None,  # ours, in app/routers/ops.py: without the remote logo
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from validator.swagger.io
    )
    app.state.settings = settings
    app.state.db = Database(settings)
    app.state.unknown_cards = SightingBuffer()
    install_problem_handlers(app)
    app.include_router(ops.router)
    include_v1(app)
    _add_middleware(app, settings)
    app.openapi = functools.partial(_openapi, app)  # type: ignore[method-assign]
    return app


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    # Added first, so innermost: it turns every exception into a problem response and re-raises
    # nothing, which keeps the client's keep-alive connection (see ProblemMiddleware).
    app.add_middleware(ProblemMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=CORS_EXPOSED_HEADERS,
        )
    app.add_middleware(RequestContextMiddleware)


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schema.setdefault("components", {}).setdefault("schemas", {}).update(
            {**problem_schemas(), **extra_schemas()}
        )
        app.openapi_schema = finish(schema)
    return app.openapi_schema
