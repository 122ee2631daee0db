// The sync protocol as a raw peer sees it: versions, Transitions after
// commits, mutation ordering and dedupe, auth, errors.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CONTRACT_FUNCTIONS_DIR, LOCAL_TOKEN_HEADER, startLocalBackend, type LocalServer } from "../testing.js";
import { fakeJwt, modificationFor, tsOf, WireClient, type Message } from "./wire.js";

let server: LocalServer;
const clients: WireClient[] = [];
let channelCounter = 0;
const freshChannel = () => `protocol-${++channelCounter}`;

async function connect(options?: Parameters<typeof WireClient.connect>[1]): Promise<WireClient> {
  const client = await WireClient.connect(server.url, options);
  clients.push(client);
  return client;
}

async function httpMutation(path: string, args: Record<string, unknown>): Promise<unknown> {
  const response = await fetch(`${server.url}/api/mutation`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ path, args: [args], format: "convex_encoded_json" }),
  });
  return await response.json();
}

/** Subscribes and returns the first result. */
async function subscribe(client: WireClient, queryId: number, udfPath: string, args = {}): Promise<Message> {
  client.results.delete(queryId);
  client.addQuery(queryId, udfPath, args);
  const result = await client.result(queryId);
  client.skipReceived();
  return result;
}

beforeAll(async () => {
  server = await startLocalBackend({ functionsDir: CONTRACT_FUNCTIONS_DIR, pingMs: 100 });
});

afterAll(async () => {
  for (const client of clients) {
    expect(client.versionErrors).toEqual([]);
    client.close();
  }
  await server.close();
});

