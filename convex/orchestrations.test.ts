// @vitest-environment edge-runtime
import { describe, expect, test } from "vitest";
import { api } from "./_generated/api";
import type { Id } from "./_generated/dataModel";
import { comparePhases, derive } from "./model/orchestrations";
import { signedIn, T0, enroll, lastCallMetrics, makeT, member, orchestration, phase, refusal, task, team, type T } from "./test.setup";

describe("syncOrchestration", () => {
  test("the same snapshot twice leaves the same state and reports no change", async () => {
    const t = makeT();
    const { token } = await enroll(t);
    const args = { nodeToken: token, orchestration: orchestration(), phases: [phase("1", "planning")] };
    const first = await t.mutation(api.orchestrations.syncOrchestration, args);
    const before = await t.run(async (ctx) => ({
      o: await ctx.db.query("orchestrations").collect(),
      p: await ctx.db.query("phases").collect(),
    }));
    const second = await t.mutation(api.orchestrations.syncOrchestration, args);
    const after = await t.run(async (ctx) => ({
      o: await ctx.db.query("orchestrations").collect(),
      p: await ctx.db.query("phases").collect(),
    }));
    expect(first).toMatchObject({ applied: true, changed: true });
    expect(second).toEqual({ orchestrationId: first.orchestrationId, applied: true, changed: false });
    expect(after).toEqual(before);
  });

  test("updates changed phases, adds new ones and drops vanished ones", async () => {
    const t = makeT();
    const { token } = await enroll(t);
    const sync = (phases: ReturnType<typeof phase>[], status = "executing") =>
      t.mutation(api.orchestrations.syncOrchestration, {
        nodeToken: token,
        orchestration: orchestration({ status }),
        phases,
      });
    const { orchestrationId } = await sync([phase("1", "planning"), phase("2", "planning")]);
    const res = await sync([phase("1", "executing", { executionStartedAt: T0 + 120_000, planPath: "/p/1.md" })]);
    expect(res.changed).toBe(true);
    const phases = await t.run((ctx) => ctx.db.query("phases").collect());
    expect(phases).toHaveLength(1);
    expect(phases[0]).toMatchObject({ orchestrationId, phaseNumber: "1", status: "executing", planPath: "/p/1.md" });
  });

  test("a re-run of a feature (new start time) is a new orchestration; another laptop's is separate", async () => {
    const t = makeT();
    const a = await enroll(t, "a");
    const b = await enroll(t, "b");
    const one = await t.mutation(api.orchestrations.syncOrchestration, { nodeToken: a.token, orchestration: orchestration(), phases: [] });
    const rerun = await t.mutation(api.orchestrations.syncOrchestration, {
      nodeToken: a.token,
      orchestration: orchestration({ startedAt: T0 + 3_600_000 }),
      phases: [],
    });
    const other = await t.mutation(api.orchestrations.syncOrchestration, { nodeToken: b.token, orchestration: orchestration(), phases: [] });
    expect(new Set([one.orchestrationId, rerun.orchestrationId, other.orchestrationId]).size).toBe(3);
  });

  test("a snapshot older than the last applied one is ignored", async () => {
    const t = makeT();
    const { token } = await enroll(t);
    await t.mutation(api.orchestrations.syncOrchestration, {
      nodeToken: token,
      orchestration: orchestration({ status: "executing" }),
      phases: [phase("1", "executing")],
      seq: 5,
    });
    const stale = await t.mutation(api.orchestrations.syncOrchestration, {
      nodeToken: token,
      orchestration: orchestration(),
      phases: [phase("1", "planning")],
      seq: 4,
    });
    expect(stale.applied).toBe(false);
    expect((await t.run((ctx) => ctx.db.query("phases").first()))!.status).toBe("executing");
  });

  test("a newer snapshot that changes nothing the orchestration row shows leaves the row untouched; its sequence still counts", async () => {
    const t = makeT();
    const { token } = await enroll(t);
    const sync = (seq: number, phases = [phase("1", "executing")], status = "executing") =>
      t.mutation(api.orchestrations.syncOrchestration, { nodeToken: token, orchestration: orchestration({ status }), phases, seq });
    const { orchestrationId } = await sync(1);
    const row = async () => (await t.run((ctx) => ctx.db.get("orchestrations", orchestrationId)))!;
    const before = await row();
    // The same snapshot again, then a phase's time changes: the lists' row is not written.
    expect(await sync(2)).toMatchObject({ applied: true, changed: false });
    expect(await sync(3, [phase("1", "executing", { executionStartedAt: T0 + 60_000 })])).toMatchObject({ applied: true, changed: true });
    expect(await row()).toEqual(before);
    // The sequence was kept all the same: an older snapshot is ignored.
    expect((await sync(2, [phase("1", "planning")], "planning")).applied).toBe(false);
    expect((await row()).status).toBe("executing");
    expect((await sync(4, [phase("1", "complete")], "complete")).changed).toBe(true);
    expect(await row()).toMatchObject({ status: "complete", active: false });
  });

  test("an orchestration stored by an older version keeps its sequence on the row: older snapshots are still ignored", async () => {
    const t = makeT();
    const { token } = await enroll(t);
    const args = { nodeToken: token, orchestration: orchestration({ status: "executing" }), phases: [phase("1", "executing")] };
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, args);
    await t.run((ctx) => ctx.db.patch("orchestrations", orchestrationId, { lastSeq: 7 }));
    const older = await t.mutation(api.orchestrations.syncOrchestration, { ...args, orchestration: orchestration(), seq: 6 });
    expect(older.applied).toBe(false);
    expect(await t.mutation(api.orchestrations.syncOrchestration, { ...args, seq: 8 })).toMatchObject({ applied: true });
    expect((await t.mutation(api.orchestrations.syncOrchestration, { ...args, seq: 7 })).applied).toBe(false);
  });

  test("invalid snapshots are refused with the field named, and change nothing", async () => {
    const t = makeT();
    const { token } = await enroll(t);
    const cases: [Record<string, unknown>, unknown[], string][] = [
      [orchestration({ featureName: "../etc" }), [], "orchestration.featureName"],
      [orchestration({ totalPhases: 1.5 }), [], "orchestration.totalPhases"],
      [orchestration({ startedAt: 1_700_000_000 }), [], "orchestration.startedAt"],
      [orchestration(), [phase("1-retry", "planning")], "phases.phaseNumber"],
      [orchestration(), [phase("1.5.5.5", "planning")], "phases.phaseNumber"],
      [orchestration(), [phase("1", "planning"), phase("1", "planning")], "phases.phaseNumber"],
      [orchestration(), [phase("1", "planning", { planningMins: Number.NaN })], "phases.planningMins"],
    ];
    for (const [o, phases, field] of cases) {
      const err = await refusal(
        t.mutation(api.orchestrations.syncOrchestration, { nodeToken: token, orchestration: o as never, phases: phases as never }),
      );
      expect(err).toMatchObject({ code: "invalid_argument", field });
    }
    expect(await t.run((ctx) => ctx.db.query("orchestrations").collect())).toHaveLength(0);
  });

  test("an Int64 where the schema says number is rejected by the validator", async () => {
    const t = makeT();
    const { token } = await enroll(t);
    await expect(
      t.mutation(api.orchestrations.syncOrchestration, {
        nodeToken: token,
        orchestration: orchestration({ totalPhases: 3n }) as never,
        phases: [],
      }),
    ).rejects.toThrow(/Expected `number`/);
  });
});

