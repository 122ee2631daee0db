// @vitest-environment edge-runtime
// Answering from a notification (issue 20): the setting (off by default, operators and owners
// only), the shows that carry actions, and the single-use token's rules: one use, expiry, the
// decisions it allows, the user still able to act, a plan changed since (conflict), the audit
// entry with client "notification". A refused answer changes nothing.
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "./_generated/api";
import type { Id } from "./_generated/dataModel";
import { COALESCE_MS, type NotifyMessage, type ShowMessage } from "./model/notify";
import { ANSWER_TTL_MS } from "./model/notifyAnswer";
import { OPERATOR, OWNER, T0, VIEWER, addUser, enroll, makeT, orchestration, phase, refusal, type T } from "./test.setup";

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
  process.env.TINA_OFFLINE_AFTER_MS = String(24 * 60 * 60_000);
});

afterEach(() => {
  vi.useRealTimers();
  delete process.env.TINA_OFFLINE_AFTER_MS;
});

const PLAN_PATH = "/home/dev/acme/.worktrees/billing-export/docs/plans/p1.md";
const HASH_A = "a".repeat(64);
const HASH_B = "b".repeat(64);
let counter = 0;

function b64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function subscription() {
  const pair = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"])) as CryptoKeyPair;
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { endpoint: `https://push.example.com/send/${crypto.randomUUID()}`, keys: { p256dh: b64url(raw), auth: b64url(crypto.getRandomValues(new Uint8Array(16))) } };
}

type Delivery = { userId: Id<"users">; messages: NotifyMessage[] };

/** Lets the coalesced evaluation run, then takes the deliveries it scheduled (cancelled: no network here). */
async function sent(t: T): Promise<Delivery[]> {
  vi.advanceTimersByTime(COALESCE_MS + 50);
  await t.finishInProgressScheduledFunctions();
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

const showsOf = (ds: Delivery[], userId?: Id<"users">) =>
  ds.filter((d) => userId === undefined || d.userId === userId).flatMap((d) => d.messages.filter((m): m is ShowMessage => m.op === "show"));

/** A laptop (operators may answer its prompts), an owner, an operator and a viewer, each with a subscribed phone. */
async function world(t: T) {
  const laptop = await enroll(t, "laptop-a");
  const owner = await addUser(t, OWNER);
  const operator = await addUser(t, OPERATOR);
  const viewer = await addUser(t, VIEWER);
  await owner.as.mutation(api.nodes.setMessaging, { nodeId: laptop.nodeId, messaging: "operators" });
  for (const u of [owner, operator, viewer]) await u.as.mutation(api.notify.subscribe, { subscription: await subscription(), label: "phone" });
  await sent(t);
  const openPrompt = async () => {
    const promptId = (++counter).toString(16).padStart(32, "0");
    const now = Date.now();
    await t.mutation(api.prompts.openPrompt, {
      nodeToken: laptop.token,
      promptId,
      sessionId: "0b6f3a0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
      toolName: "Bash",
      toolInput: '{"command":"npm test"}',
      description: "Run the tests",
      openedAt: now,
      expiresAt: now + 60_000,
    });
    return promptId;
  };
  /** An orchestration whose phase 1 plan (revision HASH_A) awaits approval. */
  const awaitingPlan = async () => {
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, {
      nodeToken: laptop.token,
      orchestration: orchestration({ status: "planning" }),
      phases: [phase("1", "awaiting_approval", { planPath: PLAN_PATH })],
    });
    await syncPlan(orchestrationId, HASH_A);
    return orchestrationId;
  };
  const syncPlan = (orchestrationId: Id<"orchestrations">, hash: string) =>
    t.mutation(api.documents.syncDocument, {
      nodeToken: laptop.token,
      orchestrationId,
      document: { kind: "plan", phaseNumber: "1", path: PLAN_PATH, content: `# plan ${hash.slice(0, 4)}`, hash, size: 11, truncated: false, missing: false },
    });
  return { laptop, owner, operator, viewer, openPrompt, awaitingPlan, syncPlan };
}