describe("query subscriptions", () => {
  test("both sync URLs serve the protocol and Add answers with a chained Transition", async () => {
    for (const path of ["/api/sync", "/api/1.48.0/sync"]) {
      const client = await connect({ path });
      client.addQuery(0, "messages:list", { channel: freshChannel() });
      const transition = await client.nextOfType("Transition");
      expect(transition.startVersion).toEqual({ querySet: 0, identity: 0, ts: "AAAAAAAAAAA=" });
      expect(transition.endVersion.querySet).toBe(1);
      expect(transition.endVersion.identity).toBe(0);
      expect(tsOf(transition.endVersion.ts)).toBeGreaterThan(0n);
      expect(transition.modifications).toEqual([
        { type: "QueryUpdated", queryId: 0, value: [], logLines: [], journal: null },
      ]);
    }
  });

  test("other paths are not WebSocket endpoints", async () => {
    await expect(WireClient.connect(server.url, { path: "/api/nope" })).rejects.toThrow(/404/);
  });

  test("a commit sends each subscriber only the results that changed", async () => {
    const [a, b] = [freshChannel(), freshChannel()];
    const watcher = await connect();
    watcher.modify([
      { type: "Add", queryId: 1, udfPath: "messages:list", args: [{ channel: a }], journal: null },
      { type: "Add", queryId: 2, udfPath: "messages:list", args: [{ channel: b }], journal: null },
    ]);
    const first = await watcher.nextOfType("Transition");
    expect(first.modifications).toHaveLength(2);

    const writer = await connect();
    writer.mutation("messages:send", { channel: b, body: "to b" });
    const update = await watcher.next(
      (m) => m.type === "Transition" && m.modifications.length > 0,
    );
    expect(update.modifications).toEqual([
      { type: "QueryUpdated", queryId: 2, value: ["to b"], logLines: [], journal: null },
    ]);
    expect(tsOf(update.endVersion.ts)).toBeGreaterThan(tsOf(first.endVersion.ts));
  });

  test("a commit none of a session's queries reads sends it no Transition", async () => {
    // As Convex's sync worker: a session wakes for its own invalidated queries, not every commit.
    const mine = freshChannel();
    const idle = await connect();
    idle.addQuery(0, "messages:list", { channel: mine });
    const first = await idle.nextOfType("Transition");
    const writer = await connect();
    writer.mutation("messages:send", { channel: freshChannel(), body: "elsewhere" });
    await writer.nextOfType("MutationResponse"); // published to every socket by now
    await httpMutation("messages:send", { channel: mine, body: "mine" });
    // The next Transition is the one that brings its query's change, right after its first.
    const update = await idle.nextOfType("Transition");
    expect(update.startVersion).toEqual(first.endVersion);
    expect(update.modifications).toEqual([
      { type: "QueryUpdated", queryId: 0, value: ["mine"], logLines: [], journal: null },
    ]);
  });

  test("a session with no queries gets Transitions only for its own mutations", async () => {
    const quiet = await connect();
    const writer = await connect();
    writer.mutation("messages:send", { channel: freshChannel(), body: "elsewhere" });
    await writer.nextOfType("MutationResponse");
    quiet.mutation("messages:send", { channel: freshChannel(), body: "its own" });
    const response = await quiet.nextOfType("MutationResponse");
    await quiet.next((m) => m.type === "Transition" && tsOf(m.endVersion.ts) >= tsOf(response.ts));
    const transitions = quiet.received.filter((m) => m.type === "Transition");
    expect(transitions).toHaveLength(1);
    expect(transitions[0].startVersion).toEqual({ querySet: 0, identity: 0, ts: "AAAAAAAAAAA=" });
  });

  test("a commit inside a query's read set that leaves its result as it was still sends a Transition", async () => {
    // Convex re-runs an invalidated query and moves its session on, changed result or not.
    const channel = freshChannel();
    const client = await connect();
    client.addQuery(0, "messages:withBody", { channel, body: "wanted" });
    const first = await client.nextOfType("Transition");
    expect(modificationFor(first, 0)!.value).toBe(0);
    // withBody reads the whole channel: another body lands inside its read set, the count stays 0.
    await httpMutation("messages:send", { channel, body: "another" });
    const moved = await client.nextOfType("Transition");
    expect(moved.startVersion).toEqual(first.endVersion);
    expect(moved.modifications).toEqual([]);
    expect(tsOf(moved.endVersion.ts)).toBeGreaterThan(tsOf(first.endVersion.ts));
  });

  test("Remove answers with QueryRemoved and later commits skip the query", async () => {
    const channel = freshChannel();
    const client = await connect();
    await subscribe(client, 5, "messages:list", { channel });
    client.removeQuery(5);
    const removed = await client.nextOfType("Transition");
    expect(removed.modifications).toEqual([{ type: "QueryRemoved", queryId: 5 }]);
    expect(removed.endVersion.querySet).toBe(2);
    await httpMutation("messages:send", { channel, body: "unseen" });
    const later = await client.quietFor(100);
    for (const message of later.filter((m) => m.type === "Transition")) {
      expect(message.modifications).toEqual([]);
    }
  });

  test("udfPath forms name the same function; a bare module means its default export", async () => {
    const channel = freshChannel();
    await httpMutation("messages:send", { channel, body: "x" });
    const client = await connect();
    client.modify([
      { type: "Add", queryId: 0, udfPath: "messages:list", args: [{ channel }] },
      { type: "Add", queryId: 1, udfPath: "messages.js:list", args: [{ channel }] },
      { type: "Add", queryId: 2, udfPath: "messages", args: [{}] },
    ]);
    const transition = await client.nextOfType("Transition");
    expect(modificationFor(transition, 0)!.value).toEqual(["x"]);
    expect(modificationFor(transition, 1)!.value).toEqual(["x"]);
    const missing = modificationFor(transition, 2)!;
    expect(missing.type).toBe("QueryFailed");
    expect(missing.errorMessage).toContain("Could not find public function for 'messages:default'");
  });

  test("internal functions cannot be called by clients", async () => {
    const client = await connect();
    const failed = await subscribe(client, 0, "messages:listInternal", { channel: "x" });
    expect(failed.type).toBe("QueryFailed");
    expect(failed.errorMessage).toMatch(/^\[Request ID: \w+\] Server Error\n/);
    expect(failed.errorMessage).toContain("Could not find public function for 'messages:listInternal'");
    client.mutation("messages:insertInternal", { channel: "x", body: "no" });
    const response = await client.nextOfType("MutationResponse");
    expect(response.success).toBe(false);
    expect(response.result).toContain("Could not find public function");
    // A mutation is not a query either.
    const wrongKind = await subscribe(client, 1, "messages:send", { channel: "x", body: "no" });
    expect(wrongKind.type).toBe("QueryFailed");
  });

  test("a failing query carries ConvexError data and recovers when its data changes", async () => {
    const channel = freshChannel();
    const client = await connect();
    const failed = await subscribe(client, 0, "errors:failWhileEmpty", { channel });
    expect(failed.type).toBe("QueryFailed");
    expect(failed.errorData).toEqual({ code: "EMPTY", channel });
    await httpMutation("messages:send", { channel, body: "now" });
    const recovered = await client.next(
      (m) => m.type === "Transition" && modificationFor(m, 0) !== undefined,
    );
    expect(modificationFor(recovered, 0)).toMatchObject({ type: "QueryUpdated", value: 1 });
  });

  test("a plain query error has no errorData", async () => {
    const client = await connect();
    const failed = await subscribe(client, 0, "errors:plainErrorQuery");
    expect(failed.type).toBe("QueryFailed");
    expect(failed.errorMessage).toContain("Uncaught Error: boom in a query");
    expect("errorData" in failed).toBe(false);
  });

  test("values round-trip in Convex's JSON encoding", async () => {
    const client = await connect();
    const value = {
      int: { $integer: Buffer.from([7, 0, 0, 0, 0, 0, 0, 0]).toString("base64") },
      bytes: { $bytes: Buffer.from("hi").toString("base64") },
      nan: { $float: Buffer.from(new Float64Array([NaN]).buffer).toString("base64") },
      nested: [1.5, "s", null, true, { a: [] }],
    };
    const result = await subscribe(client, 0, "messages:echo", { value });
    expect(result.value).toEqual(value);
  });
});

