"""CSV written by the API is safe to open in a spreadsheet; CSV read by it is strict."""

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.csv_cells import read_cell
from app.enums import Role
from tests.factories import (
    Org,
    add_card,
    cards_of,
    create_charge_point,
    create_connector,
    create_user_group,
    make_site,
    ok,
    post_csv,
)

APP = Path(__file__).resolve().parent.parent.parent / "app"


def export_rows(client: TestClient, org: Org) -> tuple[str, list[dict[str, str]]]:
    response = client.get("/v1/sessions/export.csv", headers=org.auth())
    assert response.status_code == 200, response.text
    return response.text, list(csv.DictReader(io.StringIO(response.text)))


@pytest.mark.parametrize("trigger", ["=", "+", "-", "@"])
def test_export_neutralizes_every_client_text_that_could_be_a_formula(
    client: TestClient, org: Org, trigger: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    texts = {
        "charging_group": f"{trigger}SUM(A1:A9) {tag}",
        "user_group": f'{trigger}HYPERLINK("http://x.example") {tag}',
        "card_label": f"{trigger}cmd|' /C calc'!A0",
        "known_tx": f"{trigger}tx-{tag}-1",
        "unknown_tx": f"{trigger}tx-{tag}-2",
        "unknown_token": f"{trigger}1+1",
    }
    charging = ok(
        client.post("/v1/charging-groups", json={"name": texts["charging_group"]}, headers=org.auth()), 201
    )
    charge_point = create_charge_point(client, org, charging["id"])
    connector = create_connector(client, org, charge_point["id"])
    group = create_user_group(
        client,
        org,
        name=texts["user_group"],
        tariff={"currency": "EUR", "price_per_kwh": "0.30"},
        activation={"scope": "custom", "charging_group_ids": [charging["id"]]},
    )
    add_card(client, org, group["id"], f"C{tag.upper()}", label=texts["card_label"])
    started_at = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    for transaction_id, token in (
        (texts["known_tx"], f"C{tag.upper()}"),
        (texts["unknown_tx"], texts["unknown_token"]),
    ):
        body = {
            "transaction_id": transaction_id,
            "id_token": token,
            "connector_id": connector["id"],
            "meter_start_wh": 0,
            "started_at": started_at,
        }
        ok(client.post("/v1/sessions", json=body, headers=org.auth(Role.integration)), 201)

    text, rows = export_rows(client, org)
    by_tx = {read_cell(row["transaction_id"]): row for row in rows}
    known, unknown = by_tx[texts["known_tx"]], by_tx[texts["unknown_tx"]]
    expected_cells = [
        (known["transaction_id"], texts["known_tx"]),
        (known["user_group"], texts["user_group"]),
        (known["card_label"], texts["card_label"]),
        (known["charging_group"], texts["charging_group"]),
        (unknown["transaction_id"], texts["unknown_tx"]),
        (unknown["card_uid"], texts["unknown_token"]),
    ]
    for written, original in expected_cells:
        assert written == "'" + original  # shown as text by spreadsheets, not evaluated
        assert read_cell(written) == original  # and read back as it was
    assert unknown["decision"] == "Invalid"
    # No cell of the file starts with a trigger, and every cell is quoted (so a `;` or tab inside
    # a cell cannot start a new one when a spreadsheet splits on another separator).
    for row in csv.reader(io.StringIO(text)):
        assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for cell in row), row
    for line in text.splitlines():
        assert re.fullmatch(r'"([^"]|"")*"(,"([^"]|"")*")*', line), line