/** What notifyNode:deliver does for a show with `answer`: a random token, its hash stored. */
async function issue(t: T, userId: Id<"users">, show: ShowMessage): Promise<{ token: string; accepted: boolean }> {
  const token = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const [accepted] = await t.mutation(internal.notify.issueAnswers, { userId, answers: [{ tag: show.tag, tokenHash: await sha256Hex(token), spec: show.answer! }] });
  return { token, accepted: accepted! };
}

const promptRow = (t: T, promptId: string) => t.run((ctx) => ctx.db.query("prompts").withIndex("by_prompt_node", (q) => q.eq("promptId", promptId)).unique());
const table = <N extends "notifyAnswers" | "prompts" | "inboundActions" | "auditLog">(t: T, name: N) => t.run((ctx) => ctx.db.query(name).collect());
const snapshot = async (t: T) => JSON.stringify(await Promise.all([table(t, "notifyAnswers"), table(t, "prompts"), table(t, "inboundActions"), table(t, "auditLog")]));

describe("the setting", () => {
  test("off by default; a viewer may not turn it on; an operator may, and off again withdraws every unused token", async () => {
    const t = makeT();
    const w = await world(t);
    expect((await w.operator.as.query(api.notify.settings, {})).answering).toBe(false);
    expect(await refusal(w.viewer.as.mutation(api.notify.setAnswering, { enabled: true }))).toMatchObject({ code: "forbidden", message: expect.stringContaining("viewer") });
    expect((await w.viewer.as.query(api.notify.settings, {})).answering).toBe(false);
    // Turning it off is always allowed.
    await w.viewer.as.mutation(api.notify.setAnswering, { enabled: false });

    const promptId = await w.openPrompt();
    const before = showsOf(await sent(t), w.operator.userId).find((m) => m.tag === `prompt:${promptId}`)!;
    expect(before.answer).toBeUndefined();

    await w.operator.as.mutation(api.notify.setAnswering, { enabled: true });
    await w.operator.as.mutation(api.notify.setAnswering, { enabled: true }); // no change: no entry
    expect((await w.operator.as.query(api.notify.settings, {})).answering).toBe(true);
    const toggles = (await table(t, "auditLog")).filter((e) => e.verb === "user.notification_answering_changed");
    expect(toggles.map((e) => [e.actorId, e.detail])).toEqual([[w.operator.userId, "answering permission prompts and plans from notifications: on"]]);
    // The open prompt is shown again, now with its actions; to the operator only.
    const deliveries = await sent(t);
    const again = showsOf(deliveries, w.operator.userId).find((m) => m.tag === `prompt:${promptId}`)!;
    expect(again.answer).toEqual({ decisions: ["allow", "deny"], target: { kind: "prompt", promptId }, expiresAt: (await promptRow(t, promptId))!.expiresAt });
    expect(showsOf(deliveries, w.viewer.userId)).toEqual([]);
    expect(showsOf(deliveries, w.owner.userId)).toEqual([]);

    const { token, accepted } = await issue(t, w.operator.userId, again);
    expect(accepted).toBe(true);
    await w.operator.as.mutation(api.notify.setAnswering, { enabled: false });
    expect(await table(t, "notifyAnswers")).toEqual([]);
    expect(await refusal(t.mutation(api.notify.answer, { token, decision: "allow" }))).toMatchObject({ code: "unauthenticated" });
    expect((await promptRow(t, promptId))!.status).toBe("open");
    // Off: no token is issued any more.
    expect((await issue(t, w.operator.userId, again)).accepted).toBe(false);
  });

  test("a laptop whose prompts only owners answer: its prompts carry actions for the owner, not the operator", async () => {
    const t = makeT();
    const w = await world(t);
    await w.owner.as.mutation(api.nodes.setMessaging, { nodeId: w.laptop.nodeId, messaging: "owners" });
    await w.owner.as.mutation(api.notify.setAnswering, { enabled: true });
    await w.operator.as.mutation(api.notify.setAnswering, { enabled: true });
    const promptId = await w.openPrompt();
    const deliveries = await sent(t);
    const tag = `prompt:${promptId}`;
    expect(showsOf(deliveries, w.owner.userId).find((m) => m.tag === tag)!.answer?.decisions).toEqual(["allow", "deny"]);
    expect(showsOf(deliveries, w.operator.userId).find((m) => m.tag === tag)!.answer).toBeUndefined();
  });
});

