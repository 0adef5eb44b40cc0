"""Gate: a client generated from openapi/openapi.json runs the seed scenario against the real server.

During the test run, openapi-python-client (the CLI of this venv) turns the committed document into a
Python package in a temporary directory; the real app is served by uvicorn on a free port of
127.0.0.1 over the test database; and the seed scenario (tests/api/test_seed_scenario.py) is played
through the generated `sync_detailed` functions and models only. This proves that the document is
good enough for client generators: every response the scenario gets is one the document declares
(`raise_on_unexpected_status`), and is parsed into the declared model.

The generator's warnings are findings about the document (a schema it cannot read is left out of
the client): they fail `test_the_generator_accepts_the_document`, except the harmless ones below.
"""

import importlib
import io
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
from fastapi.testclient import TestClient

from app.cli import OPENAPI_PATH
from app.enums import Role
from tests.factories import Org, make_org

PACKAGE = "ugs_generated_client"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"
# No post hooks: the generated code is imported, not read, so it need not be formatted (nor ruff found).
GENERATOR_CONFIG = "post_hooks: []\n"
# Paragraphs of the generator's report that say nothing about the document.
HARMLESS_WARNINGS = (
    r"^If you believe this was a mistake",  # the report's footer
    r"^Skipping Integration$",  # a post hook could not run ...
    r"^\S+ is not in PATH$",  # ... because its tool is missing
)


# The generator ----------------------------------------------------------------------------------


@dataclass
class Generated:
    returncode: int
    output: str  # all the generator printed
    directory: Path  # holds the package

    def problems(self) -> list[str]:
        """The paragraphs of the generator's report (after its "... encountered while generating"
        line), without the harmless ones."""
        match = re.search(r"^.*encountered while generating.*$", self.output, re.MULTILINE)
        paragraphs = re.split(r"\n\s*\n", self.output[match.end() :]) if match else []
        return [
            paragraph.strip()
            for paragraph in paragraphs
            if paragraph.strip()
            and not any(re.search(pattern, paragraph.strip()) for pattern in HARMLESS_WARNINGS)
        ]

    def models(self) -> Any:
        assert (self.directory / PACKAGE / "__init__.py").exists(), f"no client generated:\n{self.output}"
        return importlib.import_module(f"{PACKAGE}.models")

    def operation(self, tag: str, name: str) -> Any:
        """The generated module of one operation, e.g. ("user_groups", "create_user_group")."""
        return importlib.import_module(f"{PACKAGE}.api.{tag}.{name}")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    directory = tmp_path_factory.mktemp("generated_client")
    config = directory / "config.yaml"
    config.write_text(GENERATOR_CONFIG)
    command = [
        str(GENERATOR),
        "generate",
        "--path",
        str(OPENAPI_PATH),
        "--output-path",
        str(directory / PACKAGE),
        "--meta",
        "none",
        "--config",
        str(config),
    ]
    run = subprocess.run(
        command,
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1", "TERM": "dumb"},
        check=False,
    )
    result = Generated(run.returncode, f"{run.stdout}\n{run.stderr}", directory)
    sys.path.insert(0, str(directory))
    try:
        yield result
    finally:
        sys.path.remove(str(directory))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def test_the_generator_accepts_the_document(generated: Generated) -> None:
    assert generated.returncode == 0, f"openapi-python-client failed:\n{generated.output}"
    problems = generated.problems()
    assert not problems, (
        "openapi-python-client reports problems with openapi/openapi.json (the parts concerned are "
        "missing from the generated client):\n\n" + "\n\n".join(problems)
    )


# The scenario -----------------------------------------------------------------------------------


