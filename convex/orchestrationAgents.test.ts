// @vitest-environment edge-runtime
// The lists' agent counts: team sync stores each orchestration's agents by liveness on its row,
// so orchestrations:listOrchestrations reads no team and a team delta does not re-run it.
import { describe, expect, test } from "vitest";
import { api } from "./_generated/api";
import type { Id } from "./_generated/dataModel";
import { enroll, lastCallMetrics, makeT, member, orchestration, phase, signedIn, T0, task, team, type T } from "./test.setup";

const COUNTS = { pending: 0, inProgress: 0, completed: 0, other: 0 };
const OTHER_WORKTREE = "/home/dev/acme/.worktrees/search";

async function setup(t: T) {
  const { nodeId, token } = await enroll(t);
  const sync = (featureName: string, worktreePath: string, startedAt: number) =>
    t.mutation(api.orchestrations.syncOrchestration, {
      nodeToken: token,
      orchestration: orchestration({ featureName, worktreePath, status: "executing", startedAt }),
      phases: [phase("1", "executing")],
    });
  const { orchestrationId } = await sync("billing-export", "/home/dev/acme/.worktrees/billing-export", T0);
  const { orchestrationId: otherId } = await sync("search", OTHER_WORKTREE, T0 - 1);
  const members = (dir: string, states: string[], cwd?: string) =>
    states.map((liveness, i) => member(`agent-${i}`, dir, { liveness, ...(cwd === undefined ? {} : { cwd }) }));
  const syncTeam = (dir: string, states: string[], cwd?: string) =>
    t.mutation(api.teams.syncTeam, { nodeToken: token, team: team(dir), members: members(dir, states, cwd), tasks: [], seq: 1 });
  const delta = (dir: string, base: number, seq: number, extra: Record<string, unknown> = {}) =>
    t.mutation(api.teams.syncTeamDelta, { nodeToken: token, team: team(dir), base, seq, tasks: [], removed: [], taskCounts: COUNTS, ...extra });
  const user = await signedIn(t);
  const agents = async () => {
    const list = await user.query(api.orchestrations.listOrchestrations, {});
    return new Map(list.active.map((o) => [o._id as Id<"orchestrations">, o.agents]));
  };
  const row = (id: Id<"orchestrations">) => t.run((ctx) => ctx.db.get("orchestrations", id));
  return { nodeId, token, orchestrationId, otherId, members, syncTeam, delta, user, agents, row };
}