describe("answering a permission prompt", () => {
  async function ready(t: T) {
    const w = await world(t);
    await w.operator.as.mutation(api.notify.setAnswering, { enabled: true });
    const promptId = await w.openPrompt();
    const show = showsOf(await sent(t), w.operator.userId).find((m) => m.tag === `prompt:${promptId}`)!;
    const { token } = await issue(t, w.operator.userId, show);
    return { ...w, promptId, show, token };
  }

  test("the token answers once, through answerPrompt, audited with client notification; a replay is refused and changes nothing", async () => {
    const t = makeT();
    const w = await ready(t);
    const stored = await table(t, "notifyAnswers");
    expect(stored).toHaveLength(1);
    // Only the hash is stored.
    expect(JSON.stringify(stored)).not.toContain(w.token);
    expect(stored[0]).toMatchObject({ userId: w.operator.userId, tag: `prompt:${w.promptId}`, decisions: ["allow", "deny"], tokenHash: await sha256Hex(w.token) });

    expect(await t.mutation(api.notify.answer, { token: w.token, decision: "allow" })).toEqual({ status: "answered", decision: "allow", detail: "allowed once" });
    const p = (await promptRow(t, w.promptId))!;
    expect(p).toMatchObject({ status: "answered", decision: "allow_once", answeredBy: w.operator.userId, answeredByName: OPERATOR.name });
    const audit = (await table(t, "auditLog")).filter((e) => e.verb === "prompt.answered");
    expect(audit).toEqual([expect.objectContaining({ actorKind: "user", actorId: w.operator.userId, actorName: OPERATOR.name, client: "notification", promptId: p._id })]);
    expect((await table(t, "notifyAnswers"))[0]).toMatchObject({ usedAt: Date.now(), decision: "allow" });

    const before = await snapshot(t);
    expect(await refusal(t.mutation(api.notify.answer, { token: w.token, decision: "allow" }))).toMatchObject({ code: "conflict", message: expect.stringContaining("already answered once") });
    expect(await refusal(t.mutation(api.notify.answer, { token: w.token, decision: "deny" }))).toMatchObject({ code: "conflict" });
    expect(await snapshot(t)).toBe(before);
  });

  test("forged and malformed tokens are refused as unauthenticated; nothing changes", async () => {
    const t = makeT();
    const w = await ready(t);
    const before = await snapshot(t);
    const forged = b64url(crypto.getRandomValues(new Uint8Array(32)));
    for (const token of [forged, "", "x".repeat(43), `${w.token}A`, w.token.slice(1), "../../etc/passwd"]) {
      expect(await refusal(t.mutation(api.notify.answer, { token, decision: "allow" })), token).toMatchObject({ code: "unauthenticated" });
    }
    expect(await snapshot(t)).toBe(before);
  });

  test("a decision the notification does not offer is refused and the token still works", async () => {
    const t = makeT();
    const w = await ready(t);
    const before = await snapshot(t);
    expect(await refusal(t.mutation(api.notify.answer, { token: w.token, decision: "approve" }))).toMatchObject({ code: "invalid_argument", field: "decision" });
    expect(await snapshot(t)).toBe(before);
    await t.mutation(api.notify.answer, { token: w.token, decision: "deny" });
    expect((await promptRow(t, w.promptId))!.decision).toBe("deny");
  });

  test("an expired token is refused; so is one whose user became a viewer", async () => {
    const t = makeT();
    const w = await ready(t);
    await w.owner.as.mutation(api.users.setRole, { userId: w.operator.userId, role: "viewer" });
    const before = await snapshot(t);
    expect(await refusal(t.mutation(api.notify.answer, { token: w.token, decision: "allow" }))).toMatchObject({ code: "forbidden", message: expect.stringContaining("viewer") });
    expect(await snapshot(t)).toBe(before);

    await w.owner.as.mutation(api.users.setRole, { userId: w.operator.userId, role: "operator" });
    // The prompt's own deadline (60 s) bounds the token.
    vi.setSystemTime((await table(t, "notifyAnswers"))[0]!.expiresAt);
    expect(await refusal(t.mutation(api.notify.answer, { token: w.token, decision: "allow" }))).toMatchObject({ code: "conflict", message: expect.stringContaining("expired") });
    expect((await table(t, "notifyAnswers"))[0]!.usedAt).toBeUndefined();
  });

  test("a prompt answered in the dashboard meanwhile: refused as the dashboard refuses it (conflict)", async () => {
    const t = makeT();
    const w = await ready(t);
    await w.owner.as.mutation(api.prompts.answer, { promptId: w.promptId, decision: "deny" });
    expect(await refusal(t.mutation(api.notify.answer, { token: w.token, decision: "allow" }))).toMatchObject({ code: "conflict", message: expect.stringContaining("already answered") });
    expect((await promptRow(t, w.promptId))!.decision).toBe("deny");
  });
});

