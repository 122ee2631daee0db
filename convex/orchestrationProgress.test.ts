// @vitest-environment edge-runtime
// A row of the list: each phase's tasks done of all, kept by team sync in a row of their own
// (orchestrationProgress), and the last activity, read by orchestrations:orchestrationProgress,
// so orchestrations:listOrchestrations reads no team and a task's change leaves the
// orchestration row (which the list reads) untouched.
import { describe, expect, test } from "vitest";
import { api } from "./_generated/api";
import type { Id } from "./_generated/dataModel";
import { enroll, lastCallMetrics, makeT, member, orchestration, phase, signedIn, T0, task, team, type T } from "./test.setup";

const COUNTS = { pending: 0, inProgress: 0, completed: 0, other: 0 };
const WORKTREE = "/home/dev/acme/.worktrees/billing-export";

async function setup(t: T) {
  const { token } = await enroll(t);
  const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, {
    nodeToken: token,
    orchestration: orchestration({ status: "executing", currentPhase: 2 }),
    phases: [phase("1", "complete"), phase("2", "executing")],
  });
  const lead = (dir: string) => [member("team-lead", dir, { cwd: WORKTREE, liveness: "working" })];
  const syncTeam = (dir: string, tasks: ReturnType<typeof task>[], seq = 1) =>
    t.mutation(api.teams.syncTeam, { nodeToken: token, team: team(dir), members: lead(dir), tasks, seq });
  const delta = (dir: string, base: number, seq: number, extra: Record<string, unknown> = {}) =>
    t.mutation(api.teams.syncTeamDelta, { nodeToken: token, team: team(dir), base, seq, tasks: [], removed: [], taskCounts: COUNTS, ...extra });
  const user = await signedIn(t);
  const progressOf = (id: Id<"orchestrations"> = orchestrationId) => user.query(api.orchestrations.orchestrationProgress, { orchestrationId: id });
  const row = () => t.run((ctx) => ctx.db.get("orchestrations", orchestrationId));
  return { token, orchestrationId, syncTeam, delta, user, progressOf, row };
}

describe("each phase's tasks, kept by team sync", () => {
  test("a phase team's board tasks count as done of all; trackers and deleted tasks do not", async () => {
    const t = makeT();
    const { syncTeam, progressOf } = await setup(t);
    await syncTeam("billing-export-phase-2", [
      task("1", { status: "completed" }),
      task("2", { status: "in_progress" }),
      task("3"),
      task("4", { status: "completed", internal: true }),
      task("5", { status: "deleted" }),
    ]);
    // The orchestration's own team has no phase: its tasks are not a phase's.
    await syncTeam("billing-export", [task("1", { status: "completed" })]);
    expect((await progressOf()).phases).toEqual([{ phaseNumber: "2", done: 1, total: 3 }]);
  });

  test("a delta's counts move the phase's progress, never the orchestration row; the list reads no team", async () => {
    const t = makeT();
    const { syncTeam, delta, progressOf, row, user } = await setup(t);
    const dir = "billing-export-phase-2";
    await syncTeam(dir, [task("1"), task("2")]);
    await user.query(api.orchestrations.listOrchestrations, {});
    const listReads = lastCallMetrics().documentsRead;
    const before = await row();
    expect(
      (await delta(dir, 1, 2, { tasks: [{ seq: 2, task: task("1", { status: "completed" }) }], taskCounts: { ...COUNTS, pending: 1, completed: 1 } })).status,
    ).toBe("applied");
    expect((await progressOf()).phases).toEqual([{ phaseNumber: "2", done: 1, total: 2 }]);
    expect(await row()).toEqual(before);
    for (let i = 3; i <= 9; i++) await syncTeam(`billing-export-phase-${i}`, [task("1")]);
    await user.query(api.orchestrations.listOrchestrations, {});
    expect(lastCallMetrics().documentsRead).toBe(listReads);
  });

  test("a task's change adjusts its phase without reading the orchestration's other teams", async () => {
    const t = makeT();
    const { syncTeam, delta, progressOf } = await setup(t);
    for (let i = 3; i <= 12; i++) await syncTeam(`billing-export-phase-${i}`, [task("1")]);
    const dir = "billing-export-phase-2";
    await syncTeam(dir, [task("1"), task("2")]);
    await delta(dir, 1, 2, { taskCounts: { ...COUNTS, pending: 2 } });
    const unchanged = lastCallMetrics().documentsRead;
    await delta(dir, 2, 3, { tasks: [{ seq: 3, task: task("2", { status: "completed" }) }], taskCounts: { ...COUNTS, pending: 1, completed: 1 } });
    // More only by the task row, its event and the progress row (read, patched): none of the 10 other teams.
    expect(lastCallMetrics().documentsRead).toBeLessThanOrEqual(unchanged + 4);
    expect((await progressOf()).phases.find((p) => p.phaseNumber === "2")).toEqual({ phaseNumber: "2", done: 1, total: 2 });
  });

  test("a removed team's phase leaves the progress; a reconcile's counts replace it", async () => {
    const t = makeT();
    const { token, syncTeam, progressOf } = await setup(t);
    await syncTeam("billing-export-phase-1", [task("1", { status: "completed" })]);
    await syncTeam("billing-export-phase-2", [task("1")]);
    expect((await progressOf()).phases.map((p) => p.phaseNumber)).toEqual(["1", "2"]);
    await t.mutation(api.teams.removeTeam, { nodeToken: token, dirName: "billing-export-phase-1", seq: 5 });
    expect((await progressOf()).phases).toEqual([{ phaseNumber: "2", done: 0, total: 1 }]);
    const dir = "billing-export-phase-2";
    await t.mutation(api.teams.reconcileTeam, { nodeToken: token, team: team(dir), epoch: 7, tasks: [] });
    await t.mutation(api.teams.finishReconcile, { nodeToken: token, dirName: dir, epoch: 7, seq: 8, taskCounts: { ...COUNTS, completed: 3, inProgress: 1 } });
    expect((await progressOf()).phases).toEqual([{ phaseNumber: "2", done: 3, total: 4 }]);
  });

  test("teams working before their orchestration appears count once it does", async () => {
    const t = makeT();
    const { token } = await enroll(t);
    const dir = "billing-export-phase-1";
    await t.mutation(api.teams.syncTeam, {
      nodeToken: token,
      team: team(dir),
      members: [member("team-lead", dir, { cwd: WORKTREE })],
      tasks: [task("1", { status: "completed" }), task("2")],
      seq: 1,
    });
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, { nodeToken: token, orchestration: orchestration(), phases: [phase("1", "executing")] });
    const user = await signedIn(t);
    expect((await user.query(api.orchestrations.orchestrationProgress, { orchestrationId })).phases).toEqual([{ phaseNumber: "1", done: 1, total: 2 }]);
  });
});