describe("mutations", () => {
  test("the writer gets its response, then a Transition covering its timestamp", async () => {
    const channel = freshChannel();
    const writer = await connect();
    await subscribe(writer, 0, "messages:list", { channel });
    writer.mutation("messages:send", { channel, body: "mine" });
    const response = await writer.nextOfType("MutationResponse");
    expect(response).toMatchObject({ requestId: 0, success: true, logLines: [] });
    expect(typeof response.result).toBe("string");
    const index = writer.received.indexOf(response);
    const after = await writer.next((m) => m.type === "Transition");
    expect(writer.received.indexOf(after)).toBeGreaterThan(index);
    expect(tsOf(after.endVersion.ts)).toBeGreaterThanOrEqual(tsOf(response.ts));
    const seen = writer.received.filter((m) => m.type === "Transition" && modificationFor(m, 0));
    expect(modificationFor(seen.at(-1)!, 0)!.value).toEqual(["mine"]);
  });

  test("a failed mutation is rolled back and still followed by a Transition", async () => {
    const channel = freshChannel();
    const client = await connect();
    await subscribe(client, 0, "messages:list", { channel });
    client.mutation("errors:writeThenFail", { channel });
    const response = await client.nextOfType("MutationResponse");
    expect(response.success).toBe(false);
    expect(response.result).toContain("Uncaught Error: rolled back");
    expect("errorData" in response).toBe(false);
    expect("ts" in response).toBe(false);
    const after = await client.nextOfType("Transition");
    expect(modificationFor(after, 0)).toBeUndefined();
    const check = await connect();
    expect((await subscribe(check, 0, "messages:list", { channel })).value).toEqual([]);
  });

  test("ConvexError data reaches the writer", async () => {
    const client = await connect();
    client.mutation("errors:convexErrorMutation", { code: "E42" });
    const response = await client.nextOfType("MutationResponse");
    expect(response.success).toBe(false);
    expect(response.errorData).toEqual({ code: "E42" });
    expect(response.result).toContain("Uncaught ConvexError");
  });

  test("one session's mutations run in the order they were sent", async () => {
    const channel = freshChannel();
    const client = await connect();
    const count = 20;
    for (let i = 0; i < count; i++) client.mutation("messages:send", { channel, body: String(i) });
    const responses: Message[] = [];
    while (responses.length < count) responses.push(await client.nextOfType("MutationResponse"));
    expect(responses.map((r) => r.requestId)).toEqual([...Array(count).keys()]);
    const timestamps = responses.map((r) => tsOf(r.ts));
    expect([...timestamps].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))).toEqual(timestamps);
    const check = await connect();
    const list = await subscribe(check, 0, "messages:list", { channel });
    expect(list.value).toEqual([...Array(count).keys()].map(String));
  });

  test("a mutation re-sent after a reconnect runs once and gets the same response", async () => {
    const channel = freshChannel();
    const first = await connect();
    first.mutation("messages:send", { channel, body: "once" }, 7);
    const original = await first.nextOfType("MutationResponse");
    first.close();
    await first.closed;

    const second = await connect({ sessionId: first.sessionId });
    second.mutation("messages:send", { channel, body: "once" }, 7);
    const replayed = await second.nextOfType("MutationResponse");
    expect(replayed).toEqual(original);
    const after = await second.nextOfType("Transition");
    expect(tsOf(after.endVersion.ts)).toBeGreaterThanOrEqual(tsOf(replayed.ts));

    // Another session with the same request id is a different request.
    const other = await connect();
    other.mutation("messages:send", { channel, body: "other" }, 7);
    expect((await other.nextOfType("MutationResponse")).result).not.toEqual(original.result);
    const check = await connect();
    expect((await subscribe(check, 0, "messages:list", { channel })).value).toEqual(["once", "other"]);
  });

  test("a mutation re-sent while the first copy is still queued waits for it", async () => {
    const channel = freshChannel();
    const sessionId = `inflight-${channel}`;
    const first = await connect({ sessionId });
    for (let i = 0; i < 5; i++) first.mutation("messages:send", { channel, body: String(i) }, i);
    const second = await connect({ sessionId });
    for (let i = 0; i < 5; i++) second.mutation("messages:send", { channel, body: String(i) }, i);
    const replies: Message[] = [];
    while (replies.length < 5) replies.push(await second.nextOfType("MutationResponse"));
    expect(replies.every((r) => r.success)).toBe(true);
    const check = await connect();
    expect((await subscribe(check, 0, "messages:list", { channel })).value).toEqual(["0", "1", "2", "3", "4"]);
  });

  test("an HTTP mutation wakes WebSocket subscribers", async () => {
    const channel = freshChannel();
    const client = await connect();
    await subscribe(client, 0, "messages:list", { channel });
    await httpMutation("messages:send", { channel, body: "from http" });
    const update = await client.next((m) => m.type === "Transition" && modificationFor(m, 0) !== undefined);
    expect(modificationFor(update, 0)!.value).toEqual(["from http"]);
  });
});

