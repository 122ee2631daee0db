// @vitest-environment edge-runtime
// Delta team sync (teams:syncTeamDelta) and the paged reconcile (teams:reconcileTeam,
// teams:finishReconcile), run under Convex's real per-call limits.
import { describe, expect, test } from "vitest";
import { api } from "./_generated/api";
import type { Doc } from "./_generated/dataModel";
import { SYNC } from "./model/checks";
import { syncTeamDelta } from "./model/teams";
import { enroll, makeT, member, orchestration, refusal, task, team, type T } from "./test.setup";

type Task = ReturnType<typeof task>;
const DIR = "billing-export-phase-1";
const COUNTS = { pending: 0, inProgress: 0, completed: 0, other: 0 };
const members = [member("team-lead", DIR), member("executor-1", DIR)];

/** A real-limits deployment (16 MiB read and written, 32,000 documents read, 4,096 index ranges). */
const limited = () => makeT({});

async function setup(t: T) {
  const node = await enroll(t);
  const nodeToken = node.token;
  const delta = (base: number, seq: number, tasks: Task[], extra: Record<string, unknown> = {}) =>
    t.mutation(api.teams.syncTeamDelta, {
      nodeToken,
      team: team(DIR),
      base,
      seq,
      // Observed after the base (a state at or before what a row last changed to is a replay).
      tasks: tasks.map((task, i) => ({ seq: seq - 1 + (i + 1) / (tasks.length + 1), task })),
      removed: [],
      taskCounts: COUNTS,
      ...extra,
    });
  const page = (epoch: number, tasks: Task[], extra: Record<string, unknown> = {}) =>
    t.mutation(api.teams.reconcileTeam, { nodeToken, team: team(DIR), epoch, tasks: tasks.map((task) => ({ seq: epoch, task })), ...extra });
  const finish = (epoch: number, seq: number, taskCounts = COUNTS) => t.mutation(api.teams.finishReconcile, { nodeToken, dirName: DIR, epoch, seq, taskCounts });
  /** A whole reconcile: pages of `pageSize`, then finish until done; returns the finish statuses. */
  const reconcile = async (epoch: number, seq: number, tasks: Task[], pageSize: number = SYNC.states) => {
    for (let i = 0; i < Math.max(tasks.length, 1); i += pageSize) {
      expect((await page(epoch, tasks.slice(i, i + pageSize), i === 0 ? { members } : {})).status).toBe("applied");
    }
    const statuses: string[] = [];
    for (;;) {
      const res = await finish(epoch, seq);
      statuses.push(res.status);
      if (res.status !== "more") return statuses;
    }
  };
  const events = () => t.run((ctx) => ctx.db.query("taskEvents").collect());
  const teamRow = async (dir = DIR) => sequence(await t.run(async (ctx) => (await ctx.db.query("teams").collect()).find((r) => r.dirName === dir)!));
  /** Live task ids, read a page per call (a test's own reads run under the limits too). */
  const liveTasks = async () => {
    const out: string[] = [];
    let cursor: string | null = null;
    for (;;) {
      const res: { ids: string[]; cursor: string; done: boolean } = await t.run(async (ctx) => {
        const page = await ctx.db.query("tasks").paginate({ numItems: 200, cursor });
        return { ids: page.page.filter((r) => r.removedAt === undefined).map((r) => r.taskId), cursor: page.continueCursor, done: page.isDone };
      });
      out.push(...res.ids);
      if (res.done) return out;
      cursor = res.cursor;
    }
  };
  return { ...node, delta, page, finish, reconcile, events, teamRow, liveTasks };
}

/** The team row with its sequence fields always present (undefined when unset). */
function sequence(row: Doc<"teams">) {
  return { ...row, revision: row.revision, lastSeq: row.lastSeq, reconcileEpoch: row.reconcileEpoch, removedAt: row.removedAt };
}

const tasks = (n: number, overrides: Record<string, unknown> = {}, from = 0) =>
  Array.from({ length: n }, (_, i) => task(`${from + i}`, overrides));

