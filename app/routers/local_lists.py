import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from app.enums import LocalListFormat
from app.errors import NotFound
from app.problems import problem_responses
from app.routers.deps import InfrastructureReader, Uow
from app.routers.route import ApiRoute, reads_primary
from app.schemas.local_lists import (
    AuthorizationData16,
    AuthorizationData201,
    IdTagInfo,
    IdToken,
    IdTokenInfo,
    LocalListRead,
    SendLocalList16,
    SendLocalList201,
)
from app.services import local_lists as service
from app.services import policy

router = APIRouter(route_class=ApiRoute, prefix="/charging-groups", tags=["charging-groups"])

OCPP16_ID_TAG_LENGTH = 20  # CiString20Type


@router.get(
    "/{charging_group_id}/local-list",
    response_model=LocalListRead,
    response_model_exclude_none=True,
    responses=problem_responses(NotFound),
)
@reads_primary
async def get_local_list(
    charging_group_id: uuid.UUID,
    ctx: InfrastructureReader,
    session: Uow,
    since_version: Annotated[
        int | None,
        Query(
            ge=0,
            le=2_147_483_647,
            description="The list version the charger holds (OCPP GetLocalListVersion): the answer is "
            "the differential from it. Absent or 0 (no list), or a version not issued here: the full list.",
        ),
    ] = None,
    format_: Annotated[
        LocalListFormat, Query(alias="format", description="The OCPP version of the SendLocalList body")
    ] = LocalListFormat.ocpp201,
) -> LocalListRead:
    """The charging group's OCPP local authorization list, ready to send to its chargers as a
    SendLocalList request: every card that authorizes there, with its status there (Accepted,
    Blocked, Expired) and its end of validity. The version rises with every committed change that
    alters the list, and only then."""
    found = await service.local_list(session, ctx, charging_group_id, since_version, datetime.now(UTC))
    ocpp16, left_out = _ocpp16(found) if format_ == LocalListFormat.ocpp16 else (None, [])
    ocpp201 = _ocpp201(found) if format_ == LocalListFormat.ocpp201 else None
    return LocalListRead(
        charging_group_id=found.charging_group_id,
        access_control=found.access_control,
        format=format_,
        list_version=found.version,
        update_type=found.update_type,
        since_version=found.since_version,
        entry_count=len(found.entries) - len(left_out),
        left_out_id_tags=left_out,
        ocpp16=ocpp16,
        ocpp201=ocpp201,
    )


def _ocpp16(found: service.LocalList) -> tuple[SendLocalList16, list[str]]:
    """OCPP 1.6's SendLocalList, and the id tags it cannot carry (longer than CiString20)."""
    left_out: list[str] = []
    entries = []
    for entry in found.entries:
        if len(entry.id_tag) > OCPP16_ID_TAG_LENGTH:
            left_out.append(entry.id_tag)
            continue
        info = (
            None
            if entry.status is None
            else IdTagInfo(status=policy.OCPP16_STATUS[entry.status], expiryDate=entry.expires_at)
        )
        entries.append(AuthorizationData16(idTag=entry.id_tag, idTagInfo=info))
    body = SendLocalList16(
        listVersion=found.version, updateType=found.update_type, localAuthorizationList=entries
    )
    return body, left_out


def _ocpp201(found: service.LocalList) -> SendLocalList201:
    return SendLocalList201(
        versionNumber=found.version,
        updateType=found.update_type,
        localAuthorizationList=[
            AuthorizationData201(
                idToken=IdToken(idToken=entry.id_tag),
                idTokenInfo=None
                if entry.status is None
                else IdTokenInfo(status=entry.status, cacheExpiryDateTime=entry.expires_at),
            )
            for entry in found.entries
        ],
    )
