/**
 * The seed scenario, played through a client generated from openapi/openapi.json by
 * openapi-typescript (default options) and called with openapi-fetch.
 *
 * It is the TypeScript twin of tests/gates/test_generated_client.py. Compiling it with
 * `tsc --strict --noEmit` proves that the document gives a TypeScript user what they need:
 * request bodies that can leave out fields with a default, one spelling for each header
 * (`If-Match`, `Idempotency-Key`, `X-Request-ID`), and the response headers the scenario reads
 * (`Location`, `ETag`, `X-Request-ID`, `Idempotent-Replayed`) declared on the responses that carry
 * them: `headersOf` accepts only a header name the document declares for that status.
 *
 * Run (after `npm run build`): UGS_BASE_URL=http://127.0.0.1:8000 UGS_ADMIN_KEY=ugs_...
 * UGS_BACKEND_KEY=ugs_... node build/seed-scenario.js
 */
import createClient from "openapi-fetch";
import type { components, operations, paths } from "./schema.js";

type Schemas = components["schemas"];

// Typed access to the response headers the document declares ---------------------------------

/** The named keys of a headers object (openapi-typescript adds `[name: string]: unknown`). */
type Declared<T> = keyof {
    [K in keyof T as string extends K ? never : number extends K ? never : K]: T[K];
};
type Responses<Op> = Op extends { responses: infer R } ? R : never;
type HeaderName<Op, Status extends keyof Responses<Op>> = Responses<Op>[Status] extends {
    headers: infer H;
}
    ? Declared<H> & string
    : never;

/** `headersOf<operations["x"]>()(response, 201)("Location")` compiles only if the document
 * declares Location on that operation's 201; at run time it also checks the status and that
 * the header is there. */
function headersOf<Op>() {
    return <Status extends keyof Responses<Op> & number>(response: Response, status: Status) => {
        check(response.status === status, `${response.url}: expected ${status}, got ${response.status}`);
        return (name: HeaderName<Op, Status>): string => {
            const value = response.headers.get(name);
            check(value !== null, `${response.url}: no ${name} header on the ${status} response`);
            return value;
        };
    };
}

function check(condition: boolean, message: string): asserts condition {
    if (!condition) {
        throw new Error(`seed scenario: ${message}`);
    }
}

function equal<T>(actual: T, expected: T, what: string): void {
    const [a, e] = [JSON.stringify(actual), JSON.stringify(expected)];
    check(a === e, `${what}: expected ${e}, got ${a}`);
}

/** The body of a 2xx answer, or a failure that shows the problem document. */
function ok<T>(result: { data?: T; error?: unknown; response: Response }, status: number): T {
    check(
        result.response.status === status && result.data !== undefined,
        `${result.response.url}: expected ${status}, got ${result.response.status} ${JSON.stringify(result.error)}`,
    );
    return result.data;
}

function env(name: string): string {
    const value = process.env[name];
    check(value !== undefined && value !== "", `set ${name}`);
    return value;
}

// The scenario ----------------------------------------------------------------------------------

