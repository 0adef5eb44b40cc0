"""Annotated dependencies every router uses: unit of work (or reads on the driver), caller and
role, paging. (If-Match,
If-None-Match and Idempotency-Key come with the route class: app/routers/route.py.)"""

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database, UnitOfWork
from app.db.reads import Reads
from app.enums import Role
from app.errors import Forbidden
from app.middleware import CONSISTENT_AFTER_STATE_KEY, remember_caller
from app.pagination import InvalidCursor, PageRequest, decode_cursor, encode_cursor
from app.schemas.common import NO_CONTROL_CHARACTERS
from app.services import api_keys as api_key_service
from app.services.context import RequestContext

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A request made by the route class inside another request's transaction (If-Match reads the
# target there) carries that transaction's session in its scope state under this name.
SHARED_SESSION_STATE = "shared_session"
# Read your writes with a replica: a write answers the primary's WAL position after its commit in
# this header; a read that sends it back is served by a replica that has replayed it, or by the
# primary (docs/scaling.md).
CONSISTENT_AFTER = "X-Consistent-After"


async def unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: commit on success, roll back on any exception.

    Declared with scope="function" so the commit happens before the response is sent.
    """
    shared: AsyncSession | None = getattr(request.state, SHARED_SESSION_STATE, None)
    if shared is not None:
        yield shared  # the owning request commits or rolls back
        return
    db: Database = request.app.state.db
    if request.method in WRITE_METHODS:
        async with UnitOfWork(db, write=True) as session:
            yield session
        setattr(request.state, CONSISTENT_AFTER_STATE_KEY, await db.primary_lsn())
        return
    # Reads go to the replica (when there is one), except where a route needs the primary.
    replica = not getattr(request.scope.get("route"), "reads_primary", False)
    consistent_after = request.headers.get(CONSISTENT_AFTER)
    async with UnitOfWork(db, write=False, replica=replica, consistent_after=consistent_after) as session:
        yield session


Uow = Annotated[AsyncSession, Depends(unit_of_work, scope="function")]


async def driver_reads(request: Request) -> Reads:
    """Reads on the driver outside any transaction (app/db/reads.py), for the pages people wait on:
    the same choice of replica or primary as `unit_of_work` makes for a read, without a session,
    BEGIN or COMMIT. Inside another request's transaction (If-Match), they read through it."""
    db: Database = request.app.state.db
    shared: AsyncSession | None = getattr(request.state, SHARED_SESSION_STATE, None)
    if shared is not None:
        return Reads(db, session=shared)
    return Reads(
        db,
        replica=not getattr(request.scope.get("route"), "reads_primary", False),
        consistent_after=request.headers.get(CONSISTENT_AFTER),
    )


DriverReads = Annotated[Reads, Depends(driver_reads)]

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer ugs_...`")


async def current_context(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> RequestContext:
    raw_key = credentials.credentials if credentials else None
    db: Database = request.app.state.db
    ctx = await api_key_service.authenticate_on_driver(
        db, raw_key, getattr(request.state, "request_id", None)
    )
    return remember_caller(request, ctx)


def ensure_role(ctx: RequestContext, allowed: frozenset[Role]) -> RequestContext:
    if ctx.role not in allowed:
        names = ", ".join(sorted(role.value for role in allowed))
        raise Forbidden(f"Role {ctx.role.value} may not do this; needs one of: {names}.")
    return ctx


def require_role(*roles: Role) -> Any:
    allowed = frozenset(roles)

    async def dependency(
        ctx: Annotated[RequestContext, Depends(current_context)],
    ) -> RequestContext:
        return ensure_role(ctx, allowed)

    return Depends(dependency)


# Who may do what (SPEC section 8), in one place.
Admin = Annotated[RequestContext, require_role(Role.admin)]
# Cards, user groups (their tariffs and activation too) and the charging infrastructure: every
# role reads them; the integration role needs them to sync the charge-point backend.
Reader = Annotated[RequestContext, require_role(Role.admin, Role.operator, Role.viewer, Role.integration)]
InfrastructureReader = Reader
# The audit trail: the people who run the organization (integrations read the change feed).
AuditReader = Annotated[RequestContext, require_role(Role.admin, Role.operator, Role.viewer)]
# Who may ask why a card is refused (POST /v1/authorize/explain): the dashboard's roles.
DecisionReader = AuditReader
Manager = Annotated[RequestContext, require_role(Role.admin, Role.operator)]
# Unknown cards and learning modes: the desk's work (people), not the integrations'.
DeskReader = AuditReader
InfrastructureWriter = Annotated[RequestContext, require_role(Role.admin, Role.operator, Role.integration)]
# The charge-point backend: authorization decisions and session reports.
BACKEND_ROLES = frozenset({Role.admin, Role.integration})
Integration = Annotated[RequestContext, require_role(*BACKEND_ROLES)]
# The change feed and the webhooks that push it: integrations, and the admin who sets them up.
FeedReader = Annotated[RequestContext, require_role(*BACKEND_ROLES)]


DEFAULT_PAGE_SIZE = 50


# `async`: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request.
async def page_params(
    limit: Annotated[int, Query(ge=1, le=200, description="Page size")] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None,
        Query(
            max_length=512, pattern=NO_CONTROL_CHARACTERS, description="`next_cursor` of the previous page"
        ),
    ] = None,
) -> PageRequest:
    try:
        after = decode_cursor(cursor) if cursor else None
    except InvalidCursor as error:
        raise RequestValidationError(
            [{"loc": ("query", "cursor"), "msg": str(error), "type": "value_error"}]
        ) from error
    return PageRequest(limit=limit, after=after)


PageParams = Annotated[PageRequest, Depends(page_params)]


def next_cursor(
    items: list[Any], more: bool, created_at: Callable[[Any], Any], id_: Callable[[Any], uuid.UUID]
) -> str | None:
    if not more or not items:
        return None
    last = items[-1]
    return encode_cursor(created_at(last), id_(last))