class Api:
    """Calls through the generated client only: `sync_detailed`, the status, the parsed model."""

    def __init__(self, generated: Generated, base_url: str, token: str) -> None:
        self.generated = generated
        package = importlib.import_module(PACKAGE)
        self.client: Any = package.AuthenticatedClient(
            base_url=base_url, token=token, raise_on_unexpected_status=True, timeout=httpx.Timeout(30)
        )

    def __call__(self, operation: str, status: int, model: str | None = None, **arguments: Any) -> Any:
        """Calls `tag.operation`; asserts the status and, if given, the generated model parsed."""
        tag, name = operation.split(".")
        errors = importlib.import_module(f"{PACKAGE}.errors")
        unknown = None
        try:
            response = self.generated.operation(tag, name).sync_detailed(client=self.client, **arguments)
        except errors.UnexpectedStatus as error:
            unknown = error
        if unknown is not None:
            pytest.fail(
                f"{operation}: the server answered {unknown.status_code}, a status the generated client does "
                f"not know (undeclared in the document, or dropped by the generator): {unknown.content!r}"
            )
        assert response.status_code == status, (operation, response.status_code, response.content)
        if model is not None:
            expected = getattr(self.generated.models(), model)
            assert isinstance(response.parsed, expected), (
                f"{operation}: {status} parsed as {type(response.parsed).__name__}, not {model}",
                response.content,
            )
        return response

    def close(self) -> None:
        self.client.get_httpx_client().close()


def make_site(api: Api, m: Any, connectors: int) -> dict[str, Any]:
    """A charging group with one controller and `connectors` connectors on it."""
    group = api(
        "charging_groups.create_charging_group",
        201,
        "ChargingGroupRead",
        body=m.ChargingGroupCreate(name=f"CG {uuid.uuid4().hex[:8]}", location_label="Level -1"),
        idempotency_key=str(uuid.uuid4()),
    ).parsed
    charge_point = api(
        "charge_points.create_charge_point",
        201,
        "ChargePointRead",
        body=m.ChargePointCreate(charging_group_id=group.id, identity=f"CP-{uuid.uuid4().hex[:8]}"),
    ).parsed
    created = [
        api(
            "connectors.create_connector",
            201,
            "ConnectorRead",
            body=m.ConnectorCreate(
                charge_point_id=charge_point.id,
                connector_number=number,
                evse_id=f"DE*TST*E{uuid.uuid4().hex[:8].upper()}*{number}",
                plug_type=m.PlugType.TYPE2,
                max_power_kw="22",
            ),
        ).parsed
        for number in range(1, connectors + 1)
    ]
    return {"group": group, "charge_point": charge_point, "connectors": created}


@pytest.fixture
def scenario_org(client: TestClient) -> Org:
    """The organization and its keys, written straight to the database the server uses."""
    return make_org(client)


def test_seed_scenario_through_the_generated_client(
    generated: Generated, server: str, scenario_org: Org
) -> None:
    m = generated.models()
    admin = Api(generated, server, scenario_org.keys[Role.admin])
    backend = Api(generated, server, scenario_org.keys[Role.integration])
    try:
        play_seed_scenario(m, admin, backend)
    finally:
        admin.close()
        backend.close()