const baseUrl = env("UGS_BASE_URL");
const admin = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${env("UGS_ADMIN_KEY")}` } });
const backend = createClient<paths>({
    baseUrl,
    headers: { Authorization: `Bearer ${env("UGS_BACKEND_KEY")}` },
});
const suffix = () => crypto.randomUUID().slice(0, 8);

interface Site {
    group: Schemas["ChargingGroupRead"];
    connectors: Schemas["ConnectorRead"][];
}

/** A charging group with one controller and `count` connectors; defaults left to the server. */
async function makeSite(count: number): Promise<Site> {
    const key = crypto.randomUUID();
    const body: Schemas["ChargingGroupCreate"] = { name: `CG ${suffix()}`, location_label: "Level -1" };
    const first = await admin.POST("/v1/charging-groups", { body, params: { header: { "Idempotency-Key": key } } });
    const group = ok(first, 201);
    const created = headersOf<operations["create_charging_group"]>()(first.response, 201);
    check(created("Location").endsWith(`/v1/charging-groups/${group.id}`), "Location of the charging group");
    equal(group.access_control, false, "access control by default");

    // A retry with the same key gets the first answer again, marked as a replay.
    const retry = await admin.POST("/v1/charging-groups", { body, params: { header: { "Idempotency-Key": key } } });
    equal(ok(retry, 201).id, group.id, "replayed charging group");
    equal(headersOf<operations["create_charging_group"]>()(retry.response, 201)("Idempotent-Replayed"), "true", "replay");

    const chargePoint = ok(
        await admin.POST("/v1/charge-points", {
            body: { charging_group_id: group.id, identity: `CP-${suffix()}` },
        }),
        201,
    );
    equal(chargePoint.role, "controller", "charge point role by default");
    const connectors: Schemas["ConnectorRead"][] = [];
    for (let number = 1; number <= count; number++) {
        const connector = await admin.POST("/v1/connectors", {
            body: {
                charge_point_id: chargePoint.id,
                connector_number: number,
                evse_id: `DE*TST*E${suffix().toUpperCase()}*${number}`,
                plug_type: "type2",
                max_power_kw: "22",
            },
        });
        connectors.push(ok(connector, 201));
    }
    return { group, connectors };
}

const lobby = await makeSite(2);
const garage = await makeSite(3);
const staff = await makeSite(1);
const [lobbyConnector] = lobby.connectors;
const [staffConnector] = staff.connectors;
check(lobbyConnector !== undefined && staffConnector !== undefined, "the sites have connectors");

// Steps 1-4 of the wizard: name, activation (type and tariff left to their defaults), summary.
const wizard: Schemas["UserGroupCreate"] = {
    name: "  Guests  ",
    activation: { scope: "custom", charging_group_ids: [lobby.group.id] },
};
const summary = ok(await admin.POST("/v1/user-groups/preview", { body: wizard }), 200);
equal(summary.name, "Guests", "preview name");
equal(summary.type, "cards_only", "preview type");
equal(
    [summary.activation.charging_group_count, summary.activation.connector_count],
    [1, 2],
    "preview counts",
);
equal(ok(await admin.GET("/v1/user-groups"), 200).items, [], "no group before confirming");
const invalid = await admin.POST("/v1/user-groups", { body: { name: "" } });
equal(invalid.response.status, 422, "an empty name");
equal(invalid.error?.errors?.map((error) => error.field), ["name"], "the problem names the field");

const requestId = `seed-${suffix()}`;
const created = await admin.POST("/v1/user-groups", {
    body: wizard,
    params: { header: { "Idempotency-Key": crypto.randomUUID(), "X-Request-ID": requestId } },
});
const group = ok(created, 201);
const createdHeaders = headersOf<operations["create_user_group"]>()(created.response, 201);
check(createdHeaders("Location").endsWith(`/v1/user-groups/${group.id}`), "Location of the user group");
equal(createdHeaders("X-Request-ID"), requestId, "the request id comes back");
check(createdHeaders("ETag").length > 0, "an ETag on the created group");
equal([group.name, group.type, group.tariff, group.cards.count], ["Guests", "cards_only", null, 0], "created");
const lobbyNow = ok(
    await admin.GET("/v1/charging-groups/{charging_group_id}", {
        params: { path: { charging_group_id: lobby.group.id } },
    }),
    200,
);
equal(lobbyNow.access_control, true, "access control switched on at the lobby");

// Tariff box.
const tariff = ok(
    await admin.PUT("/v1/user-groups/{user_group_id}/tariff", {
        params: { path: { user_group_id: group.id } },
        body: { currency: "EUR", price_per_kwh: "0.30", session_fee: "0.50" },
    }),
    200,
);
equal([tariff.currency, tariff.price_per_kwh, tariff.session_fee], ["EUR", "0.30", "0.50"], "tariff");

// Charging-groups box: one more charging group, then the counts.
const activated = ok(
    await admin.PUT("/v1/user-groups/{user_group_id}/charging-groups/{charging_group_id}", {
        params: { path: { user_group_id: group.id, charging_group_id: garage.group.id } },
    }),
    200,
);
equal([activated.charging_group_count, activated.connector_count], [2, 5], "activation counts");
const activation = ok(
    await admin.GET("/v1/user-groups/{user_group_id}/charging-groups", {
        params: { path: { user_group_id: group.id }, query: { limit: 1 } },
    }),
    200,
);
equal(activation.items.length, 1, "a page of one charging group");
check(activation.next_cursor !== null, "a cursor to the next charging group");

// Cards box: one card (its `blocked` left to the default), then ten in bulk.
const card = ok(
    await admin.POST("/v1/user-groups/{user_group_id}/cards", {
        params: { path: { user_group_id: group.id }, header: { "Idempotency-Key": crypto.randomUUID() } },
        body: { uid: "04:11:22:33", label: "Room 101" },
    }),
    201,
);
equal([card.uid, card.label, card.blocked], ["04112233", "Room 101", false], "card");
const bulk = await admin.POST("/v1/user-groups/{user_group_id}/cards/bulk", {
    params: { path: { user_group_id: group.id } },
    body: { cards: Array.from({ length: 10 }, (_, n) => ({ uid: `0422${200 + n}`, label: `Room ${200 + n}` })) },
});
equal(ok(bulk, 201).added, 10, "cards added in bulk");
const bulkLocation = headersOf<operations["add_cards"]>()(bulk.response, 201)("Location");
check(bulkLocation.endsWith(`/v1/user-groups/${group.id}/cards`), "Location of the bulk add");

// Rename, conditional on the version just read.
const read = await admin.GET("/v1/user-groups/{user_group_id}", { params: { path: { user_group_id: group.id } } });
equal(ok(read, 200).cards.count, 11, "cards on the group page");
const etag = headersOf<operations["get_user_group"]>()(read.response, 200)("ETag");
const renamed = ok(
    await admin.PATCH("/v1/user-groups/{user_group_id}", {
        params: { path: { user_group_id: group.id }, header: { "If-Match": etag } },
        body: { name: "Hotel guests" },
    }),
    200,
);
equal(renamed.name, "Hotel guests", "renamed");

// A guest charges for free; the session is documented with the tariff.
async function authorize(connectorId: string): Promise<Schemas["AuthorizeResponse"]> {
    // Only the card and the connector: the other selector fields default to null.
    return ok(await backend.POST("/v1/authorize", { body: { id_token: "04112233", connector_id: connectorId } }), 200);
}

const answer = await authorize(lobbyConnector.id);
equal([answer.status, answer.user_group_id, answer.card_id], ["Accepted", group.id, card.id], "authorized");
equal((await authorize(staffConnector.id)).status, "Accepted", "authorized at a charging group without access control");
const startedAt = new Date();
const start = await backend.POST("/v1/sessions", {
    body: {
        transaction_id: `tx-${suffix()}`,
        id_token: "04112233",
        connector_id: lobbyConnector.id,
        meter_start_wh: 0,
        started_at: startedAt.toISOString(),
    },
});
const session = ok(start, 201);
check(
    headersOf<operations["start_session"]>()(start.response, 201)("Location").endsWith(`/v1/sessions/${session.id}`),
    "Location of the session",
);
equal([session.authorized, session.status], [true, "active"], "session started");
const stopped = ok(
    await backend.POST("/v1/sessions/{session_id}/stop", {
        params: { path: { session_id: session.id } },
        body: { meter_stop_wh: 7000, stopped_at: new Date(startedAt.getTime() + 40 * 60_000).toISOString() },
    }),
    200,
);
equal([stopped.energy_kwh, stopped.cost, stopped.currency, stopped.status], ["7", "2.60", "EUR", "completed"], "stopped");

// Delete is refused once a session ran through the group: archive instead.
const refused = await admin.DELETE("/v1/user-groups/{user_group_id}", { params: { path: { user_group_id: group.id } } });
equal(refused.response.status, 409, "delete refused");
check(refused.error !== undefined && refused.error.detail.includes("archive"), "the problem says archive");
const archived = ok(
    await admin.POST("/v1/user-groups/{user_group_id}/archive", { params: { path: { user_group_id: group.id } } }),
    200,
);
equal([archived.status, archived.allowed_actions.restore.allowed], ["archived", true], "archived");
const refusedAnswer = await authorize(lobbyConnector.id);
equal([refusedAnswer.status, refusedAnswer.reason], ["Invalid", "group_archived"], "archived group refuses");

// Restored: the same activation, tariff and cards, and the cards work again.
const restored = ok(
    await admin.POST("/v1/user-groups/{user_group_id}/restore", { params: { path: { user_group_id: group.id } } }),
    200,
);
equal([restored.status, restored.cards.count, restored.activation.charging_group_count], ["active", 11, 2], "restored");
equal((await authorize(lobbyConnector.id)).status, "Accepted", "authorized again");

// The history has every step, newest first.
const history = ok(
    await admin.GET("/v1/user-groups/{user_group_id}/history", {
        params: { path: { user_group_id: group.id }, query: { limit: 200 } },
    }),
    200,
);
equal(history.next_cursor, null, "the whole history on one page");
equal(
    history.items.map((event) => event.action).reverse(),
    [
        "user_group.created",
        "charging_group.updated",
        "tariff.set",
        "activation.added",
        "charging_group.updated",
        "card.added",
        "cards.bulk_added",
        "user_group.renamed",
        "session.started",
        "session.stopped",
        "user_group.archived",
        "user_group.restored",
    ],
    "history",
);
console.log(`seed scenario: ok (user group ${group.id}, ${history.items.length} audit events)`);
