// @vitest-environment edge-runtime
import { afterEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "./_generated/api";
import type { Id } from "./_generated/dataModel";
import { OFFLINE_AFTER_MS } from "./model/nodes";
import { QUOTA } from "./model/usage";
import schema from "./schema";
import {
  addUser,
  ENROLLMENT_SECRET,
  OPERATOR,
  OWNER,
  signedIn,
  enroll,
  lastCallMetrics,
  tablesTouched,
  makeT,
  orchestration,
  phase,
  refusal,
  T0,
  VIEWER,
  type T,
} from "./test.setup";

const health = {
  daemonVersion: "0.1.0",
  startedAt: Date.UTC(2026, 10, 21),
  uptimeSecs: 12,
  outboxDepth: 0,
  actors: [{ id: "heartbeat", state: "running", restarts: 0 }],
};

afterEach(() => {
  vi.useRealTimers();
});

describe("enrollNode", () => {
  test("a wrong or missing secret is refused and creates nothing", async () => {
    const t = makeT();
    const err = await refusal(t.mutation(api.nodes.enrollNode, { enrollmentSecret: "nope", name: "a", os: "darwin" }));
    expect(err.code).toBe("unauthenticated");
    delete process.env.TINA_ENROLLMENT_SECRET;
    const disabled = await refusal(t.mutation(api.nodes.enrollNode, { enrollmentSecret: "", name: "a", os: "darwin" }));
    expect(disabled.code).toBe("forbidden");
    expect(await t.run((ctx) => ctx.db.query("nodes").collect())).toHaveLength(0);
  });

  test("stores only a hash of the credential", async () => {
    const t = makeT();
    const { nodeId, token } = await enroll(t);
    const node = await t.run((ctx) => ctx.db.get("nodes", nodeId));
    expect(token).toMatch(/^tina_node_[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(node)).not.toContain(token);
    expect(node!.credentialHash).toMatch(/^[0-9a-f]{64}$/);
  });

  test("enrolling the same laptop again keeps one node and re-keys it", async () => {
    const t = makeT();
    const first = await enroll(t, "laptop-a");
    const second = await enroll(t, "laptop-a");
    expect(second.nodeId).toBe(first.nodeId);
    expect(await t.run((ctx) => ctx.db.query("nodes").collect())).toHaveLength(1);
    const err = await refusal(t.mutation(api.nodes.registerNode, { nodeToken: first.token, os: "darwin" }));
    expect(err.code).toBe("unauthenticated");
    const verbs = await t.run((ctx) => ctx.db.query("auditLog").withIndex("by_node_at", (q) => q.eq("nodeId", first.nodeId)).collect());
    expect(verbs.map((e) => e.verb)).toEqual(["node.enrolled", "node.rekeyed"]);
    expect(verbs[1].detail).toMatch(/^re-keyed with the deployment's enrollment secret; the previous credential stopped working/);
  });

  test("rejects unsafe names", async () => {
    const t = makeT();
    for (const name of ["", "../x", "a b", "x".repeat(64), "a;rm -rf /"]) {
      const err = await refusal(t.mutation(api.nodes.enrollNode, { enrollmentSecret: ENROLLMENT_SECRET, name, os: "darwin" }));
      expect(err).toMatchObject({ code: "invalid_argument", field: "name" });
    }
  });
});

describe("enrollment codes (\"add a laptop\")", () => {
  const enrollWith = (t: ReturnType<typeof makeT>, code: string, name = "laptop-c") =>
    t.mutation(api.nodes.enrollNode, { enrollmentSecret: code, name, os: "darwin" });

  test("the owner creates a one-time code; a laptop enrolls with it once, typed loosely", async () => {
    const t = makeT();
    const owner = await signedIn(t, OWNER);
    const { code, expiresAt } = await owner.mutation(api.nodes.createEnrollmentCode, {});
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    expect(expiresAt - Date.now()).toBeGreaterThan(14 * 60_000);
    const stored = await t.run(async (ctx) => [await ctx.db.query("enrollmentCodes").collect(), await ctx.db.query("auditLog").collect()]);
    expect(JSON.stringify(stored)).not.toContain(code);
    expect(JSON.stringify(stored)).not.toContain(code.replace(/-/g, ""));
    const { credential, nodeId } = await enrollWith(t, ` ${code.toLowerCase().replace(/-/g, " ")} `);
    expect((await t.mutation(api.nodes.registerNode, { nodeToken: credential, os: "darwin" })).nodeId).toBe(nodeId);
    const again = await refusal(enrollWith(t, code, "laptop-d"));
    expect(again).toMatchObject({ code: "unauthenticated" });
    expect(again.message).toMatch(/already used/);
  });

  test("a code expires after 15 minutes and works without a deployment secret", async () => {
    vi.useFakeTimers();
    const t = makeT();
    delete process.env.TINA_ENROLLMENT_SECRET;
    const owner = await signedIn(t, OWNER);
    const first = await owner.mutation(api.nodes.createEnrollmentCode, {});
    await enrollWith(t, first.code);
    const second = await owner.mutation(api.nodes.createEnrollmentCode, {});
    vi.advanceTimersByTime(15 * 60_000 + 1);
    expect((await refusal(enrollWith(t, second.code, "laptop-e"))).message).toMatch(/expired/);
    expect((await refusal(enrollWith(t, "", "laptop-e"))).code).toBe("forbidden");
    expect(await t.run((ctx) => ctx.db.query("nodes").collect())).toHaveLength(1);
  });

  test("a code for a named laptop enrolls only that one, and may re-admit it after revocation", async () => {
    const t = makeT();
    const owner = await signedIn(t, OWNER);
    const { nodeId, token } = await enroll(t, "laptop-a");
    await owner.mutation(api.nodes.revokeNode, { nodeId });
    // An unbound code cannot bring a revoked laptop back.
    const loose = await owner.mutation(api.nodes.createEnrollmentCode, {});
    expect((await refusal(enrollWith(t, loose.code, "laptop-a"))).code).toBe("forbidden");
    const bound = await owner.mutation(api.nodes.createEnrollmentCode, { nodeName: "laptop-a" });
    expect((await refusal(enrollWith(t, bound.code, "laptop-b"))).message).toMatch(/for laptop "laptop-a"/);
    const back = await enrollWith(t, bound.code, "laptop-a");
    expect(back.nodeId).toBe(nodeId);
    expect((await t.mutation(api.nodes.registerNode, { nodeToken: back.credential, os: "darwin" })).nodeId).toBe(nodeId);
    // The old credential stays dead.
    expect((await refusal(t.mutation(api.nodes.registerNode, { nodeToken: token, os: "darwin" }))).code).toBe("unauthenticated");
    const verbs = await owner.query(api.audit.list, { paginationOpts: { numItems: 20, cursor: null }, nodeId });
    expect(verbs.page.filter((e) => e.verb === "node.rekeyed").map((e) => e.detail)).toEqual([expect.stringMatching(/^re-admitted after revocation with a one-time code for "laptop-a"/)]);
  });

  test("a code created without a name cannot re-key an existing laptop: refused, nothing changes", async () => {
    const t = makeT();
    const owner = await signedIn(t, OWNER);
    const { nodeId, token } = await enroll(t, "laptop-a");
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, { nodeToken: token, orchestration: orchestration(), phases: [phase("1", "planning")] });
    const queued = await owner.mutation(api.actions.submitAction, { action: { type: "pause", orchestrationId, phase: "1" }, idempotencyKey: "rekey-queued-1" });
    const loose = await owner.mutation(api.nodes.createEnrollmentCode, {});
    const before = await t.run(async (ctx) => JSON.stringify([await ctx.db.query("nodes").collect(), await ctx.db.query("inboundActions").collect(), await ctx.db.query("auditLog").collect()]));
    const err = await refusal(enrollWith(t, loose.code, "laptop-a"));
    expect(err).toMatchObject({ code: "forbidden", field: "name" });
    expect(err.message).toContain('laptop "laptop-a" is already enrolled');
    expect(err.message).toContain("created without a laptop name");
    expect(err.message).toContain('create a code for "laptop-a"');
    const after = await t.run(async (ctx) => JSON.stringify([await ctx.db.query("nodes").collect(), await ctx.db.query("inboundActions").collect(), await ctx.db.query("auditLog").collect()]));
    expect(after).toBe(before);
    // The real laptop keeps its credential and still receives its queued action.
    expect((await t.mutation(api.nodes.registerNode, { nodeToken: token, os: "darwin" })).nodeId).toBe(nodeId);
    expect((await t.query(api.actions.pendingActions, { nodeToken: token })).map((a) => a._id)).toEqual([queued.actionId]);
    // The refused code was not spent: it still adds a new laptop.
    const fresh = await enrollWith(t, loose.code, "laptop-new");
    expect(fresh.nodeId).not.toBe(nodeId);
  });

  test("a code created without a name adds a new laptop, audited as an enrollment", async () => {
    const t = makeT();
    const owner = await signedIn(t, OWNER);
    const { code } = await owner.mutation(api.nodes.createEnrollmentCode, {});
    const { nodeId, credential } = await enrollWith(t, code, "laptop-new");
    expect((await t.mutation(api.nodes.registerNode, { nodeToken: credential, os: "darwin" })).nodeId).toBe(nodeId);
    const entries = (await owner.query(api.audit.list, { paginationOpts: { numItems: 20, cursor: null }, nodeId })).page;
    expect(entries.map((e) => [e.verb, e.actorKind, e.nodeName])).toEqual([["node.enrolled", "node", "laptop-new"]]);
    expect(entries[0].detail).toMatch(/^enrolled with a one-time code from Oscar Owner/);
  });

  test("a code created for a laptop's name re-keys exactly that laptop, audited as a re-key", async () => {
    const t = makeT();
    const owner = await signedIn(t, OWNER);
    const a = await enroll(t, "laptop-a");
    const b = await enroll(t, "laptop-b");
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, { nodeToken: a.token, orchestration: orchestration(), phases: [phase("1", "planning")] });
    const queued = await owner.mutation(api.actions.submitAction, { action: { type: "pause", orchestrationId, phase: "1" }, idempotencyKey: "rekey-queued-2" });
    const hashOf = (id: typeof a.nodeId) => t.run(async (ctx) => (await ctx.db.get("nodes", id))!.credentialHash);
    const bHash = await hashOf(b.nodeId);
    const bound = await owner.mutation(api.nodes.createEnrollmentCode, { nodeName: "laptop-a" });
    const again = await enrollWith(t, bound.code, "laptop-a");
    expect(again.nodeId).toBe(a.nodeId);
    expect(await t.run((ctx) => ctx.db.query("nodes").collect())).toHaveLength(2);
    expect(await hashOf(b.nodeId)).toBe(bHash);
    expect((await refusal(t.mutation(api.nodes.registerNode, { nodeToken: a.token, os: "darwin" }))).code).toBe("unauthenticated");
    // The laptop with the new credential is the same laptop: its queued action is still its own.
    expect((await t.query(api.actions.pendingActions, { nodeToken: again.credential })).map((x) => x._id)).toEqual([queued.actionId]);
    const entries = (await owner.query(api.audit.list, { paginationOpts: { numItems: 20, cursor: null }, nodeId: a.nodeId })).page;
    const rekeyed = entries.filter((e) => e.verb === "node.rekeyed");
    expect(rekeyed).toHaveLength(1);
    expect(rekeyed[0]).toMatchObject({ actorKind: "node", nodeName: "laptop-a" });
    expect(rekeyed[0].detail).toMatch(/^re-keyed with a one-time code for "laptop-a" from Oscar Owner; the previous credential stopped working/);
    // The first enrollment stays the only `node.enrolled` of this laptop.
    expect(entries.filter((e) => e.verb === "node.enrolled")).toHaveLength(1);
  });

  test("only the owner creates codes and revokes laptops", async () => {
    const t = makeT();
    const { nodeId } = await enroll(t);
    const operator = await signedIn(t, OPERATOR);
    expect((await refusal(operator.mutation(api.nodes.createEnrollmentCode, {}))).code).toBe("forbidden");
    expect((await refusal(operator.mutation(api.nodes.revokeNode, { nodeId }))).code).toBe("forbidden");
    expect((await refusal(t.mutation(api.nodes.createEnrollmentCode, {}))).code).toBe("unauthenticated");
  });
});

describe("who may message a laptop's agents", () => {
  test("a laptop starts with owners only; the dashboard reads the rule", async () => {
    const t = makeT();
    const { nodeId, token } = await enroll(t);
    const viewer = await signedIn(t, VIEWER);
    expect(await viewer.query(api.nodes.listNodes, {})).toMatchObject([{ _id: nodeId, messaging: "owners" }]);
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, { nodeToken: token, orchestration: orchestration(), phases: [] });
    expect(await viewer.query(api.orchestrations.getOrchestrationDetail, { orchestrationId })).toMatchObject({ nodeMessaging: "owners" });
  });

  test("the owner changes it, audited; the same rule again changes and records nothing", async () => {
    const t = makeT();
    const { nodeId, token } = await enroll(t);
    const owner = await addUser(t, OWNER);
    const viewer = await signedIn(t, VIEWER);
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, { nodeToken: token, orchestration: orchestration(), phases: [] });
    const changes = () => t.run((ctx) => ctx.db.query("auditLog").withIndex("by_node_at", (q) => q.eq("nodeId", nodeId)).collect()).then((l) => l.filter((e) => e.verb === "node.messaging_changed"));
    expect(await owner.as.mutation(api.nodes.setMessaging, { nodeId, messaging: "operators", client: "tina-web/0.1" })).toEqual({ changed: true });
    expect(await viewer.query(api.nodes.listNodes, {})).toMatchObject([{ messaging: "operators" }]);
    expect(await viewer.query(api.orchestrations.getOrchestrationDetail, { orchestrationId })).toMatchObject({ nodeMessaging: "operators" });
    expect(await owner.as.mutation(api.nodes.setMessaging, { nodeId, messaging: "operators" })).toEqual({ changed: false });
    expect(await owner.as.mutation(api.nodes.setMessaging, { nodeId, messaging: "nobody" })).toEqual({ changed: true });
    const entries = await changes();
    expect(entries.map((e) => [e.actorKind, e.actorId, e.actorName, e.nodeName, e.outcome])).toEqual([
      ["user", owner.userId, OWNER.name, "laptop-a", "ok"],
      ["user", owner.userId, OWNER.name, "laptop-a", "ok"],
    ]);
    expect(entries[0]).toMatchObject({ client: "tina-web/0.1" });
    expect(entries[0].detail).toBe('messages to agents on laptop "laptop-a": owners only → owners and operators');
    expect(entries[1].detail).toBe('messages to agents on laptop "laptop-a": owners and operators → nobody');
    // Setting the default explicitly on a fresh laptop is no change either.
    const b = await enroll(t, "laptop-b");
    expect(await owner.as.mutation(api.nodes.setMessaging, { nodeId: b.nodeId, messaging: "owners" })).toEqual({ changed: false });
  });

  test("nobody but the owner can change it: refused, nothing changes", async () => {
    const t = makeT();
    const { nodeId } = await enroll(t);
    const before = await t.run(async (ctx) => JSON.stringify([await ctx.db.get("nodes", nodeId), await ctx.db.query("auditLog").collect()]));
    for (const person of [OPERATOR, VIEWER]) {
      const err = await refusal((await signedIn(t, person)).mutation(api.nodes.setMessaging, { nodeId, messaging: "operators" }));
      expect(err.code).toBe("forbidden");
    }
    expect((await refusal(t.mutation(api.nodes.setMessaging, { nodeId, messaging: "operators" }))).code).toBe("unauthenticated");
    const owner = await signedIn(t, OWNER);
    await expect(owner.mutation(api.nodes.setMessaging, { nodeId, messaging: "everyone" as never })).rejects.toThrow(/Validator/);
    expect(await t.run(async (ctx) => JSON.stringify([await ctx.db.get("nodes", nodeId), await ctx.db.query("auditLog").collect()]))).toBe(before);
  });
});