describe("the last activity and the agents", () => {
  test("the newest of the journal's events and the tasks' changes, with the agents by liveness", async () => {
    const t = makeT();
    const { token, orchestrationId, syncTeam, delta, progressOf } = await setup(t);
    expect(await progressOf()).toEqual({ phases: [] });
    const journal = (recordedAt: number) =>
      t.mutation(api.events.recordEvents, {
        nodeToken: token,
        orchestrationId,
        events: [{ idempotencyKey: `evt-${recordedAt}`, eventType: "execute_started", source: "tina-session", summary: "Phase 2 execution started", phaseNumber: "2", recordedAt }],
      });
    await journal(T0);
    expect((await progressOf()).lastActivity).toEqual({ source: "event", at: T0, eventType: "execute_started", summary: "Phase 2 execution started", phaseNumber: "2" });
    const dir = "billing-export-phase-2";
    await syncTeam(dir, [task("1", { subject: "Wire the login endpoint" })]);
    await delta(dir, 1, 2, {
      tasks: [{ seq: 2, task: task("1", { subject: "Wire the login endpoint", status: "completed", owner: "executor-1" }) }],
      taskCounts: { ...COUNTS, completed: 1 },
    });
    const now = await progressOf();
    expect(now.agents).toEqual({ working: 1, idle: 0, waiting: 0, shutDown: 0, gone: 0 });
    expect(now.lastActivity).toMatchObject({
      source: "task",
      kind: "updated",
      status: "completed",
      previousStatus: "pending",
      subject: "Wire the login endpoint",
      owner: "executor-1",
      phaseNumber: "2",
    });
    // A journal event newer than the task's change is the last activity again.
    await journal(now.lastActivity!.at + 1000);
    expect((await progressOf()).lastActivity).toMatchObject({ source: "event", summary: "Phase 2 execution started" });
  });

  test("it reads a handful of documents however many events and teams there are", async () => {
    const t = makeT();
    const { token, orchestrationId, syncTeam, progressOf } = await setup(t);
    await syncTeam("billing-export-phase-2", [task("1")]);
    await progressOf();
    const few = lastCallMetrics().documentsRead;
    const events = Array.from({ length: 200 }, (_, i) => ({ idempotencyKey: `evt-${String(i).padStart(8, "0")}`, eventType: "note", source: "test", summary: `e${i}`, recordedAt: Date.now() + 60_000 + i }));
    await t.mutation(api.events.recordEvents, { nodeToken: token, orchestrationId, events });
    for (let i = 3; i <= 8; i++) await syncTeam(`billing-export-phase-${i}`, [task("1"), task("2")]);
    expect((await progressOf()).lastActivity).toMatchObject({ source: "event", summary: "e199" });
    expect(lastCallMetrics().documentsRead).toBeLessThanOrEqual(few + 1);
  });
});