describe("derived fields", () => {
  test("phase ordering is numeric", () => {
    expect(["2", "1.5.5", "10", "1", "1.5"].sort(comparePhases)).toEqual(["1", "1.5", "1.5.5", "2", "10"]);
  });

  test("attention: blocked beats awaiting approval; complete needs none", () => {
    const o = orchestration({ status: "blocked" });
    expect(derive(o, [phase("1", "complete"), phase("2", "blocked", { blockedReason: "tests fail" })])).toMatchObject({
      attention: "blocked",
      attentionPhase: "2",
      attentionReason: "tests fail",
      phasesCompleted: 1,
      active: true,
    });
    expect(derive(orchestration(), [phase("1", "awaiting_approval")])).toMatchObject({ attention: "awaiting_approval", attentionPhase: "1" });
    expect(derive(orchestration({ status: "complete" }), [phase("1", "complete"), phase("1.5", "complete")])).toMatchObject({
      attention: undefined,
      active: false,
      phasesCompleted: 1,
    });
  });
});

describe("dashboard reads", () => {
  test("listOrchestrations: active first, finished bounded, node names, filters", async () => {
    const t = makeT();
    const a = await enroll(t, "a");
    const b = await enroll(t, "b");
    for (let i = 0; i < 5; i++) {
      await t.mutation(api.orchestrations.syncOrchestration, {
        nodeToken: i % 2 ? b.token : a.token,
        orchestration: orchestration({ featureName: `f${i}`, startedAt: T0 + i, status: i < 3 ? "complete" : "executing" }),
        phases: [],
      });
    }
    const user = await signedIn(t);
    const all = await user.query(api.orchestrations.listOrchestrations, { finishedLimit: 2 });
    expect(all.active.map((o) => o.featureName)).toEqual(["f4", "f3"]);
    expect(all.finished.map((o) => o.featureName)).toEqual(["f2", "f1"]);
    expect(all.active[0]).toMatchObject({ nodeName: "a", nodeOnline: true });
    const onB = await user.query(api.orchestrations.listOrchestrations, { nodeId: b.nodeId });
    expect([...onB.active, ...onB.finished].map((o) => o.featureName)).toEqual(["f3", "f1"]);
    const complete = await user.query(api.orchestrations.listOrchestrations, { status: "complete" });
    expect(complete.active).toEqual([]);
    expect(complete.finished.map((o) => o.featureName)).toEqual(["f2", "f1", "f0"]);
    expect((await refusal(t.query(api.orchestrations.listOrchestrations, {}))).code).toBe("unauthenticated");
  });

  test("listOrchestrations: many rows of other laptops or statuses hide no match of a laptop and status filter", async () => {
    const t = makeT({ documentsRead: 1000 });
    const a = await enroll(t, "a");
    const b = await enroll(t, "b");
    const insert = (nodeId: Id<"nodes">, count: number, status: "blocked" | "complete" | "executing", start: number) =>
      t.run(async (ctx) => {
        for (let i = 0; i < count; i++) {
          await ctx.db.insert("orchestrations", {
            ...orchestration({ featureName: `${status}-${start + i}`, startedAt: T0 + start + i, status }),
            nodeId,
            active: status !== "complete",
            phasesCompleted: 0,
            updatedAt: T0,
          });
        }
      });
    // Laptop b's rows are the oldest; laptop a has 250 newer ones of each status.
    await insert(b.nodeId, 1, "blocked", 0);
    await insert(b.nodeId, 3, "complete", 10);
    await insert(a.nodeId, 250, "blocked", 1000);
    await insert(a.nodeId, 250, "complete", 2000);
    await insert(a.nodeId, 250, "executing", 3000);
    const user = await signedIn(t);
    const names = (l: { featureName: string }[]) => l.map((o) => o.featureName);
    const blockedOnB = await user.query(api.orchestrations.listOrchestrations, { nodeId: b.nodeId, status: "blocked" });
    expect(names(blockedOnB.active)).toEqual(["blocked-0"]);
    expect(blockedOnB.finished).toEqual([]);
    const completeOnB = await user.query(api.orchestrations.listOrchestrations, { nodeId: b.nodeId, status: "complete", finishedLimit: 2 });
    expect(completeOnB.active).toEqual([]);
    expect(names(completeOnB.finished)).toEqual(["complete-12", "complete-11"]);
    // A status alone: newest first, the finished window as asked, other statuses never read.
    const complete = await user.query(api.orchestrations.listOrchestrations, { status: "complete", finishedLimit: 100 });
    expect(complete.active).toEqual([]);
    expect(complete.finished).toHaveLength(100);
    expect(complete.finished[0]).toMatchObject({ featureName: "complete-2249", nodeName: "a" });
    const blocked = await user.query(api.orchestrations.listOrchestrations, { status: "blocked" });
    expect(blocked.active).toHaveLength(200);
    expect(blocked.finished).toEqual([]);
  });

  test("listOrchestrations and getOrchestrationDetail stay bounded with thousands of rows", async () => {
    // Each transaction may read at most 1000 documents: a query that scanned the
    // 3000 rows below would fail.
    const t = makeT({ documentsRead: 1000 });
    const { nodeId, token } = await enroll(t);
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, {
      nodeToken: token,
      orchestration: orchestration({ status: "executing" }),
      phases: [phase("1", "executing")],
    });
    await t.run(async (ctx) => {
      for (let i = 0; i < 3000; i++) {
        await ctx.db.insert("orchestrations", {
          ...orchestration({ featureName: `old-${i}`, startedAt: T0 - 1_000_000 + i, status: "complete" }),
          nodeId,
          active: false,
          phasesCompleted: 3,
          updatedAt: T0,
        });
        await ctx.db.insert("orchestrationEvents", {
          orchestrationId,
          nodeId,
          eventType: "info",
          source: "test",
          summary: `e${i}`,
          recordedAt: T0 + i,
          idempotencyKey: `key-${i}-xxxxxxxx`,
        });
      }
    });
    const user = await signedIn(t);
    const list = await user.query(api.orchestrations.listOrchestrations, { finishedLimit: 100 });
    expect(list.finished).toHaveLength(100);
    expect(list.active).toHaveLength(1);
    const detail = await user.query(api.orchestrations.getOrchestrationDetail, { orchestrationId });
    expect(detail!.orchestration._id).toBe(orchestrationId);
    // Events are not in the detail (events:listEvents pages through them): none is read.
    expect(lastCallMetrics().documentsRead).toBeLessThan(20);
  });

  test("getOrchestrationDetail: phases in order, null for a missing id", async () => {
    const t = makeT();
    const { token } = await enroll(t);
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, {
      nodeToken: token,
      orchestration: orchestration(),
      phases: [phase("2", "planning"), phase("1.5", "complete"), phase("1", "complete")],
    });
    const user = await signedIn(t);
    const detail = await user.query(api.orchestrations.getOrchestrationDetail, { orchestrationId });
    expect(detail!.phases.map((p) => p.phaseNumber)).toEqual(["1", "1.5", "2"]);
    expect(detail!.nodeName).toBe("laptop-a");
    await t.run((ctx) => ctx.db.delete("orchestrations", orchestrationId));
    expect(await user.query(api.orchestrations.getOrchestrationDetail, { orchestrationId })).toBeNull();
  });

  test("getOrchestrationDetail: an address's id that is malformed or of another table is not found, not a validator error", async () => {
    const t = makeT();
    const { token, nodeId } = await enroll(t);
    const user = await signedIn(t);
    for (const orchestrationId of ["not-an-id", "", "x".repeat(128), nodeId as string]) {
      expect(await user.query(api.orchestrations.getOrchestrationDetail, { orchestrationId })).toBeNull();
    }
    // No address is 10,000 characters long: refused, like any oversized argument.
    await expect(user.query(api.orchestrations.getOrchestrationDetail, { orchestrationId: "x".repeat(10_000) })).rejects.toThrow(/at most 128 characters/);
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, { nodeToken: token, orchestration: orchestration(), phases: [] });
    expect((await user.query(api.orchestrations.getOrchestrationDetail, { orchestrationId }))!.orchestration._id).toBe(orchestrationId);
  });

  test("getOrchestrationDetail: teammate trackers are each member's activity, not board tasks", async () => {
    const t = makeT();
    const { token } = await enroll(t);
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, {
      nodeToken: token,
      orchestration: orchestration(),
      phases: [phase("1", "executing")],
    });
    const dir = "billing-export-phase-1";
    const tracker = (id: string, agent: string, overrides: Record<string, unknown> = {}) =>
      task(id, { subject: agent, status: "in_progress", internal: true, metadata: '{"_internal":true}', ...overrides });
    await t.mutation(api.teams.syncTeam, {
      nodeToken: token,
      team: team(dir),
      members: [
        member("team-lead", dir, { tmuxPaneId: "", reach: "lead" }),
        member("executor-1", dir, { isActive: false, backendType: "in-process", color: "blue", planModeRequired: true, reach: "in_process", tmuxPaneId: "in-process" }),
        member("executor-2", dir),
      ],
      tasks: [
        tracker("1", "executor-1", { createdAt: T0, activeForm: "Writing the exporter" }),
        task("2", { owner: "executor-1", status: "in_progress" }),
        // An older tracker of the same teammate (respawned), and one that was deleted.
        tracker("3", "executor-1", { createdAt: T0 - 60_000, status: "completed" }),
        tracker("4", "executor-2", { status: "deleted" }),
        task("5"),
      ],
    });
    const user = await signedIn(t);
    const detail = await user.query(api.orchestrations.getOrchestrationDetail, { orchestrationId });
    const [teamDetail] = detail!.teams;
    expect(teamDetail).toMatchObject({ membersTruncated: false, activityPartial: false });
    const board = await user.query(api.orchestrations.teamTasks, { teamId: teamDetail.team._id, paginationOpts: { numItems: 10, cursor: null } });
    expect(board.page.map((x) => x.taskId).sort()).toEqual(["2", "5"]);
    expect(teamDetail.team.taskCounts).toEqual({ pending: 1, inProgress: 1, completed: 0, other: 0 });
    const byName = new Map(teamDetail.members.map((m) => [m.agentName, m]));
    expect(byName.get("executor-1")).toMatchObject({
      isActive: false,
      backendType: "in-process",
      color: "blue",
      planModeRequired: true,
      reach: "in_process",
      activity: { taskId: "1", subject: "executor-1", status: "in_progress", activeForm: "Writing the exporter" },
    });
    expect(byName.get("team-lead")).toMatchObject({ reach: "lead" });
    expect(byName.get("team-lead")!.activity).toBeUndefined();
    expect(byName.get("executor-2")!.activity).toBeUndefined();
  });
});

