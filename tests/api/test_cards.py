"""The cards box over HTTP: add one, add many (JSON and CSV, all or nothing), search, update,
move, remove."""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from app.enums import Role
from tests.factories import (
    Org,
    add_card,
    all_items,
    archive,
    at,
    create_user_group,
    group_history,
    ok,
    post_csv,
)


def post_card(client: TestClient, org: Org, group_id: str, uid: str, **fields: Any) -> Response:
    url = f"/v1/user-groups/{group_id}/cards"
    response: Response = client.post(url, json={"uid": uid, **fields}, headers=org.auth())
    return response


def post_bulk(client: TestClient, org: Org, group_id: str, rows: list[dict[str, Any]]) -> Response:
    url = f"/v1/user-groups/{group_id}/cards/bulk"
    response: Response = client.post(url, json={"cards": rows}, headers=org.auth())
    return response


def group_cards(client: TestClient, org: Org, group_id: str, **params: Any) -> list[dict[str, Any]]:
    url = f"/v1/user-groups/{group_id}/cards"
    return ok(client.get(url, params={"limit": 200, **params}, headers=org.auth()))["items"]  # type: ignore[no-any-return]


def all_cards(client: TestClient, org: Org, **params: Any) -> list[dict[str, Any]]:
    return ok(client.get("/v1/cards", params={"limit": 200, **params}, headers=org.auth()))["items"]  # type: ignore[no-any-return]


def card_count(client: TestClient, org: Org, group_id: str) -> int:
    return ok(client.get(f"/v1/user-groups/{group_id}", headers=org.auth()))["cards"]["count"]  # type: ignore[no-any-return]


def errors_by_field(response: Response) -> dict[str, dict[str, Any]]:
    return {error["field"]: error for error in response.json()["errors"]}


