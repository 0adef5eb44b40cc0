"""Layering rules that review should not have to catch (import-linter checks the imports)."""

import re
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"


def test_only_the_unit_of_work_commits() -> None:
    offenders = [
        str(path.relative_to(APP))
        for path in APP.rglob("*.py")
        if path != APP / "db" / "database.py" and re.search(r"\.commit\(", path.read_text())
    ]
    assert offenders == []


def test_routers_do_not_touch_sqlalchemy_or_repositories() -> None:
    for path in (APP / "routers").glob("*.py"):
        text = path.read_text()
        assert "from sqlalchemy" not in text.replace("from sqlalchemy.ext.asyncio import AsyncSession", ""), (
            path
        )
        assert "app.repositories" not in text, path


def test_nothing_below_the_routers_imports_the_web_framework() -> None:
    below = [*(APP / "services").rglob("*.py"), *(APP / "repositories").rglob("*.py")]
    below += [*(APP / "models").rglob("*.py"), *(APP / "schemas").rglob("*.py")]
    below += [*(APP / "db").rglob("*.py")]
    for path in below:
        text = path.read_text()
        assert not re.search(r"^\s*(from|import) (fastapi|starlette)", text, re.M), path


def test_no_result_row_is_read_by_position() -> None:
    """Rows are typed (NamedTuples next to their column lists): `row[3]` would silently read the
    wrong column once a column is inserted before it."""
    offenders = [
        f"{path.relative_to(APP)}: {match.group(0)}"
        for path in APP.rglob("*.py")
        for match in re.finditer(
            r"\brow\[(?![\"'])[^\]]*\]|\brows?\[[^\]]*\]\[\s*-?\d+\s*\]", path.read_text()
        )
    ]
    assert offenders == []


def test_every_api_operation_uses_the_route_class() -> None:
    """ETags, If-Match and Idempotency-Key come from ApiRoute; a router built without it would
    silently skip them (the conditional-request gate fails too, this names the cause)."""
    from fastapi.routing import APIRoute, iter_route_contexts

    from app.main import create_app
    from app.routers.route import ApiRoute
    from app.settings import Settings

    app = create_app(Settings(database_url="sqlite+aiosqlite://", log_level="WARNING"))
    plain = [
        str(context.path)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        and str(context.path).startswith("/v1/")
        and not isinstance(context.original_route, ApiRoute)
    ]
    assert plain == []
