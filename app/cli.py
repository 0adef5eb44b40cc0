"""Command line: serve | migrate | demo-data | create-org | create-api-key | export-openapi."""

import argparse
import asyncio
import json
import sys
from decimal import Decimal
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database, UnitOfWork
from app.enums import ChargePointRole, PlugType, Role
from app.errors import AppError
from app.repositories.api_keys import find_organization_by_name
from app.schemas.charging import ChargePointCreate, ChargingGroupCreate, ConnectorCreate
from app.services import api_keys, charging
from app.services.context import RequestContext
from app.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent
OPENAPI_PATH = ROOT / "openapi" / "openapi.json"
DEMO_ORGANIZATION = "Demo Hotel GmbH"


def alembic_config(database_url: str | None = None) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    if database_url:
        config.attributes["database_url"] = database_url
    return config


def migrate(database_url: str | None = None) -> None:
    command.upgrade(alembic_config(database_url), "head")


def openapi_document() -> str:
    from app.main import create_app

    return json.dumps(create_app().openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


async def create_org(name: str) -> None:
    db = Database(get_settings())
    try:
        async with UnitOfWork(db) as session:
            organization = await api_keys.create_organization(session, name)
        print(f"organization {organization.id} {organization.name}")
    finally:
        await db.dispose()


async def create_key(organization_name: str, name: str, role: Role) -> None:
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
    """A demo organization with infrastructure, and a fresh admin key (printed)."""
    db = Database(get_settings())
    try:
        async with UnitOfWork(db) as session:
            organization = await find_organization_by_name(session, DEMO_ORGANIZATION)
            if organization is None:
                organization = await api_keys.create_organization(session, DEMO_ORGANIZATION)
                ctx = api_keys.system_context(organization.id, "demo-data")
                await _demo_infrastructure(session, ctx)
            ctx = api_keys.system_context(organization.id, "demo-data")
            _, secret = await api_keys.create_api_key(session, ctx, "demo admin", Role.admin)
        return secret
    finally:
        await db.dispose()


async def _demo_infrastructure(session: AsyncSession, ctx: RequestContext) -> None:
    sites = [
        ("Car park P1", "Level -1"),
        ("Hotel entrance", "Front yard"),
        ("Staff car park", None),
    ]
    for site_number, (name, location) in enumerate(sites, start=1):
        group = await charging.create_charging_group(
            session, ctx, ChargingGroupCreate(name=name, location_label=location)
        )
        for cp_number in range(1, 3):
            role = ChargePointRole.controller if cp_number == 1 else ChargePointRole.extender
            charge_point = await charging.create_charge_point(
                session,
                ctx,
                ChargePointCreate(
                    charging_group_id=group.group.id,
                    identity=f"DEMO-{site_number:02d}-{cp_number:02d}",
                    role=role,
                ),
            )
            for connector_number in range(1, 3):
                await charging.create_connector(
                    session,
                    ctx,
                    ConnectorCreate(
                        charge_point_id=charge_point.charge_point.id,
                        connector_number=connector_number,
                        evse_id=f"DE*DEM*E{site_number:02d}{cp_number:02d}*{connector_number}",
                        plug_type=PlugType.type2,
                        max_power_kw=Decimal("11"),
                    ),
                )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ugs", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP server (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    commands.add_parser("migrate", help="upgrade the database to the latest schema")
    commands.add_parser("demo-data", help="migrate, add demo data, print a new admin key")
    org = commands.add_parser("create-org", help="create an organization")
    org.add_argument("name")
    key = commands.add_parser("create-api-key", help="create an API key and print it once")
    key.add_argument("--org", required=True, help="organization name")
    key.add_argument("--name", required=True, help="who uses the key")
    key.add_argument("--role", required=True, choices=[role.value for role in Role])
    export = commands.add_parser("export-openapi", help="write openapi/openapi.json")
    export.add_argument("--output", type=Path, default=OPENAPI_PATH)
    export.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args(argv)

    try:
        if args.command == "serve":
            import uvicorn

            uvicorn.run(
                "app.main:create_app",
                factory=True,
                host=args.host,
                port=args.port,
                workers=args.workers,
                access_log=False,
                proxy_headers=True,
            )
        elif args.command == "migrate":
            migrate()
        elif args.command == "demo-data":
            migrate()
            secret = asyncio.run(demo_data())
            print(f"\nDemo organization: {DEMO_ORGANIZATION}\nAdmin API key (shown once):\n{secret}\n")
        elif args.command == "create-org":
            asyncio.run(create_org(args.name))
        elif args.command == "create-api-key":
            asyncio.run(create_key(args.org, args.name, Role(args.role)))
        elif args.command == "export-openapi":
            document = openapi_document()
            if args.check:
                current = args.output.read_text() if args.output.exists() else ""
                if current != document:
                    raise SystemExit(f"{args.output} is stale; run: ugs export-openapi")
                return
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(document)
            print(f"wrote {args.output}")
    except AppError as error:
        print(f"error: {error.detail}", file=sys.stderr)
        raise SystemExit(1) from error


if __name__ == "__main__":
    main()
