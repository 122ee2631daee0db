// Contract tests with the official npm clients: if these pass, the clients,
// the daemon and the dashboard can use this server unchanged.
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { ConvexReactClient } from "convex/react";
import { ConvexError } from "convex/values";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { api } from "../contract/convex/_generated/api.js";
import { CONTRACT_FUNCTIONS_DIR, nodeWebSocket, startLocalBackend, wireTest, type LocalServer } from "../testing.js";
import { fakeJwt } from "./wire.js";

let server: LocalServer;
const cleanups: (() => unknown)[] = [];
let channelCounter = 0;
const freshChannel = () => `clients-${++channelCounter}`;

function wsClient(url = server.url): ConvexClient {
  const client = new ConvexClient(url, { webSocketConstructor: nodeWebSocket });
  cleanups.push(() => client.close());
  return client;
}

/** Resolves with the first value a subscription delivers that satisfies `predicate`. */
function nextValue<T>(
  subscribe: (callback: (value: T) => void) => () => void,
  predicate: (value: T) => boolean,
  timeoutMs = 5000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    let unsubscribe: (() => void) | undefined;
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      unsubscribe?.();
      reject(new Error("timed out waiting for a subscription value"));
    }, timeoutMs);
    unsubscribe = subscribe((value) => {
      if (done || !predicate(value)) return;
      done = true;
      clearTimeout(timer);
      // The callback may run before subscribe() has returned.
      queueMicrotask(() => unsubscribe?.());
      resolve(value);
    });
  });
}