describe("revocation", () => {
  test("cancels the laptop's queued actions, interrupts running ones, and stops its daemon", async () => {
    const t = makeT();
    const owner = await signedIn(t, OWNER);
    const { nodeId, token } = await enroll(t);
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, { nodeToken: token, orchestration: orchestration(), phases: [phase("1", "planning")] });
    const submit = (key: string) => owner.mutation(api.actions.submitAction, { action: { type: "pause", orchestrationId, phase: "1" }, idempotencyKey: key });
    const queued = await submit("revoke-queued-1");
    const running = await submit("revoke-running-1");
    await t.mutation(api.actions.claimAction, { nodeToken: token, actionId: running.actionId, leaseOwner: "d" });
    expect(await owner.mutation(api.nodes.revokeNode, { nodeId })).toEqual({ revoked: true });
    expect(await owner.mutation(api.nodes.revokeNode, { nodeId })).toEqual({ revoked: false });
    const statuses = await t.run(async (ctx) => [(await ctx.db.get("inboundActions", queued.actionId))!.status, (await ctx.db.get("inboundActions", running.actionId))!.status]);
    expect(statuses).toEqual(["cancelled", "interrupted"]);
    for (const call of [
      t.query(api.actions.pendingActions, { nodeToken: token }),
      t.mutation(api.actions.completeAction, { nodeToken: token, actionId: running.actionId, leaseOwner: "d", result: { ok: true, code: "ok", message: "" } }),
    ]) {
      expect(await refusal(call)).toMatchObject({ code: "revoked" });
    }
    // Nothing new can be queued for it.
    expect((await refusal(submit("revoke-after-1"))).code).toBe("forbidden");
  });

  test("deletes the laptop's quota rows, at most the most a laptop keeps; other laptops' stay", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const owner = await signedIn(t, OWNER);
    const a = await enroll(t, "laptop-a");
    const b = await enroll(t, "laptop-b");
    const fiveHour = { usedPct: 10, resetsAt: T0 + 3_600_000 };
    for (let i = 0; i < QUOTA.accounts; i++) {
      await t.mutation(api.usage.recordQuota, { nodeToken: a.token, account: `~/.claude-${i}`, observedAt: T0, fiveHour });
    }
    await t.mutation(api.usage.recordQuota, { nodeToken: b.token, observedAt: T0, fiveHour });
    const quotaOf = () => t.run(async (ctx) => (await ctx.db.query("usageQuota").collect()).map((r) => r.nodeId));
    expect(await quotaOf()).toHaveLength(QUOTA.accounts + 1);
    expect(await owner.mutation(api.nodes.revokeNode, { nodeId: a.nodeId })).toEqual({ revoked: true });
    expect(lastCallMetrics().documentsWritten).toBeLessThanOrEqual(QUOTA.accounts + 10);
    expect(await quotaOf()).toEqual([b.nodeId]);
    expect((await owner.query(api.usage.fleetQuota, {})).map((r) => r.nodeName)).toEqual(["laptop-b"]);
  });
});

