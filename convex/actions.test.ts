// @vitest-environment edge-runtime
import { afterEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "./_generated/api";
import type { Id } from "./_generated/dataModel";
import { messageRoutes } from "./model/messaging";
import { OPERATOR, OWNER, VIEWER, addUser, enroll, makeT, member, orchestration, phase, refusal, team, type T } from "./test.setup";

afterEach(() => {
  vi.useRealTimers();
});

let keyCounter = 0;
const key = () => `tap-${Date.now()}-${++keyCounter}-abcdef`;

/**
 * Two laptops, an orchestration and a team on laptop A, an owner and an operator. Laptop A
 * accepts messages from operators unless `messaging` says otherwise (null: the default).
 */
async function world(t: T, messaging: "owners" | "operators" | "nobody" | null = "operators") {
  const a = await enroll(t, "laptop-a");
  const b = await enroll(t, "laptop-b");
  const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, {
    nodeToken: a.token,
    orchestration: orchestration({ status: "blocked" }),
    phases: [phase("1", "blocked", { blockedReason: "tests fail" })],
  });
  const dir = "billing-export-phase-1";
  const { teamId } = await t.mutation(api.teams.syncTeam, {
    nodeToken: a.token,
    team: team(dir),
    members: [member("team-lead", dir, { tmuxPaneId: "", reach: "lead" }), member("executor-1", dir, { reach: "pane" })],
    tasks: [],
  });
  const { as: user, userId } = await addUser(t, OPERATOR);
  const owner = await addUser(t, OWNER);
  if (messaging !== null) await owner.as.mutation(api.nodes.setMessaging, { nodeId: a.nodeId, messaging });
  const submit = (action: Record<string, unknown>, idempotencyKey = key(), expiresInMs?: number) =>
    user.mutation(api.actions.submitAction, { action: action as never, idempotencyKey, ...(expiresInMs ? { expiresInMs } : {}) });
  return { a, b, orchestrationId, teamId, user, userId, owner, submit };
}

const get = (t: T, id: Id<"inboundActions">) => t.run((ctx) => ctx.db.get("inboundActions", id));
const ok = { ok: true, code: "ok", message: "done", exitCode: 0, output: '{"action":"spawn_executor"}' };

describe("submitAction", () => {
  test("fills the payload from stored rows, for each type", async () => {
    const t = makeT();
    const { orchestrationId, teamId, submit, a, userId } = await world(t);
    for (const type of ["approve_plan", "pause", "resume", "retry"]) {
      const { actionId } = await submit({ type, orchestrationId, phase: "1" });
      expect(await get(t, actionId)).toMatchObject({ type, nodeId: a.nodeId, status: "pending", payload: { feature: "billing-export", phase: "1" }, submittedBy: userId, submittedByName: OPERATOR.name });
    }
    const reject = await submit({ type: "reject_plan", orchestrationId, phase: "1", feedback: "split the migration" });
    expect((await get(t, reject.actionId))!.payload).toEqual({ feature: "billing-export", phase: "1", feedback: "split the migration" });
    const msg = await submit({ type: "send_message", teamId, agentName: "executor-1", text: "please rebase\nthen push" });
    expect((await get(t, msg.actionId))!.payload).toEqual({
      feature: "billing-export",
      phase: "1",
      teamDir: "billing-export-phase-1",
      agentName: "executor-1",
      text: "please rebase\nthen push",
      // Its own pane: the default route of a teammate that has one.
      via: "pane",
    });
  });

  test("a double tap (same idempotency key) creates one action", async () => {
    const t = makeT();
    const { orchestrationId, submit } = await world(t);
    const k = key();
    const first = await submit({ type: "pause", orchestrationId, phase: "1" }, k);
    const second = await submit({ type: "pause", orchestrationId, phase: "1" }, k);
    expect(second).toEqual({ actionId: first.actionId, deduplicated: true });
    expect(await t.run((ctx) => ctx.db.query("inboundActions").collect())).toHaveLength(1);
  });

  test("hostile and malformed payloads are refused with the field named and nothing queued", async () => {
    const t = makeT();
    const { orchestrationId, teamId, submit } = await world(t);
    const cases: [Record<string, unknown>, string, string?][] = [
      [{ type: "retry", orchestrationId, phase: "1; rm -rf ~" }, "phase"],
      [{ type: "retry", orchestrationId, phase: "../1" }, "phase"],
      [{ type: "retry", orchestrationId, phase: "2" }, "phase", "not_found"],
      [{ type: "reject_plan", orchestrationId, phase: "1", feedback: "" }, "feedback"],
      [{ type: "reject_plan", orchestrationId, phase: "1", feedback: "x".repeat(4001) }, "feedback"],
      [{ type: "send_message", teamId, agentName: "executor-1", text: "\u001b[2J clear" }, "text"],
      // C1 controls: U+009B is a one-character CSI to terminals that read 8-bit controls.
      [{ type: "send_message", teamId, agentName: "executor-1", text: "\u009b2J clear" }, "text"],
      [{ type: "send_message", teamId, agentName: "executor-1", text: "next\u0085line" }, "text"],
      [{ type: "send_message", teamId, agentName: "$(whoami)", text: "hi" }, "agentName"],
      [{ type: "send_message", teamId, agentName: "nobody", text: "hi" }, "agentName", "not_found"],
    ];
    for (const [action, field, code = "invalid_argument"] of cases) {
      expect(await refusal(submit(action))).toMatchObject({ code, field });
    }
    expect((await refusal(submit({ type: "pause", orchestrationId, phase: "1" }, "bad key!"))).field).toBe("idempotencyKey");
    expect((await refusal(submit({ type: "pause", orchestrationId, phase: "1" }, key(), 10))).field).toBe("expiresInMs");
    await expect(submit({ type: "format_disk", orchestrationId, phase: "1" })).rejects.toThrow();
    await expect(submit({ type: "pause", orchestrationId })).rejects.toThrow();
    expect(await t.run((ctx) => ctx.db.query("inboundActions").collect())).toHaveLength(0);
  });

  test("needs a signed-in user", async () => {
    const t = makeT();
    const { orchestrationId } = await world(t);
    const err = await refusal(t.mutation(api.actions.submitAction, { action: { type: "pause", orchestrationId, phase: "1" }, idempotencyKey: key() }));
    expect(err.code).toBe("unauthenticated");
  });
});

