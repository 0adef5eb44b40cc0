from fastapi import APIRouter, Depends, FastAPI

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

# Each /v1 module router is included into the app itself (`include_v1`), in this order, with the
# same prefix, dependency and responses. FastAPI matches an included router by walking its routes,
# and it walks a router it includes in another twice per request (once to find it, once more to
# dispatch in it): one level of routers fewer halves the routes tried for each request (a card
# add, late in the list, tried 26 router walks). The hot path (POST /v1/authorize, every plug-in)
# comes first, so its cost does not grow with the API around it; then the charge-point backend's
# calls; routes are matched in this order.
V1_ROUTERS: tuple[APIRouter, ...] = tuple(
    module.router
    for module in (
        authorization,
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
    )
)


def include_v1(app: FastAPI) -> None:
    for router in V1_ROUTERS:
        app.include_router(
            router,
            prefix="/v1",
            responses=common_problem_responses(),
            dependencies=[Depends(refuse_ambiguous_input)],
        )
