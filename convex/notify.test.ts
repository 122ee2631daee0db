// @vitest-environment edge-runtime
// Notifications (issue 20): the edge checks, and the evaluation's rules (new → show, changed →
// show with the same tag, gone or dismissed → close, kinds, quiet hours, bursts, one-shot
// events, coalescing), read off the deliveries notify:evaluate schedules.
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "./_generated/api";
import type { Id } from "./_generated/dataModel";
import { BURST_MAX, COALESCE_MS, DELIVERIES_KEPT, MAX_DEVICES, MAX_USERS, NOTIFY_KINDS, SUMMARY_TAG, type NotifyKind, type NotifyMessage, type ShowMessage } from "./model/notify";
import { KINDS_OFFERED_BEFORE } from "./model/notifyKinds";
import type { LaptopNeed } from "./model/validators";
import { OWNER, T0, VIEWER, addUser, enroll, makeT, orchestration, phase, refusal, type T } from "./test.setup";

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
  // The tests wait minutes and hours of fake time: the laptop stays online unless a test says otherwise.
  process.env.TINA_OFFLINE_AFTER_MS = String(24 * 60 * 60_000);
});

afterEach(() => {
  vi.useRealTimers();
  delete process.env.TINA_OFFLINE_AFTER_MS;
  delete process.env.TINA_VAPID_PUBLIC_KEY;
  delete process.env.TINA_VAPID_PRIVATE_KEY;
  delete process.env.TINA_VAPID_SUBJECT;
});

function b64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A browser's subscription with a real P-256 key and a random auth secret. */
async function subscription(n = 0) {
  const pair = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"])) as CryptoKeyPair;
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { endpoint: `https://push.example.com/send/device-${n}-${crypto.randomUUID()}`, keys: { p256dh: b64url(raw), auth: b64url(crypto.getRandomValues(new Uint8Array(16))) } };
}

function need(key: string, overrides: Partial<LaptopNeed> = {}): LaptopNeed {
  return { key, kind: "stalled", since: T0, title: `${key} went quiet`, cause: "silent", ...overrides };
}

/** A laptop and an owner whose phone is subscribed. */
async function world(t: T, kinds: NotifyKind[] = [...NOTIFY_KINDS]) {
  const laptop = await enroll(t, "laptop-a");
  const owner = await addUser(t, OWNER);
  await owner.as.mutation(api.notify.subscribe, { subscription: await subscription(), label: "Pixel 8 · Chrome" });
  await owner.as.mutation(api.notify.updateSettings, { kinds });
  await sent(t); // what subscribing itself evaluated (nothing open yet)
  const sync = (items: LaptopNeed[]) => t.mutation(api.needs.syncLaptop, { nodeToken: laptop.token, items, sessions: [] });
  const tag = (key: string) => `laptop:${laptop.nodeId}:${key}`;
  return { laptop, owner, sync, tag };
}

type Delivery = { userId: Id<"users">; messages: NotifyMessage[]; channels?: string[] };

/** Lets the coalesced evaluation run, then takes the deliveries it scheduled (cancelled: no network here). */
async function sent(t: T, waitMs = COALESCE_MS + 50): Promise<Delivery[]> {
  if (waitMs > 0) {
    vi.advanceTimersByTime(waitMs);
    await t.finishInProgressScheduledFunctions();
  }
  return await t.run(async (ctx) => {
    const out: Delivery[] = [];
    for (const job of await ctx.db.system.query("_scheduled_functions").collect()) {
      if (job.name.includes("notifyNode") && job.state.kind === "pending") {
        out.push(job.args[0] as Delivery);
        await ctx.scheduler.cancel(job._id);
      }
    }
    return out;
  });
}

const messagesOf = (ds: Delivery[]) => ds.flatMap((d) => d.messages);
const ops = (ds: Delivery[]) => messagesOf(ds).map((m) => `${m.op} ${m.tag}`);