describe("agents by liveness on the orchestration row", () => {
  test("the list reads the same documents however many live teams report liveness", async () => {
    const t = makeT();
    const { syncTeam, user } = await setup(t);
    await syncTeam("billing-export-phase-0", ["working"]);
    await user.query(api.orchestrations.listOrchestrations, {});
    const few = lastCallMetrics().documentsRead;
    for (let i = 1; i <= 12; i++) await syncTeam(`billing-export-phase-${i}`, ["working", "idle"]);
    const list = await user.query(api.orchestrations.listOrchestrations, {});
    expect(lastCallMetrics().documentsRead).toBe(few);
    expect(list.active.find((o) => o.featureName === "billing-export")!.agents).toEqual({ working: 13, idle: 12, waiting: 0, shutDown: 0, gone: 0 });
  });

  test("a delta that changes tasks or resends the same liveness leaves the orchestration row untouched", async () => {
    const t = makeT();
    const { orchestrationId, syncTeam, delta, members, row } = await setup(t);
    const dir = "billing-export-phase-1";
    await syncTeam(dir, ["working", "idle"]);
    const before = await row(orchestrationId);
    expect(before!.agents).toEqual({ working: 1, idle: 1, waiting: 0, shutDown: 0, gone: 0 });
    expect((await delta(dir, 1, 2, { tasks: [{ seq: 2, task: task("1", { status: "in_progress" }) }], taskCounts: { ...COUNTS, inProgress: 1 } })).status).toBe("applied");
    expect((await delta(dir, 2, 3, { members: members(dir, ["working", "idle"]) })).status).toBe("applied");
    expect(await row(orchestrationId)).toEqual(before);
  });

  test("a liveness change adjusts the stored sum without reading the orchestration's other teams", async () => {
    const t = makeT();
    const { orchestrationId, syncTeam, delta, members, row } = await setup(t);
    for (let i = 2; i <= 10; i++) await syncTeam(`billing-export-phase-${i}`, ["working"]);
    const dir = "billing-export-phase-1";
    await syncTeam(dir, ["working", "idle"]);
    await delta(dir, 1, 2, { members: members(dir, ["working", "idle"]) });
    const unchanged = lastCallMetrics().documentsRead;
    await delta(dir, 2, 3, { members: members(dir, ["idle", "idle"]) });
    // More only by the rows it patches (convex-test counts a patch as a read): a member, the team
    // (its liveness; a delta that changes nothing it shows does not patch it) and the
    // orchestration, none of the 10 other teams.
    expect(lastCallMetrics().documentsRead).toBeLessThanOrEqual(unchanged + 3);
    expect((await row(orchestrationId))!.agents).toEqual({ working: 9, idle: 2, waiting: 0, shutDown: 0, gone: 0 });
    await delta(dir, 3, 4, { members: members(dir, ["rate_limited", "idle"]) });
    expect((await row(orchestrationId))!.agents).toEqual({ working: 9, idle: 1, waiting: 0, shutDown: 0, gone: 0, rateLimited: 1 });
    await delta(dir, 4, 5, { members: members(dir, ["idle", "idle"]) });
    expect((await row(orchestrationId))!.agents).toEqual({ working: 9, idle: 2, waiting: 0, shutDown: 0, gone: 0 });
  });

  test("liveness changes, moves between orchestrations, removal and revival keep every sum right", async () => {
    const t = makeT();
    const { orchestrationId, otherId, token, syncTeam, delta, members, agents } = await setup(t);
    const dir = "billing-export-phase-1";
    await syncTeam("billing-export-orchestration", ["working"]);
    await syncTeam(dir, ["working", "waiting"]);
    expect((await agents()).get(orchestrationId)).toEqual({ working: 2, idle: 0, waiting: 1, shutDown: 0, gone: 0 });
    expect((await agents()).get(otherId)).toBeUndefined();

    // A member's liveness changes (delta with members).
    await delta(dir, 1, 2, { members: members(dir, ["idle", "rate_limited"]) });
    expect((await agents()).get(orchestrationId)).toEqual({ working: 1, idle: 1, waiting: 0, shutDown: 0, gone: 0, rateLimited: 1 });

    // The team's members move to the other worktree: it leaves one orchestration for the other.
    await delta(dir, 2, 3, { members: members(dir, ["gone"], OTHER_WORKTREE) });
    expect((await agents()).get(orchestrationId)).toEqual({ working: 1, idle: 0, waiting: 0, shutDown: 0, gone: 0 });
    expect((await agents()).get(otherId)).toEqual({ working: 0, idle: 0, waiting: 0, shutDown: 0, gone: 1 });

    // Removed: its agents leave the sum (no team reports liveness any more: no counts).
    await t.mutation(api.teams.removeTeam, { nodeToken: token, dirName: dir });
    expect((await agents()).get(otherId)).toBeUndefined();

    // Revived by a reconcile (back in the first worktree).
    await t.mutation(api.teams.reconcileTeam, { nodeToken: token, team: team(dir), epoch: 10, members: members(dir, ["shut_down"]), tasks: [] });
    expect((await agents()).get(orchestrationId)).toEqual({ working: 1, idle: 0, waiting: 0, shutDown: 1, gone: 0 });
    expect((await agents()).get(otherId)).toBeUndefined();
  });

  test("teams working before their orchestration appears are counted when it is linked", async () => {
    const t = makeT();
    const { token } = await enroll(t);
    const dir = "payments-phase-1";
    const cwd = "/home/dev/acme/.worktrees/payments";
    await t.mutation(api.teams.syncTeam, {
      nodeToken: token,
      team: team(dir),
      members: [member("team-lead", dir, { cwd, liveness: "working" }), member("executor-1", dir, { cwd, liveness: "idle" })],
      tasks: [],
    });
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, {
      nodeToken: token,
      orchestration: orchestration({ featureName: "payments", worktreePath: cwd, status: "executing" }),
      phases: [],
    });
    const list = await (await signedIn(t)).query(api.orchestrations.listOrchestrations, {});
    expect(list.active.find((o) => o._id === orchestrationId)!.agents).toEqual({ working: 1, idle: 1, waiting: 0, shutDown: 0, gone: 0 });
  });

  test("an orchestration stored before rows carried the sum gets it at its team's next sync", async () => {
    const t = makeT();
    const { orchestrationId, syncTeam, delta, row } = await setup(t);
    const dir = "billing-export-phase-1";
    await syncTeam(dir, ["working"]);
    await t.run((ctx) => ctx.db.patch("orchestrations", orchestrationId, { agents: undefined }));
    await delta(dir, 1, 2, { tasks: [{ seq: 2, task: task("1") }], taskCounts: { ...COUNTS, pending: 1 } });
    expect((await row(orchestrationId))!.agents).toEqual({ working: 1, idle: 0, waiting: 0, shutDown: 0, gone: 0 });
  });
});
