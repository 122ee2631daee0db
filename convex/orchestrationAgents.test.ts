// @vitest-environment edge-runtime
// The lists' agent counts: team sync stores each orchestration's agents by liveness in a row of
// their own (orchestrationAgents), so orchestrations:listOrchestrations reads no team and an
// agent's change re-runs only orchestrations:orchestrationAgents, the row's own small query.
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
  /** An orchestration's agents as its row of the list shows them (undefined: no counts). */
  const sumOf = async (orchestrationId: Id<"orchestrations">) => (await user.query(api.orchestrations.orchestrationAgents, { orchestrationId })) ?? undefined;
  const agents = async () => new Map([[orchestrationId, await sumOf(orchestrationId)], [otherId, await sumOf(otherId)]]);
  const row = (id: Id<"orchestrations">) => t.run((ctx) => ctx.db.get("orchestrations", id));
  return { nodeId, token, orchestrationId, otherId, members, syncTeam, delta, user, agents, sumOf, row };
}

describe("agents by liveness on the orchestration row", () => {
  test("the list and a row's counts read the same documents however many live teams report liveness", async () => {
    const t = makeT();
    const { orchestrationId, syncTeam, user, sumOf } = await setup(t);
    await syncTeam("billing-export-phase-0", ["working"]);
    await user.query(api.orchestrations.listOrchestrations, {});
    const few = lastCallMetrics().documentsRead;
    await sumOf(orchestrationId);
    const fewForSum = lastCallMetrics().documentsRead;
    for (let i = 1; i <= 12; i++) await syncTeam(`billing-export-phase-${i}`, ["working", "idle"]);
    await user.query(api.orchestrations.listOrchestrations, {});
    expect(lastCallMetrics().documentsRead).toBe(few);
    expect(await sumOf(orchestrationId)).toEqual({ working: 13, idle: 12, waiting: 0, shutDown: 0, gone: 0 });
    expect(lastCallMetrics().documentsRead).toBe(fewForSum);
  });

  test("an agent's change writes its orchestration's counts row, never the orchestration row the list reads", async () => {
    const t = makeT();
    const { orchestrationId, syncTeam, delta, members, row, sumOf } = await setup(t);
    const dir = "billing-export-phase-1";
    await syncTeam(dir, ["working", "idle"]);
    const before = await row(orchestrationId);
    expect(await delta(dir, 1, 2, { members: members(dir, ["idle", "idle"]) })).toMatchObject({ status: "applied" });
    expect(await delta(dir, 2, 3, { members: members(dir, ["gone", "waiting"]) })).toMatchObject({ status: "applied" });
    expect(await row(orchestrationId)).toEqual(before);
    expect(await sumOf(orchestrationId)).toEqual({ working: 0, idle: 0, waiting: 1, shutDown: 0, gone: 1 });
  });

  test("a delta that changes tasks or resends the same liveness leaves the orchestration row untouched", async () => {
    const t = makeT();
    const { orchestrationId, syncTeam, delta, members, row, sumOf } = await setup(t);
    const dir = "billing-export-phase-1";
    await syncTeam(dir, ["working", "idle"]);
    const before = await row(orchestrationId);
    expect(await sumOf(orchestrationId)).toEqual({ working: 1, idle: 1, waiting: 0, shutDown: 0, gone: 0 });
    expect((await delta(dir, 1, 2, { tasks: [{ seq: 2, task: task("1", { status: "in_progress" }) }], taskCounts: { ...COUNTS, inProgress: 1 } })).status).toBe("applied");
    expect((await delta(dir, 2, 3, { members: members(dir, ["working", "idle"]) })).status).toBe("applied");
    expect(await row(orchestrationId)).toEqual(before);
  });

  test("a liveness change adjusts the stored sum without reading the orchestration's other teams", async () => {
    const t = makeT();
    const { orchestrationId, syncTeam, delta, members, sumOf } = await setup(t);
    for (let i = 2; i <= 10; i++) await syncTeam(`billing-export-phase-${i}`, ["working"]);
    const dir = "billing-export-phase-1";
    await syncTeam(dir, ["working", "idle"]);
    await delta(dir, 1, 2, { members: members(dir, ["working", "idle"]) });
    const unchanged = lastCallMetrics().documentsRead;
    await delta(dir, 2, 3, { members: members(dir, ["idle", "idle"]) });
    // More only by the rows it patches (convex-test counts a patch as a read): a member, and the
    // orchestration's counts row (read, patched), none of the 10 other teams.
    expect(lastCallMetrics().documentsRead).toBeLessThanOrEqual(unchanged + 3);
    expect(await sumOf(orchestrationId)).toEqual({ working: 9, idle: 2, waiting: 0, shutDown: 0, gone: 0 });
    await delta(dir, 3, 4, { members: members(dir, ["rate_limited", "idle"]) });
    expect(await sumOf(orchestrationId)).toEqual({ working: 9, idle: 1, waiting: 0, shutDown: 0, gone: 0, rateLimited: 1 });
    await delta(dir, 4, 5, { members: members(dir, ["idle", "idle"]) });
    expect(await sumOf(orchestrationId)).toEqual({ working: 9, idle: 2, waiting: 0, shutDown: 0, gone: 0 });
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
    expect(await (await signedIn(t)).query(api.orchestrations.orchestrationAgents, { orchestrationId })).toEqual({ working: 1, idle: 1, waiting: 0, shutDown: 0, gone: 0 });
  });

  test("an orchestration stored by an older version shows the sum on its row, and gets its counts row at its team's next sync", async () => {
    const t = makeT();
    const { orchestrationId, syncTeam, delta, row, sumOf } = await setup(t);
    const dir = "billing-export-phase-1";
    await syncTeam(dir, ["working", "idle"]);
    const legacy = async (agents: { working: number; idle: number; waiting: number; shutDown: number; gone: number } | undefined) =>
      await t.run(async (ctx) => {
        for (const r of await ctx.db.query("orchestrationAgents").collect()) await ctx.db.delete("orchestrationAgents", r._id);
        await ctx.db.patch("orchestrations", orchestrationId, { agents, agentsInTable: undefined });
      });
    // Kept on the row (the version before the counts had their own rows): shown as it is.
    await legacy({ working: 1, idle: 1, waiting: 0, shutDown: 0, gone: 0 });
    expect(await sumOf(orchestrationId)).toEqual({ working: 1, idle: 1, waiting: 0, shutDown: 0, gone: 0 });
    await delta(dir, 1, 2, { tasks: [{ seq: 2, task: task("1") }], taskCounts: { ...COUNTS, pending: 1 } });
    expect(await t.run((ctx) => ctx.db.query("orchestrationAgents").collect())).toMatchObject([{ orchestrationId, agents: { working: 1, idle: 1 } }]);
    expect((await row(orchestrationId))!.agentsInTable).toBe(true);
    // Not summed at all (the version before that): summed at the team's next sync.
    await legacy(undefined);
    expect(await sumOf(orchestrationId)).toBeUndefined();
    await delta(dir, 2, 3, { tasks: [{ seq: 3, task: task("2") }], taskCounts: { ...COUNTS, pending: 2 } });
    expect(await sumOf(orchestrationId)).toEqual({ working: 1, idle: 1, waiting: 0, shutDown: 0, gone: 0 });
  });
});
