// @vitest-environment node
// Notifications end to end (issue 20), over the real protocol: the local backend runs the
// repository's functions with VAPID keys in its environment; a signed-in user turns push on with
// a test subscription (real P-256 keys) on the push-service stand-in (push_service.ts), which
// checks the VAPID JWT and decrypts every message. A laptop's items reach it as show, replace
// and close; a 410 removes the subscription; ntfy and a webhook reach a local HTTP receiver.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { ConvexHttpClient } from "convex/browser";
import { makeFunctionReference } from "convex/server";
import webpush from "web-push";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api.js";
import type { Id } from "../../convex/_generated/dataModel.js";
import { makeAuthKeys } from "../make-auth-keys.js";
import { spawnLocalBackend, type SpawnedBackend } from "../testing.js";
import { PushService, type PushRecord, type TestSubscription } from "./push_service.js";

const DASHBOARD = "https://tina.example.com/";
const SUBJECT = "mailto:ops@example.com";

type Received = { method: string; path: string; headers: IncomingHttpHeaders; body: string };

/** A local HTTP receiver for ntfy and webhook posts. */
async function receiver(): Promise<{ url: string; got: Received[]; close(): Promise<void>; server: Server }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      got.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(200, { "Content-Type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    got,
    server,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

async function eventually<T>(check: () => Promise<T | undefined | null | false> | T | undefined | null | false, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

type Show = { v: 1; op: "show"; tag: string; title: string; body: string; url: string; kind: string; at: number };

let backend: SpawnedBackend;
let push: PushService;
let user: ConvexHttpClient;
let node: ConvexHttpClient;
let nodeToken: string;
let nodeId: Id<"nodes">;
let phone: TestSubscription;
const vapid = webpush.generateVAPIDKeys();
const enrollmentSecret = `push-${randomBytes(12).toString("hex")}`;

const payloadOf = (m: PushRecord) => m.payload as Show | { v: 1; op: "close"; tag: string };
const isShow = (tag: string, title?: string) => (m: PushRecord) => {
  const p = payloadOf(m);
  return p.op === "show" && p.tag === tag && (title === undefined || p.title === title);
};
const isClose = (tag: string) => (m: PushRecord) => payloadOf(m).op === "close" && payloadOf(m).tag === tag;

beforeAll(async () => {
  push = await PushService.start();
  backend = await spawnLocalBackend({
    env: {
      TINA_ENROLLMENT_SECRET: enrollmentSecret,
      ...makeAuthKeys(),
      TINA_VAPID_PUBLIC_KEY: vapid.publicKey,
      TINA_VAPID_PRIVATE_KEY: vapid.privateKey,
      TINA_VAPID_SUBJECT: SUBJECT,
      TINA_DASHBOARD_URL: DASHBOARD,
    },
    stderr: process.env.TINA_PUSH_TEST_LOG === "1" ? "inherit" : "ignore",
    readyTimeoutMs: 30_000,
  });
  // The first account of a deployment is its owner.
  const anonymous = new ConvexHttpClient(backend.url);
  const signedIn = (await anonymous.action(makeFunctionReference<"action">("auth:signIn"), {
    provider: "password",
    params: { email: "owner@example.com", password: "correct horse battery staple", flow: "signUp" },
  })) as { tokens: { token: string } | null };
  user = new ConvexHttpClient(backend.url);
  user.setAuth(signedIn.tokens!.token);
  node = new ConvexHttpClient(backend.url);
  const enrolled = await node.mutation(api.nodes.enrollNode, { enrollmentSecret, name: "laptop-a", os: "linux" });
  nodeToken = enrolled.credential;
  nodeId = enrolled.nodeId;
  await node.mutation(api.nodes.registerNode, { nodeToken, os: "linux" });
  phone = push.subscription();
}, 60_000);

afterAll(async () => {
  await backend?.stop();
  await push?.close();
});

const sync = (items: { key: string; title: string; kind?: "stalled" | "teammate_permission"; detail?: string }[]) =>
  node.mutation(api.needs.syncLaptop, {
    nodeToken,
    items: items.map((i) => ({ key: i.key, kind: i.kind ?? "stalled", since: Date.now(), title: i.title, ...(i.detail ? { detail: i.detail } : {}) })),
    sessions: [],
  });

describe("Web Push through the stand-in push service", () => {
  test("the deployment's VAPID key; a signed-in user subscribes a device", async () => {
    expect(await user.query(api.notify.config, {})).toEqual({ vapidPublicKey: vapid.publicKey });
    const { deviceId } = await user.mutation(api.notify.subscribe, { subscription: { endpoint: phone.endpoint, keys: phone.keys }, label: "test phone" });
    expect(await user.query(api.notify.devices, {})).toMatchObject([{ _id: deviceId, label: "test phone", endpointHost: new URL(push.url).host }]);
  });

  test("an item opened on a laptop arrives as a decryptable show; its change replaces it; its resolution closes it", async () => {
    const key = "stall:s1";
    const tag = `laptop:${nodeId}:${key}`;
    await sync([{ key, title: "executor-1 went quiet", detail: "no tool call for 12 minutes" }]);
    const shown = await push.waitFor(isShow(tag), "the item's show");
    expect(payloadOf(shown)).toEqual({
      v: 1,
      op: "show",
      tag,
      title: "executor-1 went quiet",
      body: "on laptop-a\nno tool call for 12 minutes",
      url: `#/attention?item=${encodeURIComponent(tag)}`,
      kind: "stall",
      at: expect.any(Number),
    });
    // What the stand-in checked, as a real push service would.
    expect(shown.claims).toMatchObject({ aud: new URL(push.url).origin, sub: SUBJECT });
    expect(shown.ttl).toBeGreaterThan(0);
    expect(shown.urgency).toBe("normal");
    expect(shown.topic).toMatch(/^[A-Za-z0-9_-]{1,32}$/);

    await sync([{ key, title: "executor-1 quiet for 20 minutes", detail: "no tool call for 20 minutes" }]);
    const replaced = await push.waitFor(isShow(tag, "executor-1 quiet for 20 minutes"), "the replacing show");
    // The same tag, and the same RFC 8030 Topic: the push service replaces an undelivered one.
    expect(replaced.topic).toBe(shown.topic);

    await sync([]);
    const closed = await push.waitFor(isClose(tag), "the close");
    expect(payloadOf(closed)).toEqual({ v: 1, op: "close", tag });
    expect(closed.topic).toBe(shown.topic);
    expect(push.refused).toEqual([]);
  });

  test("a permission request asks with Urgency high", async () => {
    const key = "perm:team:req-1";
    await sync([{ key, kind: "teammate_permission", title: "executor-2 asks to use Bash" }]);
    const shown = await push.waitFor(isShow(`laptop:${nodeId}:${key}`), "the permission request");
    expect(shown.urgency).toBe("high");
    expect(payloadOf(shown)).toMatchObject({ kind: "permission_prompt" });
    await sync([]);
    const closed = await push.waitFor(isClose(`laptop:${nodeId}:${key}`), "its close");
    expect(closed.urgency).toBe("high");
  });

  test("sendTest reaches the device", async () => {
    const before = push.received.length;
    await user.mutation(api.notify.sendTest, { channel: "push" });
    const test = await push.waitFor((m) => push.received.indexOf(m) >= before && isShow("tina-test")(m), "the test notification");
    expect(payloadOf(test)).toMatchObject({ kind: "test", url: "#/attention" });
    const log = await eventually(async () => (await user.query(api.notify.recentDeliveries, {})).find((d) => d.tag === "tina-test" && d.ok), "the test in the log");
    expect(log).toMatchObject({ channel: "push", op: "show", deviceLabel: "test phone", status: 201 });
    expect(JSON.stringify(await user.query(api.notify.recentDeliveries, {}))).not.toContain(phone.id);
  });
});

describe("answering from the notification", () => {
  test("a permission prompt's show carries Allow once / Deny and a single-use token; posting it to the deployment answers once", async () => {
    await user.mutation(api.notify.setAnswering, { enabled: true });
    try {
      const promptId = randomBytes(16).toString("hex");
      const now = Date.now();
      await node.mutation(api.prompts.openPrompt, {
        nodeToken,
        promptId,
        sessionId: "0b6f3a0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
        toolName: "Bash",
        toolInput: '{"command":"npm test"}',
        description: "Run the tests",
        openedAt: now,
        expiresAt: now + 120_000,
      });
      const tag = `prompt:${promptId}`;
      const shown = await push.waitFor((m) => isShow(tag)(m) && (m.payload as { answer?: unknown }).answer !== undefined, "the prompt's show with actions");
      const payload = shown.payload as Show & { actions: { action: string; title: string }[]; answer: { token: string; url: string } };
      expect(payload.actions).toEqual([
        { action: "allow", title: "Allow once" },
        { action: "deny", title: "Deny" },
      ]);
      expect(payload.answer.url).toBe(`${backend.url}/api/mutation`);
      expect(payload.answer.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.byteLength(shown.text, "utf8")).toBeLessThanOrEqual(3000);
      expect(shown.urgency).toBe("high");

      const post = async (decision: string) => {
        const response = await fetch(payload.answer.url, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ path: "notify:answer", args: { token: payload.answer.token, decision }, format: "json" }),
        });
        return (await response.json()) as { status: string; value?: unknown; errorData?: { code: string; message: string } };
      };
      expect(await post("deny")).toMatchObject({ status: "success", value: { status: "answered", decision: "deny" } });
      const open = await user.query(api.prompts.listOpen, {});
      expect(open.open.find((p) => p.promptId === promptId)).toBeUndefined();
      expect(open.recent.find((p) => p.promptId === promptId)).toMatchObject({ status: "answered", decision: "deny" });
      // Single use: the same token again changes nothing.
      expect(await post("allow")).toMatchObject({ status: "error", errorData: { code: "conflict" } });
      // The item is resolved: its notification is withdrawn.
      await push.waitFor(isClose(tag), "the close of the answered prompt");
      expect(push.refused).toEqual([]);
    } finally {
      await user.mutation(api.notify.setAnswering, { enabled: false });
    }
  });
});

