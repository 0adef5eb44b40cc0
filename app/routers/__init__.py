from fastapi import APIRouter, Depends

from app.problems import common_problem_responses
from app.routers import (
    activation,
    api_keys,
    audit,
    authorization,
    card_actions,
    cards,
    charge_points,
    charging_group_user_groups,
    charging_groups,
    connectors,
    events,
    explain,
    exports,
    local_lists,
    organization,
    reports,
    rules,
    sessions,
    tariffs,
    unknown_cards,
    user_groups,
    webhooks,
)
from app.routers.strict_input import refuse_ambiguous_input


def _v1_router() -> APIRouter:
    return APIRouter(
        prefix="/v1",
        responses=common_problem_responses(),
        dependencies=[Depends(refuse_ambiguous_input)],
    )


# The hot path (POST /v1/authorize, every plug-in) in a router of its own, included first
# (app/main.py): FastAPI walks every router of the tree it matches in, on every request, so the
# hot path's cost does not grow with the API around it. Same prefix, dependency and responses.
hot_path_router = _v1_router()
hot_path_router.include_router(authorization.router)

api_router = _v1_router()
# Routes are matched in order: the charge-point backend's calls come first.
for module in (
    explain,
    reports,  # before sessions: /sessions/report is no session id
    sessions,
    user_groups,
    tariffs,
    rules,
    activation,
    exports,  # before cards: /cards/export.csv is no card id
    card_actions,
    cards,
    charging_group_user_groups,
    charging_groups,
    local_lists,
    charge_points,
    connectors,
    audit,
    events,
    webhooks,
    api_keys,
    organization,
    unknown_cards,
):
    api_router.include_router(module.router)