beforeAll(async () => {
  server = await startLocalBackend({
    functionsDir: CONTRACT_FUNCTIONS_DIR,
    env: { CONTRACT_GREETING: "hello from --env" },
  });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

afterAll(async () => {
  await server.close();
});

describe("ConvexClient (WebSocket)", () => {
  test("a subscriber sees another client's mutation", async () => {
    const channel = freshChannel();
    const subscriber = wsClient();
    const writer = wsClient();
    const seen: string[][] = [];
    const updated = nextValue<string[]>(
      (cb) =>
        subscriber.onUpdate(api.messages.list, { channel }, (value) => {
          seen.push(value);
          cb(value);
        }),
      (value) => value.length === 1,
    );
    await nextValue<string[]>((cb) => subscriber.onUpdate(api.messages.list, { channel }, cb), () => true);
    const id = await writer.mutation(api.messages.send, { channel, body: "hello" });
    expect(typeof id).toBe("string");
    expect(await updated).toEqual(["hello"]);
    expect(seen[0]).toEqual([]);
  });

  test("one-shot queries, mutations and actions return values", async () => {
    const channel = freshChannel();
    const client = wsClient();
    await client.mutation(api.messages.send, { channel, body: "a" });
    expect(await client.query(api.messages.list, { channel })).toEqual(["a"]);
    expect(await client.action(api.messages.sendViaAction, { channel, body: "b" })).toBe("sent");
    expect(await client.query(api.messages.list, { channel })).toEqual(["a", "b"]);
    const value = { big: 2n ** 40n, bytes: new Uint8Array([1, 2, 3]).buffer, list: [1.5, null, "x"] };
    const echoed = await client.query(api.messages.echo, { value });
    expect(echoed.big).toBe(2n ** 40n);
    expect(new Uint8Array(echoed.bytes)).toEqual(new Uint8Array([1, 2, 3]));
    expect(echoed.list).toEqual([1.5, null, "x"]);
  });

  test("ConvexError data and plain errors reach the caller", async () => {
    const client = wsClient();
    const convexError = await client.mutation(api.errors.convexErrorMutation, { code: "E7" }).catch((e) => e);
    expect(convexError).toBeInstanceOf(ConvexError);
    expect(convexError.data).toEqual({ code: "E7" });
    const plain = await client.mutation(api.errors.plainErrorMutation, {}).catch((e) => e);
    expect(plain).toBeInstanceOf(Error);
    expect(plain).not.toBeInstanceOf(ConvexError);
    expect(plain.message).toContain("boom in a mutation");
    const actionError = await client.action(api.errors.convexErrorAction, {}).catch((e) => e);
    expect(actionError).toBeInstanceOf(ConvexError);
    expect(actionError.data).toBe("just a string");
    const queryError = await client.query(api.errors.convexErrorQuery, {}).catch((e) => e);
    expect(queryError).toBeInstanceOf(ConvexError);
    expect(queryError.data).toEqual({ code: "NOPE", detail: 7 });
  });

  test("a subscription's error callback gets query failures", async () => {
    const client = wsClient();
    const error = await new Promise<Error>((resolve) => {
      const unsubscribe = client.onUpdate(
        api.errors.plainErrorQuery,
        {},
        () => {},
        (e) => {
          resolve(e);
          queueMicrotask(unsubscribe);
        },
      );
    });
    expect(error.message).toContain("boom in a query");
  });

  test("setAuth gives functions the token's identity", async () => {
    const client = wsClient();
    const token = fakeJwt({ iss: "https://issuer.test", sub: "user-42", email: "u@example.com", team: "core" });
    const confirmed = new Promise<boolean>((resolve) => client.setAuth(async () => token, resolve));
    expect(await confirmed).toBe(true);
    const identity = await client.query(api.identity.whoami, {});
    expect(identity).toMatchObject({
      subject: "user-42",
      issuer: "https://issuer.test",
      tokenIdentifier: "https://issuer.test|user-42",
      email: "u@example.com",
      team: "core",
    });
    expect(await client.mutation(api.identity.whoamiMutation, {})).toMatchObject({ subject: "user-42" });
    expect(await client.action(api.identity.whoamiAction, {})).toMatchObject({ subject: "user-42" });
  });

  test("scheduled functions reach subscribers", async () => {
    const channel = freshChannel();
    const subscriber = wsClient();
    const writer = wsClient();
    const later = nextValue<string[]>(
      (cb) => subscriber.onUpdate(api.messages.list, { channel }, cb),
      (value) => value.length === 2,
    );
    const started = Date.now();
    await writer.mutation(api.messages.sendLater, { channel, body: "timer", delayMs: 200 });
    await writer.mutation(api.messages.sendLaterViaAction, { channel, body: "action" });
    expect((await later).sort()).toEqual(["action", "timer"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  test("functions see --env variables and CONVEX_SITE_URL is the server's origin", async () => {
    const client = wsClient();
    expect(await client.query(api.env.get, { name: "CONTRACT_GREETING" })).toBe("hello from --env");
    expect(await client.query(api.env.get, { name: "CONVEX_SITE_URL" })).toBe(server.url);
  });
});

describe("ConvexHttpClient", () => {
  test("query, mutation and action over HTTP; the mutation wakes WebSocket subscribers", async () => {
    const channel = freshChannel();
    const http = new ConvexHttpClient(server.url);
    const subscriber = wsClient();
    const woken = nextValue<string[]>(
      (cb) => subscriber.onUpdate(api.messages.list, { channel }, cb),
      (value) => value.includes("over http"),
    );
    await http.mutation(api.messages.send, { channel, body: "over http" });
    expect(await woken).toEqual(["over http"]);
    expect(await http.query(api.messages.list, { channel })).toEqual(["over http"]);
    expect(await http.action(api.messages.echoAction, { value: { n: 1n } })).toEqual({ n: 1n });
  });

  test("ConvexError data survives HTTP; plain errors are plain", async () => {
    const http = new ConvexHttpClient(server.url);
    const convexError = await http.query(api.errors.convexErrorQuery, {}).catch((e) => e);
    expect(convexError).toBeInstanceOf(ConvexError);
    expect(convexError.data).toEqual({ code: "NOPE", detail: 7 });
    const plain = await http.action(api.errors.plainErrorAction, {}).catch((e) => e);
    expect(plain).not.toBeInstanceOf(ConvexError);
    expect(plain.message).toContain("boom in an action");
  });

  test("setAuth sends the identity with HTTP calls", async () => {
    const http = new ConvexHttpClient(server.url);
    expect(await http.query(api.identity.whoami, {})).toBeNull();
    http.setAuth(fakeJwt({ iss: "https://issuer.test", sub: "http-user" }));
    expect(await http.query(api.identity.whoami, {})).toMatchObject({ subject: "http-user" });
  });

  test("raw responses have Convex's shapes: 200 success, 560 error, 4xx for bad requests", async () => {
    const post = (endpoint: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${server.url}${endpoint}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
    const ok = await post("/api/query", { path: "messages:list", args: [{ channel: "none" }], format: "convex_encoded_json" });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: "success", value: [], logLines: [] });
    // /api/function takes bare args and any kind of function.
    const fn = await post("/api/function", { path: "messages:echo", args: { value: 3 } });
    expect(await fn.json()).toEqual({ status: "success", value: 3, logLines: [] });
    const failed = await post("/api/mutation", { path: "errors:convexErrorMutation", args: [{ code: "X" }] });
    expect(failed.status).toBe(560);
    const body = await failed.json();
    expect(body).toMatchObject({ status: "error", errorData: { code: "X" }, logLines: [] });
    expect(body.errorMessage).toMatch(/^\[Request ID: \w+\] Server Error\nUncaught ConvexError: /);
    const internal = await post("/api/query", { path: "messages:listInternal", args: [{ channel: "x" }] });
    expect(internal.status).toBe(560);
    expect((await internal.json()).errorMessage).toContain("Could not find public function");
    expect((await post("/api/query", "{not json")).status).toBe(400);
    expect((await post("/api/query", { args: [] })).status).toBe(400);
    expect((await post("/api/nowhere", {})).status).toBe(404);
    const badToken = await post("/api/query", { path: "identity:whoami", args: [{}] }, { Authorization: "Bearer x" });
    expect(badToken.status).toBe(401);
    expect(await badToken.json()).toMatchObject({ code: "Unauthenticated" });
    const ts = await post("/api/query_ts", "");
    expect((await ts.json()).ts).toMatch(/^[A-Za-z0-9+/]{11}=$/);
  });

  test("the dashboard's pages may call the API from their origin; other pages may not", async () => {
    const preflight = await fetch(`${server.url}/api/action`, {
      method: "OPTIONS",
      headers: {
        Origin: "http://localhost:5173",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,authorization",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    expect(preflight.headers.get("access-control-allow-headers")).toBe("content-type,authorization");
    const foreign = await fetch(`${server.url}/api/action`, {
      method: "OPTIONS",
      headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "POST" },
    });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("ConvexReactClient", () => {
  test("a live query updates when another client writes", async () => {
    const channel = freshChannel();
    const react = new ConvexReactClient(server.url, { webSocketConstructor: nodeWebSocket });
    cleanups.push(() => react.close());
    const watch = react.watchQuery(api.messages.list, { channel });
    const results: (string[] | undefined)[] = [];
    // What useQuery does: listen for updates, read the local result.
    cleanups.push(watch.onUpdate(() => results.push(watch.localQueryResult())));
    await expect.poll(() => results.at(-1)).toEqual([]);
    await new ConvexHttpClient(server.url).mutation(api.messages.send, { channel, body: "react" });
    await expect.poll(() => results.at(-1)).toEqual(["react"]);
    expect(await react.mutation(api.messages.send, { channel, body: "own" })).toEqual(expect.any(String));
    // A mutation resolves only once its write is visible to the client's queries.
    expect(watch.localQueryResult()).toEqual(["react", "own"]);
  });
});

describe("HTTP actions (convex/http.ts)", () => {
  test("routes are served outside /api/ with the request's real URL", async () => {
    const response = await fetch(`${server.url}/hello`);
    expect(response.status).toBe(200);
    expect(response.headers.get("x-contract")).toBe("yes");
    expect(await response.json()).toEqual({ url: `${server.url}/hello`, siteUrl: server.url });
    const prefixed = await fetch(`${server.url}/files/a/b.txt`);
    expect(await prefixed.text()).toBe("file /files/a/b.txt");
    expect(prefixed.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
    const missing = await fetch(`${server.url}/nowhere`);
    expect(missing.status).toBe(404);
  });

  test("an HTTP action's mutation reaches subscribers; identity comes from the header", async () => {
    const channel = freshChannel();
    const subscriber = wsClient();
    const woken = nextValue<string[]>(
      (cb) => subscriber.onUpdate(api.messages.list, { channel }, cb),
      (value) => value.length === 1,
    );
    const posted = await fetch(`${server.url}/messages`, {
      method: "POST",
      body: JSON.stringify({ channel, body: "via http action" }),
    });
    expect(posted.status).toBe(201);
    expect(await woken).toEqual(["via http action"]);
    const whoami = await fetch(`${server.url}/whoami`, {
      headers: { Authorization: `Bearer ${fakeJwt({ iss: "https://i.test", sub: "site-user" })}` },
    });
    expect(await whoami.json()).toMatchObject({ subject: "site-user" });
  });
});

describe("wireTest (convex-test-like calls over the wire)", () => {
  test("calls functions with and without an identity", async () => {
    const t = wireTest(server.url);
    cleanups.push(() => t.close());
    const channel = freshChannel();
    await t.mutation(api.messages.send, { channel, body: "w" });
    expect(await t.query(api.messages.list, { channel })).toEqual(["w"]);
    expect(await t.action(api.messages.echoAction, { value: 5n })).toBe(5n);
    expect(await t.query(api.identity.whoami, {})).toBeNull();
    const asAda = t.withIdentity({ subject: "ada", name: "Ada", email: "ada@x.test", emailVerified: true });
    expect(await asAda.query(api.identity.whoami, {})).toEqual({
      tokenIdentifier: "https://convex.test|ada",
      subject: "ada",
      issuer: "https://convex.test",
      name: "Ada",
      email: "ada@x.test",
      emailVerified: true,
    });
    expect(await asAda.mutation(api.identity.whoamiMutation, {})).toMatchObject({ subject: "ada" });
    const derived = await t.withIdentity({ name: "No Subject" }).query(api.identity.whoami, {});
    expect(derived?.subject).toMatch(/^subject-[0-9a-f]{12}$/);
    await expect(t.mutation(api.errors.convexErrorMutation, { code: "W" })).rejects.toMatchObject({
      data: { code: "W" },
    });
  });
});

describe("reconnect", () => {
  test("a subscription resumes after the server restarts on the same port", async () => {
    const channel = freshChannel();
    const first = await startLocalBackend({ functionsDir: CONTRACT_FUNCTIONS_DIR });
    const client = wsClient(first.url);
    let latest: string[] | undefined;
    const updates: string[][] = [];
    const unsubscribe = client.onUpdate(api.messages.list, { channel }, (value) => {
      latest = value;
      updates.push(value);
    });
    cleanups.push(unsubscribe);
    await client.mutation(api.messages.send, { channel, body: "before" });
    await expect.poll(() => latest, { timeout: 3000 }).toEqual(["before"]);
    await first.close();

    const second = await startLocalBackend({ functionsDir: CONTRACT_FUNCTIONS_DIR, port: first.port });
    cleanups.push(() => second.close());
    // Memory only: the restarted server starts empty, and the client resubscribes by itself.
    await expect.poll(() => latest, { timeout: 8000 }).toEqual([]);
    await new ConvexHttpClient(second.url).mutation(api.messages.send, { channel, body: "after" });
    await expect.poll(() => latest, { timeout: 3000 }).toEqual(["after"]);
    expect(updates[0]).toEqual([]);
  }, 15_000);
});