async function evaluationsScheduledSince(t: T, since: number): Promise<number> {
  return await t.run(async (ctx) => (await ctx.db.system.query("_scheduled_functions").collect()).filter((j) => j.name.includes("evaluate") && j._creationTime >= since).length);
}

async function pendingEvaluations(t: T): Promise<number> {
  return await t.run(async (ctx) => (await ctx.db.system.query("_scheduled_functions").collect()).filter((j) => j.name.includes("evaluate") && j.state.kind === "pending").length);
}

describe("the edge", () => {
  test("a subscription: https endpoint (http only on loopback), a P-256 point, a 16-byte secret, a label; errors name the field", async () => {
    const t = makeT();
    const owner = await addUser(t, OWNER);
    const good = await subscription();
    const bad = async (sub: unknown, label = "phone") => await refusal(owner.as.mutation(api.notify.subscribe, { subscription: sub as typeof good, label }));
    expect(await bad({ ...good, endpoint: "http://push.example.com/x" })).toMatchObject({ code: "invalid_argument", field: "subscription.endpoint" });
    expect(await bad({ ...good, endpoint: "not a url" })).toMatchObject({ field: "subscription.endpoint" });
    expect(await bad({ ...good, endpoint: "https://user:pw@push.example.com/x" })).toMatchObject({ field: "subscription.endpoint" });
    expect(await bad({ ...good, endpoint: `https://push.example.com/${"x".repeat(2000)}` })).toMatchObject({ field: "subscription.endpoint" });
    expect(await bad({ ...good, keys: { ...good.keys, p256dh: good.keys.p256dh.slice(0, 40) } })).toMatchObject({ field: "subscription.keys.p256dh" });
    // 65 bytes starting with 0x04, but not on the curve.
    const offCurve = b64url(Uint8Array.from({ length: 65 }, (_, i) => (i === 0 ? 4 : i)));
    expect(await bad({ ...good, keys: { ...good.keys, p256dh: offCurve } })).toMatchObject({ field: "subscription.keys.p256dh", message: expect.stringContaining("curve") });
    expect(await bad({ ...good, keys: { ...good.keys, p256dh: "a+b/c" } })).toMatchObject({ field: "subscription.keys.p256dh" });
    expect(await bad({ ...good, keys: { ...good.keys, auth: b64url(new Uint8Array(8)) } })).toMatchObject({ field: "subscription.keys.auth" });
    expect(await bad(good, " \u0007 ")).toMatchObject({ field: "label" });
    expect(await t.run((ctx) => ctx.db.query("pushSubscriptions").collect())).toEqual([]);

    for (const host of ["127.0.0.1:9", "[::1]:9", "localhost:9"]) {
      await owner.as.mutation(api.notify.subscribe, { subscription: { ...good, endpoint: `http://${host}/push/1` }, label: "test" });
    }
    expect((await owner.as.query(api.notify.devices, {})).map((d) => d.endpointHost).sort()).toEqual(["127.0.0.1:9", "[::1]:9", "localhost:9"]);
  });

  test("idempotent by endpoint; at most 10 devices; devices never show an endpoint or keys; another user's browser moves over", async () => {
    const t = makeT();
    const owner = await addUser(t, OWNER);
    const first = await subscription(0);
    const { deviceId } = await owner.as.mutation(api.notify.subscribe, { subscription: first, label: "phone" });
    expect((await owner.as.mutation(api.notify.subscribe, { subscription: first, label: "phone (renamed)" })).deviceId).toBe(deviceId);
    for (let i = 1; i < MAX_DEVICES; i++) await owner.as.mutation(api.notify.subscribe, { subscription: await subscription(i), label: `device ${i}` });
    expect(await refusal(owner.as.mutation(api.notify.subscribe, { subscription: await subscription(99), label: "one too many" }))).toMatchObject({ code: "conflict", field: "subscription" });
    const listed = await owner.as.query(api.notify.devices, {});
    expect(listed).toHaveLength(MAX_DEVICES);
    expect(listed[0]).toMatchObject({ _id: deviceId, label: "phone (renamed)", endpointHost: "push.example.com" });
    const text = JSON.stringify(listed);
    expect(text).not.toContain("/send/");
    expect(text).not.toContain(first.keys.p256dh);
    expect(text).not.toContain(first.keys.auth);

    // The same browser, now signed in as someone else: the device is theirs, no longer the owner's.
    const viewer = await addUser(t, VIEWER);
    await viewer.as.mutation(api.notify.subscribe, { subscription: first, label: "shared tablet" });
    expect(await owner.as.query(api.notify.devices, {})).toHaveLength(MAX_DEVICES - 1);
    expect((await viewer.as.query(api.notify.devices, {})).map((d) => d.label)).toEqual(["shared tablet"]);

    await viewer.as.mutation(api.notify.unsubscribe, { endpoint: first.endpoint });
    await viewer.as.mutation(api.notify.unsubscribe, { endpoint: "https://push.example.com/unknown" });
    // Nobody unsubscribes another user's device.
    const second = (await t.run((ctx) => ctx.db.query("pushSubscriptions").collect())).find((d) => d.userId === owner.userId)!;
    await viewer.as.mutation(api.notify.unsubscribe, { endpoint: second.endpoint });
    expect(await viewer.as.query(api.notify.devices, {})).toEqual([]);
    expect(await owner.as.query(api.notify.devices, {})).toHaveLength(MAX_DEVICES - 1);
  });

  test("settings: kinds, quiet hours in an IANA zone, ntfy, a webhook whose URL is never returned", async () => {
    const t = makeT();
    const owner = await addUser(t, OWNER);
    expect(await owner.as.query(api.notify.settings, {})).toEqual({ kinds: NOTIFY_KINDS, quietHours: null, ntfy: null, webhook: null, answering: false });
    const update = (args: Record<string, unknown>) => owner.as.mutation(api.notify.updateSettings, args as never);
    expect(await refusal(update({ webhook: { url: "http://hooks.example.com/x" } }))).toMatchObject({ field: "webhook.url" });
    expect(await refusal(update({ quietHours: { start: "25:00", end: "07:00", timeZone: "UTC" } }))).toMatchObject({ field: "quietHours.start" });
    expect(await refusal(update({ quietHours: { start: "22:00", end: "7:00", timeZone: "UTC" } }))).toMatchObject({ field: "quietHours.end" });
    expect(await refusal(update({ quietHours: { start: "22:00", end: "22:00", timeZone: "UTC" } }))).toMatchObject({ field: "quietHours.end" });
    expect(await refusal(update({ quietHours: { start: "22:00", end: "07:00", timeZone: "Mars/Olympus" } }))).toMatchObject({ field: "quietHours.timeZone" });
    expect(await refusal(update({ kinds: ["stall", "stall"] }))).toMatchObject({ field: "kinds[1]" });
    expect(await refusal(update({ ntfy: { server: "https://ntfy.sh", topic: "a/b" } }))).toMatchObject({ field: "ntfy.topic" });
    expect(await refusal(update({ ntfy: { server: "ftp://ntfy.sh", topic: "tina" } }))).toMatchObject({ field: "ntfy.server" });

    const secret = "https://hooks.slack.com/services/T000/B000/very-secret-token";
    await update({
      kinds: ["stall", "plan_approval"],
      quietHours: { start: "22:00", end: "07:00", timeZone: "Europe/Paris" },
      ntfy: { server: "https://ntfy.example.com/", topic: "tina-alerts" },
      webhook: { url: secret },
    });
    const read = await owner.as.query(api.notify.settings, {});
    expect(read).toEqual({
      kinds: ["plan_approval", "stall"],
      quietHours: { start: "22:00", end: "07:00", timeZone: "Europe/Paris" },
      ntfy: { server: "https://ntfy.example.com", topic: "tina-alerts" },
      webhook: { urlHost: "hooks.slack.com" },
      answering: false,
    });
    expect(JSON.stringify(read)).not.toContain("very-secret-token");
    await update({ quietHours: null, webhook: null });
    expect(await owner.as.query(api.notify.settings, {})).toMatchObject({ quietHours: null, webhook: null, ntfy: { topic: "tina-alerts" } });
  });

  test("the VAPID public key comes from the deployment; null when push is not set up", async () => {
    const t = makeT();
    const viewer = await addUser(t, VIEWER);
    expect(await viewer.as.query(api.notify.config, {})).toEqual({ vapidPublicKey: null });
    process.env.TINA_VAPID_PUBLIC_KEY = "BPublicKeyForTests";
    expect(await viewer.as.query(api.notify.config, {})).toEqual({ vapidPublicKey: "BPublicKeyForTests" });
  });
});

