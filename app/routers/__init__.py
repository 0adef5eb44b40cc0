from fastapi import APIRouter

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
    sessions,
    tariffs,
    user_groups,
)

api_router = APIRouter(prefix="/v1", responses=common_problem_responses())
for module in (
    user_groups,
    tariffs,
    activation,
    cards,
    authorize,
    sessions,
    charging_groups,
    charge_points,
    connectors,
    audit,
    api_keys,
):
    api_router.include_router(module.router)