describe("agents' liveness in the lists", () => {
  test("each summary sums the liveness of its live teams' agents; removed teams and other orchestrations do not count", async () => {
    const t = makeT();
    const { token } = await enroll(t);
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, {
      nodeToken: token,
      orchestration: orchestration({ status: "executing" }),
      phases: [phase("1", "executing")],
    });
    await t.mutation(api.orchestrations.syncOrchestration, {
      nodeToken: token,
      orchestration: orchestration({ featureName: "search", worktreePath: "/w/search", status: "executing", startedAt: T0 - 1 }),
      phases: [],
    });
    const sync = (dir: string, states: string[]) =>
      t.mutation(api.teams.syncTeam, {
        nodeToken: token,
        team: team(dir),
        members: states.map((liveness, i) => member(`agent-${i}`, dir, { liveness })),
        tasks: [],
      });
    await sync("billing-export-orchestration", ["working"]);
    await sync("billing-export-phase-1", ["working", "waiting", "idle", "shut_down"]);
    await sync("billing-export-phase-0", ["gone", "working"]);
    const user = await signedIn(t);
    const agents = async () => {
      const rows = (await user.query(api.orchestrations.listOrchestrations, {})).active;
      return new Map(await Promise.all(rows.map(async (o) => [o.featureName, (await user.query(api.orchestrations.orchestrationAgents, { orchestrationId: o._id })) ?? undefined] as const)));
    };
    expect((await agents()).get("billing-export")).toEqual({ working: 3, idle: 1, waiting: 1, shutDown: 1, gone: 1 });
    // No live team reports liveness: no counts.
    expect((await agents()).get("search")).toBeUndefined();
    await t.mutation(api.teams.removeTeam, { nodeToken: token, dirName: "billing-export-phase-0" });
    expect((await agents()).get("billing-export")).toEqual({ working: 2, idle: 1, waiting: 1, shutDown: 1, gone: 0 });
    const detail = await user.query(api.orchestrations.getOrchestrationDetail, { orchestrationId });
    expect(detail!.teams.find((x) => x.team.dirName === "billing-export-phase-1")!.team.liveness).toEqual({ working: 1, idle: 1, waiting: 1, shutDown: 1, gone: 0 });
  });

  test("removed teams are never read for the counts: team sync stays bounded, the list reads no team", async () => {
    const t = makeT({ documentsRead: 1000 });
    const { nodeId, token } = await enroll(t);
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, {
      nodeToken: token,
      orchestration: orchestration({ status: "executing" }),
      phases: [],
    });
    await t.run(async (ctx) => {
      for (let i = 0; i < 1200; i++) {
        await ctx.db.insert("teams", {
          nodeId,
          dirName: `old-${i}`,
          teamName: `old-${i}`,
          orchestrationId,
          memberCount: 1,
          taskCounts: { pending: 0, inProgress: 0, completed: 0, other: 0 },
          liveness: { working: 1, idle: 0, waiting: 0, shutDown: 0, gone: 0 },
          removedAt: T0,
          updatedAt: T0,
        });
      }
    });
    // The sum is stored on the orchestration by team sync, which reads its live teams only.
    await t.mutation(api.teams.syncTeam, {
      nodeToken: token,
      team: team("live"),
      members: [member("a", "live", { liveness: "idle" }), member("b", "live", { liveness: "waiting" })],
      tasks: [],
    });
    const user = await signedIn(t);
    const list = await user.query(api.orchestrations.listOrchestrations, {});
    expect(await user.query(api.orchestrations.orchestrationAgents, { orchestrationId: list.active[0]._id })).toEqual({ working: 0, idle: 1, waiting: 1, shutDown: 0, gone: 0 });
  });
});