describe("one notification per item", () => {
  test("new → show; changed → show again with the same tag; resolved → close", async () => {
    const t = makeT();
    const { owner, sync, tag } = await world(t);
    await sync([need("stall:s1", { featureName: "billing-export", detail: "no tool call for 12 minutes" })]);
    const opened = await sent(t);
    expect(opened).toHaveLength(1);
    expect(opened[0].userId).toBe(owner.userId);
    const [show] = opened[0].messages as ShowMessage[];
    expect(show).toEqual({
      op: "show",
      tag: tag("stall:s1"),
      kind: "stall",
      title: "stall:s1 went quiet",
      // What is needed (title), the orchestration and laptop, the detail.
      body: "billing-export · on laptop-a\nno tool call for 12 minutes",
      url: `#/attention?item=${encodeURIComponent(tag("stall:s1"))}`,
      at: T0,
      urgent: false,
    });

    // The same set again: nothing is sent.
    await sync([need("stall:s1", { featureName: "billing-export", detail: "no tool call for 12 minutes" })]);
    expect(await sent(t)).toEqual([]);

    await sync([need("stall:s1", { title: "s1 is quiet for 20 minutes" })]);
    expect(messagesOf(await sent(t))).toMatchObject([{ op: "show", tag: tag("stall:s1"), title: "s1 is quiet for 20 minutes" }]);

    await sync([]);
    expect(messagesOf(await sent(t))).toEqual([{ op: "close", tag: tag("stall:s1") }]);
    expect(await t.run((ctx) => ctx.db.query("notifyState").collect())).toEqual([]);

    // Without a channel nothing is sent, and the next device starts from what is open then.
    await sync([need("stall:s2")]);
    expect(ops(await sent(t))).toEqual([`show ${tag("stall:s2")}`]);
    const [device] = await t.run((ctx) => ctx.db.query("pushSubscriptions").collect());
    await owner.as.mutation(api.notify.unsubscribe, { endpoint: device.endpoint });
    await sync([need("stall:s2"), need("stall:s3")]);
    expect(await sent(t)).toEqual([]);
    expect(await t.run((ctx) => ctx.db.query("notifyState").collect())).toEqual([]);
    await owner.as.mutation(api.notify.subscribe, { subscription: await subscription(5), label: "new phone" });
    expect(ops(await sent(t)).sort()).toEqual([`show ${tag("stall:s2")}`, `show ${tag("stall:s3")}`]);
  });

  test("many triggers within the window share one evaluation", async () => {
    const t = makeT();
    const { owner, sync, tag } = await world(t);
    const since = Date.now();
    const items: LaptopNeed[] = [];
    for (let i = 0; i < BURST_MAX; i++) {
      items.push(need(`stall:s${i}`, { since: T0 + i }));
      await sync([...items]);
      await owner.as.mutation(api.needs.dismiss, { key: tag("stall:other"), since: T0 });
      vi.advanceTimersByTime(10);
    }
    // One evaluation scheduled in all (none scheduled and cancelled again), and it is pending.
    expect(await evaluationsScheduledSince(t, since)).toBe(1);
    expect(await pendingEvaluations(t)).toBe(1);
    const out = await sent(t);
    expect(out).toHaveLength(1);
    expect(ops(out).sort()).toEqual(items.map((n) => `show ${tag(n.key)}`).sort());
    expect(await pendingEvaluations(t)).toBe(0);
  });

  test("nobody with a channel: triggers schedule nothing", async () => {
    const t = makeT();
    const laptop = await enroll(t);
    await t.mutation(api.needs.syncLaptop, { nodeToken: laptop.token, items: [need("stall:s1")], sessions: [] });
    expect(await pendingEvaluations(t)).toBe(0);
    expect(await t.run((ctx) => ctx.db.query("notifyQueue").collect())).toEqual([]);
  });

  test("a dismissal closes the notification; restoring shows it again", async () => {
    const t = makeT();
    const { owner, sync, tag } = await world(t);
    await sync([need("stall:s1")]);
    expect(ops(await sent(t))).toEqual([`show ${tag("stall:s1")}`]);
    await owner.as.mutation(api.needs.dismiss, { key: tag("stall:s1"), since: T0 });
    expect(ops(await sent(t))).toEqual([`close ${tag("stall:s1")}`]);
    await owner.as.mutation(api.needs.restore, { key: tag("stall:s1") });
    expect(ops(await sent(t))).toEqual([`show ${tag("stall:s1")}`]);
  });

  test("a snooze closes, and the evaluation at its end shows the item again", async () => {
    const t = makeT();
    const { owner, sync, tag } = await world(t);
    await sync([need("stall:s1")]);
    await sent(t);
    await owner.as.mutation(api.needs.dismiss, { key: tag("stall:s1"), since: T0, until: T0 + 10 * 60_000 });
    expect(ops(await sent(t))).toEqual([`close ${tag("stall:s1")}`]);
    expect(await sent(t, 5 * 60_000)).toEqual([]);
    const wakeAt = await t.run(async (ctx) => (await ctx.db.query("notifyQueue").first())!.pendingAt);
    expect(wakeAt).toBe(T0 + 10 * 60_000);
    expect(ops(await sent(t, wakeAt! - Date.now() + 10))).toEqual([`show ${tag("stall:s1")}`]);
  });

  test("a laptop going offline shows; coming back closes", async () => {
    const t = makeT();
    const { laptop } = await world(t);
    await t.mutation(api.nodes.signOff, { nodeToken: laptop.token });
    expect(messagesOf(await sent(t))).toMatchObject([{ op: "show", tag: `offline:${laptop.nodeId}`, kind: "offline_laptop", title: "laptop-a is offline" }]);
    await t.mutation(api.nodes.registerNode, { nodeToken: laptop.token, os: "darwin" });
    expect(ops(await sent(t))).toEqual([`close offline:${laptop.nodeId}`]);
  });

  test("only the kinds the user wants", async () => {
    const t = makeT();
    const { owner, sync, tag } = await world(t, ["plan_approval", "permission_prompt"]);
    await sync([need("stall:s1"), need("perm:t:r1", { kind: "teammate_permission", title: "executor-1 asks to use Bash", cause: undefined })]);
    const out = messagesOf(await sent(t));
    expect(out).toMatchObject([{ op: "show", tag: tag("perm:t:r1"), kind: "permission_prompt", urgent: true }]);
    await owner.as.mutation(api.notify.updateSettings, { kinds: ["stall"] });
    expect(ops(await sent(t))).toEqual([`close ${tag("perm:t:r1")}`, `show ${tag("stall:s1")}`]);
  });

  test("a kind added after a person chose theirs is on for them until they choose again", async () => {
    const t = makeT();
    const { owner } = await world(t);
    // Saved before the settings kept what was offered, with stalls turned off: no budget kind then.
    await t.run(async (ctx) => {
      const row = (await ctx.db.query("notifySettings").collect())[0];
      await ctx.db.patch("notifySettings", row._id, { kinds: KINDS_OFFERED_BEFORE.filter((k) => k !== "stall"), kindsOffered: undefined });
    });
    const kinds = (await owner.as.query(api.notify.settings, {})).kinds;
    expect(kinds).toContain("budget");
    expect(kinds).not.toContain("stall");
    await owner.as.mutation(api.notify.updateSettings, { kinds: ["stall"] });
    expect((await owner.as.query(api.notify.settings, {})).kinds).toEqual(["stall"]);
  });

  test("a prompt the user answers themselves: only a close", async () => {
    const t = makeT();
    const { owner, laptop } = await world(t);
    const promptId = "c".repeat(32);
    await t.mutation(api.prompts.openPrompt, {
      nodeToken: laptop.token,
      promptId,
      sessionId: "0b6f3a0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
      toolName: "Bash",
      toolInput: '{"command":"npm test"}',
      description: "Run the tests",
      agentName: "executor-1",
      openedAt: T0,
      expiresAt: T0 + 240_000,
    });
    const opened = messagesOf(await sent(t));
    expect(opened).toMatchObject([{ op: "show", tag: `prompt:${promptId}`, kind: "permission_prompt", title: "executor-1 asks to use Bash", urgent: true }]);
    await owner.as.mutation(api.prompts.answer, { promptId, decision: "allow_once" });
    // Withdrawn as urgently as it was shown.
    expect(messagesOf(await sent(t))).toEqual([{ op: "close", tag: `prompt:${promptId}`, urgent: true }]);
  });
});