describe("syncTeamDelta", () => {
  test("no live team: unknown, nothing written; a reconcile creates it, then deltas chain on its revision", async () => {
    const t = limited();
    const { delta, reconcile, teamRow, events } = await setup(t);
    expect(await delta(0, 1, [task("1")])).toEqual({ status: "unknown", taskEventsAppended: 0 });
    expect(await t.run((ctx) => ctx.db.query("teams").collect())).toHaveLength(0);

    expect(await reconcile(10, 10, [task("1"), task("2")])).toEqual(["done"]);
    expect(await teamRow()).toMatchObject({ revision: 10, lastSeq: 10, reconcileEpoch: undefined, memberCount: 2 });
    const applied = await delta(10, 11, [task("1", { status: "in_progress" })], { taskCounts: { ...COUNTS, pending: 1, inProgress: 1 } });
    expect(applied).toMatchObject({ status: "applied", revision: 11, taskEventsAppended: 1 });
    const counts = { ...COUNTS, inProgress: 1 };
    expect(await delta(11, 12, [], { removed: ["2"], taskCounts: counts })).toMatchObject({ status: "applied", revision: 12, taskEventsAppended: 1 });
    expect(await teamRow()).toMatchObject({ revision: 12, lastSeq: 12, taskCounts: counts });
    expect((await events()).map((e) => [e.taskId, e.kind, e.status])).toEqual([
      ["1", "created", "pending"],
      ["2", "created", "pending"],
      ["1", "updated", "in_progress"],
      ["2", "removed", "pending"],
    ]);
  });

  test("a replay is a duplicate and an out-of-order delta a mismatch: nothing written; a reconcile fixes it", async () => {
    const t = limited();
    const { delta, reconcile, teamRow, events, liveTasks } = await setup(t);
    await reconcile(10, 10, [task("1"), task("2")]);
    const first = await delta(10, 11, [task("1", { status: "in_progress" })]);
    expect(first.status).toBe("applied");
    const state = () => t.run(async (ctx) => ({ teams: await ctx.db.query("teams").collect(), tasks: await ctx.db.query("tasks").collect() }));
    const before = await state();
    // The same delta again (its reply was lost): a duplicate, nothing written.
    expect(await delta(10, 11, [task("1", { status: "in_progress" })])).toMatchObject({ status: "duplicate", revision: 11, taskEventsAppended: 0 });
    // A delta on a base the server never had (one in between was lost): mismatch, nothing written.
    expect(await delta(12, 13, [task("1", { status: "completed" })], { removed: ["2"] })).toMatchObject({ status: "mismatch", revision: 11 });
    expect(await state()).toEqual(before);
    expect(await events()).toHaveLength(3);

    // The daemon reconciles what it has: task 1 completed, task 2 gone, task 3 new.
    expect(await reconcile(20, 20, [task("1", { status: "completed" }), task("3")])).toEqual(["done"]);
    expect((await liveTasks()).sort()).toEqual(["1", "3"]);
    expect((await events()).slice(3).map((e) => [e.taskId, e.kind, e.status])).toEqual([
      ["1", "updated", "completed"],
      ["3", "created", "pending"],
      ["2", "removed", "pending"],
    ]);
    expect(await teamRow()).toMatchObject({ revision: 20, reconcileEpoch: undefined });
    expect((await delta(20, 21, [task("3", { owner: "executor-1" })])).status).toBe("applied");
  });

  test("while a reconcile is under way deltas mismatch; an older reconcile's pages and finish are stale", async () => {
    const t = limited();
    const { delta, page, finish, teamRow, liveTasks } = await setup(t);
    await page(10, [task("1"), task("2")], { members });
    expect(await finish(10, 10)).toMatchObject({ status: "done" });
    expect((await page(30, [task("1")])).status).toBe("applied");
    expect(await teamRow()).toMatchObject({ revision: undefined, reconcileEpoch: 30 });
    expect(await delta(10, 31, [task("1", { status: "completed" })])).toMatchObject({ status: "mismatch" });
    // A page of the older reconcile 20, arriving late: stale, nothing written.
    expect(await page(20, [task("9")])).toMatchObject({ status: "stale", taskEventsAppended: 0 });
    expect(await finish(20, 20)).toEqual({ status: "stale", tasksRemoved: 0 });
    expect(await finish(30, 31)).toMatchObject({ status: "done", revision: 31, tasksRemoved: 1 });
    expect(await liveTasks()).toEqual(["1"]);
    expect(await finish(30, 31)).toEqual({ status: "stale", tasksRemoved: 0 });
  });

  test("intermediate states each become one event, in order; a replayed reconcile appends none", async () => {
    const t = limited();
    const { delta, reconcile, events } = await setup(t);
    await reconcile(10, 10, [task("1")]);
    // Seen while offline: 1 went in_progress then completed; 2 appeared, changed and was deleted.
    const res = await delta(10, 11, [
      task("1", { status: "in_progress", owner: "executor-1" }),
      task("2", { subject: "brief" }),
      task("1", { status: "completed", owner: "executor-1" }),
      task("2", { subject: "brief", activeForm: "briefing" }),
      task("2", { subject: "brief", status: "deleted" }),
    ]);
    expect(res.taskEventsAppended).toBe(4);
    expect((await events()).map((e) => [e.taskId, e.kind, e.status])).toEqual([
      ["1", "created", "pending"],
      ["1", "updated", "in_progress"],
      ["2", "created", "pending"],
      ["1", "updated", "completed"],
      ["2", "removed", "pending"],
    ]);
    // A full reconcile of the same state changes nothing that is history.
    expect(await reconcile(20, 20, [task("1", { status: "completed", owner: "executor-1" })])).toEqual(["done"]);
    expect(await events()).toHaveLength(5);
  });

  test("a page or a snapshot sent again (its reply lost) records each state once; a task's last state always applies", async () => {
    const t = limited();
    const { token: nodeToken, events } = await setup(t);
    const seen = (seq: number, status: string, id = "1") => ({ seq, task: task(id, status === "pending" ? {} : { status, owner: "executor-1" }) });
    // Seen while offline: task 1 pending (seq 11), in progress (12), completed (13).
    const history = [seen(11, "pending"), seen(12, "in_progress"), seen(13, "completed")];
    const page = (tasks: ReturnType<typeof seen>[]) => t.mutation(api.teams.reconcileTeam, { nodeToken, team: team(DIR), epoch: 20, tasks, members });
    const kinds = async () => (await events()).map((e) => [e.taskId, e.kind, e.status]);
    const recorded = [
      ["1", "created", "pending"],
      ["1", "updated", "in_progress"],
      ["1", "updated", "completed"],
    ];

    expect((await page(history)).taskEventsAppended).toBe(3);
    // The reply was lost (or the daemon killed before it recorded it): the same page again.
    expect((await page(history)).taskEventsAppended).toBe(0);
    // Again, with what the restarted daemon saw since (task 1 reopened, task 2 new): only that.
    expect((await page([...history, seen(30, "pending"), seen(31, "pending", "2")])).taskEventsAppended).toBe(2);
    expect(await kinds()).toEqual([...recorded, ["1", "updated", "pending"], ["2", "created", "pending"]]);

    // A whole snapshot carrying the same history (the small-team path) appends none of it either.
    const snapshot = await t.mutation(api.teams.syncTeam, {
      nodeToken,
      team: team(DIR),
      members,
      tasks: [history[2].task],
      seq: 40,
      history: [...history, seen(30, "pending")],
    });
    expect(snapshot.taskEventsAppended).toBe(2); // 1 completed again (seq 40); 2 gone from the snapshot
    expect((await kinds()).slice(5)).toEqual([
      ["1", "updated", "completed"],
      ["2", "removed", "pending"],
    ]);

    // A task's last state is applied even when seen "before" the row's (a clock set back): the
    // board follows the laptop; only earlier states of such a call are skipped.
    expect((await page([seen(5, "pending"), seen(6, "in_progress")])).taskEventsAppended).toBe(1);
    expect((await kinds()).slice(7)).toEqual([["1", "updated", "in_progress"]]);
  });

  test("members are replaced only when sent; counts and liveness come from the daemon, not from reading tasks", async () => {
    const t = limited();
    const { delta, reconcile, teamRow } = await setup(t);
    await reconcile(10, 10, [task("1")]);
    const counts = { pending: 7, inProgress: 2, completed: 40, other: 1 };
    await delta(10, 11, [], { taskCounts: counts });
    expect(await teamRow()).toMatchObject({ memberCount: 2, taskCounts: counts });
    await delta(11, 12, [], { members: [member("team-lead", DIR, { liveness: "working" })] });
    expect(await teamRow()).toMatchObject({ memberCount: 1, liveness: { working: 1, idle: 0, waiting: 0, shutDown: 0, gone: 0 } });
    const rows = await t.run((ctx) => ctx.db.query("teamMembers").collect());
    expect(rows.filter((m) => m.removedAt === undefined).map((m) => m.agentName)).toEqual(["team-lead"]);
  });

  test("the team links to its orchestration through the members' worktree", async () => {
    const t = limited();
    const { token, reconcile, delta } = await setup(t);
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, { nodeToken: token, orchestration: orchestration(), phases: [] });
    await reconcile(10, 10, [task("1")]);
    expect(await delta(10, 11, [task("1", { status: "in_progress" })])).toMatchObject({ status: "applied", orchestrationId, phaseNumber: "1" });
    const [event] = (await t.run((ctx) => ctx.db.query("taskEvents").collect())).slice(-1);
    expect(event).toMatchObject({ orchestrationId, phaseNumber: "1" });
  });

  test("bounds: states, removed ids, text, sequence; refused with the field named, nothing written", async () => {
    const t = limited();
    const { delta, page, reconcile, events } = await setup(t);
    await reconcile(10, 10, [task("1")]);
    const field = async (p: Promise<unknown>) => (await refusal(p)).field;
    expect(await field(delta(10, 11, tasks(SYNC.states + 1)))).toBe("tasks");
    expect(await field(delta(10, 11, [], { removed: Array.from({ length: SYNC.removed + 1 }, (_, i) => `${i}`) }))).toBe("removed");
    const big = tasks(SYNC.payloadBytes / 16_000 + 1, { description: "d".repeat(16_000) });
    expect(await field(delta(10, 11, big))).toBe("tasks");
    expect(await field(page(20, big))).toBe("tasks");
    expect(await field(delta(10, 10, []))).toBe("seq");
    expect(await field(delta(10, 11, [], { taskCounts: { ...COUNTS, pending: -1 } }))).toBe("taskCounts.pending");
    expect(await field(delta(10, 11, [task("1", { description: "x".repeat(30_000) })]))).toBe("tasks.task.description");
    expect(await field(delta(10, 11, [], { removed: ["x".repeat(65)] }))).toBe("removed");
    expect(await field(page(20, [], { members: [member("bad name;", DIR)] }))).toBe("members.agentName");
    expect(await events()).toHaveLength(1);
  });
});