const MiB = 1 << 20;

/**
 * `teams` teams of the orchestration, each with 3 members, a teammate tracker per teammate
 * (created first) and `tasks` live board tasks with `descriptionBytes` of description each,
 * inserted in transactions that stay within the write limit.
 */
async function bigTeams(t: T, token: string, teams: number, tasks: number, descriptionBytes: number) {
  const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, {
    nodeToken: token,
    orchestration: orchestration({ status: "executing" }),
    phases: [phase("1", "executing"), phase("2", "executing")],
  });
  const teamIds: Id<"teams">[] = [];
  for (let k = 0; k < teams; k++) {
    const dir = `billing-export-phase-${k + 1}`;
    const { teamId } = await t.mutation(api.teams.syncTeam, {
      nodeToken: token,
      team: team(dir),
      members: [member("team-lead", dir), member("executor-1", dir), member("executor-2", dir)],
      tasks: [
        task("1", { subject: "executor-1", status: "in_progress", internal: true, activeForm: "Exporting" }),
        task("2", { subject: "executor-2", status: "in_progress", internal: true, activeForm: "Testing" }),
      ],
    });
    teamIds.push(teamId);
    const row = (await t.run((ctx) => ctx.db.get("teams", teamId)))!;
    const description = "d".repeat(descriptionBytes);
    for (let from = 0; from < tasks; from += 200) {
      await t.run(async (ctx) => {
        for (let i = from; i < Math.min(from + 200, tasks); i++) {
          await ctx.db.insert("tasks", {
            teamId,
            nodeId: row.nodeId,
            orchestrationId,
            phaseNumber: row.phaseNumber,
            taskId: `${i + 10}`,
            subject: `task ${i}`,
            description,
            status: i % 3 === 0 ? "completed" : "pending",
            blocks: [],
            blockedBy: [],
            revision: 1,
            updatedAt: T0,
          });
        }
      });
    }
  }
  return { orchestrationId, teamIds };
}

