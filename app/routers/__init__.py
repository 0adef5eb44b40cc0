from fastapi import APIRouter

from app.problems import common_problem_responses
from app.routers import api_keys, audit, charge_points, charging_groups, connectors

api_router = APIRouter(prefix="/v1", responses=common_problem_responses())
for module in (charging_groups, charge_points, connectors, audit, api_keys):
    api_router.include_router(module.router)
