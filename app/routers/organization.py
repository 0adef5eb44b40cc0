from fastapi import APIRouter

from app.routers.deps import Admin, InfrastructureReader, Uow
from app.routers.route import ApiRoute
from app.schemas.organization import OrganizationRead, OrganizationUpdate
from app.services import organization as service

router = APIRouter(route_class=ApiRoute, prefix="/organization", tags=["organization"])


@router.get("", response_model=OrganizationRead)
async def get_organization(ctx: InfrastructureReader, session: Uow) -> OrganizationRead:
    """The caller's organization and its settings."""
    return OrganizationRead.model_validate(await service.get_organization(session, ctx))


@router.patch("", response_model=OrganizationRead)
async def update_organization(body: OrganizationUpdate, ctx: Admin, session: Uow) -> OrganizationRead:
    """Changes the settings (admin only): `time_zone`, an IANA name, in which the session reports
    count days, weeks and months."""
    return OrganizationRead.model_validate(await service.update_organization(session, ctx, body.time_zone))