describe("actions", () => {
  test("an action's result comes back and its runMutation reaches subscribers", async () => {
    const channel = freshChannel();
    const client = await connect();
    await subscribe(client, 0, "messages:list", { channel });
    client.action("messages:sendViaAction", { channel, body: "via action" });
    const response = await client.nextOfType("ActionResponse");
    expect(response).toMatchObject({ requestId: 0, success: true, result: "sent", logLines: [] });
    // Published before the response.
    expect(client.results.get(0)!.value).toEqual(["via action"]);
  });

  test("action errors keep ConvexError data", async () => {
    const client = await connect();
    client.action("errors:convexErrorAction");
    const response = await client.nextOfType("ActionResponse");
    expect(response.success).toBe(false);
    expect(response.errorData).toBe("just a string");
    client.action("errors:plainErrorAction");
    const plain = await client.nextOfType("ActionResponse");
    expect(plain.success).toBe(false);
    expect(plain.result).toContain("boom in an action");
    expect("errorData" in plain).toBe(false);
  });
});

describe("scheduler", () => {
  test("a scheduled mutation's commit reaches subscribers", async () => {
    const channel = freshChannel();
    const client = await connect();
    await subscribe(client, 0, "messages:list", { channel });
    const started = Date.now();
    await httpMutation("messages:sendLater", { channel, body: "later", delayMs: 150 });
    const update = await client.next((m) => m.type === "Transition" && modificationFor(m, 0) !== undefined);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(modificationFor(update, 0)!.value).toEqual(["later"]);
  });

  test("a scheduled action's runMutation reaches subscribers", async () => {
    const channel = freshChannel();
    const client = await connect();
    await subscribe(client, 0, "messages:list", { channel });
    await httpMutation("messages:sendLaterViaAction", { channel, body: "from scheduled action" });
    const update = await client.next((m) => m.type === "Transition" && modificationFor(m, 0) !== undefined);
    expect(modificationFor(update, 0)!.value).toEqual(["from scheduled action"]);
  });
});