describe("ntfy and a webhook", () => {
  test("a show reaches both, in their documented shapes; sendTest too", async () => {
    const hooks = await receiver();
    try {
      await user.mutation(api.notify.updateSettings, {
        ntfy: { server: `${hooks.url}/ntfy`, topic: "tina-alerts" },
        webhook: { url: `${hooks.url}/hook/secret-token` },
      });
      expect(await user.query(api.notify.settings, {})).toMatchObject({ webhook: { urlHost: new URL(hooks.url).host } });
      const key = "stall:é";
      const tag = `laptop:${nodeId}:${key}`;
      await sync([{ key, title: "Müller went quiet", detail: "since 10:02" }]);
      const ntfy = await eventually(() => hooks.got.find((r) => r.path === "/ntfy/tina-alerts"), "the ntfy post");
      expect(ntfy.method).toBe("POST");
      expect(ntfy.body).toBe("on laptop-a\nsince 10:02");
      // A non-ASCII title travels RFC 2047-encoded, as ntfy decodes it.
      expect(ntfy.headers.title).toBe(`=?UTF-8?B?${Buffer.from("Müller went quiet").toString("base64")}?=`);
      expect(ntfy.headers.click).toBe(`${DASHBOARD}#/attention?item=${encodeURIComponent(tag)}`);
      expect(ntfy.headers.tags).toBe("tina,stall");
      expect(ntfy.headers.priority).toBe("3");
      const hook = await eventually(() => hooks.got.find((r) => r.path === "/hook/secret-token"), "the webhook post");
      expect(hook.headers["content-type"]).toContain("application/json");
      const json = JSON.parse(hook.body) as Record<string, unknown>;
      const text = `Müller went quiet\non laptop-a\nsince 10:02\n${DASHBOARD}#/attention?item=${encodeURIComponent(tag)}`;
      expect(json).toEqual({
        text,
        content: text,
        tina: { op: "show", kind: "stall", tag, title: "Müller went quiet", body: "on laptop-a\nsince 10:02", url: `${DASHBOARD}#/attention?item=${encodeURIComponent(tag)}` },
      });
      // Closes go to push only: ntfy and webhooks cannot withdraw a message.
      await sync([]);
      await push.waitFor(isClose(tag), "the push close");
      const posts = hooks.got.length;

      await user.mutation(api.notify.sendTest, { channel: "ntfy" });
      await user.mutation(api.notify.sendTest, { channel: "webhook" });
      await eventually(() => hooks.got.filter((r) => r.path === "/ntfy/tina-alerts").length >= 2 && hooks.got.filter((r) => r.path === "/hook/secret-token").length >= 2, "the two tests");
      expect(hooks.got.length).toBe(posts + 2);
      const log = JSON.stringify(await user.query(api.notify.recentDeliveries, {}));
      expect(log).not.toContain("secret-token");
      expect(log).toContain('"channel":"ntfy"');
      expect(log).toContain('"channel":"webhook"');
    } finally {
      await user.mutation(api.notify.updateSettings, { ntfy: null, webhook: null });
      await hooks.close();
    }
  });
});