/** 20 KB of description per task (the largest a task normally gets). */
const bigTask = (i: number, overrides: Record<string, unknown> = {}) => task(`${i}`, { description: `${i}:`.padEnd(20_000, "d"), ...overrides });
const PAGE_20K = Math.floor(SYNC.payloadBytes / 20_100);

describe("big teams under the real limits", () => {
  test("1,000 tasks of 20 KB reconcile in pages; a one-task delta reads as much as on a small team; a shrunk team's missing tasks are removed in pages, each once", { timeout: 240_000 }, async () => {
    const t = limited();
    const { nodeId, token, reconcile, delta, events, liveTasks, teamRow } = await setup(t);
    /** What a one-task delta of team `dir` reads and writes (the model function, measured in its transaction). */
    const measure = (dir: string, taskNumber: number) =>
      t.run(async (ctx) => {
        const node = (await ctx.db.get("nodes", nodeId)) as Doc<"nodes">;
        const row = (await ctx.db.query("teams").withIndex("by_node_dir", (q) => q.eq("nodeId", nodeId).eq("dirName", dir)).unique())!;
        const before = await ctx.meta.getTransactionMetrics();
        const res = await syncTeamDelta(ctx, node, {
          team: team(dir),
          base: row.revision!,
          seq: row.revision! + 1,
          tasks: [{ seq: row.revision! + 1, task: bigTask(taskNumber, { status: "in_progress" }) }],
          removed: [],
          taskCounts: COUNTS,
        });
        const after = await ctx.meta.getTransactionMetrics();
        expect(res).toMatchObject({ status: "applied", taskEventsAppended: 1 });
        const used = (k: keyof typeof after) => after[k].used - before[k].used;
        return { documentsRead: used("documentsRead"), databaseQueries: used("databaseQueries"), bytesRead: used("bytesRead"), documentsWritten: used("documentsWritten") };
      });
    // A small team of 10 tasks beside it: the baseline.
    const small = "small-team";
    const tasks = Array.from({ length: 10 }, (_, i) => ({ seq: 5, task: bigTask(i) }));
    await t.mutation(api.teams.reconcileTeam, { nodeToken: token, team: team(small), epoch: 5, members, tasks });
    await t.mutation(api.teams.finishReconcile, { nodeToken: token, dirName: small, epoch: 5, seq: 5, taskCounts: COUNTS });
    const baseline = await measure(small, 9);

    const all = Array.from({ length: 1000 }, (_, i) => bigTask(i));
    expect(await reconcile(10, 10, all, PAGE_20K)).toEqual(["done"]);
    expect(await liveTasks()).toHaveLength(1010);
    expect(await events()).toHaveLength(1011);

    // Read: the team row and the task's row (each looked up, then patched); one orchestration
    // lookup finds none. Written: the team, the task, its event. The same for 10 or 1,000 tasks.
    const big = await measure(DIR, 999);
    expect({ ...big, bytesRead: 0 }).toEqual({ ...baseline, bytesRead: 0 });
    expect(big).toMatchObject({ documentsRead: 4, databaseQueries: 3, documentsWritten: 3 });
    expect(big.bytesRead).toBeLessThan(50_000);

    // The team shrank to one full page of tasks (4 MiB of text replacing as much stored): the other
    // 792 are removed, a bounded page per finish call.
    const kept = all.slice(0, PAGE_20K);
    const statuses = await reconcile(20, 20, kept, PAGE_20K);
    expect(statuses).toEqual(["more", "more", "done"]);
    expect(await liveTasks()).toHaveLength(PAGE_20K + 10);
    const removed = (await events()).filter((e) => e.kind === "removed");
    expect(removed).toHaveLength(1000 - PAGE_20K);
    expect(new Set(removed.map((e) => e.taskId)).size).toBe(1000 - PAGE_20K);
    // 1,011 events, task 999's in_progress change (before it was removed), the removals: each once.
    expect(await events()).toHaveLength(1011 + 1 + 1000 - PAGE_20K);
    expect(await teamRow(DIR)).toMatchObject({ revision: 20, reconcileEpoch: undefined });
    // A delta removing 1,000 ids of 20 KB rows is refused before anything is written; smaller ones pass.
    const err = await refusal(delta(20, 21, [], { removed: all.map((x) => x.taskId) }));
    expect(err.field).toBe("storedTasks");
    expect((await delta(20, 21, [], { removed: kept.map((x) => x.taskId) })).status).toBe("applied");
    expect(await liveTasks()).toHaveLength(10);
  });
});

