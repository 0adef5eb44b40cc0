import uuid
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from app.enums import ActivationScope, UserGroupStatus, UserGroupType
from app.errors import (
    AlreadyExists,
    GroupAlreadyArchived,
    GroupHasSessions,
    GroupNotArchived,
    NotFound,
)
from app.problems import problem_responses
from app.routers.activation import activated
from app.routers.deps import DriverReads, Manager, PageParams, Reader, Uow, next_cursor
from app.routers.route import ApiRoute, json_response, side_effect_free
from app.schemas.activation import ChargingGroupRef
from app.schemas.audit import AuditEventRead
from app.schemas.common import NO_CONTROL_CHARACTERS, Page
from app.schemas.tariffs import TariffRead, TariffSummary
from app.schemas.user_groups import (
    ActionVerdict,
    ActivationSummary,
    AllowedActions,
    CardsBox,
    UserGroupCreate,
    UserGroupPreview,
    UserGroupRead,
    UserGroupRename,
    UserGroupSummary,
)
from app.services import user_groups as service
from app.services.policy import Verdict

router = APIRouter(route_class=ApiRoute, prefix="/user-groups", tags=["user-groups"])


class StatusFilter(StrEnum):
    active = "active"
    archived = "archived"
    all = "all"


def allowed(verdicts: dict[str, Verdict]) -> AllowedActions:
    return AllowedActions(
        **{action: ActionVerdict(allowed=v.allowed, reason=v.reason) for action, v in verdicts.items()}
    )


def to_read(detail: service.UserGroupDetail) -> UserGroupRead:
    group = detail.group
    return UserGroupRead(
        id=group.id,
        name=group.name,
        type=group.type,
        status=group.status,
        archived_at=group.archived_at,
        tariff=TariffRead.model_validate(detail.tariff) if detail.tariff else None,
        upcoming_tariff=TariffRead.model_validate(detail.upcoming_tariff) if detail.upcoming_tariff else None,
        activation=ActivationSummary(
            scope=group.activation_scope,
            charging_group_count=detail.activation.charging_groups,
            connector_count=detail.activation.connectors,
        ),
        cards=CardsBox(count=detail.card_count),
        session_count=detail.session_count,
        allowed_actions=allowed(detail.allowed_actions),
        created_at=group.created_at,
        updated_at=group.updated_at,
    )


SUMMARY_FIELDS = tuple(TariffSummary.model_fields)


def tariff_of(row: service.GroupRow) -> dict[str, Any] | None:
    if row.tariff_id is None:
        return None
    return {
        "id": row.tariff_id,
        "currency": row.currency,
        "price_per_kwh": row.price_per_kwh,
        "session_fee": row.session_fee,
        "parking_fee_per_hour": row.parking_fee_per_hour,
        "parking_grace_minutes": row.parking_grace_minutes,
        "valid_from": row.valid_from,
        "valid_until": row.valid_until,
    }


def active_where(row: service.GroupRow) -> tuple[int, int]:
    """Charging groups and connectors where the group is active."""
    if row.activation_scope == ActivationScope.all:
        return row.organization_charging_groups, row.organization_connectors
    if row.activation_scope == ActivationScope.custom:
        return row.activated_charging_groups, row.activated_connectors or 0
    return 0, 0


