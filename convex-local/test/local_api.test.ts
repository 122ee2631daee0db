// The local backend's test-only endpoints: /api/local/dump and /api/local/run (with this
// start's token; access.test.ts shows what happens without it).
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { api } from "../contract/convex/_generated/api.js";
import { CONTRACT_FUNCTIONS_DIR, LOCAL_TOKEN_HEADER, nodeWebSocket, startLocalBackend, type LocalServer } from "../testing.js";
import { fakeJwt, type HttpReply } from "./wire.js";

let server: LocalServer;
let http: ConvexHttpClient;

async function post(endpoint: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}${endpoint}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", [LOCAL_TOKEN_HEADER]: server.localToken, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as HttpReply };
}

beforeAll(async () => {
  server = await startLocalBackend({ functionsDir: CONTRACT_FUNCTIONS_DIR });
  http = new ConvexHttpClient(server.url);
});

beforeEach(async () => {
  await server.backend.reset();
});

afterAll(async () => {
  await server.close();
});

describe("POST /api/local/dump", () => {
  test("returns every document of the named tables in Convex's JSON encoding, oldest first", async () => {
    const first = await http.mutation(api.messages.send, { channel: "d", body: "one" });
    const second = await http.mutation(api.messages.send, { channel: "d", body: "two" });
    const record = await http.mutation(api.records.put, { value: { n: 7n, b: new Uint8Array([1, 2]).buffer } });

    const { status, body } = await post("/api/local/dump", { tables: ["messages", "records"] });
    expect(status).toBe(200);
    expect(Object.keys(body.tables)).toEqual(["messages", "records"]);
    expect(body.tables.messages).toEqual([
      { _id: first, _creationTime: expect.any(Number), channel: "d", body: "one" },
      { _id: second, _creationTime: expect.any(Number), channel: "d", body: "two" },
    ]);
    expect(body.tables.messages[0]._creationTime).toBeLessThan(body.tables.messages[1]._creationTime);
    expect(body.tables.records).toEqual([
      {
        _id: record,
        _creationTime: expect.any(Number),
        value: { n: { $integer: "BwAAAAAAAAA=" }, b: { $bytes: "AQI=" } },
      },
    ]);
  });

  test("an empty body or {} dumps every table of the schema", async () => {
    await http.mutation(api.ticks.bump, { name: "t" });
    for (const body of ["", {}]) {
      const reply = await post("/api/local/dump", body);
      expect(reply.status).toBe(200);
      expect(Object.keys(reply.body.tables).sort()).toEqual(["messages", "records", "ticks"]);
      expect(reply.body.tables.ticks).toMatchObject([{ name: "t", count: 1 }]);
    }
  });

  test("system tables can be named; unknown tables and bad bodies are 400s", async () => {
    await http.mutation(api.messages.sendLater, { channel: "s", body: "x", delayMs: 60_000 });
    const scheduled = await post("/api/local/dump", { tables: ["_scheduled_functions"] });
    expect(scheduled.body.tables._scheduled_functions).toMatchObject([
      { name: "messages:insertInternal", args: [{ channel: "s", body: "x" }], state: { kind: "pending" } },
    ]);
    const unknown = await post("/api/local/dump", { tables: ["mesages"] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toContain('No table "mesages"');
    expect((await post("/api/local/dump", { tables: "messages" })).status).toBe(400);
    expect((await post("/api/local/dump", "[1]")).status).toBe(400);
    expect((await post("/api/local/dump", "{nope")).status).toBe(400);
  });

  test("reading does not commit: subscribers get no Transition from a dump", async () => {
    const before = await server.backend.refresh();
    await post("/api/local/dump", {});
    expect(await server.backend.refresh()).toBe(before);
  });
});

describe("POST /api/local/run", () => {
  test("runs internal queries, mutations and actions with bare or one-element-array args", async () => {
    await http.mutation(api.messages.send, { channel: "r", body: "public" });
    const inserted = await post("/api/local/run", {
      path: "messages:insertInternal",
      args: { channel: "r", body: "internal" },
    });
    expect(inserted).toEqual({ status: 200, body: { status: "success", value: null, logLines: [] } });
    const listed = await post("/api/local/run", { path: "messages.js:listInternal", args: [{ channel: "r" }] });
    expect(listed.body.value).toEqual(["public", "internal"]);
    const viaAction = await post("/api/local/run", {
      path: "messages:insertFromAction",
      args: { channel: "r", body: "action" },
    });
    expect(viaAction.status).toBe(200);
    expect(await http.query(api.messages.list, { channel: "r" })).toEqual(["public", "internal", "action"]);
  });

  test("what it commits reaches subscribers (e.g. running a cron's job now)", async () => {
    const client = new ConvexClient(server.url, { webSocketConstructor: nodeWebSocket });
    try {
      const counts: number[] = [];
      client.onUpdate(api.ticks.get, { name: "now" }, (count) => counts.push(count));
      await expect.poll(() => counts.at(-1)).toBe(0);
      expect((await post("/api/local/run", { path: "ticks:tick", args: { name: "now" } })).status).toBe(200);
      await expect.poll(() => counts.at(-1), { timeout: 2000 }).toBe(1);
    } finally {
      await client.close();
    }
  });

  test("failures look like the function API's: 560 with the message and ConvexError data", async () => {
    const missing = await post("/api/local/run", { path: "messages:nope", args: {} });
    expect(missing.status).toBe(560);
    expect(missing.body.errorMessage).toContain("Could not find public function for 'messages:nope'");
    const convexError = await post("/api/local/run", { path: "errors:convexErrorMutation", args: { code: "E" } });
    expect(convexError.status).toBe(560);
    expect(convexError.body).toMatchObject({ status: "error", errorData: { code: "E" }, logLines: [] });
    const badArgs = await post("/api/local/run", { path: "messages:insertInternal", args: { channel: 1 } });
    expect(badArgs.status).toBe(560);
    expect((await post("/api/local/run", { args: {} })).status).toBe(400);
  });

  test("an Authorization header gives the function an identity", async () => {
    const token = fakeJwt({ iss: "https://issuer.test", sub: "runner" });
    const reply = await post("/api/local/run", { path: "identity:whoami", args: {} }, { Authorization: `Bearer ${token}` });
    expect(reply.body.value).toMatchObject({ subject: "runner", tokenIdentifier: "https://issuer.test|runner" });
    expect((await post("/api/local/run", { path: "identity:whoami", args: {} })).body.value).toBeNull();
  });
});
