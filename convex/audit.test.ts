// @vitest-environment edge-runtime
// The audit log: who submitted what, when, from which client, to which laptop, and the outcome.
import { afterEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "./_generated/api";
import type { Doc } from "./_generated/dataModel";
import { addUser, enroll, lastCallMetrics, makeT, OPERATOR, orchestration, OWNER, phase, refusal, VIEWER, type T } from "./test.setup";

afterEach(() => {
  vi.useRealTimers();
});

async function world(t: T) {
  const owner = await addUser(t, OWNER);
  const operator = await addUser(t, OPERATOR);
  const viewer = await addUser(t, VIEWER);
  const a = await enroll(t, "laptop-a");
  const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, {
    nodeToken: a.token,
    orchestration: orchestration(),
    phases: [phase("1", "blocked", { blockedReason: "tests fail" })],
  });
  return { owner, operator, viewer, a, orchestrationId };
}

const page = (numItems = 50) => ({ numItems, cursor: null });
type Entry = Doc<"auditLog">;
const summary = (entries: Entry[]) => entries.map((e) => [e.verb, e.actorKind, e.actorName, e.outcome]);

describe("audit log", () => {
  test("an action's life: submitted by whom from which client to which laptop, claimed, completed, with the outcome", async () => {
    const t = makeT();
    const { operator, viewer, a, orchestrationId } = await world(t);
    const { actionId } = await operator.as.mutation(api.actions.submitAction, {
      action: { type: "retry", orchestrationId, phase: "1" },
      idempotencyKey: "audit-retry-0001",
      client: "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0)\u0007 tina-web/0.1",
    });
    await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId, leaseOwner: "daemon-1" });
    await t.mutation(api.actions.markActionRunning, { nodeToken: a.token, actionId, leaseOwner: "daemon-1" });
    await t.mutation(api.actions.completeAction, {
      nodeToken: a.token,
      actionId,
      leaseOwner: "daemon-1",
      result: { ok: false, code: "cli_exit_non_zero", message: "Phase 1 is not blocked", exitCode: 1 },
    });
    const { page: entries } = await viewer.as.query(api.audit.list, { paginationOpts: page(), actionId });
    expect(summary(entries)).toEqual([
      ["action.completed", "node", "laptop-a", "failed"],
      ["action.claimed", "node", "laptop-a", "ok"],
      ["action.submitted", "user", OPERATOR.name, "ok"],
    ]);
    const submitted = entries[2];
    expect(submitted).toMatchObject({
      actorId: operator.userId,
      client: "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0) tina-web/0.1",
      nodeId: a.nodeId,
      nodeName: "laptop-a",
      orchestrationId,
      actionType: "retry",
    });
    expect(submitted.detail).toMatch(/retry billing-export phase 1 for laptop "laptop-a"/);
    expect(entries[0].detail).toMatch(/cli_exit_non_zero — Phase 1 is not blocked/);
    expect(entries.every((e) => e.at > 0)).toBe(true);
    // The same entries through the orchestration's and the laptop's views.
    expect((await viewer.as.query(api.audit.list, { paginationOpts: page(), orchestrationId })).page).toHaveLength(3);
    expect((await viewer.as.query(api.audit.list, { paginationOpts: page(), nodeId: a.nodeId })).page.map((e) => e.verb)).toContain("node.enrolled");
  });

  test("a double tap is audited once", async () => {
    const t = makeT();
    const { operator, orchestrationId } = await world(t);
    const args = { action: { type: "pause" as const, orchestrationId, phase: "1" }, idempotencyKey: "double-tap-0001" };
    await operator.as.mutation(api.actions.submitAction, args);
    await operator.as.mutation(api.actions.submitAction, args);
    const { page: entries } = await operator.as.query(api.audit.list, { paginationOpts: page(), orchestrationId });
    expect(entries.filter((e) => e.verb === "action.submitted")).toHaveLength(1);
  });

  test("cancellation, expiry, interruption and revocation are audited", async () => {
    vi.useFakeTimers();
    const t = makeT();
    const { owner, operator, a, orchestrationId } = await world(t);
    const submit = (key: string, expiresInMs?: number) =>
      operator.as.mutation(api.actions.submitAction, { action: { type: "pause", orchestrationId, phase: "1" }, idempotencyKey: key, ...(expiresInMs ? { expiresInMs } : {}) });
    const cancelled = await submit("cancel-me-0001");
    await operator.as.mutation(api.actions.cancelAction, { actionId: cancelled.actionId });
    const expiring = await submit("expire-me-0001", 10_000);
    vi.advanceTimersByTime(11_000);
    await t.finishInProgressScheduledFunctions();
    const held = await submit("interrupt-me-1");
    await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId: held.actionId, leaseOwner: "old-daemon" });
    await t.mutation(api.actions.interruptStaleActions, { nodeToken: a.token, leaseOwner: "new-daemon" });
    const queued = await submit("queued-0001");
    const lapsed = await submit("lapsed-0001");
    await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId: lapsed.actionId, leaseOwner: "new-daemon", leaseMs: 1000 });
    vi.advanceTimersByTime(2_000);
    await t.mutation(internal.actions.sweepActions, {});
    await owner.as.mutation(api.nodes.revokeNode, { nodeId: a.nodeId, client: "tina-web" });
    const { page: entries } = await owner.as.query(api.audit.list, { paginationOpts: page(100) });
    const byAction = (id: string) => summary(entries.filter((e) => e.actionId === id)).map((s) => s.slice(0, 2));
    expect(byAction(cancelled.actionId)).toEqual([["action.cancelled", "user"], ["action.submitted", "user"]]);
    expect(byAction(expiring.actionId)).toEqual([["action.expired", "system"], ["action.submitted", "user"]]);
    expect(byAction(held.actionId)).toEqual([["action.interrupted", "node"], ["action.claimed", "node"], ["action.submitted", "user"]]);
    expect(byAction(lapsed.actionId)).toEqual([["action.interrupted", "system"], ["action.claimed", "node"], ["action.submitted", "user"]]);
    const revoked = entries.find((e) => e.verb === "node.revoked")!;
    expect(revoked).toMatchObject({ actorName: OWNER.name, client: "tina-web", nodeName: "laptop-a" });
    expect(revoked.detail).toMatch(/1 queued action\(s\) cancelled/);
    const queuedAfter = await t.run((ctx) => ctx.db.get("inboundActions", queued.actionId));
    expect(queuedAfter).toMatchObject({ status: "cancelled", result: { code: "node_revoked" } });
  });

  test("secrets never reach results, health or the log", async () => {
    const t = makeT();
    const { operator, viewer, a, orchestrationId } = await world(t);
    const { actionId } = await operator.as.mutation(api.actions.submitAction, {
      action: { type: "retry", orchestrationId, phase: "1" },
      idempotencyKey: "secrets-0001",
      client: "curl password=hunter2hunter2",
    });
    await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId, leaseOwner: "d1" });
    const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
    const leaky = `token=${a.token} Authorization: Bearer ${jwt} key sk-ant-api03-abcdefghijklmnop ${process.env.TINA_ENROLLMENT_SECRET}`;
    await t.mutation(api.actions.completeAction, {
      nodeToken: a.token,
      actionId,
      leaseOwner: "d1",
      result: { ok: false, code: "cli_exit_non_zero", message: leaky, output: leaky },
    });
    await t.mutation(api.nodes.heartbeat, {
      nodeToken: a.token,
      health: { daemonVersion: "0.1.0", startedAt: Date.now(), uptimeSecs: 1, outboxDepth: 0, actors: [{ id: "gateway", state: "failed", restarts: 1, lastError: leaky }] },
    });
    const visible = JSON.stringify([
      await viewer.as.query(api.audit.list, { paginationOpts: page() }),
      await viewer.as.query(api.actions.listActions, {}),
      await viewer.as.query(api.nodes.listNodes, {}),
      await viewer.as.query(api.orchestrations.getOrchestrationDetail, { orchestrationId }),
    ]);
    for (const secret of [a.token, jwt, "sk-ant-api03-abcdefghijklmnop", process.env.TINA_ENROLLMENT_SECRET!, "hunter2hunter2"]) {
      expect(visible).not.toContain(secret);
    }
    expect(visible).toContain("***");
  });

  test("the client description is bounded and cleaned; too long is refused", async () => {
    const t = makeT();
    const { operator, orchestrationId } = await world(t);
    const args = { action: { type: "pause" as const, orchestrationId, phase: "1" } };
    const err = await refusal(operator.as.mutation(api.actions.submitAction, { ...args, idempotencyKey: "client-0001", client: "x".repeat(513) }));
    expect(err).toMatchObject({ code: "invalid_argument", field: "client" });
    await operator.as.mutation(api.actions.submitAction, { ...args, idempotencyKey: "client-0002", client: "y".repeat(512) });
    const { page: entries } = await operator.as.query(api.audit.list, { paginationOpts: page(1) });
    expect(entries[0].client!.length).toBeLessThanOrEqual(200);
  });

  test("pages are bounded and newest first; viewers may read, nobody else", async () => {
    const t = makeT();
    const { operator, viewer, orchestrationId } = await world(t);
    for (let i = 0; i < 5; i++) {
      await operator.as.mutation(api.actions.submitAction, { action: { type: "pause", orchestrationId, phase: "1" }, idempotencyKey: `page-key-000${i}` });
    }
    const first = await viewer.as.query(api.audit.list, { paginationOpts: { numItems: 2, cursor: null } });
    expect(first.page).toHaveLength(2);
    expect(first.page[0].at).toBeGreaterThanOrEqual(first.page[1].at);
    const rest = await viewer.as.query(api.audit.list, { paginationOpts: { numItems: 10_000, cursor: first.continueCursor } });
    expect(rest.page.length).toBeLessThanOrEqual(100);
    expect((await refusal(t.query(api.audit.list, { paginationOpts: page() }))).code).toBe("unauthenticated");
  });

  test("the log for people: one row per action with how it ended, filters, pages", async () => {
    const t = makeT();
    const { owner, operator, viewer, a, orchestrationId } = await world(t);
    const submit = (key: string) =>
      operator.as.mutation(api.actions.submitAction, { action: { type: "retry", orchestrationId, phase: "1" }, idempotencyKey: key, client: "tina-web" });
    const failed = await submit("feed-failed-0001");
    await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId: failed.actionId, leaseOwner: "d1" });
    await t.mutation(api.actions.completeAction, {
      nodeToken: a.token,
      actionId: failed.actionId,
      leaseOwner: "d1",
      result: { ok: false, code: "cli_exit_non_zero", message: "Phase 1 is not blocked" },
    });
    const done = await submit("feed-done-00001");
    await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId: done.actionId, leaseOwner: "d1" });
    await t.mutation(api.actions.completeAction, { nodeToken: a.token, actionId: done.actionId, leaseOwner: "d1", result: { ok: true, code: "ok", message: "" } });
    const waiting = await submit("feed-waiting-01");
    await owner.as.mutation(api.users.invite, { email: "new@example.com", role: "viewer", client: "tina-web" });
    // An entry from before `kind` and `folded` existed: judged by its verb.
    await t.run((ctx) =>
      ctx.db.insert("auditLog", { at: Date.now(), verb: "action.claimed", actorKind: "node", actorId: a.nodeId, actionId: waiting.actionId, nodeId: a.nodeId, outcome: "ok" }),
    );
    const feed = async (filters: Record<string, unknown> = {}) =>
      (await viewer.as.query(api.audit.feed, { paginationOpts: page(), ...filters })).page;

    const rows = await feed({ kind: "action" });
    expect(rows.map((r) => [r.verb, r.outcome, r.action?.type])).toEqual([
      ["action.submitted", "waiting", "retry"],
      ["action.submitted", "done", "retry"],
      ["action.submitted", "failed", "retry"],
    ]);
    // A failed action never reads as completed: its row says failed, with the laptop's reason.
    expect(rows[2]).toMatchObject({ outcome: "failed", reason: "Phase 1 is not blocked", actorName: OPERATOR.name, nodeName: "laptop-a", client: "tina-web" });
    const everything = await feed();
    expect(everything.filter((r) => r.verb.startsWith("action."))).toHaveLength(3);
    expect(everything.map((r) => r.verb)).toContain("user.invited");
    expect(everything.map((r) => r.verb)).toContain("node.enrolled");

    expect((await feed({ outcome: "failed" })).map((r) => r.outcome)).toEqual(["failed"]);
    expect((await feed({ outcome: "pending" })).map((r) => r.outcome)).toEqual(["waiting"]);
    expect((await feed({ kind: "people" })).map((r) => r.verb)).toEqual(["user.invited"]);
    expect((await feed({ actorId: owner.userId })).map((r) => r.verb)).toEqual(["user.invited"]);
    expect((await feed({ actorId: operator.userId })).every((r) => r.actorName === OPERATOR.name)).toBe(true);
    const onA = await feed({ nodeId: a.nodeId, kind: "laptop" });
    expect(onA.map((r) => r.verb)).toEqual(["node.enrolled"]);

    // Pages: bounded, and each continues where the last stopped.
    const first = await viewer.as.query(api.audit.feed, { paginationOpts: { numItems: 2, cursor: null } });
    const rest = await viewer.as.query(api.audit.feed, { paginationOpts: { numItems: 10_000, cursor: first.continueCursor } });
    expect(rest.page.length).toBeLessThanOrEqual(50);
    expect(new Set([...first.page, ...rest.page].map((r) => r._id)).size).toBe(first.page.length + rest.page.length);

    const options = await viewer.as.query(api.audit.filterOptions, {});
    expect(options.people.map((p) => p.name)).toEqual([OPERATOR.name, OWNER.name, VIEWER.name].sort((x, y) => x.localeCompare(y)));
    expect(options.laptops.map((l) => l.name)).toEqual(["laptop-a"]);
    expect((await refusal(t.query(api.audit.feed, { paginationOpts: page() }))).code).toBe("unauthenticated");
  });

  test("a page of the log reads a bounded number of documents, however long the log", async () => {
    const t = makeT();
    const { viewer, a } = await world(t);
    await t.run(async (ctx) => {
      for (let i = 0; i < 400; i++) {
        await ctx.db.insert("auditLog", { at: i, verb: "action.claimed", actorKind: "node", actorId: a.nodeId, nodeId: a.nodeId, outcome: "ok", kind: "action", folded: true });
      }
    });
    const { page: rows, isDone } = await viewer.as.query(api.audit.feed, { paginationOpts: { numItems: 10_000, cursor: null }, outcome: "failed" });
    expect(rows).toEqual([]);
    expect(isDone).toBe(false);
    // 50 entries at most, one action or prompt each, and the caller's session and role.
    expect(lastCallMetrics().documentsRead).toBeGreaterThanOrEqual(50);
    expect(lastCallMetrics().documentsRead).toBeLessThanOrEqual(110);
  });
});