test("a delta at every bound at once (500 states, 1,000 removals, 4 MiB of text, rows of 3-byte characters) fits the limits", { timeout: 240_000 }, async () => {
  const t = limited();
  const { nodeId, reconcile } = await setup(t);
  // Each stored row and event carries a 1,000-character subject of 3-byte characters.
  const heavy = (i: number, overrides: Record<string, unknown> = {}) => task(`${i}`, { subject: "€".repeat(1000), owner: "o".repeat(128), ...overrides });
  expect(await reconcile(10, 10, Array.from({ length: 1000 }, (_, i) => heavy(i)))).toEqual(["done"]);
  const states = Array.from({ length: SYNC.states }, (_, i) => ({ seq: 11, task: heavy(2000 + i, { description: "d".repeat(4_900) }) }));
  const metrics = await t.run(async (ctx) => {
    const node = (await ctx.db.get("nodes", nodeId)) as Doc<"nodes">;
    const before = await ctx.meta.getTransactionMetrics();
    const res = await syncTeamDelta(ctx, node, {
      team: team(DIR),
      base: 10,
      seq: 11,
      members,
      tasks: states,
      removed: Array.from({ length: SYNC.removed }, (_, i) => `${i}`),
      taskCounts: COUNTS,
    });
    expect(res).toMatchObject({ status: "applied", taskEventsAppended: SYNC.states + SYNC.removed });
    const after = await ctx.meta.getTransactionMetrics();
    const used = (k: keyof typeof after) => after[k].used - before[k].used;
    return { bytesRead: used("bytesRead"), bytesWritten: used("bytesWritten"), documentsRead: used("documentsRead"), databaseQueries: used("databaseQueries") };
  });
  // Measured: 6.8 MB read, 12.7 MB written (the events' subjects), 1,503 index ranges.
  const MiB = 1 << 20;
  expect(metrics.bytesRead).toBeLessThan(14 * MiB);
  expect(metrics.bytesWritten).toBeLessThan(14 * MiB);
  expect(metrics.databaseQueries).toBeLessThan(2000);
});