describe("quiet hours, bursts, one-shot events", () => {
  test("quiet hours (an IANA zone): nothing shown during them, closes still go, what is open is shown at their end", async () => {
    const t = makeT();
    const { owner, sync, tag } = await world(t);
    await sync([need("stall:before")]);
    expect(ops(await sent(t))).toEqual([`show ${tag("stall:before")}`]);
    // T0 is 12:00 UTC, 13:00 in Paris (CET): quiet from 12:30 to 14:00 Paris time, i.e. until 13:00 UTC.
    await owner.as.mutation(api.notify.updateSettings, { quietHours: { start: "12:30", end: "14:00", timeZone: "Europe/Paris" } });
    await sync([need("stall:before"), need("stall:during")]);
    expect(await sent(t)).toEqual([]);
    const wakeAt = await t.run(async (ctx) => (await ctx.db.query("notifyQueue").first())!.pendingAt);
    expect(wakeAt).toBe(Date.UTC(2026, 10, 21, 13, 0, 0));
    // The item shown before the quiet hours resolves during them: its close goes.
    await sync([need("stall:during"), need("stall:late", { since: T0 + 1 })]);
    expect(ops(await sent(t))).toEqual([`close ${tag("stall:before")}`]);
    expect(await sent(t, 30 * 60_000)).toEqual([]);
    // At their end, what is still open shows.
    expect(ops(await sent(t, wakeAt! - Date.now() + 10)).sort()).toEqual([`show ${tag("stall:during")}`, `show ${tag("stall:late")}`]);
  });

  test(`more than ${BURST_MAX} new items at once: one summary; it goes when they are all resolved`, async () => {
    const t = makeT();
    const { sync, tag } = await world(t);
    const items = Array.from({ length: 5 }, (_, i) => need(`stall:s${i}`, { since: T0 + i }));
    await sync(items);
    const out = messagesOf(await sent(t));
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ op: "show", tag: SUMMARY_TAG, kind: "summary", url: "#/attention", title: "tina: 5 things need you" });
    expect((out[0] as ShowMessage).body).toContain("and 2 more");
    // One changes: it is shown on its own now. The rest resolve silently; the summary goes last.
    await sync([...items.slice(0, 4), need("stall:s4", { since: T0 + 4, title: "s4 quiet for an hour" })]);
    expect(ops(await sent(t))).toEqual([`show ${tag("stall:s4")}`]);
    await sync([items[0]]);
    expect(ops(await sent(t))).toEqual([`close ${tag("stall:s4")}`]);
    await sync([]);
    expect(ops(await sent(t))).toEqual([`close ${SUMMARY_TAG}`]);
  });

  test("an orchestration that finishes: one show, never closed", async () => {
    const t = makeT();
    const { laptop } = await world(t);
    const running = orchestration({ status: "executing", currentPhase: 1, totalPhases: 1 });
    const syncO = (o: Record<string, unknown>, status: string, seq: number) =>
      t.mutation(api.orchestrations.syncOrchestration, { nodeToken: laptop.token, orchestration: o as never, phases: [phase("1", status) as never], seq });
    const { orchestrationId } = await syncO(running, "executing", 1);
    expect(await sent(t)).toEqual([]);
    await syncO({ ...running, status: "complete", completedAt: T0 + 5000 }, "complete", 2);
    expect(messagesOf(await sent(t))).toEqual([
      { op: "show", tag: `done:${orchestrationId}`, kind: "orchestration_finished", title: "billing-export finished", body: "on laptop-a", url: `#/o/${orchestrationId}`, at: expect.any(Number), urgent: false },
    ]);
    await syncO({ ...running, status: "complete", completedAt: T0 + 6000 }, "complete", 3);
    await t.mutation(api.needs.syncLaptop, { nodeToken: laptop.token, items: [need("stall:x")], sessions: [] });
    expect(ops(await sent(t))).toEqual([`show laptop:${laptop.nodeId}:stall:x`]);
  });
});