describe("the detail page's data stays within Convex's limits whatever the sizes", () => {
  test("2 teams x 500 tasks x 20 KB: the detail reads a bounded part, the tasks come in bounded pages without descriptions", async () => {
    const t = makeT();
    const { token } = await enroll(t);
    const { orchestrationId, teamIds } = await bigTeams(t, token, 2, 500, 20_000);
    const user = await signedIn(t);

    const detail = await user.query(api.orchestrations.getOrchestrationDetail, { orchestrationId });
    const read = lastCallMetrics();
    // The tasks alone are 2 x 500 x 20 KB = 19.5 MiB: the detail reads none of the board tasks,
    // only the trackers (through their own index range), so the activity is complete.
    expect(read.bytesRead).toBeLessThan(100_000);
    expect(read.documentsRead).toBeLessThan(30);
    expect(detail!.teams).toHaveLength(2);
    for (const td of detail!.teams) {
      expect(td).toMatchObject({ membersTruncated: false, activityPartial: false });
      const activity = new Map(td.members.map((m) => [m.agentName, m.activity?.activeForm]));
      expect(activity).toEqual(new Map([["team-lead", undefined], ["executor-1", "Exporting"], ["executor-2", "Testing"]]));
    }

    // Each team's board, a page at a time: every live board task once, no descriptions.
    for (const teamId of teamIds) {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      for (;;) {
        const res: { page: { taskId: string; hasDescription: boolean }[]; isDone: boolean; continueCursor: string } = await user.query(
          api.orchestrations.teamTasks,
          { teamId, paginationOpts: { numItems: 200, cursor } },
        );
        pages++;
        const m = lastCallMetrics();
        expect(m.bytesRead).toBeLessThanOrEqual(2 * MiB + 25_000);
        for (const row of res.page) {
          expect(row).not.toHaveProperty("description");
          expect(row.hasDescription).toBe(true);
          seen.push(row.taskId);
        }
        if (res.isDone) break;
        cursor = res.continueCursor;
      }
      expect(new Set(seen).size).toBe(500);
      expect(seen).toHaveLength(500);
      // 2 MiB a page at most: about 100 tasks of 20 KB each.
      expect(pages).toBeGreaterThanOrEqual(5);
    }

    // A task's description on demand.
    const one = await t.run((ctx) => ctx.db.query("tasks").withIndex("by_team_task", (q) => q.eq("teamId", teamIds[0]!).eq("taskId", "10")).unique());
    const described = await user.query(api.orchestrations.taskDescription, { taskId: one!._id });
    expect(described!.description).toHaveLength(20_000);
  });

  test("the detail reads each team's trackers, never its board tasks: however many, they cost no read", async () => {
    const t = makeT();
    const { token } = await enroll(t);
    const few = await bigTeams(t, token, 1, 1, 100);
    const user = await signedIn(t);
    await user.query(api.orchestrations.getOrchestrationDetail, { orchestrationId: few.orchestrationId });
    const baseline = lastCallMetrics().documentsRead;
    // 300 more live board tasks in the same team: the detail reads exactly as many documents.
    await t.run(async (ctx) => {
      const row = (await ctx.db.get("teams", few.teamIds[0]!))!;
      for (let i = 0; i < 300; i++) {
        await ctx.db.insert("tasks", {
          teamId: row._id,
          nodeId: row.nodeId,
          orchestrationId: row.orchestrationId,
          taskId: `${i + 100}`,
          subject: `task ${i}`,
          description: "",
          status: "pending",
          blocks: [],
          blockedBy: [],
          revision: 1,
          updatedAt: T0,
        });
      }
    });
    const detail = await user.query(api.orchestrations.getOrchestrationDetail, { orchestrationId: few.orchestrationId });
    expect(lastCallMetrics().documentsRead).toBe(baseline);
    expect(detail!.teams[0]!.members.find((m) => m.agentName === "executor-1")!.activity?.activeForm).toBe("Exporting");
  });

  test("the read budget is shared: 6 teams of many big tasks, members and trackers read within it", async () => {
    const t = makeT();
    const { token } = await enroll(t);
    const { orchestrationId } = await bigTeams(t, token, 6, 200, 20_000);
    const user = await signedIn(t);
    const detail = await user.query(api.orchestrations.getOrchestrationDetail, { orchestrationId });
    expect(lastCallMetrics().bytesRead).toBeLessThan(5 * MiB);
    expect(detail!.teams).toHaveLength(6);
    // Each team got its part of the budget: the trackers, inserted first, are found in every team.
    for (const td of detail!.teams) {
      expect(td.members.find((m) => m.agentName === "executor-2")!.activity?.activeForm).toBe("Testing");
    }
  });

  test("teamTasks: viewers only, pages bounded to 200 rows, removed tasks and trackers not listed", async () => {
    const t = makeT();
    const { token } = await enroll(t);
    await t.mutation(api.orchestrations.syncOrchestration, { nodeToken: token, orchestration: orchestration(), phases: [] });
    const dir = "billing-export-phase-1";
    const { teamId } = await t.mutation(api.teams.syncTeam, {
      nodeToken: token,
      team: team(dir),
      members: [member("team-lead", dir)],
      tasks: [task("1"), task("2", { description: "" }), task("3", { subject: "team-lead", internal: true })],
    });
    await t.mutation(api.teams.syncTeam, { nodeToken: token, team: team(dir), members: [member("team-lead", dir)], tasks: [task("2", { description: "" })] });
    const page = { numItems: 10_000, cursor: null };
    expect((await refusal(t.query(api.orchestrations.teamTasks, { teamId, paginationOpts: page }))).code).toBe("unauthenticated");
    const user = await signedIn(t);
    const res = await user.query(api.orchestrations.teamTasks, { teamId, paginationOpts: page });
    expect(res.page.map((x) => [x.taskId, x.hasDescription])).toEqual([["2", false]]);
    expect(res.isDone).toBe(true);
  });
});