describe("who may message a laptop's agents (send_message)", () => {
  const message = (teamId: Id<"teams">) => ({ type: "send_message", teamId, agentName: "executor-1", text: "please rebase" });
  const as = (who: { mutation: T["mutation"] }, action: Record<string, unknown>) =>
    who.mutation(api.actions.submitAction, { action: action as never, idempotencyKey: key() });
  const stored = (t: T) => t.run(async (ctx) => JSON.stringify([await ctx.db.query("inboundActions").collect(), await ctx.db.query("auditLog").collect()]));

  test("owners only (the default): an operator is refused, naming the laptop and the rule; nothing is queued; the owner may", async () => {
    const t = makeT();
    const { teamId, orchestrationId, submit, owner } = await world(t, null);
    const before = await stored(t);
    const err = await refusal(submit(message(teamId)));
    expect(err.code).toBe("forbidden");
    expect(err.message).toContain('laptop "laptop-a"');
    expect(err.message).toContain("only from owners");
    expect(err.message).toContain("you are an operator");
    expect(await stored(t)).toBe(before);
    // Other actions are not affected by the rule.
    await submit({ type: "pause", orchestrationId, phase: "1" });
    const { actionId } = await as(owner.as, message(teamId));
    expect(await get(t, actionId)).toMatchObject({ type: "send_message", status: "pending", submittedBy: owner.userId });
  });

  test("owners and operators: an operator may; a viewer never may", async () => {
    const t = makeT();
    const { teamId, submit } = await world(t, "operators");
    expect((await submit(message(teamId))).deduplicated).toBe(false);
    const viewer = await addUser(t, VIEWER);
    expect((await refusal(as(viewer.as, message(teamId)))).code).toBe("forbidden");
  });

  test("nobody: even the owner is refused", async () => {
    const t = makeT();
    const { teamId, submit, owner } = await world(t, "nobody");
    const before = await stored(t);
    for (const call of [as(owner.as, message(teamId)), submit(message(teamId))]) {
      const err = await refusal(call);
      expect(err.code).toBe("forbidden");
      expect(err.message).toContain('laptop "laptop-a" accepts no messages to its agents');
    }
    expect(await stored(t)).toBe(before);
  });

  test("a malformed message is refused as such before the rule is checked", async () => {
    const t = makeT();
    const { teamId, submit } = await world(t, null);
    expect(await refusal(submit({ type: "send_message", teamId, agentName: "executor-1", text: "\u001b[2J clear" }))).toMatchObject({ code: "invalid_argument", field: "text" });
  });

  test("a queued message whose sender the rule no longer allows is cancelled when the laptop claims it, never typed", async () => {
    const t = makeT();
    const { a, teamId, orchestrationId, submit, owner } = await world(t, "operators");
    const fromOperator = (await submit(message(teamId))).actionId;
    const fromOwner = (await as(owner.as, message(teamId))).actionId;
    const pause = (await submit({ type: "pause", orchestrationId, phase: "1" })).actionId;
    await owner.as.mutation(api.nodes.setMessaging, { nodeId: a.nodeId, messaging: "owners" });
    expect(await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId: fromOperator, leaseOwner: "d" })).toEqual({ ok: false, reason: "not_pending", status: "cancelled" });
    expect(await get(t, fromOperator)).toMatchObject({ status: "cancelled", result: { ok: false, code: "messaging_not_allowed" } });
    expect((await get(t, fromOperator))!.result!.message).toContain('laptop "laptop-a"');
    const log = await t.run((ctx) => ctx.db.query("auditLog").withIndex("by_action_at", (q) => q.eq("actionId", fromOperator)).collect());
    expect(log.map((e) => [e.verb, e.actorKind, e.outcome])).toEqual([
      ["action.submitted", "user", "ok"],
      ["action.cancelled", "system", "failed"],
    ]);
    expect((await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId: fromOwner, leaseOwner: "d" })).ok).toBe(true);
    expect((await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId: pause, leaseOwner: "d" })).ok).toBe(true);
    // Turned off altogether: the owner's queued message is not typed either.
    const later = (await as(owner.as, message(teamId))).actionId;
    await owner.as.mutation(api.nodes.setMessaging, { nodeId: a.nodeId, messaging: "nobody" });
    expect((await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId: later, leaseOwner: "d" })).ok).toBe(false);
    expect((await get(t, later))!.status).toBe("cancelled");
  });
});