describe("delivery reports and limits", () => {
  test("404/410 removes the device; other failures are logged without the endpoint; the log keeps 20", async () => {
    const t = makeT();
    const owner = await addUser(t, OWNER);
    const sub = await subscription();
    const { deviceId } = await owner.as.mutation(api.notify.subscribe, { subscription: sub, label: "phone" });
    const { deviceId: other } = await owner.as.mutation(api.notify.subscribe, { subscription: await subscription(2), label: "laptop" });
    await t.mutation(internal.notify.recordDeliveries, {
      userId: owner.userId,
      results: [
        { channel: "push", op: "show", tag: "t1", ok: false, status: 429, error: "the push service refused the message (Too Many Requests)", deviceId: other },
        { channel: "push", op: "show", tag: "t1", ok: false, status: 410, error: "the push service dropped this subscription", deviceId, gone: true },
      ],
    });
    const devices = await owner.as.query(api.notify.devices, {});
    expect(devices).toMatchObject([{ _id: other, lastError: "HTTP 429: the push service refused the message (Too Many Requests)" }]);
    const log = await owner.as.query(api.notify.recentDeliveries, {});
    // Newest first: the report's last result on top.
    expect(log).toMatchObject([
      { channel: "push", tag: "t1", ok: false, status: 410, deviceLabel: "phone" },
      { channel: "push", tag: "t1", ok: false, status: 429, deviceLabel: "laptop" },
    ]);
    expect(JSON.stringify(log)).not.toContain("/send/");

    await t.mutation(internal.notify.recordDeliveries, {
      userId: owner.userId,
      results: Array.from({ length: 25 }, (_, i) => ({ channel: "ntfy" as const, op: "show" as const, tag: `n${i}`, ok: true, status: 200 })),
    });
    const kept = await owner.as.query(api.notify.recentDeliveries, {});
    expect(kept).toHaveLength(DELIVERIES_KEPT);
    expect(await t.run(async (ctx) => (await ctx.db.query("notifyDeliveries").collect()).length)).toBe(DELIVERIES_KEPT);
  });

  test("send test: a failed delivery when the channel is not set up; else one tina-test show to that channel", async () => {
    const t = makeT();
    const owner = await addUser(t, OWNER);
    await owner.as.mutation(api.notify.sendTest, { channel: "push" });
    expect(await owner.as.query(api.notify.recentDeliveries, {})).toMatchObject([{ channel: "push", tag: "tina-test", ok: false, error: "no device has notifications turned on" }]);
    await owner.as.mutation(api.notify.subscribe, { subscription: await subscription(), label: "phone" });
    await sent(t);
    await owner.as.mutation(api.notify.sendTest, { channel: "push" });
    const out = await sent(t, 0);
    expect(out).toMatchObject([{ userId: owner.userId, channels: ["push"], messages: [{ op: "show", tag: "tina-test", kind: "test" }] }]);
  });

  test("without VAPID keys push is skipped and recorded as one error, without a crash", async () => {
    const t = makeT();
    const owner = await addUser(t, OWNER);
    await owner.as.mutation(api.notify.subscribe, { subscription: await subscription(1), label: "phone" });
    await owner.as.mutation(api.notify.subscribe, { subscription: await subscription(2), label: "tablet" });
    await t.action(internal.notifyNode.deliver, { userId: owner.userId, messages: [{ op: "close", tag: "x" }, { op: "close", tag: "y" }] });
    const log = await owner.as.query(api.notify.recentDeliveries, {});
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ channel: "push", ok: false, error: expect.stringContaining("TINA_VAPID_PUBLIC_KEY") });
    // Again later: still one row, dated anew.
    vi.advanceTimersByTime(60_000);
    await t.action(internal.notifyNode.deliver, { userId: owner.userId, messages: [{ op: "close", tag: "z" }] });
    expect(await owner.as.query(api.notify.recentDeliveries, {})).toMatchObject([{ at: log[0].at + 60_000, tag: "z", ok: false }]);
  });

  test(`more users than one run takes (${MAX_USERS}): the next ones are evaluated right after`, async () => {
    const t = makeT();
    const { sync } = await world(t);
    for (let i = 0; i < MAX_USERS + 2; i++) {
      const u = await addUser(t, { name: `U${i}`, email: `u${i}@example.com`, role: "viewer" });
      await u.as.mutation(api.notify.subscribe, { subscription: await subscription(i), label: "phone" });
    }
    await sent(t);
    await sent(t, 10);
    await sync([need("stall:s1")]);
    const first = await sent(t);
    expect(first).toHaveLength(MAX_USERS);
    const rest = await sent(t, 10);
    expect(rest).toHaveLength(3);
    expect(new Set([...first, ...rest].map((d) => d.userId)).size).toBe(MAX_USERS + 3);
  });

  test("an evaluation over 200 open items, 3 users and their dismissals stays within Convex's limits", async () => {
    const t = makeT();
    const { sync } = await world(t);
    const users = [await addUser(t, { name: "A", email: "a@example.com", role: "viewer" }), await addUser(t, { name: "B", email: "b@example.com", role: "operator" })];
    for (const u of users) await u.as.mutation(api.notify.subscribe, { subscription: await subscription(), label: "phone" });
    await sent(t);
    const laptop = await t.run(async (ctx) => (await ctx.db.query("nodes").first())!._id);
    for (let i = 0; i < 20; i++) await users[0].as.mutation(api.needs.dismiss, { key: `laptop:${laptop}:stall:s${i}`, since: T0 });
    await sent(t);
    const items = Array.from({ length: 200 }, (_, i) => need(`stall:s${i}`, { kind: (["stalled", "idle_with_tasks", "stop_failure", "teammate_permission"] as const)[i % 4], detail: "x".repeat(2000), cause: undefined }));
    await sync(items);
    const out = await sent(t);
    expect(out).toHaveLength(3);
    for (const d of out) expect(d.messages).toMatchObject([{ tag: SUMMARY_TAG }]);
    expect(await t.run(async (ctx) => (await ctx.db.query("notifyState").collect()).length)).toBeGreaterThan(300);
  });
});