describe("node credentials", () => {
  test("missing, malformed, unknown and revoked credentials are refused", async () => {
    const t = makeT();
    const { nodeId, token } = await enroll(t);
    for (const [nodeToken, code] of [
      ["", "unauthenticated"],
      ["garbage", "unauthenticated"],
      ["tina_node_" + "A".repeat(43), "unauthenticated"],
    ] as const) {
      expect((await refusal(t.mutation(api.nodes.heartbeat, { nodeToken, health }))).code).toBe(code);
    }
    await (await signedIn(t, OWNER)).mutation(api.nodes.revokeNode, { nodeId });
    const err = await refusal(t.mutation(api.nodes.heartbeat, { nodeToken: token, health }));
    expect(err.code).toBe("revoked");
    const reEnroll = await refusal(
      t.mutation(api.nodes.enrollNode, { enrollmentSecret: ENROLLMENT_SECRET, name: "laptop-a", os: "darwin" }),
    );
    expect(reEnroll.code).toBe("forbidden");
  });
});

/** Every document of every table but `presence` and the scheduler's. */
async function everythingElse(t: T) {
  return await t.run(async (ctx) => {
    const out: Record<string, unknown[]> = {};
    for (const table of Object.keys(schema.tables).filter((name) => name !== "presence")) {
      out[table] = await ctx.db.query(table as keyof typeof schema.tables).collect();
    }
    return out;
  });
}

