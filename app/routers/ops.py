"""Operations endpoints: no authentication, no /v1 prefix."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from app.db import Database
from app.services import health

router = APIRouter(tags=["operations"])


class HealthStatus(BaseModel):
    status: str


@router.get("/healthz", response_model=HealthStatus)
async def get_liveness() -> HealthStatus:
    """The process is up (no dependencies checked)."""
    return HealthStatus(status="ok")


@router.get(
    "/readyz",
    response_model=HealthStatus,
    responses={503: {"model": HealthStatus, "description": "The database is unreachable"}},
)
async def get_readiness(request: Request) -> Response:
    """Ready to serve: the database answers within a second."""
    db: Database = request.app.state.db
    if await health.database_ready(db.engine):
        return JSONResponse({"status": "ok"})
    return JSONResponse({"status": "database unavailable"}, status_code=503)


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
async def get_metrics() -> Response:
    """Prometheus metrics."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
