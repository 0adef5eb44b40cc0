"""Command line: serve | worker | migrate | demo-data | create-org | create-api-key | export-openapi.

Heavy imports happen inside the commands: with several workers, every worker process imports
this module again before it can answer uvicorn's start-up health check.
"""

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from app.enums import Role
from app.errors import AppError

if TYPE_CHECKING:
    from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent
OPENAPI_PATH = ROOT / "openapi" / "openapi.json"
# How long uvicorn's supervisor waits for a worker to answer before it restarts it (uvicorn's
# default, 5 s, restarts workers that are merely slow to import on a busy machine).
WORKER_HEALTHCHECK_SECONDS = 30


def alembic_config(database_url: str | None = None) -> "Config":
    from alembic.config import Config

    from app.services.health import MIGRATIONS_DIR

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if database_url:
        config.attributes["database_url"] = database_url
    return config


def migrate(database_url: str | None = None) -> None:
    from alembic import command

    config = alembic_config(database_url)
    # alembic.ini's logging is for `alembic` run by hand; here our JSON lines apply.
    config.attributes["configure_logging"] = False
    command.upgrade(config, "head")


def openapi_document() -> str:
    from app.main import create_app

    return json.dumps(create_app().openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


async def create_org(name: str) -> None:
    from app.db import Database, UnitOfWork
    from app.services import api_keys
    from app.settings import get_settings

    db = Database(get_settings())
    try:
        async with UnitOfWork(db) as session:
            organization = await api_keys.create_organization(session, name)
        print(f"organization {organization.id} {organization.name}")
    finally:
        await db.dispose()


async def create_key(organization_name: str, name: str, role: Role) -> None:
    from app.db import Database, UnitOfWork
    from app.repositories.api_keys import find_organization_by_name
    from app.services import api_keys
    from app.settings import get_settings

    db = Database(get_settings())
    try:
        async with UnitOfWork(db) as session:
            organization = await find_organization_by_name(session, organization_name)
            if organization is None:
                raise SystemExit(f"no organization named {organization_name!r}")
            ctx = api_keys.system_context(organization.id)
            key, secret = await api_keys.create_api_key(session, ctx, name, role)
        print(f"api key {key.id} ({role.value}) for {organization_name}:\n{secret}")
    finally:
        await db.dispose()


async def demo_data() -> str:
    """The demo organization with the seed scenario (app/demo.py), and a fresh admin key."""
    from app import demo
    from app.db import Database
    from app.settings import get_settings

    db = Database(get_settings())
    try:
        return await demo.load(db)
    finally:
        await db.dispose()


def serve(host: str, port: int, workers: int) -> None:
    """uvicorn with our logging for its own lines too; with several workers, metrics that add up
    over all of them (a fresh PROMETHEUS_MULTIPROC_DIR for this start, see app/metrics.py)."""
    import uvicorn

    from app import metrics
    from app.logging_config import log_config
    from app.settings import get_settings

    settings = get_settings()
    created_dir: str | None = None
    given = os.environ.get(metrics.MULTIPROC_DIR_ENV)
    if workers > 1 or given:
        directory = Path(given) if given else Path(tempfile.mkdtemp(prefix="ugs-metrics-"))
        created_dir = None if given else str(directory)
        metrics.prepare_multiprocess_dir(directory)
        os.environ[metrics.MULTIPROC_DIR_ENV] = str(directory)  # inherited by the workers
    try:
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,  # ours (app.access) names the request id, organization and key
            log_config=log_config(settings),
            proxy_headers=True,
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        )
    finally:
        if created_dir is not None:
            shutil.rmtree(created_dir, ignore_errors=True)


async def run_webhook_worker() -> None:
    """Delivers webhooks until SIGTERM or SIGINT (it finishes the batch in hand)."""
    import signal

    from app.db import Database
    from app.settings import get_settings
    from app.webhook_worker import run_worker

    settings = get_settings()
    db = Database(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await run_worker(db, settings, stop, notified=True)
    finally:
        await db.dispose()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ugs", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the HTTP server (uvicorn)")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8000)
    serve_parser.add_argument("--workers", type=int, default=1)
    commands.add_parser(
        "worker", help="deliver webhooks (any number of workers may run; see README, Webhooks)"
    )
    commands.add_parser("migrate", help="upgrade the database to the latest schema")
    demo_parser = commands.add_parser("demo-data", help="migrate, add demo data, print a new admin key")
    demo_parser.add_argument(
        "--base-url", default="http://127.0.0.1:8000", help="where the server runs (for the printed calls)"
    )
    org = commands.add_parser("create-org", help="create an organization")
    org.add_argument("name")
    key = commands.add_parser("create-api-key", help="create an API key and print it once")
    key.add_argument("--org", required=True, help="organization name")
    key.add_argument("--name", required=True, help="who uses the key")
    key.add_argument("--role", required=True, choices=[role.value for role in Role])
    export = commands.add_parser("export-openapi", help="write openapi/openapi.json")
    export.add_argument("--output", type=Path, default=OPENAPI_PATH)
    export.add_argument("--check", action="store_true", help="fail if the file is stale")
    return parser


def _export_openapi(output: Path, check: bool) -> None:
    document = openapi_document()
    if check:
        current = output.read_text() if output.exists() else ""
        if current != document:
            raise SystemExit(f"{output} is stale; run: ugs export-openapi")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(document)
    print(f"wrote {output}")


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command != "serve":  # uvicorn applies the same configuration itself
        from app.logging_config import configure_logging
        from app.settings import get_settings

        configure_logging(get_settings())

    try:
        if args.command == "serve":
            serve(args.host, args.port, args.workers)
        elif args.command == "worker":
            asyncio.run(run_webhook_worker())
        elif args.command == "migrate":
            migrate()
        elif args.command == "demo-data":
            migrate()
            secret = asyncio.run(demo_data())
            from app import demo

            print(demo.summary(args.base_url.rstrip("/"), secret))
        elif args.command == "create-org":
            asyncio.run(create_org(args.name))
        elif args.command == "create-api-key":
            asyncio.run(create_key(args.org, args.name, Role(args.role)))
        elif args.command == "export-openapi":
            _export_openapi(args.output, args.check)
    except AppError as error:
        print(f"error: {error.detail}", file=sys.stderr)
        raise SystemExit(1) from error


if __name__ == "__main__":
    main()