describe("auth", () => {
  const token = fakeJwt({ iss: "https://issuer.test", sub: "user-1", name: "Ada", email: "ada@example.com", role: "owner" });

  test("Authenticate bumps the identity version and queries see the identity", async () => {
    const client = await connect();
    expect((await subscribe(client, 0, "identity:whoami")).value).toBeNull();
    client.send({ type: "Authenticate", baseVersion: 0, tokenType: "User", value: token });
    const transition = await client.nextOfType("Transition");
    expect(transition.startVersion.identity).toBe(0);
    expect(transition.endVersion.identity).toBe(1);
    expect(modificationFor(transition, 0)!.value).toEqual({
      tokenIdentifier: "https://issuer.test|user-1",
      subject: "user-1",
      issuer: "https://issuer.test",
      name: "Ada",
      email: "ada@example.com",
      role: "owner",
    });
    client.mutation("identity:whoamiMutation");
    expect((await client.nextOfType("MutationResponse")).result).toMatchObject({ subject: "user-1" });
    client.action("identity:whoamiAction");
    expect((await client.nextOfType("ActionResponse")).result).toMatchObject({ subject: "user-1" });
    // As after a mutation, the caller is brought to the latest timestamp once its action ends.
    const afterAction = await client.nextOfType("Transition");
    expect(afterAction.endVersion.identity).toBe(1);

    client.send({ type: "Authenticate", baseVersion: 1, tokenType: "None" });
    const cleared = await client.nextOfType("Transition");
    expect(cleared.endVersion.identity).toBe(2);
    expect(modificationFor(cleared, 0)!.value).toBeNull();
  });

  test("a token that is not a JWT gets an AuthError and the socket closes", async () => {
    const client = await connect();
    client.send({ type: "Authenticate", baseVersion: 0, tokenType: "User", value: "not-a-jwt" });
    const error = await client.nextOfType("AuthError");
    expect(error).toMatchObject({ baseVersion: 0, authUpdateAttempted: true });
    expect(error.error).toContain("JWT");
    await client.closed;
  });

  test("a JWT without a subject is refused", async () => {
    const client = await connect();
    client.send({ type: "Authenticate", baseVersion: 0, tokenType: "User", value: fakeJwt({ iss: "x" }) });
    expect((await client.nextOfType("AuthError")).error).toContain("sub");
  });
});

describe("protocol errors and liveness", () => {
  test("a ModifyQuerySet from the wrong base version is fatal", async () => {
    const client = await connect();
    client.send({ type: "ModifyQuerySet", baseVersion: 3, newVersion: 4, modifications: [] });
    const fatal = await client.nextOfType("FatalError");
    expect(fatal.error).toContain("Base version 3");
    await client.closed;
  });

  test("non-JSON and unknown messages are fatal", async () => {
    const garbled = await connect();
    garbled.ws.send("{nope");
    expect((await garbled.nextOfType("FatalError")).error).toContain("JSON");
    const unknown = await connect();
    unknown.send({ type: "Bogus" });
    expect((await unknown.nextOfType("FatalError")).error).toContain("Bogus");
  });

  test("the server sends Pings", async () => {
    const client = await connect();
    await client.nextOfType("Ping", 1000);
    await client.nextOfType("Ping", 1000);
  });
});

describe("reset", () => {
  test("reset empties tables, publishes the change, and never reuses ids or timestamps", async () => {
    const channel = freshChannel();
    const before = (await httpMutation("messages:send", { channel, body: "old" })) as { value: string };
    const client = await connect();
    const first = await subscribe(client, 0, "messages:list", { channel });
    expect(first.value).toEqual(["old"]);
    const response = await fetch(`${server.url}/api/local/reset`, {
      method: "POST",
      headers: { [LOCAL_TOKEN_HEADER]: server.localToken },
    });
    expect(await response.json()).toEqual({ status: "success" });
    const update = await client.next((m) => m.type === "Transition" && modificationFor(m, 0) !== undefined);
    expect(modificationFor(update, 0)!.value).toEqual([]);
    const after = (await httpMutation("messages:send", { channel, body: "new" })) as { value: string };
    expect(after.value).not.toEqual(before.value);
    const next = await client.next((m) => m.type === "Transition" && modificationFor(m, 0) !== undefined);
    expect(tsOf(next.endVersion.ts)).toBeGreaterThan(tsOf(update.endVersion.ts));
  });
});