def play_seed_scenario(m: Any, admin: Api, backend: Api) -> None:
    lobby, garage, staff = (make_site(admin, m, connectors=n) for n in (2, 3, 1))

    # Steps 1-4 of the wizard: name, optional tariff, activation, then the summary before confirming.
    wizard = m.UserGroupCreate(
        name="  Guests  ",
        type_=m.UserGroupType.CARDS_ONLY,
        activation=m.ActivationInput(scope=m.ActivationScope.CUSTOM, charging_group_ids=[lobby["group"].id]),
    )
    summary = admin("user_groups.preview_user_group", 200, "UserGroupPreview", body=wizard).parsed
    assert summary.name == "Guests"
    assert summary.activation.scope == m.ActivationScope.CUSTOM
    assert (summary.activation.charging_group_count, summary.activation.connector_count) == (1, 2)
    assert [cg.id for cg in summary.access_control_to_enable] == [lobby["group"].id]
    unchanged = admin("user_groups.list_user_groups", 200, "PageUserGroupSummary").parsed
    assert unchanged.items == []  # the preview changed nothing

    created = admin(
        "user_groups.create_user_group", 201, "UserGroupRead", body=wizard, idempotency_key=str(uuid.uuid4())
    )
    group = created.parsed
    assert group.name == "Guests" and group.type_ == m.UserGroupType.CARDS_ONLY
    assert group.tariff is None and group.cards.count == 0
    assert created.headers["location"].endswith(f"/v1/user-groups/{group.id}")
    lobby_now = admin(
        "charging_groups.get_charging_group", 200, "ChargingGroupRead", charging_group_id=lobby["group"].id
    ).parsed
    assert lobby_now.access_control is True

    # Tariff box: set the tariff the sessions are documented with.
    tariff = m.TariffInput(currency="EUR", price_per_kwh="0.30", session_fee="0.50")
    set_tariff = admin("tariffs.set_tariff", 200, "TariffRead", user_group_id=group.id, body=tariff).parsed
    assert (set_tariff.currency, set_tariff.price_per_kwh, set_tariff.session_fee) == ("EUR", "0.3", "0.5")

    # Charging-groups box: activate on one more charging group and read the counts.
    admin(
        "activation.activate_charging_group",
        200,
        "ActivationRead",
        user_group_id=group.id,
        charging_group_id=garage["group"].id,
    )
    activation = admin("activation.get_activation", 200, "ActivationRead", user_group_id=group.id).parsed
    assert (activation.charging_group_count, activation.connector_count) == (2, 5)
    assert {cg.id for cg in activation.items} == {lobby["group"].id, garage["group"].id}

    # Cards box: one by one, then in bulk.
    card = admin(
        "cards.add_card",
        201,
        "CardRead",
        user_group_id=group.id,
        body=m.CardCreate(uid="04:11:22:33", label="Room 101"),
        idempotency_key=str(uuid.uuid4()),
    ).parsed
    assert (card.uid, card.label) == ("04112233", "Room 101")
    bulk = m.CardsBulkCreate(
        cards=[m.CardCreate(uid=f"0422{n:04d}", label=f"Room {n}") for n in range(200, 210)]
    )
    added = admin("cards.add_cards", 201, "CardsAdded", user_group_id=group.id, body=bulk).parsed
    assert (added.added, added.user_group_id) == (10, group.id)
    page = admin("user_groups.get_user_group", 200, "UserGroupRead", user_group_id=group.id).parsed
    assert page.cards.count == 11
    assert (page.activation.charging_group_count, page.activation.connector_count) == (2, 5)
    assert page.tariff.currency == "EUR"

    # Rename at any time.
    renamed = admin(
        "user_groups.rename_user_group",
        200,
        "UserGroupRead",
        user_group_id=group.id,
        body=m.UserGroupRename(name="Hotel guests"),
        if_match=created.headers["etag"],
    ).parsed
    assert renamed.name == "Hotel guests"

    # A guest charges for free; the session is documented with the tariff.
    lobby_connector = lobby["connectors"][0].id

    def authorize(connector_id: uuid.UUID) -> Any:
        request = m.AuthorizeRequest(id_token="04112233", connector_id=connector_id)
        return backend("authorization.authorize_card", 200, "AuthorizeResponse", body=request).parsed

    answer = authorize(lobby_connector)
    assert answer.status == m.AuthorizationStatus.ACCEPTED
    assert (answer.user_group_id, answer.card_id) == (group.id, card.id)
    assert authorize(staff["connectors"][0].id).status == m.AuthorizationStatus.ACCEPTED
    started_at = datetime.now(UTC)
    start = m.SessionStart(
        transaction_id=f"tx-{uuid.uuid4().hex[:12]}",
        id_token="04112233",
        connector_id=lobby_connector,
        meter_start_wh=0,
        started_at=started_at,
    )
    session = backend("sessions.start_session", 201, "SessionRead", body=start).parsed
    assert session.authorized is True and session.status == m.SessionStatus.ACTIVE
    stop = m.SessionStop(meter_stop_wh=7_000, stopped_at=started_at + timedelta(minutes=40))
    stopped = backend("sessions.stop_session", 200, "SessionRead", session_id=session.id, body=stop).parsed
    assert (stopped.energy_kwh, stopped.cost, stopped.currency) == ("7", "2.60", "EUR")  # 7 x 0.30 + 0.50
    assert stopped.status == m.SessionStatus.COMPLETED

    # Delete is refused once a session ran through the group: archive instead.
    refused = admin("user_groups.delete_user_group", 409, "Problem", user_group_id=group.id)
    assert refused.parsed.status == 409 and "archive" in refused.parsed.detail
    assert "archive" in refused.content.decode()
    archived = admin("user_groups.archive_user_group", 200, "UserGroupRead", user_group_id=group.id).parsed
    assert archived.status == m.UserGroupStatus.ARCHIVED
    assert archived.allowed_actions.restore.allowed is True

    # Its cards are refused now, and no card can be added.
    answer = authorize(lobby_connector)
    assert (answer.status, answer.reason) == (m.AuthorizationStatus.INVALID, "group_archived")
    admin("cards.add_card", 409, "Problem", user_group_id=group.id, body=m.CardCreate(uid="0499"))

    # Restored: the same activation, tariff and cards, and the cards work again.
    restored = admin("user_groups.restore_user_group", 200, "UserGroupRead", user_group_id=group.id).parsed
    assert restored.status == m.UserGroupStatus.ACTIVE and restored.cards.count == 11
    assert restored.activation.charging_group_count == 2 and restored.tariff.price_per_kwh == "0.3"
    assert authorize(lobby_connector).status == m.AuthorizationStatus.ACCEPTED

    # The history has every step, newest first, each readable on its own.
    history = admin(
        "user_groups.get_user_group_history", 200, "PageAuditEventRead", user_group_id=group.id, limit=200
    ).parsed
    assert history.next_cursor is None
    assert all(isinstance(event, m.AuditEventRead) for event in history.items)
    assert [event.action for event in reversed(history.items)] == [
        "user_group.created",
        "charging_group.updated",  # access control switched on at the lobby
        "tariff.set",
        "activation.added",
        "charging_group.updated",  # ... and at the garage
        "card.added",
        "cards.bulk_added",
        "user_group.renamed",
        "session.started",
        "session.stopped",
        "user_group.archived",
        "user_group.restored",
    ]
    renamed_event = next(event for event in history.items if event.action == "user_group.renamed")
    assert renamed_event.old_values.additional_properties == {"name": "Guests"}
    assert renamed_event.new_values.additional_properties == {"name": "Hotel guests"}
    assert all(event.actor_name and event.request_id and event.created_at for event in history.items)
    activated = next(event for event in history.items if event.action == "activation.added")
    assert activated.new_values["charging_group_name"] == garage["group"].name