describe("an expired subscription", () => {
  test("the push service answers 410: the subscription is removed", async () => {
    push.markGone(phone.id, 410);
    await sync([{ key: "stall:after-expiry", title: "someone went quiet" }]);
    await push.waitUntil(() => (push.goneHits.get(phone.id) ?? 0) > 0, "a push to the expired subscription");
    await eventually(async () => (await user.query(api.notify.devices, {})).length === 0, "the device removed");
    const log = await user.query(api.notify.recentDeliveries, {});
    expect(log[0]).toMatchObject({ channel: "push", ok: false, status: 410 });
    await sync([]);
  });
});

describe("the stand-in refuses what a push service refuses", () => {
  test("a payload for other keys, a JWT for another audience or signed by another key, no VAPID at all", async () => {
    const service = await PushService.start();
    try {
      const mine = service.subscription();
      const other = service.subscription();
      const options = { vapidDetails: { subject: SUBJECT, ...vapid }, TTL: 60, contentEncoding: "aes128gcm" as const };
      const send = async (details: webpush.RequestDetails, endpoint = mine.endpoint) => {
        const headers = Object.fromEntries(Object.entries(details.headers).filter(([k]) => k !== "Content-Length").map(([k, v]) => [k, String(v)]));
        return (await fetch(endpoint, { method: "POST", headers, body: new Uint8Array(details.body!) })).status;
      };
      const good = webpush.generateRequestDetails({ endpoint: mine.endpoint, keys: mine.keys }, '{"v":1,"op":"close","tag":"x"}', options);
      expect(await send(good)).toBe(201);
      expect(service.received.map((m) => m.payload)).toEqual([{ v: 1, op: "close", tag: "x" }]);

      const forOtherKeys = webpush.generateRequestDetails({ endpoint: mine.endpoint, keys: other.keys }, "secret", options);
      expect(await send(forOtherKeys)).toBe(400);
      const otherAudience = webpush.generateRequestDetails({ endpoint: "https://push.example.com/push/1", keys: mine.keys }, "hi", options);
      expect(await send(otherAudience)).toBe(403);
      const stranger = webpush.generateVAPIDKeys();
      const wrongKey = { ...good, headers: { ...good.headers, Authorization: good.headers.Authorization!.replace(/k=.*$/, `k=${stranger.publicKey}`) } };
      expect(await send(wrongKey)).toBe(403);
      const { Authorization: _dropped, ...unsigned } = good.headers;
      expect(await send({ ...good, headers: unsigned })).toBe(401);
      expect(service.refused.map((r) => r.reason)).toEqual([
        "the payload does not decrypt with the subscription's keys",
        expect.stringContaining("VAPID JWT refused"),
        expect.stringContaining("VAPID JWT refused"),
        expect.stringContaining("Authorization"),
      ]);
      expect(service.received).toHaveLength(1);
    } finally {
      await service.close();
    }
  });
});