describe("claim, run, complete", () => {
  test("the daemon sees its pending action, claims it, runs it, completes it", async () => {
    const t = makeT();
    const { a, b, orchestrationId, submit } = await world(t);
    const { actionId } = await submit({ type: "retry", orchestrationId, phase: "1" });
    expect((await t.query(api.actions.pendingActions, { nodeToken: a.token })).map((x) => x._id)).toEqual([actionId]);
    expect(await t.query(api.actions.pendingActions, { nodeToken: b.token })).toEqual([]);
    const claim = await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId, leaseOwner: "daemon-1" });
    expect(claim.ok).toBe(true);
    expect(await t.query(api.actions.pendingActions, { nodeToken: a.token })).toEqual([]);
    expect(await t.mutation(api.actions.markActionRunning, { nodeToken: a.token, actionId, leaseOwner: "daemon-1" })).toEqual({ ok: true });
    expect(await t.mutation(api.actions.completeAction, { nodeToken: a.token, actionId, leaseOwner: "daemon-1", result: ok })).toEqual({
      ok: true,
      status: "completed",
    });
    const done = await get(t, actionId);
    expect(done).toMatchObject({ status: "completed", result: ok, leaseOwner: "daemon-1" });
    // Completing twice changes nothing.
    expect(await t.mutation(api.actions.completeAction, { nodeToken: a.token, actionId, leaseOwner: "daemon-1", result: { ...ok, ok: false, code: "x" } })).toEqual({
      ok: false,
      status: "completed",
    });
    expect(await get(t, actionId)).toEqual(done);
  });

  test("two racing claims: exactly one wins", async () => {
    const t = makeT();
    const { a, orchestrationId, submit } = await world(t);
    const { actionId } = await submit({ type: "pause", orchestrationId, phase: "1" });
    const results = await Promise.all([
      t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId, leaseOwner: "daemon-1" }),
      t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId, leaseOwner: "daemon-2" }),
    ]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.find((r) => !r.ok)).toMatchObject({ ok: false, reason: "not_pending", status: "claimed" });
  });

  test("another laptop cannot see, claim, run or complete the action", async () => {
    const t = makeT();
    const { a, b, orchestrationId, submit } = await world(t);
    const { actionId } = await submit({ type: "pause", orchestrationId, phase: "1" });
    expect(await t.mutation(api.actions.claimAction, { nodeToken: b.token, actionId, leaseOwner: "x" })).toEqual({ ok: false, reason: "not_found" });
    await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId, leaseOwner: "daemon-1" });
    expect(await t.mutation(api.actions.markActionRunning, { nodeToken: b.token, actionId, leaseOwner: "daemon-1" })).toEqual({ ok: false });
    expect(await t.mutation(api.actions.completeAction, { nodeToken: b.token, actionId, leaseOwner: "daemon-1", result: ok })).toEqual({
      ok: false,
      status: "not_found",
    });
    // Not the lease holder either.
    expect((await t.mutation(api.actions.completeAction, { nodeToken: a.token, actionId, leaseOwner: "daemon-2", result: ok })).ok).toBe(false);
    expect((await get(t, actionId))!.status).toBe("claimed");
  });

  test("a result is validated", async () => {
    const t = makeT();
    const { a, orchestrationId, submit } = await world(t);
    const { actionId } = await submit({ type: "pause", orchestrationId, phase: "1" });
    await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId, leaseOwner: "d" });
    const err = await refusal(
      t.mutation(api.actions.completeAction, { nodeToken: a.token, actionId, leaseOwner: "d", result: { ...ok, output: "x".repeat(20_000) } }),
    );
    expect(err.field).toBe("result.output");
  });
});