const status = async (t: T, nodeId: Id<"nodes">) => (await t.run((ctx) => ctx.db.get("nodes", nodeId)))!.status;
const presenceOf = async (t: T, nodeId: Id<"nodes">) =>
  (await t.run((ctx) => ctx.db.query("presence").withIndex("by_node", (q) => q.eq("nodeId", nodeId)).unique()))!;
const checksRun = async (t: T) =>
  (await t.run((ctx) => ctx.db.system.query("_scheduled_functions").collect())).filter(
    (j) => j.name === "nodes:checkOffline" && j.state.kind !== "canceled" && j.state.kind !== "pending",
  ).length;

describe("presence", () => {
  test("heartbeats and other calls of a laptop write nothing the dashboard queries read", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const a = await enroll(t, "laptop-a");
    await t.mutation(api.orchestrations.syncOrchestration, { nodeToken: a.token, orchestration: orchestration(), phases: [phase("1", "executing")] });
    await t.mutation(api.nodes.heartbeat, { nodeToken: a.token, health });
    const viewer = await signedIn(t);
    const dashboards = async () => [
      await viewer.query(api.nodes.listNodes, {}),
      await viewer.query(api.orchestrations.listOrchestrations, {}),
      await viewer.query(api.needs.needsYou, {}),
    ];
    const { read } = await tablesTouched(dashboards);
    expect(read).toContain("nodes");
    const before = { results: await dashboards(), stored: await everythingElse(t) };

    const written = new Set<string>();
    for (let i = 1; i <= 10; i++) {
      vi.advanceTimersByTime(30_000);
      // The uptime ticks, the last sync moves on with nothing waiting: nothing a person sees.
      const beat = { ...health, uptimeSecs: 12 + 30 * i, lastSyncAt: T0 + 30_000 * i };
      const touched = await tablesTouched(async () => {
        expect((await t.mutation(api.nodes.heartbeat, { nodeToken: a.token, health: beat })).healthStored).toBe(false);
        await t.mutation(api.actions.interruptStaleActions, { nodeToken: a.token, leaseOwner: "daemon-1" });
      });
      for (const table of touched.written) written.add(table);
    }
    expect([...written]).toEqual(["presence"]);
    expect([...read].filter((table) => written.has(table))).toEqual([]);
    expect({ results: await dashboards(), stored: await everythingElse(t) }).toEqual(before);
    expect((await presenceOf(t, a.nodeId)).lastBeatAt).toBe(Date.now());
    // Still online: every beat moved the pending check (none of them ran).
    await t.finishInProgressScheduledFunctions();
    expect(await checksRun(t)).toBe(0);

    // What a person sees changed: stored, once.
    const waiting = { ...health, outboxDepth: 3, lastSyncAt: T0 };
    expect((await t.mutation(api.nodes.heartbeat, { nodeToken: a.token, health: waiting })).healthStored).toBe(true);
    expect((await t.mutation(api.nodes.heartbeat, { nodeToken: a.token, health: { ...waiting, uptimeSecs: 999 } })).healthStored).toBe(false);
    expect((await viewer.query(api.nodes.listNodes, {}))[0].health).toMatchObject({ outboxDepth: 3, lastSyncAt: T0 });
  });

  test("a heartbeat reads the laptop and its presence row: its pending check, known by its time, is cancelled unread", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const a = await enroll(t);
    // The first beat stores the health (the node row is patched); the next ones write presence only.
    await t.mutation(api.nodes.heartbeat, { nodeToken: a.token, health });
    const reads: number[] = [];
    for (let i = 0; i < 3; i++) {
      vi.advanceTimersByTime(60_000);
      await t.mutation(api.nodes.heartbeat, { nodeToken: a.token, health });
      reads.push(lastCallMetrics().documentsRead);
    }
    // The node (by its credential), the presence row, and the cancelled check (the cancel itself).
    expect(reads).toEqual([3, 3, 3]);
    const row = await presenceOf(t, a.nodeId);
    expect(row.offlineCheckAt).toBe(Date.now() + OFFLINE_AFTER_MS);
    const job = await t.run((ctx) => ctx.db.system.get("_scheduled_functions", row.offlineCheck!));
    expect(job).toMatchObject({ scheduledTime: row.offlineCheckAt, state: { kind: "pending" } });
    // A check stored without its time (an older version) is read before it is cancelled.
    await t.run((ctx) => ctx.db.patch("presence", row._id, { offlineCheckAt: undefined }));
    vi.advanceTimersByTime(60_000);
    await t.mutation(api.nodes.heartbeat, { nodeToken: a.token, health });
    expect(lastCallMetrics().documentsRead).toBe(4);
    await t.finishInProgressScheduledFunctions();
    expect(await checksRun(t)).toBe(0);
    expect(await status(t, a.nodeId)).toBe("online");
  });

  test("a laptop goes offline one threshold after its last call, by one scheduled check; any call brings it back", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const a = await enroll(t);
    const viewer = await signedIn(t);
    const listed = async () => (await viewer.query(api.nodes.listNodes, {}))[0];
    expect(await listed()).toMatchObject({ online: true, lastHeartbeat: T0 });
    // Syncs alone keep it online (no heartbeat at all), for ten minutes.
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(60_000);
      await t.mutation(api.actions.interruptStaleActions, { nodeToken: a.token, leaseOwner: "daemon-1" });
      await t.finishInProgressScheduledFunctions();
    }
    const lastCall = Date.now();
    expect(await status(t, a.nodeId)).toBe("online");
    vi.advanceTimersByTime(OFFLINE_AFTER_MS - 1);
    await t.finishInProgressScheduledFunctions();
    expect(await status(t, a.nodeId)).toBe("online");
    vi.advanceTimersByTime(1);
    await t.finishInProgressScheduledFunctions();
    expect(await status(t, a.nodeId)).toBe("offline");
    expect(await checksRun(t)).toBe(1);
    // Offline since its last sign of life.
    expect(await listed()).toMatchObject({ online: false, lastHeartbeat: lastCall });
    expect((await viewer.query(api.needs.needsYou, {})).items.filter((i) => i.kind === "offline_laptop")).toMatchObject([{ since: lastCall }]);

    vi.advanceTimersByTime(5 * 60_000);
    await t.mutation(api.nodes.heartbeat, { nodeToken: a.token, health });
    expect(await listed()).toMatchObject({ online: true, lastHeartbeat: Date.now() });
  });

  test("a clean stop signs off: offline at once, no check left to run; revocation too", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const a = await enroll(t, "a");
    const b = await enroll(t, "b");
    expect(await t.mutation(api.nodes.signOff, { nodeToken: a.token })).toEqual({ offline: true });
    expect(await status(t, a.nodeId)).toBe("offline");
    expect(await t.mutation(api.nodes.signOff, { nodeToken: a.token })).toEqual({ offline: false });
    const owner = await signedIn(t, OWNER);
    await owner.mutation(api.nodes.revokeNode, { nodeId: b.nodeId });
    expect((await presenceOf(t, b.nodeId)).online).toBe(false);
    vi.advanceTimersByTime(OFFLINE_AFTER_MS + 1000);
    await t.finishInProgressScheduledFunctions();
    expect(await checksRun(t)).toBe(0);
    await t.mutation(api.nodes.registerNode, { nodeToken: a.token, os: "darwin" });
    expect(await status(t, a.nodeId)).toBe("online");
  });

  test("registerNode twice leaves the same state and tells the daemon the threshold", async () => {
    const t = makeT();
    const { nodeId, token } = await enroll(t);
    const a = await t.mutation(api.nodes.registerNode, { nodeToken: token, os: "darwin" });
    const b = await t.mutation(api.nodes.registerNode, { nodeToken: token, os: "darwin" });
    expect(a).toMatchObject({ nodeId, offlineAfterMs: OFFLINE_AFTER_MS });
    expect(b.nodeId).toBe(nodeId);
    const nodes = await t.run((ctx) => ctx.db.query("nodes").collect());
    expect(nodes).toHaveLength(1);
    expect(nodes[0].status).toBe("online");
  });

  test("TINA_OFFLINE_AFTER_MS sets the offline threshold (at least 2 s); unset or invalid means 120 s", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const { nodeId, token } = await enroll(t);
    const offlineAfter = async (ms: number) => {
      await t.mutation(api.nodes.heartbeat, { nodeToken: token, health });
      expect(await status(t, nodeId)).toBe("online");
      vi.advanceTimersByTime(ms - 1);
      await t.finishInProgressScheduledFunctions();
      expect(await status(t, nodeId)).toBe("online");
      vi.advanceTimersByTime(1);
      await t.finishInProgressScheduledFunctions();
      expect(await status(t, nodeId)).toBe("offline");
    };
    try {
      await t.mutation(api.nodes.signOff, { nodeToken: token });
      process.env.TINA_OFFLINE_AFTER_MS = "5000";
      await offlineAfter(5000);
      expect((await (await signedIn(t)).query(api.needs.needsYou, {})).items.filter((i) => i.kind === "offline_laptop")).toHaveLength(1);
      process.env.TINA_OFFLINE_AFTER_MS = "10"; // below the minimum: 2 s
      await offlineAfter(2000);
      process.env.TINA_OFFLINE_AFTER_MS = "soon"; // not a number: the default
      await offlineAfter(120_000);
    } finally {
      delete process.env.TINA_OFFLINE_AFTER_MS;
    }
  });

  test("the cron flips quiet laptops whose check never ran, and online ones without presence; leaves fresh ones", async () => {
    const t = makeT();
    const a = await enroll(t, "a");
    const b = await enroll(t, "b");
    const c = await enroll(t, "c");
    await t.run(async (ctx) => {
      const row = await ctx.db.query("presence").withIndex("by_node", (q) => q.eq("nodeId", a.nodeId)).unique();
      await ctx.db.patch("presence", row!._id, { lastBeatAt: Date.now() - 200_000 });
      const rowC = await ctx.db.query("presence").withIndex("by_node", (q) => q.eq("nodeId", c.nodeId)).unique();
      await ctx.db.delete("presence", rowC!._id); // as left by an older version
      await ctx.db.patch("nodes", c.nodeId, { lastHeartbeat: Date.now() - 200_000 });
    });
    expect(await t.mutation(internal.nodes.markStaleOffline, {})).toBe(2);
    const nodes = await t.run((ctx) => ctx.db.query("nodes").collect());
    expect(Object.fromEntries(nodes.map((n) => [n.name, n.status]))).toEqual({ a: "offline", b: "online", c: "offline" });
    expect(await status(t, b.nodeId)).toBe("online");
  });

  test("health is validated", async () => {
    const t = makeT();
    const { token } = await enroll(t);
    const err = await refusal(t.mutation(api.nodes.heartbeat, { nodeToken: token, health: { ...health, outboxDepth: -1 } }));
    expect(err).toMatchObject({ code: "invalid_argument", field: "health.outboxDepth" });
    const many = Array.from({ length: 100 }, (_, i) => ({ id: `a${i}`, state: "running", restarts: 0 }));
    expect((await refusal(t.mutation(api.nodes.heartbeat, { nodeToken: token, health: { ...health, actors: many } }))).field).toBe(
      "health.actors",
    );
  });
});