describe("syncTeam and removeTeam stay bounded", () => {
  test("syncTeam refuses a team too big for a whole snapshot, untouched; deltas sync it", { timeout: 120_000 }, async () => {
    const t = limited();
    const { token, reconcile, events } = await setup(t);
    await reconcile(10, 10, Array.from({ length: 400 }, (_, i) => bigTask(i)), PAGE_20K);
    const snapshot = { nodeToken: token, team: team(DIR), members, tasks: [task("1")] };
    expect((await refusal(t.mutation(api.teams.syncTeam, snapshot))).field).toBe("tasks");
    expect(await events()).toHaveLength(400);
    // Its text bound: 2 MiB a call.
    const fat = Array.from({ length: 120 }, (_, i) => bigTask(i));
    expect((await refusal(t.mutation(api.teams.syncTeam, { ...snapshot, team: team("other"), tasks: fat }))).field).toBe("tasks");
  });

  test("syncTeam with a seq sets the revision a delta can follow; without one it clears it", async () => {
    const t = limited();
    const { token, delta, teamRow, reconcile, liveTasks } = await setup(t);
    const snapshot = { nodeToken: token, team: team(DIR), members, tasks: [task("1")] };
    await t.mutation(api.teams.syncTeam, { ...snapshot, seq: 5 });
    expect(await teamRow()).toMatchObject({ revision: 5, lastSeq: 5 });
    expect((await delta(5, 6, [task("1", { status: "completed" })])).status).toBe("applied");
    await t.mutation(api.teams.syncTeam, { ...snapshot, tasks: [task("1", { status: "completed" }), task("2"), task("3")] });
    expect((await teamRow()).revision).toBeUndefined();
    expect((await delta(6, 7, [])).status).toBe("mismatch");
    // Rows no reconcile stamped (written by syncTeam or deltas) are removed by the next one when absent.
    expect(await reconcile(10, 10, [task("2")])).toEqual(["done"]);
    expect(await liveTasks()).toEqual(["2"]);
  });

  test("removeTeam of a big team reads no task; deltas then say unknown and a reconcile revives it", { timeout: 120_000 }, async () => {
    const t = limited();
    const { token, reconcile, delta, teamRow, liveTasks } = await setup(t);
    await reconcile(10, 10, Array.from({ length: 300 }, (_, i) => bigTask(i)), PAGE_20K);
    const { documentsRead } = await t.run(async (ctx) => {
      const before = await ctx.meta.getTransactionMetrics();
      const { removeTeam } = await import("./model/teams");
      const node = (await ctx.db.query("nodes").collect())[0];
      expect(await removeTeam(ctx, node, DIR, 11)).toBe(true);
      const after = await ctx.meta.getTransactionMetrics();
      return { documentsRead: after.documentsRead.used - before.documentsRead.used };
    });
    // The node, the team (read, patched) and its two members (read, patched).
    expect(documentsRead).toBeLessThanOrEqual(7);
    expect(await delta(10, 12, [])).toEqual({ status: "unknown", taskEventsAppended: 0 });
    expect(await reconcile(20, 20, [bigTask(0)])).toEqual(["done"]);
    expect(await teamRow()).toMatchObject({ removedAt: undefined, revision: 20 });
    expect(await liveTasks()).toEqual(["0"]);
    expect(token).toBeTruthy();
  });
});

