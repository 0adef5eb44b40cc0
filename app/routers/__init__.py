from fastapi import APIRouter, Depends

from app.problems import common_problem_responses
from app.routers import (
    activation,
    api_keys,
    audit,
    authorize,
    cards,
    charge_points,
    charging_groups,
    connectors,
    events,
    local_lists,
    sessions,
    tariffs,
    user_groups,
    webhooks,
)
from app.routers.strict_input import refuse_ambiguous_input

api_router = APIRouter(
    prefix="/v1",
    responses=common_problem_responses(),
    dependencies=[Depends(refuse_ambiguous_input)],
)
# Routes are matched in order: the charge-point backend's calls (every plug-in) come first.
for module in (
    authorize,
    sessions,
    user_groups,
    tariffs,
    activation,
    cards,
    charging_groups,
    local_lists,
    charge_points,
    connectors,
    audit,
    events,
    webhooks,
    api_keys,
):
    api_router.include_router(module.router)
