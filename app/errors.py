"""Domain errors. Each kind carries its HTTP status, a stable slug (-> problem `type`) and a title.

No FastAPI here: services raise these, app/problem_handlers.py renders them as RFC 9457 documents.
"""

from dataclasses import dataclass, field
from typing import Any, ClassVar

PROBLEM_BASE = "https://problems.user-groups.example/"


class AppError(Exception):
    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extensions = extensions

    @classmethod
    def type_uri(cls) -> str:
        return PROBLEM_BASE + cls.slug


class Unauthenticated(AppError):
    status = 401
    slug = "unauthenticated"
    title = "Missing or invalid API key"


class Forbidden(AppError):
    status = 403
    slug = "forbidden"
    title = "The API key's role does not allow this operation"


class NotFound(AppError):
    status = 404
    slug = "not-found"
    title = "Resource not found"


class Conflict(AppError):
    status = 409
    slug = "conflict"
    title = "The request conflicts with the current state"


class AlreadyExists(Conflict):
    slug = "already-exists"
    title = "A resource with this unique value already exists"


class ChargingGroupNotEmpty(Conflict):
    slug = "charging-group-not-empty"
    title = "The charging group still has charge points"


class IdempotencyKeyReused(Conflict):
    slug = "idempotency-key-reused"
    title = "The Idempotency-Key was already used for a different request"


class IdempotencyInProgress(Conflict):
    slug = "idempotency-in-progress"
    title = "A request with this Idempotency-Key is still being processed; retry after a moment"


class PreconditionFailed(AppError):
    status = 412
    slug = "precondition-failed"
    title = "The resource was changed since you read it (If-Match does not match)"


REQUEST_PARTS = ("body", "query", "path", "header")


@dataclass(frozen=True)
class FieldError:
    """One wrong value, where it is (`loc`, as FastAPI gives it: "body", then the path) and why."""

    loc: tuple[str | int, ...]
    msg: str
    type: str = "value_error"
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def body(cls, path: str, msg: str, type: str = "value_error") -> "FieldError":
        """A field of the JSON body, by its dotted path."""
        return cls(("body", *path.split(".")), msg, type)

    def as_dict(self) -> dict[str, Any]:
        """As a problem's `errors` item (documented by app/problems.py::FieldError): `field` is the
        dotted path without the leading body/query/path/header, e.g. `cards.3.uid`."""
        where = self.loc[1:] if self.loc and self.loc[0] in REQUEST_PARTS else self.loc
        field_name = ".".join(str(part) for part in where) or (str(self.loc[0]) if self.loc else "")
        return {"field": field_name, "loc": list(self.loc), "msg": self.msg, "type": self.type, **self.extra}


class InvalidInput(AppError):
    """A semantic validation error found by a service (422, with a list of field errors)."""

    status = 422
    slug = "validation-error"
    title = "The request is not valid"

    @classmethod
    def at(cls, detail: str, *errors: FieldError) -> "InvalidInput":
        return cls(detail, errors=[error.as_dict() for error in errors])


class ServiceUnavailable(AppError):
    status = 503
    slug = "service-unavailable"
    title = "The service is temporarily unavailable"


class GroupHasSessions(Conflict):
    slug = "group-has-sessions"
    title = "The user group has charging sessions and cannot be deleted; archive it instead"


class GroupArchived(Conflict):
    slug = "group-archived"
    title = "The user group is archived; restore it first"


class GroupAlreadyArchived(Conflict):
    slug = "group-already-archived"
    title = "The user group is already archived"


class GroupNotArchived(Conflict):
    slug = "group-not-archived"
    title = "The user group is not archived"


class CardUidTaken(AlreadyExists):
    slug = "card-uid-taken"
    title = "A card with this UID already exists in the organization"


class CardsRejected(InvalidInput):
    slug = "cards-rejected"
    title = "Some cards were rejected; none were added"


class TariffNotSet(NotFound):
    slug = "tariff-not-set"
    title = "The user group has no tariff"


class SessionAlreadyStopped(Conflict):
    slug = "session-already-stopped"
    title = "The session was already stopped with other values"


class CardActionRefused(InvalidInput):
    slug = "card-action-refused"
    title = "Some cards were refused; no card was changed"


class UpcomingTariffNotSet(NotFound):
    slug = "upcoming-tariff-not-set"
    title = "The user group has no upcoming tariff"


class LearningModeTaken(Conflict):
    slug = "learning-mode-taken"
    title = "Another user group learns on one of these charging groups now"


class RulesNotSet(NotFound):
    slug = "rules-not-set"
    title = "The user group has no guest rules"
