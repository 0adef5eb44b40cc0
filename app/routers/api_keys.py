import uuid

from fastapi import APIRouter, Response, status

from app.errors import IdempotencyKeyReused, NotFound
from app.problems import problem_responses
from app.routers.deps import Admin, PageParams, Uow, next_cursor
from app.routers.route import ApiRoute
from app.schemas.api_keys import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from app.schemas.common import Page
from app.services import api_keys as service

router = APIRouter(route_class=ApiRoute, prefix="/api-keys", tags=["api-keys"])


@router.get("", response_model=Page[ApiKeyRead])
async def list_api_keys(ctx: Admin, session: Uow, page: PageParams) -> Page[ApiKeyRead]:
    keys, more = await service.list_api_keys(session, ctx, page)
    items = [ApiKeyRead.model_validate(key) for key in keys]
    return Page(items=items, next_cursor=next_cursor(items, more, lambda k: k.created_at, lambda k: k.id))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    responses=problem_responses(IdempotencyKeyReused),
)
async def create_api_key(body: ApiKeyCreate, ctx: Admin, session: Uow, response: Response) -> ApiKeyCreated:
    """Creates a key; the secret is in this response only. It is never stored: a retry with the same
    Idempotency-Key answers the key's metadata with `key` null."""
    key, secret = await service.create_api_key(session, ctx, body.name, body.role)
    response.headers["Location"] = f"/v1/api-keys/{key.id}"
    return ApiKeyCreated(**ApiKeyRead.model_validate(key).model_dump(), key=secret)


@router.get("/{api_key_id}", response_model=ApiKeyRead, responses=problem_responses(NotFound))
async def get_api_key(api_key_id: uuid.UUID, ctx: Admin, session: Uow) -> ApiKeyRead:
    return ApiKeyRead.model_validate(await service.get_api_key(session, ctx, api_key_id))


@router.delete(
    "/{api_key_id}",
    response_model=ApiKeyRead,
    responses=problem_responses(NotFound),
)
async def revoke_api_key(api_key_id: uuid.UUID, ctx: Admin, session: Uow) -> ApiKeyRead:
    """Revokes the key at once; it stays listed, marked with `revoked_at`."""
    key = await service.revoke_api_key(session, ctx, api_key_id)
    return ApiKeyRead.model_validate(key)