describe("expiry, cancellation, interruption", () => {
  test("an action expires at its deadline: hidden, unclaimable, marked expired", async () => {
    vi.useFakeTimers();
    const t = makeT();
    const { a, orchestrationId, submit } = await world(t);
    const { actionId } = await submit({ type: "pause", orchestrationId, phase: "1" }, key(), 60_000);
    vi.advanceTimersByTime(59_000);
    expect(await t.query(api.actions.pendingActions, { nodeToken: a.token })).toHaveLength(1);
    vi.advanceTimersByTime(2_000);
    expect(await t.query(api.actions.pendingActions, { nodeToken: a.token })).toHaveLength(0);
    await t.finishInProgressScheduledFunctions();
    expect(await get(t, actionId)).toMatchObject({ status: "expired", result: { ok: false, code: "expired" } });
    expect(await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId, leaseOwner: "d" })).toMatchObject({ ok: false, reason: "expired" });
  });

  test("claiming an overdue action before the scheduler ran marks it expired", async () => {
    const t = makeT();
    const { a, orchestrationId, submit } = await world(t);
    const { actionId } = await submit({ type: "pause", orchestrationId, phase: "1" });
    await t.run((ctx) => ctx.db.patch("inboundActions", actionId, { expiresAt: Date.now() - 1 }));
    expect(await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId, leaseOwner: "d" })).toMatchObject({ ok: false, reason: "expired" });
    expect((await get(t, actionId))!.status).toBe("expired");
  });

  test("cancel works only while pending", async () => {
    const t = makeT();
    const { a, orchestrationId, submit, user } = await world(t);
    const one = await submit({ type: "pause", orchestrationId, phase: "1" });
    expect(await user.mutation(api.actions.cancelAction, { actionId: one.actionId })).toEqual({ cancelled: true, status: "cancelled" });
    expect(await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId: one.actionId, leaseOwner: "d" })).toMatchObject({ ok: false, reason: "not_pending" });
    const two = await submit({ type: "pause", orchestrationId, phase: "1" });
    await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId: two.actionId, leaseOwner: "d" });
    expect(await user.mutation(api.actions.cancelAction, { actionId: two.actionId })).toEqual({ cancelled: false, status: "claimed" });
  });

  test("after a restart, actions held by the previous daemon instance end interrupted", async () => {
    const t = makeT();
    const { a, b, orchestrationId, submit } = await world(t);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await submit({ type: "pause", orchestrationId, phase: "1" })).actionId);
    await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId: ids[0], leaseOwner: "old" });
    await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId: ids[1], leaseOwner: "old" });
    await t.mutation(api.actions.markActionRunning, { nodeToken: a.token, actionId: ids[1], leaseOwner: "old" });
    expect(await t.mutation(api.actions.interruptStaleActions, { nodeToken: b.token, leaseOwner: "new" })).toEqual({ interrupted: 0 });
    expect(await t.mutation(api.actions.interruptStaleActions, { nodeToken: a.token, leaseOwner: "new" })).toEqual({ interrupted: 2 });
    expect(await t.mutation(api.actions.interruptStaleActions, { nodeToken: a.token, leaseOwner: "new" })).toEqual({ interrupted: 0 });
    const statuses = await Promise.all(ids.map(async (id) => (await get(t, id))!.status));
    expect(statuses).toEqual(["interrupted", "interrupted", "pending"]);
    // The old instance can no longer complete it.
    expect((await t.mutation(api.actions.completeAction, { nodeToken: a.token, actionId: ids[1], leaseOwner: "old", result: ok })).ok).toBe(false);
  });

  test("the sweep expires overdue actions and interrupts lapsed leases", async () => {
    const t = makeT();
    const { a, orchestrationId, submit } = await world(t);
    const overdue = await submit({ type: "pause", orchestrationId, phase: "1" });
    const held = await submit({ type: "pause", orchestrationId, phase: "1" });
    const fresh = await submit({ type: "pause", orchestrationId, phase: "1" });
    await t.run((ctx) => ctx.db.patch("inboundActions", overdue.actionId, { expiresAt: Date.now() - 1 }));
    await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId: held.actionId, leaseOwner: "d", leaseMs: 1000 });
    await t.run((ctx) => ctx.db.patch("inboundActions", held.actionId, { leaseExpiresAt: Date.now() - 1 }));
    expect(await t.mutation(internal.actions.sweepActions, {})).toEqual({ expired: 1, interrupted: 1 });
    expect((await get(t, fresh.actionId))!.status).toBe("pending");
    expect((await get(t, held.actionId))!.result!.code).toBe("interrupted");
  });
});