describe("approving a plan", () => {
  async function ready(t: T) {
    const w = await world(t);
    await w.operator.as.mutation(api.notify.setAnswering, { enabled: true });
    const orchestrationId = await w.awaitingPlan();
    const show = showsOf(await sent(t), w.operator.userId).find((m) => m.kind === "plan_approval")!;
    return { ...w, orchestrationId, show };
  }

  test("the show carries the revision current then; approving queues approve_plan with it, audited with client notification", async () => {
    const t = makeT();
    const w = await ready(t);
    expect(w.show.answer).toEqual({ decisions: ["approve"], target: { kind: "plan", orchestrationId: w.orchestrationId, phase: "1", planHash: HASH_A }, expiresAt: expect.any(Number) });
    expect(w.show.answer!.expiresAt - Date.now()).toBeGreaterThan(ANSWER_TTL_MS - 5_000);
    expect(w.show.answer!.expiresAt - Date.now()).toBeLessThanOrEqual(ANSWER_TTL_MS);
    const { token } = await issue(t, w.operator.userId, w.show);
    const out = await t.mutation(api.notify.answer, { token, decision: "approve" });
    expect(out).toMatchObject({ status: "answered", decision: "approve" });
    const [action] = await table(t, "inboundActions");
    expect(action).toMatchObject({ _id: out.actionId, type: "approve_plan", status: "pending", submittedBy: w.operator.userId, payload: { feature: "billing-export", phase: "1", planHash: HASH_A } });
    const audit = (await table(t, "auditLog")).filter((e) => e.verb === "action.submitted");
    expect(audit).toEqual([expect.objectContaining({ actorId: w.operator.userId, client: "notification", actionId: out.actionId, actionType: "approve_plan" })]);
    expect(await refusal(t.mutation(api.notify.answer, { token, decision: "approve" }))).toMatchObject({ code: "conflict" });
    expect(await table(t, "inboundActions")).toHaveLength(1);
  });

  test("a plan changed since the notification: refused with conflict, nothing queued; the new revision is shown again with a new answer", async () => {
    const t = makeT();
    const w = await ready(t);
    const { token } = await issue(t, w.operator.userId, w.show);
    await w.syncPlan(w.orchestrationId, HASH_B);
    const before = await snapshot(t);
    expect(await refusal(t.mutation(api.notify.answer, { token, decision: "approve" }))).toMatchObject({ code: "conflict", field: "planHash", message: expect.stringContaining("changed on the laptop") });
    expect(await snapshot(t)).toBe(before);
    expect(await refusal(t.mutation(api.notify.answer, { token, decision: "allow" }))).toMatchObject({ code: "invalid_argument", field: "decision" });
    // Any trigger re-evaluates: the changed revision is a changed notification.
    await w.openPrompt();
    const again = showsOf(await sent(t), w.operator.userId).find((m) => m.kind === "plan_approval");
    expect(again?.answer?.target).toMatchObject({ planHash: HASH_B });
  });
});