describe("dashboard access", () => {
  test("listNodes needs a signed-in user and never returns credential hashes", async () => {
    const t = makeT();
    await enroll(t);
    expect((await refusal(t.query(api.nodes.listNodes, {}))).code).toBe("unauthenticated");
    const nodes = await (await signedIn(t)).query(api.nodes.listNodes, {});
    expect(JSON.stringify(nodes)).not.toContain("credentialHash");
  });
});

describe("the fleet's backlog and counts (issue 21, point 4)", () => {
  test("a heartbeat carries the oldest unsynced observation: validated, stored while observations wait, optional", async () => {
    const t = makeT();
    const { token } = await enroll(t);
    const viewer = await signedIn(t);
    const err = await refusal(t.mutation(api.nodes.heartbeat, { nodeToken: token, health: { ...health, oldestUnsyncedAt: -1 } }));
    expect(err).toMatchObject({ code: "invalid_argument", field: "health.oldestUnsyncedAt" });
    const waiting = { ...health, outboxDepth: 2, oldestUnsyncedAt: T0 - 60_000 };
    expect((await t.mutation(api.nodes.heartbeat, { nodeToken: token, health: waiting })).healthStored).toBe(true);
    expect((await viewer.query(api.nodes.listNodes, {}))[0].health).toMatchObject({ outboxDepth: 2, oldestUnsyncedAt: T0 - 60_000 });
    // An older observation is now the oldest: what a person sees changed.
    const older = { ...waiting, oldestUnsyncedAt: T0 - 120_000 };
    expect((await t.mutation(api.nodes.heartbeat, { nodeToken: token, health: older })).healthStored).toBe(true);
    // In sync again (a daemon without the field, too).
    expect((await t.mutation(api.nodes.heartbeat, { nodeToken: token, health })).healthStored).toBe(true);
    expect((await viewer.query(api.nodes.listNodes, {}))[0].health?.oldestUnsyncedAt).toBeUndefined();
  });

  test("each laptop's orchestrations, active and in all, counted within a bound", async () => {
    const t = makeT();
    const a = await enroll(t, "a");
    const b = await enroll(t, "b");
    const viewer = await signedIn(t);
    const statuses = ["executing", "planning", "complete", "complete", "complete"] as const;
    for (const [i, status] of statuses.entries()) {
      await t.mutation(api.orchestrations.syncOrchestration, {
        nodeToken: a.token,
        orchestration: orchestration({ featureName: `f-${i}`, worktreePath: `/w/${i}`, status }),
        phases: [],
      });
    }
    expect(await viewer.query(api.nodes.orchestrationCounts, { nodeId: a.nodeId })).toEqual({ active: 2, all: 5, cap: 100 });
    expect(await viewer.query(api.nodes.orchestrationCounts, { nodeId: b.nodeId })).toEqual({ active: 0, all: 0, cap: 100 });
  });
});