describe("syncTeams: small teams' whole snapshots in one call", () => {
  const dirs = Array.from({ length: 50 }, (_, i) => `cold-${i}`);
  const entry = (dir: string, seq: number, tasks: Task[]) => ({ team: team(dir), members: [member("team-lead", dir)], tasks, seq });

  test("50 teams in one call: each applied as syncTeam applies it, in order, ready for deltas", async () => {
    const t = limited();
    const { token } = await setup(t);
    const teams = dirs.map((dir, i) => entry(dir, 100 + i, Array.from({ length: 10 }, (_, j) => task(String(j)))));
    const res = await t.mutation(api.teams.syncTeams, { nodeToken: token, teams });
    expect(res.map((r) => r.applied)).toEqual(dirs.map(() => true));
    const rows = await t.run((ctx) => ctx.db.query("teams").collect());
    expect(new Map(rows.map((r) => [r.dirName, r.revision]))).toEqual(new Map(dirs.map((d, i) => [d, 100 + i])));
    expect(res.map((r) => r.teamId)).toEqual(dirs.map((d) => rows.find((r) => r.dirName === d)!._id));
    const tasks = await t.run((ctx) => ctx.db.query("tasks").collect());
    expect(tasks).toHaveLength(500);
    // Each team follows with deltas on the revision the batch set.
    const delta = await t.mutation(api.teams.syncTeamDelta, {
      nodeToken: token, team: team("cold-7"), base: 107, seq: 200,
      tasks: [{ seq: 199, task: task("3", { status: "completed" }) }], removed: [], taskCounts: COUNTS,
    });  // prettier-ignore
    expect(delta.status).toBe("applied");
    // A replay: nothing applied again, nothing written.
    const again = await t.mutation(api.teams.syncTeams, { nodeToken: token, teams: teams.slice(0, 3) });
    expect(again.map((r) => r.applied)).toEqual([false, false, false]);
    expect(await t.run((ctx) => ctx.db.query("taskEvents").collect())).toHaveLength(501);
  });

  test("a batch is bounded like one syncTeam call: teams, task states, each team once, stored rows", async () => {
    const t = limited();
    const { token } = await setup(t);
    const ten = Array.from({ length: 10 }, (_, j) => task(String(j)));
    const field = async (teams: unknown[]) => (await refusal(t.mutation(api.teams.syncTeams, { nodeToken: token, teams } as never))).field;
    expect(await field([...dirs, "one-more"].map((d) => entry(d, 1, [])))).toBe("teams");
    expect(await field(dirs.slice(0, 26).map((d) => entry(d, 1, Array.from({ length: 20 }, (_, j) => task(String(j))))))).toBe("teams");
    expect(await field([entry("same", 1, ten), entry("same", 2, ten)])).toBe("teams.team.dirName");
    expect(await t.run((ctx) => ctx.db.query("teams").collect())).toHaveLength(0);
    // Stored rows read, all teams together: 9 teams of 490 tasks synced one by one, then together.
    const big = Array.from({ length: 490 }, (_, j) => task(String(j)));
    for (let i = 0; i < 9; i++) await t.mutation(api.teams.syncTeam, { nodeToken: token, ...entry(dirs[i]!, 1, big) });
    expect(await field(dirs.slice(0, 9).map((d) => entry(d, 2, [task("0")])))).toBe("teams");
    expect((await t.run((ctx) => ctx.db.query("taskEvents").collect())).length).toBe(9 * 490);
  });
});
