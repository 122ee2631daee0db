// Who may talk to the local backend: a hostile web page in the laptop's browser may not.
// Browser origins outside the allowlist are refused (HTTP and WebSocket), so are Host
// headers that are not a loopback name on the backend's own port (DNS rebinding),
// /api/local/* needs the per-start token, and JSON endpoints take only application/json.
import { request } from "node:http";
import { ConvexHttpClient } from "convex/browser";
import WebSocket from "ws";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { AccessConfigError, AccessPolicy, parseOriginPattern } from "../access.js";
import { api } from "../contract/convex/_generated/api.js";
import { CONTRACT_FUNCTIONS_DIR, LOCAL_TOKEN_HEADER, startLocalBackend, type LocalServer } from "../testing.js";

const DASHBOARD = "http://127.0.0.1:5173";
const EVIL = "https://evil.example";

let server: LocalServer;

type Answer = { status: number; headers: Record<string, string | string[] | undefined>; body: string };

/** One raw request (node:http, so that `Host` and `Origin` can be anything). */
function raw(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: server.port, method, path, headers }, (res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => (text += chunk.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const json = (headers: Record<string, string> = {}) => ({ "Content-Type": "application/json", ...headers });
const withToken = (headers: Record<string, string> = {}) => json({ [LOCAL_TOKEN_HEADER]: server.localToken, ...headers });
const send = (channel: string) => JSON.stringify({ path: "messages:send", args: [{ channel, body: "x" }] });

/** The status of a WebSocket upgrade to /api/sync: 101 when accepted. */
function upgrade(headers: { origin?: string; host?: string } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api/sync`, {
      ...(headers.origin !== undefined ? { origin: headers.origin } : {}),
      ...(headers.host !== undefined ? { headers: { Host: headers.host } } : {}),
    });
    ws.once("open", () => {
      ws.close();
      resolve(101);
    });
    ws.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once("error", (error) => {
      if (ws.readyState !== WebSocket.CLOSED) reject(error);
    });
  });
}

async function messages(channel: string): Promise<string[]> {
  return await new ConvexHttpClient(server.url).query(api.messages.list, { channel });
}

beforeAll(async () => {
  server = await startLocalBackend({ functionsDir: CONTRACT_FUNCTIONS_DIR });
});

beforeEach(async () => {
  await server.backend.reset();
});

afterAll(async () => {
  await server.close();
});

describe("browser origins", () => {
  test("a foreign origin gets no CORS headers and is refused, preflight or not", async () => {
    for (const origin of [EVIL, "null", "http://127.0.0.1:5174"]) {
      for (const path of ["/api/mutation", "/api/function", "/api/query", "/api/query_ts"]) {
        const answer = await raw("POST", path, json({ Origin: origin }), send("evil"));
        expect(answer.status, `${origin} ${path}`).toBe(403);
        expect(answer.headers["access-control-allow-origin"]).toBeUndefined();
        expect(answer.headers["access-control-allow-credentials"]).toBeUndefined();
      }
      const preflight = await raw("OPTIONS", "/api/mutation", {
        Origin: origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
      });
      expect(preflight.status).toBe(403);
      expect(preflight.headers["access-control-allow-origin"]).toBeUndefined();
    }
    // HTTP actions too: the page may not use the backend's site routes either.
    expect((await raw("POST", "/messages", { Origin: EVIL }, JSON.stringify({ channel: "evil", body: "x" }))).status).toBe(403);
    expect(await messages("evil")).toEqual([]);
  });

  test("the dashboard's origin, the backend's own and no origin at all are served", async () => {
    const answer = await raw("POST", "/api/mutation", json({ Origin: DASHBOARD }), send("ok"));
    expect(answer.status).toBe(200);
    expect(answer.headers["access-control-allow-origin"]).toBe(DASHBOARD);
    expect((await raw("POST", "/api/mutation", json({ Origin: server.url }), send("ok"))).status).toBe(200);
    expect((await raw("POST", "/api/mutation", json(), send("ok"))).status).toBe(200);
    expect(await messages("ok")).toEqual(["x", "x", "x"]);
  });

  test("WebSockets: a foreign origin's upgrade is refused", async () => {
    expect(await upgrade({ origin: EVIL })).toBe(403);
    expect(await upgrade({ origin: "null" })).toBe(403);
    expect(await upgrade({ origin: DASHBOARD })).toBe(101);
    expect(await upgrade({ origin: server.url })).toBe(101);
    expect(await upgrade()).toBe(101);
  });
});

describe("DNS rebinding", () => {
  test("a Host that is not a loopback name is refused, HTTP and WebSocket", async () => {
    for (const host of [`evil.example:${server.port}`, "evil.example", `localhost.evil.example:${server.port}`]) {
      expect((await raw("POST", "/api/mutation", json({ Host: host }), send("rebound"))).status, host).toBe(403);
      expect((await raw("POST", "/api/local/dump", withToken({ Host: host }), "{}")).status, host).toBe(403);
      expect((await raw("GET", "/hello", { Host: host })).status, host).toBe(403);
      expect(await upgrade({ host }), host).toBe(403);
    }
    expect(await messages("rebound")).toEqual([]);
    // Any port: a TLS terminator or tunnel on loopback forwards with its own.
    for (const host of [`localhost:${server.port}`, `127.0.0.1:${server.port}`, `[::1]:${server.port}`, "localhost:8443"]) {
      expect((await raw("GET", "/hello", { Host: host })).status, host).toBe(200);
      expect(await upgrade({ host }), host).toBe(101);
    }
  });
});

describe("/api/local/*", () => {
  test("needs the per-start token, and never answers a browser", async () => {
    expect(server.localToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const wrong = server.localToken.replace(/^./, (c) => (c === "A" ? "B" : "A"));
    const run = JSON.stringify({ path: "messages:insertInternal", args: { channel: "local", body: "x" } });
    for (const path of ["/api/local/dump", "/api/local/run", "/api/local/reset"]) {
      for (const headers of [json(), json({ [LOCAL_TOKEN_HEADER]: wrong }), json({ Authorization: `Bearer ${server.localToken}` })]) {
        const answer = await raw("POST", path, headers, path === "/api/local/run" ? run : "{}");
        expect(answer.status, path).toBe(401);
        expect(answer.body).not.toContain("tables");
      }
      // Pages never, not even the dashboard's (an XSS there must not read every document).
      for (const origin of [EVIL, DASHBOARD, server.url]) {
        expect((await raw("POST", path, withToken({ Origin: origin }), "{}")).status).toBe(403);
      }
      const preflight = await raw("OPTIONS", path, { Origin: DASHBOARD, "Access-Control-Request-Method": "POST" });
      expect(preflight.headers["access-control-allow-origin"]).toBeUndefined();
    }
    expect(await messages("local")).toEqual([]);
    expect((await raw("POST", "/api/local/run", withToken(), run)).status).toBe(200);
    expect(await messages("local")).toEqual(["x"]);
  });
});

describe("JSON bodies", () => {
  test("a text/plain (or form) body is not read as JSON", async () => {
    const run = JSON.stringify({ path: "messages:insertInternal", args: { channel: "plain", body: "x" } });
    for (const type of ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      expect((await raw("POST", "/api/mutation", { "Content-Type": type }, send("plain"))).status, type).toBe(415);
      const local = await raw("POST", "/api/local/run", { "Content-Type": type, [LOCAL_TOKEN_HEADER]: server.localToken }, run);
      expect(local.status, type).toBe(415);
    }
    expect((await raw("POST", "/api/mutation", {}, send("plain"))).status).toBe(415);
    expect(await messages("plain")).toEqual([]);
    expect((await raw("POST", "/api/mutation", json({ "Content-Type": "application/json; charset=utf-8" }), send("plain"))).status).toBe(200);
  });
});

describe("the policy", () => {
  test("--allow-origin takes origins, with `:*` for any port, and nothing else", () => {
    expect(parseOriginPattern("http://127.0.0.1:5173")).toEqual({ scheme: "http:", hostname: "127.0.0.1", port: "5173" });
    expect(parseOriginPattern("https://Dash.Example/")).toEqual({ scheme: "https:", hostname: "dash.example", port: "443" });
    expect(parseOriginPattern("http://127.0.0.1:*")).toEqual({ scheme: "http:", hostname: "127.0.0.1", port: "*" });
    for (const bad of ["*", "null", "127.0.0.1:5173", "http://x/path", "http://u:p@x", "ftp://x", "http://x:1:*", "http://x?q"]) {
      expect(() => parseOriginPattern(bad), bad).toThrow(AccessConfigError);
    }
  });

  test("origins match exactly; the server's own loopback origins always do", () => {
    const policy = new AccessPolicy({ allowOrigins: ["https://dash.example", "http://127.0.0.1:*"], listenHost: "127.0.0.1" });
    policy.bind(3210);
    for (const origin of ["https://dash.example", "http://127.0.0.1:9", "http://localhost:3210", "http://[::1]:3210"]) {
      expect(policy.originAllowed(origin), origin).toBe(true);
    }
    for (const origin of ["http://dash.example", "https://dash.example:444", "https://dash.example.evil", "http://localhost:9", "null", "https://dash.example/", "HTTPS://DASH.EXAMPLE"]) {
      expect(policy.originAllowed(origin), origin).toBe(false);
    }
  });

  test("Host: loopback names and the listening host, on any port", () => {
    const policy = new AccessPolicy({ listenHost: "::1" });
    policy.bind(3210);
    for (const host of ["localhost:3210", "127.0.0.1:3210", "[::1]:3210", "LocalHost:3210", "localhost", "[::1]:8443"]) {
      expect(policy.hostAllowed(host), host).toBe(true);
    }
    for (const host of [undefined, "", "evil.example:3210", "localhost.evil.example:3210", "127.0.0.1.nip.io:3210", "127.0.0.1:3210@evil", "127.0.0.1:x", "[::2]:3210"]) {
      expect(policy.hostAllowed(host), String(host)).toBe(false);
    }
    const named = new AccessPolicy({ listenHost: "devbox.local" });
    named.bind(80);
    expect(named.hostAllowed("devbox.local")).toBe(true);
    const wildcard = new AccessPolicy({ listenHost: "0.0.0.0" });
    wildcard.bind(3210);
    expect(wildcard.hostAllowed("0.0.0.0:3210")).toBe(false);
  });

  test("the token is random per start and compared whole", () => {
    const a = new AccessPolicy({ listenHost: "127.0.0.1" });
    const b = new AccessPolicy({ listenHost: "127.0.0.1" });
    expect(a.localToken).not.toBe(b.localToken);
    expect(a.localTokenMatches(a.localToken)).toBe(true);
    for (const wrong of [undefined, "", b.localToken, a.localToken.slice(0, -1), `${a.localToken}x`, [a.localToken]]) {
      expect(a.localTokenMatches(wrong)).toBe(false);
    }
  });
});