def test_csv_import_through_the_generated_client(
    generated: Generated, server: str, scenario_org: Org
) -> None:
    """The seed scenario's CSV upload (multipart): the generated model must take a file."""
    m = generated.models()
    file_type = importlib.import_module(f"{PACKAGE}.types").File
    assert str(attrs.fields(m.BodyImportCards).file.type) == "File", (
        "the generated BodyImportCards.file is not a File, so the client sends the CSV as a plain form "
        "field and the server answers 422 (Expected UploadFile): openapi-python-client needs "
        '`"format": "binary"` on Body_import_cards.file (the document has only contentMediaType)'
    )
    admin = Api(generated, server, scenario_org.keys[Role.admin])
    try:
        group = admin(
            "user_groups.create_user_group", 201, "UserGroupRead", body=m.UserGroupCreate(name="Spa guests")
        ).parsed
        upload = file_type(
            payload=io.BytesIO(b"uid,label\n04-33-00-01,Spa 1\n04-33-00-02,Spa 2\n"),
            file_name="guests.csv",
            mime_type="text/csv",
        )
        added = admin(
            "cards.import_cards",
            201,
            "CardsAdded",
            user_group_id=group.id,
            body=m.BodyImportCards(file=upload),
        ).parsed
        assert (added.added, added.user_group_id) == (2, group.id)
        cards = admin("cards.list_user_group_cards", 200, "PageCardRead", user_group_id=group.id).parsed
        assert sorted((card.uid, card.label) for card in cards.items) == [
            ("04330001", "Spa 1"),
            ("04330002", "Spa 2"),
        ]
    finally:
        admin.close()