describe("leases: the sweep and a laptop registering again", () => {
  // The audit entries of one action, oldest first.
  const auditOf = (t: T, actionId: Id<"inboundActions">) =>
    t.run((ctx) => ctx.db.query("auditLog").withIndex("by_action_at", (q) => q.eq("actionId", actionId)).collect());

  test("a running action whose lease lapsed is interrupted by the sweep, with the reason, audited as the system", async () => {
    vi.useFakeTimers();
    const t = makeT();
    const { a, orchestrationId, submit } = await world(t);
    const { actionId } = await submit({ type: "retry", orchestrationId, phase: "1" });
    await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId, leaseOwner: "daemon-1", leaseMs: 60_000 });
    expect(await t.mutation(api.actions.markActionRunning, { nodeToken: a.token, actionId, leaseOwner: "daemon-1" })).toEqual({ ok: true });
    // Within its lease: a long handler is not a dead laptop.
    vi.setSystemTime(Date.now() + 59_000);
    expect(await t.mutation(internal.actions.sweepActions, {})).toEqual({ expired: 0, interrupted: 0 });
    expect((await get(t, actionId))!.status).toBe("running");
    // The laptop never comes back: past the lease the sweep ends it, and it is never re-run.
    vi.setSystemTime(Date.now() + 2_000);
    expect(await t.mutation(internal.actions.sweepActions, {})).toEqual({ expired: 0, interrupted: 1 });
    const done = (await get(t, actionId))!;
    expect(done).toMatchObject({ status: "interrupted", finishedAt: Date.now(), result: { ok: false, code: "interrupted" } });
    expect(done.result!.message).toMatch(/lease ran out; it was not re-run/);
    const last = (await auditOf(t, actionId)).at(-1)!;
    expect(last).toMatchObject({ verb: "action.interrupted", actorKind: "system", actorId: "actions.sweep", outcome: "failed", nodeId: a.nodeId, actionType: "retry" });
    expect(last.detail).toMatch(/lease ran out/);
    expect(await t.mutation(internal.actions.sweepActions, {})).toEqual({ expired: 0, interrupted: 0 });
    expect(await t.mutation(api.actions.completeAction, { nodeToken: a.token, actionId, leaseOwner: "daemon-1", result: ok })).toEqual({ ok: false, status: "interrupted" });
  });

  test("the sweep leaves running and claimed actions with a live lease alone", async () => {
    vi.useFakeTimers();
    const t = makeT();
    const { a, orchestrationId, submit } = await world(t);
    const running = (await submit({ type: "retry", orchestrationId, phase: "1" })).actionId;
    const claimed = (await submit({ type: "pause", orchestrationId, phase: "1" })).actionId;
    await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId: running, leaseOwner: "daemon-1", leaseMs: 10 * 60_000 });
    await t.mutation(api.actions.markActionRunning, { nodeToken: a.token, actionId: running, leaseOwner: "daemon-1" });
    await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId: claimed, leaseOwner: "daemon-1", leaseMs: 10 * 60_000 });
    vi.setSystemTime(Date.now() + 10 * 60_000 - 1);
    expect(await t.mutation(internal.actions.sweepActions, {})).toEqual({ expired: 0, interrupted: 0 });
    expect((await get(t, running))!.status).toBe("running");
    expect((await get(t, claimed))!.status).toBe("claimed");
    expect(await t.mutation(api.actions.completeAction, { nodeToken: a.token, actionId: running, leaseOwner: "daemon-1", result: ok })).toEqual({ ok: true, status: "completed" });
  });

  test("a laptop registering again keeps what its own instance holds and interrupts what an earlier one held", async () => {
    const t = makeT();
    const { a, orchestrationId, submit } = await world(t);
    const ids: Id<"inboundActions">[] = [];
    for (let i = 0; i < 4; i++) ids.push((await submit({ type: "pause", orchestrationId, phase: "1" })).actionId);
    const [earlierClaimed, earlierRunning, ownClaimed, ownRunning] = ids;
    for (const [actionId, owner, run] of [
      [earlierClaimed, "daemon-0", false],
      [earlierRunning, "daemon-0", true],
      [ownClaimed, "daemon-1", false],
      [ownRunning, "daemon-1", true],
    ] as const) {
      await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId, leaseOwner: owner });
      if (run) await t.mutation(api.actions.markActionRunning, { nodeToken: a.token, actionId, leaseOwner: owner });
    }
    // daemon-1 registers again (its presence actor restarted after a refusal or a reconnect):
    // what it holds itself is still in its hands; daemon-0's are interrupted, never re-run.
    expect(await t.mutation(api.actions.interruptStaleActions, { nodeToken: a.token, leaseOwner: "daemon-1" })).toEqual({ interrupted: 2 });
    const statuses = async () => Promise.all(ids.map(async (id) => (await get(t, id))!.status));
    expect(await statuses()).toEqual(["interrupted", "interrupted", "claimed", "running"]);
    for (const id of [earlierClaimed, earlierRunning]) {
      expect((await get(t, id))!.result!.message).toMatch(/daemon restarted/);
      expect((await auditOf(t, id)).at(-1)).toMatchObject({ verb: "action.interrupted", actorKind: "node", actorId: a.nodeId, outcome: "failed" });
    }
    // Registering again once more changes nothing; its own actions still complete normally.
    expect(await t.mutation(api.actions.interruptStaleActions, { nodeToken: a.token, leaseOwner: "daemon-1" })).toEqual({ interrupted: 0 });
    expect(await t.mutation(api.actions.markActionRunning, { nodeToken: a.token, actionId: ownClaimed, leaseOwner: "daemon-1" })).toEqual({ ok: true });
    expect(await t.mutation(api.actions.completeAction, { nodeToken: a.token, actionId: ownRunning, leaseOwner: "daemon-1", result: ok })).toEqual({ ok: true, status: "completed" });
    // A new instance (a restarted daemon) does interrupt them.
    expect(await t.mutation(api.actions.interruptStaleActions, { nodeToken: a.token, leaseOwner: "daemon-2" })).toEqual({ interrupted: 1 });
    expect(await statuses()).toEqual(["interrupted", "interrupted", "interrupted", "completed"]);
  });
});

describe("listActions and Needs you", () => {
  test("revoked laptops never crowd an offline one out of Needs you", async () => {
    const t = makeT({ documentsRead: 1000 });
    const { b, user } = await world(t);
    // Sixty revoked laptops (revocation leaves them offline), silent for longer than laptop b.
    await t.run(async (ctx) => {
      for (let i = 0; i < 60; i++) {
        await ctx.db.insert("nodes", { name: `gone-${i}`, os: "darwin", credentialHash: `hash-${i}`, status: "offline", enrolledAt: 0, lastHeartbeat: 1000 + i, revokedAt: 5000 });
      }
      await ctx.db.patch("nodes", b.nodeId, { status: "offline", lastHeartbeat: Date.now() - 120_000 });
    });
    const offline = (await user.query(api.needs.needsYou, {})).items.filter((i) => i.kind === "offline_laptop");
    expect(offline.map((i) => i.nodeName)).toEqual(["laptop-b"]);
  });

  test("listActions is newest first and bounded", async () => {
    const t = makeT();
    const { orchestrationId, submit, user } = await world(t);
    for (let i = 0; i < 5; i++) await submit({ type: "pause", orchestrationId, phase: "1" });
    expect(await user.query(api.actions.listActions, { orchestrationId, limit: 3 })).toHaveLength(3);
    expect(await user.query(api.actions.listActions, { limit: 10_000 })).toHaveLength(5);
  });

  test("Needs you lists blocked phases, plans awaiting approval, failed actions and offline laptops", async () => {
    const t = makeT();
    const { a, b, orchestrationId, submit, user } = await world(t);
    await t.mutation(api.orchestrations.syncOrchestration, {
      nodeToken: b.token,
      orchestration: orchestration({ featureName: "search", worktreePath: "/w/search", status: "planning" }),
      phases: [phase("1", "awaiting_approval", { planPath: "/w/search/docs/plans/p1.md" })],
    });
    const { actionId } = await submit({ type: "retry", orchestrationId, phase: "1" });
    await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId, leaseOwner: "d" });
    await t.mutation(api.actions.completeAction, {
      nodeToken: a.token,
      actionId,
      leaseOwner: "d",
      result: { ok: false, code: "cli_exit_non_zero", message: "Phase 1 is not blocked", exitCode: 1 },
    });
    await t.run((ctx) => ctx.db.patch("nodes", b.nodeId, { status: "offline", lastHeartbeat: Date.now() - 120_000 }));
    const { items } = await user.query(api.needs.needsYou, {});
    const of = (kind: string) => items.filter((i) => i.kind === kind);
    expect(of("blocked_phase").map((i) => [i.featureName, i.phaseNumber, i.detail])).toEqual([["billing-export", "1", "tests fail"]]);
    expect(of("plan_approval").map((i) => [i.featureName, i.nodeName])).toEqual([["search", "laptop-b"]]);
    expect(of("failed_action").map((i) => i.actionId)).toEqual([actionId]);
    expect(of("offline_laptop").map((i) => i.nodeName)).toEqual(["laptop-b"]);
    expect((await refusal(t.query(api.needs.needsYou, {}))).code).toBe("unauthenticated");
  });
});