def test_numbers_and_times_are_written_as_such(client: TestClient, org: Org) -> None:
    """Only text is neutralized: times, energy and cost come out as plain values."""
    charging = ok(client.post("/v1/charging-groups", json={"name": "Plain"}, headers=org.auth()), 201)
    connector = create_connector(client, org, create_charge_point(client, org, charging["id"])["id"])
    group = create_user_group(
        client,
        org,
        tariff={"currency": "EUR", "price_per_kwh": "0.30"},
        activation={"scope": "custom", "charging_group_ids": [charging["id"]]},
    )
    add_card(client, org, group["id"], "AB0001")
    started_at = datetime.now(UTC) + timedelta(seconds=1)
    session = ok(
        client.post(
            "/v1/sessions",
            json={
                "transaction_id": "plain-1",
                "id_token": "AB0001",
                "connector_id": connector["id"],
                "meter_start_wh": 1_000,
                "started_at": started_at.isoformat(),
            },
            headers=org.auth(Role.integration),
        ),
        201,
    )
    ok(
        client.post(
            f"/v1/sessions/{session['id']}/stop",
            json={"meter_stop_wh": 11_000, "stopped_at": (started_at + timedelta(hours=1)).isoformat()},
            headers=org.auth(Role.integration),
        )
    )
    _, rows = export_rows(client, org)
    row = rows[0]
    assert (row["energy_kwh"], row["cost"], row["currency"]) == ("10", "3.00", "EUR")
    assert datetime.fromisoformat(row["started_at"]) == started_at
    assert row["session_id"] == session["id"]


def test_every_csv_writer_is_the_neutralizing_one() -> None:
    """One place writes CSV (app/csv_cells.py); any other csv.writer would skip the neutralizing."""
    offenders = [
        str(path.relative_to(APP))
        for path in APP.rglob("*.py")
        if path.name != "csv_cells.py" and re.search(r"csv\.(writer|DictWriter)\b", path.read_text())
    ]
    assert offenders == []


# The cards import: columns, and cells our exports neutralized ------------------------------------------


@pytest.mark.parametrize(
    "header",
    ["uid,label,uid", "uid,label,LABEL", "uid, label ,label"],
    ids=["uid twice", "label in two cases", "label with spaces"],
)
def test_a_column_named_twice_is_refused(client: TestClient, org: Org, header: str) -> None:
    group = create_user_group(client, org)
    response = post_csv(client, org, group["id"], f"{header}\nAA01,x,AA02\n".encode())
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [(e["field"], e["type"]) for e in errors] == [("file", "csv_invalid")]
    assert "more than once" in errors[0]["msg"]
    assert cards_of(client, org, group["id"]) == []


def test_an_empty_column_name_is_refused(client: TestClient, org: Org) -> None:
    group = create_user_group(client, org)
    response = post_csv(client, org, group["id"], b"uid,label,\nAA01,x,\n")
    assert response.status_code == 422, response.text
    assert "(empty)" in response.json()["errors"][0]["msg"]


def test_two_files_where_one_is_expected_are_refused(client: TestClient, org: Org) -> None:
    group = create_user_group(client, org)
    response = client.post(
        f"/v1/user-groups/{group['id']}/cards/import",
        files=[
            ("file", ("a.csv", b"uid\nAA01\n", "text/csv")),
            ("file", ("b.csv", b"uid\nAA02\n", "text/csv")),
        ],
        headers=org.auth(),
    )
    assert response.status_code == 422, response.text
    assert [(e["field"], e["type"]) for e in response.json()["errors"]] == [("file", "repeated_parameter")]
    assert cards_of(client, org, group["id"]) == []


def test_neutralized_cells_are_read_back_as_written(client: TestClient, org: Org) -> None:
    group = create_user_group(client, org)
    content = b"uid,label\nAA01,'=1+1\nAA02,'-5 guests\nAA03,''@twice\nAA04,'plain quote\n"
    ok(post_csv(client, org, group["id"], content), 201)
    labels = {card["uid"]: card["label"] for card in cards_of(client, org, group["id"])}
    assert labels == {"AA01": "=1+1", "AA02": "-5 guests", "AA03": "'@twice", "AA04": "'plain quote"}


def test_export_rows_have_exactly_the_header_columns(client: TestClient, org: Org) -> None:
    site = make_site(client, org, connectors=1)
    group = create_user_group(
        client, org, activation={"scope": "custom", "charging_group_ids": [site["group"]["id"]]}
    )
    add_card(client, org, group["id"], "C0FFEE01")
    body = {
        "transaction_id": "tx-columns",
        "id_token": "C0FFEE01",
        "connector_id": site["connectors"][0]["id"],
        "meter_start_wh": 0,
        "started_at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat(),
    }
    ok(client.post("/v1/sessions", json=body, headers=org.auth(Role.integration)), 201)
    text, _ = export_rows(client, org)
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header[:2] == ["session_id", "transaction_id"]
    assert [len(row) for row in rows] == [len(header)]
