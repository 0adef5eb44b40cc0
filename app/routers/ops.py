"""Operations endpoints: no authentication, no /v1 prefix."""

from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request, Response
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel

from app import metrics
from app.db import Database
from app.services import health

router = APIRouter(tags=["operations"])

REDOC_SCRIPT_PATH = "/docs-assets/redoc.standalone.js"
# The one thing the Redoc bundle fetches from the internet by itself: the logo beside
# "API docs by Redocly" (the image hides itself when it cannot load).
REDOC_CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


class HealthStatus(BaseModel):
    status: str


@router.get("/healthz", response_model=HealthStatus)
async def get_liveness() -> HealthStatus:
    """The process is up (no dependencies checked)."""
    return HealthStatus(status="ok")


@router.get(
    "/readyz",
    response_model=HealthStatus,
    responses={
        503: {
            "model": HealthStatus,
            "description": "The database is unreachable, or its schema is not at the migration head",
        }
    },
)
async def get_readiness(request: Request) -> Response:
    """Ready to serve: the database answers within a second and is migrated to the head revision."""
    db: Database = request.app.state.db
    readiness = await health.database_ready(db.engine)
    return JSONResponse({"status": readiness.status}, status_code=200 if readiness.ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}},
            "description": "Prometheus text format",
        }
    },
)
async def get_metrics(request: Request) -> Response:
    """Prometheus metrics, summed over all workers of this instance."""
    db: Database = request.app.state.db
    metrics.record_pool(db.pool_status())
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


@router.get("/redoc", include_in_schema=False)
async def get_redoc(request: Request) -> HTMLResponse:
    """ReDoc from this server only: no CDN script, no web fonts, no remote logo."""
    root = request.scope.get("root_path", "")
    return get_redoc_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{root}{REDOC_SCRIPT_PATH}",
        redoc_favicon_url="data:,",
        with_google_fonts=False,
    )


@router.get(REDOC_SCRIPT_PATH, include_in_schema=False)
async def get_redoc_script() -> Response:
    return Response(
        redoc_script(),
        media_type="application/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@cache
def redoc_script() -> bytes:
    """The Redoc bundle fastapi-offline ships, with the remote logo made a broken local image."""
    bundle = Path(fastapi_offline.__file__).parent / "static" / "redoc.standalone.js"
    return bundle.read_bytes().replace(REDOC_CDN_LOGO.encode(), b"data:,")