describe("message routes (via)", () => {
  const lead = { agentId: "team-lead@x", agentName: "team-lead", reach: "lead" as const };
  const phaseTeam = { leadAgentId: "team-lead@x", orchestrationId: "orchestrations|1" as Id<"orchestrations">, phaseNumber: "1" };

  test("the one rule: lead session for a phase's lead, own pane, always the inbox; nothing once shut down or gone", () => {
    expect(messageRoutes(lead, phaseTeam).routes).toEqual(["lead_session", "inbox"]);
    // The lead by id alone (an older daemon without reach).
    expect(messageRoutes({ ...lead, reach: undefined }, phaseTeam).routes).toEqual(["lead_session", "inbox"]);
    // A lead of a team outside any phase has no lead session.
    const loose = messageRoutes(lead, { leadAgentId: "team-lead@x" });
    expect(loose.routes).toEqual(["inbox"]);
    expect(loose.unavailable.lead_session).toMatch(/no orchestration phase/);
    const pane = messageRoutes({ agentId: "w@x", agentName: "writer", reach: "pane" }, phaseTeam);
    expect(pane.routes).toEqual(["pane", "inbox"]);
    expect(pane.unavailable.lead_session).toBe("it is not its team's lead");
    const inProcess = messageRoutes({ agentId: "w@x", agentName: "writer", reach: "in_process" }, phaseTeam);
    expect(inProcess.routes).toEqual(["inbox"]);
    expect(inProcess.unavailable.pane).toMatch(/inside the lead's process/);
    expect(messageRoutes({ agentId: "w@x", agentName: "writer" }, phaseTeam).routes).toEqual(["inbox"]);
    const down = messageRoutes({ agentId: "w@x", agentName: "writer", reach: "pane", liveness: "shut_down" }, phaseTeam);
    expect(down).toEqual({ routes: [], unavailable: { lead_session: "writer has shut down", pane: "writer has shut down", inbox: "writer has shut down" } });
    const gone = messageRoutes({ ...lead, liveness: "gone", livenessReason: "its tmux pane %4 is gone" }, phaseTeam);
    expect(gone.routes).toEqual([]);
    expect(gone.unavailable.inbox).toBe("team-lead is gone: its tmux pane %4 is gone");
    // Waiting and idle agents are reachable as usual.
    expect(messageRoutes({ ...lead, liveness: "waiting" }, phaseTeam).routes).toEqual(["lead_session", "inbox"]);
  });

  async function routed(t: T) {
    const w = await world(t);
    const dir = "billing-export-phase-1";
    await t.mutation(api.teams.syncTeam, {
      nodeToken: w.a.token,
      team: team(dir),
      members: [
        member("team-lead", dir, { tmuxPaneId: "", reach: "lead", liveness: "working" }),
        member("executor-1", dir, { reach: "pane", liveness: "idle", livenessReason: "idle since 12:00" }),
        member("writer", dir, { tmuxPaneId: "in-process", reach: "in_process", backendType: "in-process" }),
        member("reviewer", dir, { reach: "pane", liveness: "shut_down", livenessReason: "shut down at 12:05" }),
        member("tester", dir, { reach: "pane", liveness: "gone", livenessReason: "its tmux pane %17 is gone" }),
      ],
      tasks: [],
    });
    const send = (agentName: string, via?: string) => w.submit({ type: "send_message", teamId: w.teamId, agentName, text: "please rebase", ...(via ? { via } : {}) });
    return { ...w, send };
  }

  test("submitAction stores the route: the member's default, or the one asked for when offered", async () => {
    const t = makeT();
    const { send } = await routed(t);
    const via = async (p: Promise<{ actionId: Id<"inboundActions"> }>) => (await get(t, (await p).actionId))!.payload.via;
    expect(await via(send("team-lead"))).toBe("lead_session");
    expect(await via(send("team-lead", "inbox"))).toBe("inbox");
    expect(await via(send("executor-1"))).toBe("pane");
    expect(await via(send("executor-1", "inbox"))).toBe("inbox");
    expect(await via(send("writer"))).toBe("inbox");
  });

  test("a route the member does not offer is refused, naming the agent and the reason; nothing is queued", async () => {
    const t = makeT();
    const { send } = await routed(t);
    const before = await t.run((ctx) => ctx.db.query("inboundActions").collect());
    const cases: [string, string | undefined, string, string][] = [
      ["writer", "pane", "via", "writer cannot be reached through pane: it runs inside the lead's process, without a tmux pane of its own"],
      ["executor-1", "lead_session", "via", "executor-1 cannot be reached through lead_session: it is not its team's lead"],
      ["reviewer", "inbox", "via", "reviewer cannot be reached through inbox: reviewer has shut down"],
      ["reviewer", undefined, "agentName", "reviewer cannot be messaged: reviewer has shut down"],
      ["tester", undefined, "agentName", "tester cannot be messaged: tester is gone: its tmux pane %17 is gone"],
      ["tester", "pane", "via", "tester cannot be reached through pane: tester is gone: its tmux pane %17 is gone"],
    ];
    for (const [agent, via, field, message] of cases) {
      expect(await refusal(send(agent, via))).toEqual({ code: "invalid_argument", field, message });
    }
    await expect(send("executor-1", "carrier_pigeon")).rejects.toThrow(/Validator/);
    expect(await t.run((ctx) => ctx.db.query("inboundActions").collect())).toEqual(before);
  });

  test("the audit log names the route", async () => {
    const t = makeT();
    const { send } = await routed(t);
    const { actionId } = await send("executor-1", "inbox");
    const entry = await t.run((ctx) => ctx.db.query("auditLog").withIndex("by_action_at", (q) => q.eq("actionId", actionId)).first());
    expect(entry!.detail).toMatch(/send_message to executor-1 in billing-export-phase-1 .* via inbox, 13 chars/);
  });
});

describe("delivery: the result's route and message key, and read state", () => {
  const KEY = "c".repeat(64);
  const entry = (read: boolean) => ({
    key: KEY,
    recipient: "executor-1",
    sender: "tina",
    kind: "text" as const,
    text: "please rebase",
    truncated: false,
    summary: "from Olivia Operator via tina",
    timestamp: Date.now(),
    read,
  });

  test("listActions says whether the agent has read a message delivered to its inbox", async () => {
    const t = makeT();
    const { a, orchestrationId, teamId, submit, user } = await world(t);
    const { actionId } = await submit({ type: "send_message", teamId, agentName: "executor-1", text: "please rebase", via: "inbox" });
    const pane = await submit({ type: "send_message", teamId, agentName: "executor-1", text: "hello" });
    const pause = await submit({ type: "pause", orchestrationId, phase: "1" });
    const listed = async () => new Map((await user.query(api.actions.listActions, { orchestrationId })).map((x) => [x._id, x]));
    // Queued: no read state yet.
    expect((await listed()).get(actionId)!.read).toBeUndefined();
    const finish = async (id: Id<"inboundActions">, result: Record<string, unknown>) => {
      await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId: id, leaseOwner: "d" });
      await t.mutation(api.actions.completeAction, { nodeToken: a.token, actionId: id, leaseOwner: "d", result: result as never });
    };
    await finish(actionId, { ok: true, code: "ok", message: "written to executor-1's inbox", via: "inbox", messageKey: KEY });
    await finish(pane.actionId, { ok: true, code: "ok", message: "typed into executor-1's pane", via: "pane" });
    await finish(pause.actionId, ok);
    expect((await get(t, actionId))!.result).toMatchObject({ via: "inbox", messageKey: KEY });
    // Delivered, and the inbox reader has not reported it yet: unread.
    expect((await listed()).get(actionId)!.read).toBe(false);
    await t.mutation(api.teams.recordTeamMessages, { nodeToken: a.token, dirName: "billing-export-phase-1", messages: [entry(false)] });
    expect((await listed()).get(actionId)!.read).toBe(false);
    await t.mutation(api.teams.recordTeamMessages, { nodeToken: a.token, dirName: "billing-export-phase-1", messages: [entry(true)] });
    const after = await listed();
    expect(after.get(actionId)!.read).toBe(true);
    // Only delivered inbox messages have a read state.
    expect(after.get(pane.actionId)!.read).toBeUndefined();
    expect(after.get(pause.actionId)!.read).toBeUndefined();
    // The detail view's recent actions say the same.
    const detail = await user.query(api.orchestrations.getOrchestrationDetail, { orchestrationId });
    expect(detail!.recentActions.find((x) => x._id === actionId)!.read).toBe(true);
  });

  test("a message key in a result must be an inbox key", async () => {
    const t = makeT();
    const { a, teamId, submit } = await world(t);
    const { actionId } = await submit({ type: "send_message", teamId, agentName: "executor-1", text: "hi", via: "inbox" });
    await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId, leaseOwner: "d" });
    const err = await refusal(
      t.mutation(api.actions.completeAction, { nodeToken: a.token, actionId, leaseOwner: "d", result: { ...ok, via: "inbox", messageKey: "../../inbox" } }),
    );
    expect(err.field).toBe("result.messageKey");
  });

  test("listActions stays bounded: one lookup per listed action, however many messages the team has", async () => {
    const t = makeT({ documentsRead: 600 });
    const { a, teamId, submit, user } = await world(t);
    const ids: Id<"inboundActions">[] = [];
    for (let i = 0; i < 20; i++) {
      const { actionId } = await submit({ type: "send_message", teamId, agentName: "executor-1", text: `m${i}`, via: "inbox" });
      await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId, leaseOwner: "d" });
      await t.mutation(api.actions.completeAction, { nodeToken: a.token, actionId, leaseOwner: "d", result: { ...ok, via: "inbox", messageKey: `${i}`.padStart(64, "0") } });
      ids.push(actionId);
    }
    await t.run(async (ctx) => {
      const team = (await ctx.db.get("teams", teamId))!;
      for (let i = 0; i < 1500; i++) {
        await ctx.db.insert("teamMessages", {
          teamId,
          nodeId: team.nodeId,
          key: `${i}`.padStart(64, "0"),
          recipient: "executor-1",
          sender: "tina",
          kind: "text",
          text: `m${i}`,
          truncated: false,
          timestamp: i,
          read: i % 2 === 0,
          recordedAt: i,
        });
      }
    });
    const listed = await user.query(api.actions.listActions, { limit: 200 });
    expect(listed.filter((x) => x.read === true)).toHaveLength(10);
    expect(listed.filter((x) => x.read === false)).toHaveLength(10);
  });
});