def summary_item(row: service.GroupRow) -> dict[str, Any]:
    """A list item's fields, validated with the whole page in one call (`LIST_PAGE`): one pass in
    pydantic-core over 50 items took 0.17 ms where building them one model at a time in Python
    (`model_construct`) took 0.45-0.70 ms, measured side by side."""
    groups, connectors = active_where(row)
    tariff = tariff_of(row)
    return {
        "id": row.id,
        "name": row.name,
        "type": row.type,
        "status": row.status,
        "activation_scope": row.activation_scope,
        "tariff": None if tariff is None else {name: tariff[name] for name in SUMMARY_FIELDS},
        "counts": {
            "charging_groups": groups,
            "connectors": connectors,
            "cards": row.card_count,
            "sessions": row.session_count,
        },
        "archived_at": row.archived_at,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


LIST_PAGE = Page[UserGroupSummary]


def page_to_read(page: service.UserGroupPage) -> UserGroupRead:
    """The same representation as `to_read`, from the page's one statement: the nested boxes are
    validated in the same one call (pydantic-core), not built one model at a time in Python."""
    row, upcoming = page.row, page.upcoming_tariff
    groups, connectors = active_where(row)
    return UserGroupRead.model_validate(
        {
            "id": row.id,
            "name": row.name,
            "type": row.type,
            "status": row.status,
            "archived_at": row.archived_at,
            "tariff": tariff_of(row),
            "upcoming_tariff": None if upcoming is None else upcoming._asdict(),
            "activation": {
                "scope": row.activation_scope,
                "charging_group_count": groups,
                "connector_count": connectors,
            },
            "cards": {"count": row.card_count},
            "session_count": row.session_count,
            "allowed_actions": {
                action: {"allowed": v.allowed, "reason": v.reason}
                for action, v in page.allowed_actions.items()
            },
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        }
    )


@router.get("", response_model=Page[UserGroupSummary])
async def list_user_groups(
    ctx: Reader,
    reads: DriverReads,
    page: PageParams,
    status_filter: Annotated[
        StatusFilter, Query(alias="status", description="`active` (default), `archived` or `all`")
    ] = StatusFilter.active,
    type_filter: Annotated[UserGroupType | None, Query(alias="type")] = None,
    q: Annotated[
        str | None,
        Query(max_length=100, pattern=NO_CONTROL_CHARACTERS, description="Part of the name, any case"),
    ] = None,
) -> Response:
    """User groups, newest first, each with its tariff summary and counts."""
    wanted = None if status_filter == StatusFilter.all else UserGroupStatus(status_filter.value)
    rows, more = await service.list_user_groups(reads, ctx, page, wanted, type_filter, q)
    cursor = next_cursor(rows, more, lambda r: r.created_at, lambda r: r.id)
    return json_response(
        LIST_PAGE.model_validate({"items": [summary_item(row) for row in rows], "next_cursor": cursor})
    )


@router.post(
    "/preview",
    response_model=UserGroupPreview,
    responses=problem_responses(AlreadyExists),
)
@side_effect_free
async def preview_user_group(body: UserGroupCreate, ctx: Manager, session: Uow) -> UserGroupPreview:
    """Step 4 of the wizard: the summary of what `create_user_group` would do with the same body.
    Changes nothing; answers with the same errors the creation would."""
    plan = await service.plan_user_group(session, ctx, body)
    custom = plan.activation.scope == ActivationScope.custom
    return UserGroupPreview(
        name=plan.name,
        type=plan.type,
        tariff=plan.tariff,
        activation=ActivationSummary(
            scope=plan.activation.scope,
            charging_group_count=plan.activation.totals.charging_groups,
            connector_count=plan.activation.totals.connectors,
        ),
        charging_groups=[activated(cg, count) for cg, count in plan.activation.charging_groups]
        if custom
        else [],
        access_control_to_enable=[
            ChargingGroupRef(id=cg.id, name=cg.name) for cg in plan.activation.access_control_to_enable
        ],
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UserGroupRead,
    responses=problem_responses(AlreadyExists),
)
async def create_user_group(
    body: UserGroupCreate, ctx: Manager, session: Uow, response: Response
) -> UserGroupRead:
    """Creates the group with its optional tariff and its activation in one transaction."""
    detail = await service.create_user_group(session, ctx, body)
    response.headers["Location"] = f"/v1/user-groups/{detail.group.id}"
    return to_read(detail)


@router.get("/{user_group_id}", response_model=UserGroupRead, responses=problem_responses(NotFound))
async def get_user_group(user_group_id: uuid.UUID, ctx: Reader, reads: DriverReads) -> Response:
    """The group page: tariff box, charging-groups box, cards box, and what may be done now."""
    return json_response(page_to_read(await service.get_user_group(reads, ctx, user_group_id)))


@router.patch(
    "/{user_group_id}",
    response_model=UserGroupRead,
    responses=problem_responses(NotFound, AlreadyExists),
)
async def rename_user_group(
    user_group_id: uuid.UUID,
    body: UserGroupRename,
    ctx: Manager,
    session: Uow,
) -> UserGroupRead:
    """Renames the group (possible at any time, archived or not)."""
    detail = await service.rename_user_group(session, ctx, user_group_id, body.name)
    return to_read(detail)


@router.delete(
    "/{user_group_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(NotFound, GroupHasSessions),
)
async def delete_user_group(user_group_id: uuid.UUID, ctx: Manager, session: Uow) -> Response:
    """Deletes the group with its cards, tariff and activations, only if no charging session ever
    ran through it (otherwise 409: archive it instead). Its history stays readable."""
    await service.delete_user_group(session, ctx, user_group_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{user_group_id}/archive",
    response_model=UserGroupRead,
    responses=problem_responses(NotFound, GroupAlreadyArchived),
)
async def archive_user_group(user_group_id: uuid.UUID, ctx: Manager, session: Uow) -> UserGroupRead:
    """Its cards are refused from now on; data, history and running sessions are kept."""
    return to_read(await service.archive_user_group(session, ctx, user_group_id))


@router.post(
    "/{user_group_id}/restore",
    response_model=UserGroupRead,
    responses=problem_responses(NotFound, GroupNotArchived),
)
async def restore_user_group(user_group_id: uuid.UUID, ctx: Manager, session: Uow) -> UserGroupRead:
    """Back to active with the activation, tariff and cards it had before archiving."""
    return to_read(await service.restore_user_group(session, ctx, user_group_id))


# One validation call for the whole page; the items are read from the rows' attributes.
HISTORY_PAGE = Page[AuditEventRead]


@router.get(
    "/{user_group_id}/history",
    response_model=Page[AuditEventRead],
    responses=problem_responses(NotFound),
)
async def get_user_group_history(
    user_group_id: uuid.UUID, ctx: Reader, reads: DriverReads, page: PageParams
) -> Response:
    """Every change of the group, its tariff, activation and cards, newest first (also after deletion)."""
    events, more = await service.history(reads, ctx, user_group_id, page)
    cursor = next_cursor(events, more, lambda e: e.created_at, lambda e: e.id)
    return json_response(HISTORY_PAGE.model_validate({"items": events, "next_cursor": cursor}))