class TestAddOne:
    def test_uid_is_normalized(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        response = post_card(client, org, group["id"], "04:a2-3b", label="  Room 12 ", printed_number="0042")
        card = ok(response, 201)
        assert card["uid"] == "04A23B"
        assert card["label"] == "Room 12" and card["printed_number"] == "0042"
        assert card["user_group_id"] == group["id"]
        assert card["blocked"] is False and card["valid_from"] is None and card["valid_until"] is None
        assert response.headers["location"] == f"/v1/cards/{card['id']}"
        got = client.get(response.headers["location"], headers=org.auth(Role.viewer))
        assert ok(got) == card
        assert got.headers["etag"] == response.headers["etag"]
        assert card_count(client, org, group["id"]) == 1

    @pytest.mark.parametrize(
        ("raw", "normalized"),
        [
            (" 04 a2.3b_4c ", "04A23B4C"),
            ("de:ad:be:ef", "DEADBEEF"),
            ("a" * 36, "A" * 36),
            ("aa:" * 36, "A" * 72),
        ],
    )
    def test_uid_forms(self, client: TestClient, org: Org, raw: str, normalized: str) -> None:
        group = create_user_group(client, org)
        response = post_card(client, org, group["id"], raw)
        if len(normalized) > 36:
            assert response.status_code == 422
            assert errors_by_field(response).keys() == {"uid"}
        else:
            assert ok(response, 201)["uid"] == normalized

    @pytest.mark.parametrize("uid", ["", "::--", "04A2!", "x" * 37, "04A2ÄB", "Ü1"])
    def test_invalid_uid_is_422(self, client: TestClient, org: Org, uid: str) -> None:
        group = create_user_group(client, org)
        response = post_card(client, org, group["id"], uid)
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["uid"]
        assert card_count(client, org, group["id"]) == 0

    def test_uid_taken_in_the_organization_names_the_holding_group(
        self, client: TestClient, org: Org
    ) -> None:
        holder = create_user_group(client, org, name="Reception")
        other = create_user_group(client, org, name="Staff")
        add_card(client, org, holder["id"], "04A23B")
        for target in (other, holder):
            response = post_card(client, org, target["id"], "04-a2-3b")
            assert response.status_code == 409
            body = response.json()
            assert body["type"].endswith("/card-uid-taken")
            assert body["user_group_name"] == "Reception"
            assert body["user_group_id"] == holder["id"]
            assert body["field"] == "uid"
            assert "Reception" in body["detail"]
        assert card_count(client, org, other["id"]) == 0
        assert card_count(client, org, holder["id"]) == 1

    def test_uid_held_by_an_archived_group_is_still_taken(self, client: TestClient, org: Org) -> None:
        holder = create_user_group(client, org, name="Last season")
        add_card(client, org, holder["id"], "AB12")
        archive(client, org, holder["id"])
        group = create_user_group(client, org)
        response = post_card(client, org, group["id"], "ab12")
        assert response.status_code == 409
        assert response.json()["user_group_name"] == "Last season"

    def test_same_uid_in_another_organization(self, client: TestClient, org: Org, other_org: Org) -> None:
        mine = create_user_group(client, org)
        theirs = create_user_group(client, other_org)
        add_card(client, org, mine["id"], "04A23B")
        assert add_card(client, other_org, theirs["id"], "04:A2:3B")["uid"] == "04A23B"
        assert [c["uid"] for c in all_cards(client, org)] == ["04A23B"]
        assert [c["user_group_id"] for c in all_cards(client, other_org)] == [theirs["id"]]

    def test_card_fields_are_validated(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        for fields, field in (
            ({"valid_from": "2030-01-02T00:00:00Z", "valid_until": "2030-01-01T00:00:00Z"}, ""),
            ({"valid_from": "2030-01-01T00:00:00"}, ""),
            ({"label": "x" * 101}, "label"),
            ({"printed_number": "1" * 51}, "printed_number"),
            ({"blocked": "perhaps"}, "blocked"),
            ({"owner": "guest"}, "owner"),
        ):
            response = post_card(client, org, group["id"], "CD01", **fields)
            assert response.status_code == 422, fields
            if field:
                assert field in errors_by_field(response), fields
        assert card_count(client, org, group["id"]) == 0

    def test_bad_validity_names_the_field(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        reversed_period = post_card(
            client,
            org,
            group["id"],
            "CD02",
            valid_from="2030-01-02T00:00:00Z",
            valid_until="2030-01-01T00:00:00Z",
        )
        assert reversed_period.status_code == 422
        assert errors_by_field(reversed_period).keys() == {"valid_until"}
        no_zone = post_card(client, org, group["id"], "CD02", valid_from="2030-01-01T00:00:00")
        assert no_zone.status_code == 422
        assert errors_by_field(no_zone).keys() == {"valid_from"}

    def test_adding_is_audited(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org, name="Front desk")
        card = add_card(client, org, group["id"], "04a2", label="Guest 1")
        (event,) = [e for e in group_history(client, org, group["id"]) if e["action"] == "card.added"]
        assert event["entity_id"] == card["id"]
        assert event["new_values"]["uid"] == "04A2" and event["new_values"]["label"] == "Guest 1"
        assert event["new_values"]["user_group_name"] == "Front desk"

    def test_idempotency_key_replays_the_first_response(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        url = f"/v1/user-groups/{group['id']}/cards"
        headers = {**org.auth(), "Idempotency-Key": "card-1"}
        first = client.post(url, json={"uid": "ID01"}, headers=headers)
        again = client.post(url, json={"uid": "ID01"}, headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
        assert card_count(client, org, group["id"]) == 1


class TestBulkJson:
    def test_adds_every_card(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        rows: list[dict[str, Any]] = [
            {"uid": "aa:01", "label": "Guest 1"},
            {"uid": "AA02", "valid_until": "2031-01-01T00:00:00Z"},
            {"uid": "AA03", "blocked": True, "printed_number": "3"},
        ]
        response = post_bulk(client, org, group["id"], rows)
        assert ok(response, 201) == {"user_group_id": group["id"], "added": 3}
        assert response.headers["Location"] == f"/v1/user-groups/{group['id']}/cards"  # many: the list
        cards = {c["uid"]: c for c in group_cards(client, org, group["id"])}
        assert set(cards) == {"AA01", "AA02", "AA03"}
        assert cards["AA01"]["label"] == "Guest 1"
        assert cards["AA02"]["valid_until"].startswith("2031-01-01T00:00:00")
        assert cards["AA03"]["blocked"] is True and cards["AA03"]["printed_number"] == "3"
        assert card_count(client, org, group["id"]) == 3
        (event,) = [e for e in group_history(client, org, group["id"]) if e["action"] == "cards.bulk_added"]
        assert event["new_values"]["count"] == 3
        for card in cards.values():
            assert ok(client.get(f"/v1/cards/{card['id']}", headers=org.auth()))["uid"] == card["uid"]

    def test_all_or_nothing_with_an_error_per_bad_row(self, client: TestClient, org: Org) -> None:
        holder = create_user_group(client, org, name="Holder")
        add_card(client, org, holder["id"], "BB01")
        group = create_user_group(client, org)
        rows = [{"uid": "AA01"}, {"uid": "aa-01"}, {"uid": "bb:01"}, {"uid": "CC01"}]
        response = post_bulk(client, org, group["id"], rows)
        assert response.status_code == 422
        body = response.json()
        assert body["type"].endswith("/cards-rejected")
        errors = errors_by_field(response)
        assert set(errors) == {"cards.1.uid", "cards.2.uid"}
        assert errors["cards.1.uid"]["type"] == "duplicate_in_request"
        assert errors["cards.1.uid"]["loc"] == ["body", "cards", 1, "uid"]
        assert errors["cards.2.uid"]["type"] == "uid_taken"
        assert errors["cards.2.uid"]["user_group_name"] == "Holder"
        assert card_count(client, org, group["id"]) == 0
        assert all_cards(client, org, q="CC01") == []

    def test_bad_format_rows_are_422_and_nothing_is_stored(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        rows = [{"uid": "AA01"}, {"uid": "not valid!"}, {"uid": "AA03", "valid_until": "tomorrow"}, {}]
        response = post_bulk(client, org, group["id"], rows)
        assert response.status_code == 422
        fields = set(errors_by_field(response))
        assert {"cards.1.uid", "cards.2.valid_until", "cards.3.uid"} <= fields
        assert not any(field.startswith("cards.0.") for field in fields)
        assert card_count(client, org, group["id"]) == 0

    def test_every_kind_of_bad_row_is_reported_together(self, client: TestClient, org: Org) -> None:
        holder = create_user_group(client, org, name="Holder")
        add_card(client, org, holder["id"], "BB01")
        group = create_user_group(client, org)
        rows = [{"uid": "AA01"}, {"uid": "bad uid!"}, {"uid": "AA01"}, {"uid": "BB01"}]
        response = post_bulk(client, org, group["id"], rows)
        assert response.status_code == 422
        assert set(errors_by_field(response)) == {"cards.1.uid", "cards.2.uid", "cards.3.uid"}

    def test_limits(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        empty = post_bulk(client, org, group["id"], [])
        assert empty.status_code == 422 and "cards" in errors_by_field(empty)
        too_many = post_bulk(client, org, group["id"], [{"uid": f"{n:08X}"} for n in range(10_001)])
        assert too_many.status_code == 422
        assert "cards" in errors_by_field(too_many)
        assert card_count(client, org, group["id"]) == 0

    def test_ten_thousand_cards_in_one_request(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        rows = [{"uid": f"{n:08X}"} for n in range(10_000)]
        assert ok(post_bulk(client, org, group["id"], rows), 201)["added"] == 10_000
        assert card_count(client, org, group["id"]) == 10_000
        again = post_bulk(client, org, create_user_group(client, org)["id"], rows[:3])
        assert again.status_code == 422
        assert len(again.json()["errors"]) == 3


class TestCsvImport:
    def test_imports_every_line(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        content = (
            "\ufeffUID,Label,printed_number,valid_from,valid_until,blocked\r\n"
            "04:a2:3b,Room 1,0001,2030-01-01T00:00:00Z,2030-02-01T00:00:00+01:00,false\r\n"
            "04A23C,,,,,true\r\n"
            "\r\n"
            '04A23D,"Suite, top floor",0003,,,\r\n'
        ).encode()
        response = post_csv(client, org, group["id"], content)
        assert ok(response, 201) == {"user_group_id": group["id"], "added": 3}
        assert response.headers["Location"] == f"/v1/user-groups/{group['id']}/cards"
        cards = {c["uid"]: c for c in group_cards(client, org, group["id"])}
        assert set(cards) == {"04A23B", "04A23C", "04A23D"}
        assert cards["04A23B"]["label"] == "Room 1" and cards["04A23B"]["printed_number"] == "0001"
        assert cards["04A23B"]["valid_until"].startswith("2030-01-31T23:00:00")
        assert cards["04A23C"]["blocked"] is True and cards["04A23C"]["label"] is None
        assert cards["04A23D"]["label"] == "Suite, top floor"

    def test_uid_column_alone(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        assert ok(post_csv(client, org, group["id"], b"uid\nAA01\nAA02\n"), 201)["added"] == 2

    def test_errors_name_each_line_and_nothing_is_stored(self, client: TestClient, org: Org) -> None:
        holder = create_user_group(client, org, name="Holder")
        add_card(client, org, holder["id"], "TAKEN1")
        group = create_user_group(client, org)
        content = (
            b"uid,label,valid_until\n"  # line 1
            b"GOOD01,ok,\n"  # line 2
            b"bad uid!,x,\n"  # line 3
            b"good-01,again,\n"  # line 4: duplicate of line 2
            b"taken:1,,\n"  # line 5: in another group
            b"GOOD02,,yesterday\n"  # line 6
            b"GOOD03,a,b,c\n"  # line 7: too many values
            b"GOOD04,fine,\n"  # line 8
        )
        response = post_csv(client, org, group["id"], content)
        assert response.status_code == 422
        assert response.json()["type"].endswith("/cards-rejected")
        errors = errors_by_field(response)
        assert set(errors) == {"file.3.uid", "file.4.uid", "file.5.uid", "file.6.valid_until", "file.7.row"}
        assert errors["file.3.uid"]["loc"] == ["file", 3, "uid"]
        assert errors["file.4.uid"]["type"] == "duplicate_in_request"
        assert errors["file.5.uid"]["type"] == "uid_taken"
        assert errors["file.5.uid"]["user_group_name"] == "Holder"
        assert card_count(client, org, group["id"]) == 0
        assert all_cards(client, org, q="GOOD") == []

    def test_duplicate_names_the_line_of_the_first_occurrence(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        content = b"uid\nbad uid!\nAA01\nAA02\naa:01\n"  # AA01 first on line 3, again on line 5
        response = post_csv(client, org, group["id"], content)
        assert response.status_code == 422
        duplicate = errors_by_field(response)["file.5.uid"]
        assert "line 3" in duplicate["msg"], duplicate["msg"]

    @pytest.mark.parametrize(
        "content",
        [
            b"uid\n\xff\xfeAA01\n",  # not UTF-8
            b"label\nGuest\n",  # no uid column
            b"AA01\nAA02\n",  # no header line
            b"uid,colour\nAA01,red\n",  # unknown column
            b"",  # empty
            b"uid\n",  # header only
            b"uid\nAA\x0001\n",  # NUL byte
        ],
    )
    def test_unreadable_file_is_422(self, client: TestClient, org: Org, content: bytes) -> None:
        group = create_user_group(client, org)
        response = post_csv(client, org, group["id"], content)
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == ["file"]
        assert card_count(client, org, group["id"]) == 0

    def test_missing_file_is_422(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        response = client.post(
            f"/v1/user-groups/{group['id']}/cards/import",
            files={"other": ("cards.csv", b"uid\nAA01\n", "text/csv")},
            headers=org.auth(),
        )
        assert response.status_code == 422
        assert errors_by_field(response).keys() == {"file", "other"}  # missing; unknown, not ignored

    def test_more_than_ten_thousand_lines_is_422(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        content = ("uid\n" + "".join(f"{n:08X}\n" for n in range(10_001))).encode()
        response = post_csv(client, org, group["id"], content)
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["file"]
        assert "10000" in response.json()["detail"]
        assert card_count(client, org, group["id"]) == 0

    def test_limit_counts_lines_not_errors(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        content = ("uid,valid_from\n" + "bad uid!,never\n" * 6000).encode()
        response = post_csv(client, org, group["id"], content)
        assert response.status_code == 422
        assert response.json()["type"].endswith("/cards-rejected")
        assert "file.6001.valid_from" in errors_by_field(response)


class TestListAndSearch:
    def test_group_scoped_and_organization_wide(self, client: TestClient, org: Org, other_org: Org) -> None:
        reception = create_user_group(client, org)
        staff = create_user_group(client, org)
        first = add_card(client, org, reception["id"], "04A2B3C4", label="Guest Müller")
        second = add_card(client, org, reception["id"], "1122AABB", label="Late arrival")
        third = add_card(client, org, staff["id"], "04A2FFFF", label="Caretaker")
        add_card(client, other_org, create_user_group(client, other_org)["id"], "04A2B3C4", label="Guest")

        assert [c["id"] for c in group_cards(client, org, reception["id"])] == [second["id"], first["id"]]
        assert [c["id"] for c in all_cards(client, org)] == [third["id"], second["id"], first["id"]]
        assert [c["id"] for c in group_cards(client, org, reception["id"], q="04a2")] == [first["id"]]
        assert {c["id"] for c in all_cards(client, org, q="04a2")} == {first["id"], third["id"]}
        assert [c["id"] for c in all_cards(client, org, q="guest")] == [first["id"]]
        assert [c["id"] for c in all_cards(client, org, q="LATE ARR")] == [second["id"]]
        assert [c["id"] for c in group_cards(client, org, staff["id"], q="guest")] == []
        assert all_cards(client, org, q="%") == []
        assert all_cards(client, org, q="_") == []

    def test_pagination_walks_every_card_once(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        uids = {f"PG{n:02d}" for n in range(5)}
        ok(post_bulk(client, org, group["id"], [{"uid": uid} for uid in sorted(uids)]), 201)
        for url in (f"/v1/user-groups/{group['id']}/cards", "/v1/cards"):
            seen = [c["uid"] for c in all_items(client, org, url, limit=2)]
            assert len(seen) == 5 and set(seen) == uids, url

    def test_search_by_printed_number_ignores_case(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        card = add_card(client, org, group["id"], "AA01", printed_number="HTL-0042")
        assert [c["id"] for c in all_cards(client, org, q="htl-00")] == [card["id"]]

    def test_search_by_label_ignores_case_beyond_ascii(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        card = add_card(client, org, group["id"], "AA01", label="ÄRZTE Nord")
        assert [c["id"] for c in all_cards(client, org, q="ärzte")] == [card["id"]]

    def test_unknown_group_is_404(self, client: TestClient, org: Org) -> None:
        response = client.get(f"/v1/user-groups/{uuid.uuid4()}/cards", headers=org.auth())
        assert response.status_code == 404


class TestGetAndUpdate:
    def test_update_every_field(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        card = add_card(client, org, group["id"], "UP01", label="Before")
        url = f"/v1/cards/{card['id']}"
        etag = client.get(url, headers=org.auth()).headers["etag"]
        response = client.patch(
            url,
            json={
                "label": " After ",
                "printed_number": "0099",
                "valid_from": "2030-01-01T00:00:00Z",
                "valid_until": "2030-06-01T12:00:00+02:00",
                "blocked": True,
            },
            headers={**org.auth(Role.operator), "If-Match": etag},
        )
        updated = ok(response)
        assert updated["label"] == "After" and updated["printed_number"] == "0099"
        assert at(updated["valid_from"]) == datetime(2030, 1, 1, tzinfo=UTC)
        assert at(updated["valid_until"]) == datetime(2030, 6, 1, 10, tzinfo=UTC)
        assert updated["blocked"] is True
        assert updated["uid"] == "UP01" and updated["user_group_id"] == group["id"]
        assert response.headers["etag"] != etag
        got = client.get(url, headers=org.auth())
        assert got.headers["etag"] == response.headers["etag"]
        assert ok(got)["valid_until"].startswith("2030-06-01T10:00:00")
        assert {k: v for k, v in got.json().items() if not k.startswith("valid_")} == {
            k: v for k, v in updated.items() if not k.startswith("valid_")
        }

        (event,) = [e for e in group_history(client, org, group["id"]) if e["action"] == "card.updated"]
        assert event["old_values"]["label"] == "Before" and event["new_values"]["label"] == "After"
        assert event["old_values"]["blocked"] is False and event["new_values"]["blocked"] is True
        assert event["new_values"]["uid"] == "UP01"

        cleared = ok(
            client.patch(url, json={"label": None, "valid_from": None, "blocked": False}, headers=org.auth())
        )
        assert cleared["label"] is None and cleared["valid_from"] is None and cleared["blocked"] is False
        assert (
            at(cleared["valid_until"]) == at(updated["valid_until"]) and cleared["printed_number"] == "0099"
        )

    def test_times_are_answered_in_utc(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        card = add_card(client, org, group["id"], "UT01", valid_from="2030-01-01T02:00:00+02:00")
        updated = ok(
            client.patch(
                f"/v1/cards/{card['id']}",
                json={"valid_until": "2030-06-01T12:00:00+02:00"},
                headers=org.auth(),
            )
        )
        got = ok(client.get(f"/v1/cards/{card['id']}", headers=org.auth()))
        assert got["valid_from"] == card["valid_from"]
        assert got["valid_until"] == updated["valid_until"]
        assert updated["valid_until"].endswith("Z") or updated["valid_until"].endswith("+00:00")

    def test_stale_if_match_is_412(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        card = add_card(client, org, group["id"], "UP02")
        url = f"/v1/cards/{card['id']}"
        etag = client.get(url, headers=org.auth()).headers["etag"]
        ok(client.patch(url, json={"label": "First"}, headers={**org.auth(), "If-Match": etag}))
        stale = client.patch(url, json={"label": "Second"}, headers={**org.auth(), "If-Match": etag})
        assert stale.status_code == 412
        assert stale.json()["type"].endswith("/precondition-failed")
        assert ok(client.get(url, headers=org.auth()))["label"] == "First"
        removed = client.delete(url, headers={**org.auth(), "If-Match": etag})
        assert removed.status_code == 412
        assert client.get(url, headers=org.auth()).status_code == 200

    def test_validity_order_is_checked(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        card = add_card(client, org, group["id"], "UP03", valid_from="2030-01-10T00:00:00Z")
        url = f"/v1/cards/{card['id']}"
        both = client.patch(
            url,
            json={"valid_from": "2030-02-01T00:00:00Z", "valid_until": "2030-01-01T00:00:00Z"},
            headers=org.auth(),
        )
        assert both.status_code == 422
        until_only = client.patch(url, json={"valid_until": "2030-01-05T00:00:00Z"}, headers=org.auth())
        assert until_only.status_code == 422
        assert errors_by_field(until_only).keys() == {"valid_until"}
        equal = client.patch(url, json={"valid_until": "2030-01-10T00:00:00Z"}, headers=org.auth())
        assert equal.status_code == 422
        naive = client.patch(url, json={"valid_until": "2030-03-01T00:00:00"}, headers=org.auth())
        assert naive.status_code == 422
        got = ok(client.get(url, headers=org.auth()))
        assert got["valid_until"] is None and got["valid_from"].startswith("2030-01-10T00:00:00")
        later = ok(client.patch(url, json={"valid_until": "2030-03-01T00:00:00Z"}, headers=org.auth()))
        assert later["valid_until"].startswith("2030-03-01T00:00:00")

    def test_uid_cannot_be_changed(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        card = add_card(client, org, group["id"], "UP04")
        response = client.patch(f"/v1/cards/{card['id']}", json={"uid": "OTHER"}, headers=org.auth())
        assert response.status_code == 422
        assert ok(client.get(f"/v1/cards/{card['id']}", headers=org.auth()))["uid"] == "UP04"

    def test_unknown_card_is_404(self, client: TestClient, org: Org) -> None:
        url = f"/v1/cards/{uuid.uuid4()}"
        assert client.get(url, headers=org.auth()).status_code == 404
        assert client.patch(url, json={"label": "x"}, headers=org.auth()).status_code == 404


class TestMove:
    def test_move_to_another_group(self, client: TestClient, org: Org) -> None:
        source = create_user_group(client, org, name="Source")
        target = create_user_group(client, org, name="Target")
        card = add_card(client, org, source["id"], "MV01", label="Traveller")
        response = client.post(
            f"/v1/cards/{card['id']}/move", json={"user_group_id": target["id"]}, headers=org.auth()
        )
        moved = ok(response)
        assert moved["user_group_id"] == target["id"] and moved["uid"] == "MV01" and moved["id"] == card["id"]
        assert response.headers["etag"]
        assert (card_count(client, org, source["id"]), card_count(client, org, target["id"])) == (0, 1)
        assert [c["id"] for c in group_cards(client, org, target["id"])] == [card["id"]]

        (out,) = [e for e in group_history(client, org, source["id"]) if e["action"] == "card.moved_out"]
        (into,) = [e for e in group_history(client, org, target["id"]) if e["action"] == "card.moved_in"]
        for event in (out, into):
            assert event["entity_id"] == card["id"]
            assert event["old_values"]["user_group_id"] == source["id"]
            assert event["new_values"]["user_group_id"] == target["id"]
            assert event["new_values"]["from_user_group"] == "Source"
            assert event["new_values"]["to_user_group"] == "Target"
        assert "card.moved_in" not in [e["action"] for e in group_history(client, org, source["id"])]

    def test_moving_into_an_archived_group_is_409(self, client: TestClient, org: Org) -> None:
        source = create_user_group(client, org)
        target = create_user_group(client, org)
        card = add_card(client, org, source["id"], "MV02")
        archive(client, org, target["id"])
        response = client.post(
            f"/v1/cards/{card['id']}/move", json={"user_group_id": target["id"]}, headers=org.auth()
        )
        assert response.status_code == 409
        assert response.json()["type"].endswith("/group-archived")
        assert ok(client.get(f"/v1/cards/{card['id']}", headers=org.auth()))["user_group_id"] == source["id"]
        assert all(e["action"] != "card.moved_out" for e in group_history(client, org, source["id"]))

    def test_moving_out_of_an_archived_group(self, client: TestClient, org: Org) -> None:
        source = create_user_group(client, org)
        target = create_user_group(client, org)
        card = add_card(client, org, source["id"], "MV03")
        archive(client, org, source["id"])
        moved = ok(
            client.post(
                f"/v1/cards/{card['id']}/move", json={"user_group_id": target["id"]}, headers=org.auth()
            )
        )
        assert moved["user_group_id"] == target["id"]

    def test_moving_to_an_unknown_or_foreign_group_is_404(
        self, client: TestClient, org: Org, other_org: Org
    ) -> None:
        source = create_user_group(client, org)
        foreign = create_user_group(client, other_org)
        card = add_card(client, org, source["id"], "MV04")
        for target_id in (str(uuid.uuid4()), foreign["id"]):
            response = client.post(
                f"/v1/cards/{card['id']}/move", json={"user_group_id": target_id}, headers=org.auth()
            )
            assert response.status_code == 404, target_id
        assert ok(client.get(f"/v1/cards/{card['id']}", headers=org.auth()))["user_group_id"] == source["id"]
        assert card_count(client, other_org, foreign["id"]) == 0

    def test_moving_to_its_own_group_changes_nothing(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        card = add_card(client, org, group["id"], "MV05")
        moved = ok(
            client.post(
                f"/v1/cards/{card['id']}/move", json={"user_group_id": group["id"]}, headers=org.auth()
            )
        )
        assert moved == card
        assert not {"card.moved_in", "card.moved_out"} & {
            e["action"] for e in group_history(client, org, group["id"])
        }


class TestRemove:
    def test_remove(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        card = add_card(client, org, group["id"], "RM01", label="Gone")
        add_card(client, org, group["id"], "RM02")
        url = f"/v1/cards/{card['id']}"
        etag = client.get(url, headers=org.auth()).headers["etag"]
        removed = client.delete(url, headers={**org.auth(), "If-Match": etag})
        assert removed.status_code == 204 and removed.content == b""
        assert client.get(url, headers=org.auth()).status_code == 404
        assert client.delete(url, headers=org.auth()).status_code == 404
        assert card_count(client, org, group["id"]) == 1
        assert [c["uid"] for c in group_cards(client, org, group["id"])] == ["RM02"]
        (event,) = [e for e in group_history(client, org, group["id"]) if e["action"] == "card.removed"]
        assert event["old_values"]["uid"] == "RM01" and event["old_values"]["label"] == "Gone"
        assert add_card(client, org, group["id"], "rm01")["uid"] == "RM01"  # the UID is free again


class TestCountsAndArchivedGroups:
    def test_card_count_in_group_page_and_list(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        add_card(client, org, group["id"], "CT01")
        ok(post_bulk(client, org, group["id"], [{"uid": "CT02"}, {"uid": "CT03"}]), 201)
        ok(post_csv(client, org, group["id"], b"uid\nCT04\n"), 201)
        assert card_count(client, org, group["id"]) == 4
        (item,) = ok(client.get("/v1/user-groups", headers=org.auth()))["items"]
        assert item["counts"]["cards"] == 4

    def test_archived_group_accepts_no_new_cards(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        card = add_card(client, org, group["id"], "AR01")
        archive(client, org, group["id"])
        for response in (
            post_card(client, org, group["id"], "AR02"),
            post_bulk(client, org, group["id"], [{"uid": "AR03"}]),
            post_csv(client, org, group["id"], b"uid\nAR04\n"),
        ):
            assert response.status_code == 409, response.request.url
            assert response.json()["type"].endswith("/group-archived")
        assert [c["id"] for c in group_cards(client, org, group["id"])] == [card["id"]]
        assert card_count(client, org, group["id"]) == 1


class TestAccess:
    def test_another_organizations_card_is_404(self, client: TestClient, org: Org, other_org: Org) -> None:
        group = create_user_group(client, org)
        card = add_card(client, org, group["id"], "OT01", label="Mine")
        theirs = create_user_group(client, other_org)
        url = f"/v1/cards/{card['id']}"
        for method, path, body in (
            ("GET", url, None),
            ("PATCH", url, {"label": "Stolen"}),
            ("POST", f"{url}/move", {"user_group_id": theirs["id"]}),
            ("DELETE", url, None),
        ):
            response = client.request(method, path, json=body, headers=other_org.auth())
            assert response.status_code == 404, (method, path)
        got = ok(client.get(url, headers=org.auth()))
        assert got["label"] == "Mine" and got["user_group_id"] == group["id"]
        assert all_cards(client, other_org) == []

    def test_roles(self, client: TestClient, org: Org) -> None:
        group = create_user_group(client, org)
        card = add_card(client, org, group["id"], "RL01")
        other = create_user_group(client, org)
        url = f"/v1/cards/{card['id']}"
        writes: list[tuple[str, str, dict[str, Any]]] = [
            ("POST", f"/v1/user-groups/{group['id']}/cards", {"json": {"uid": "RL02"}}),
            ("POST", f"/v1/user-groups/{group['id']}/cards/bulk", {"json": {"cards": [{"uid": "RL03"}]}}),
            (
                "POST",
                f"/v1/user-groups/{group['id']}/cards/import",
                {"files": {"file": ("cards.csv", b"uid\nRL04\n", "text/csv")}},
            ),
            ("PATCH", url, {"json": {"blocked": True}}),
            ("POST", f"{url}/move", {"json": {"user_group_id": other["id"]}}),
            ("DELETE", url, {}),
        ]
        for role in (Role.viewer, Role.integration):
            for method, path, kwargs in writes:
                response = client.request(method, path, headers=org.auth(role), **kwargs)
                assert response.status_code == 403, (role, method, path)
        for path in (url, "/v1/cards", f"/v1/user-groups/{group['id']}/cards"):
            assert client.get(path, headers=org.auth(Role.viewer)).status_code == 200, path
            assert client.get(path, headers=org.auth(Role.integration)).status_code == 200, path
        got = ok(client.get(url, headers=org.auth()))
        assert got["blocked"] is False and got["user_group_id"] == group["id"]
        assert card_count(client, org, group["id"]) == 1