describe("approvals name the plan revision", () => {
  const HASH_A = "a".repeat(64);
  const HASH_B = "b".repeat(64);

  async function withPlan(t: T) {
    const w = await world(t);
    await t.mutation(api.orchestrations.syncOrchestration, {
      nodeToken: w.a.token,
      orchestration: orchestration({ status: "planning" }),
      phases: [phase("1", "awaiting_approval", { planPath: "/home/dev/acme/.worktrees/billing-export/docs/plans/p1.md" })],
    });
    const syncPlan = (overrides: Record<string, unknown>) =>
      t.mutation(api.documents.syncDocument, {
        nodeToken: w.a.token,
        orchestrationId: w.orchestrationId,
        document: { kind: "plan", phaseNumber: "1", path: "/home/dev/acme/.worktrees/billing-export/docs/plans/p1.md", content: "# plan", hash: HASH_A, size: 6, truncated: false, missing: false, ...overrides },
      });
    await syncPlan({});
    return { ...w, syncPlan };
  }

  test("an approval of the revision on the laptop is queued with it; the audit names it", async () => {
    const t = makeT();
    const { orchestrationId, submit } = await withPlan(t);
    const { actionId } = await submit({ type: "approve_plan", orchestrationId, phase: "1", planHash: HASH_A });
    expect((await get(t, actionId))!.payload).toEqual({ feature: "billing-export", phase: "1", planHash: HASH_A });
    const entry = await t.run((ctx) => ctx.db.query("auditLog").withIndex("by_action_at", (q) => q.eq("actionId", actionId)).first());
    expect(entry!.detail).toContain(`approve_plan billing-export phase 1 (plan revision ${HASH_A.slice(0, 12)})`);
  });

  test("an approval of a revision the laptop no longer has is refused as a conflict, saying both revisions", async () => {
    const t = makeT();
    const { orchestrationId, submit, syncPlan } = await withPlan(t);
    await syncPlan({ hash: HASH_B, content: "# plan v2" });
    const err = await refusal(submit({ type: "approve_plan", orchestrationId, phase: "1", planHash: HASH_A }));
    expect(err).toEqual({
      code: "conflict",
      field: "planHash",
      message: "the plan of phase 1 changed on the laptop since you opened it (you read revision aaaaaaaaaaaa, it is now bbbbbbbbbbbb); read it again before approving",
    });
    await syncPlan({ hash: undefined, content: "", size: 0, missing: true });
    expect((await refusal(submit({ type: "approve_plan", orchestrationId, phase: "1", planHash: HASH_B }))).message).toContain("it is now gone");
    expect(await t.run((ctx) => ctx.db.query("inboundActions").collect())).toEqual([]);
  });

  test("a plan never synced counts as gone; without a hash an approval is queued as before", async () => {
    const t = makeT();
    const { orchestrationId, submit } = await world(t);
    expect((await refusal(submit({ type: "approve_plan", orchestrationId, phase: "1", planHash: HASH_A }))).message).toContain("it is now gone");
    const { actionId } = await submit({ type: "approve_plan", orchestrationId, phase: "1" });
    expect((await get(t, actionId))!.payload).toEqual({ feature: "billing-export", phase: "1" });
  });

  test("a rejection records the revision it read, even when the plan changed since", async () => {
    const t = makeT();
    const { orchestrationId, submit, syncPlan } = await withPlan(t);
    await syncPlan({ hash: HASH_B });
    const { actionId } = await submit({ type: "reject_plan", orchestrationId, phase: "1", feedback: "split it", planHash: HASH_A });
    expect((await get(t, actionId))!.payload).toEqual({ feature: "billing-export", phase: "1", feedback: "split it", planHash: HASH_A });
  });

  test("a malformed revision is refused with the field named", async () => {
    const t = makeT();
    const { orchestrationId, submit } = await withPlan(t);
    for (const planHash of ["A".repeat(64), "a".repeat(65), "$(id)", ""]) {
      expect(await refusal(submit({ type: "approve_plan", orchestrationId, phase: "1", planHash }))).toMatchObject({ code: "invalid_argument", field: "planHash" });
    }
  });
});
