// @vitest-environment edge-runtime
import { describe, expect, test } from "vitest";
import { api } from "./_generated/api";
import { diffMembers, phaseOfTeam, primaryCwd, worktreeCandidates } from "./model/teams";
import type { Doc, Id } from "./_generated/dataModel";
import { signedIn, enroll, lastCallMetrics, makeT, member, orchestration, refusal, T0, task, team, type T } from "./test.setup";

async function setup(t: T) {
  const node = await enroll(t);
  const sync = (dir: string, tasks: ReturnType<typeof task>[], members = [member("team-lead", dir), member("executor-1", dir)], seq?: number) =>
    t.mutation(api.teams.syncTeam, { nodeToken: node.token, team: team(dir), members, tasks, ...(seq === undefined ? {} : { seq }) });
  const events = () => t.run((ctx) => ctx.db.query("taskEvents").collect());
  return { ...node, sync, events };
}

describe("syncTeam diffing", () => {
  test("a second identical syncTeam appends nothing and changes nothing", async () => {
    const t = makeT();
    const { sync, events } = await setup(t);
    const tasks = [task("1"), task("2", { blockedBy: ["1"], metadata: '{"phase_num":1}' })];
    const first = await sync("billing-export-phase-1", tasks);
    expect(first.taskEventsAppended).toBe(2);
    const snapshot = () =>
      t.run(async (ctx) => ({
        teams: await ctx.db.query("teams").collect(),
        members: await ctx.db.query("teamMembers").collect(),
        tasks: await ctx.db.query("tasks").collect(),
      }));
    const before = await snapshot();
    const second = await sync("billing-export-phase-1", tasks);
    expect(second.taskEventsAppended).toBe(0);
    expect(await events()).toHaveLength(2);
    expect(await snapshot()).toEqual(before);
  });

  test("each tracked field change appends exactly one event naming it", async () => {
    const t = makeT();
    const { sync, events } = await setup(t);
    const dir = "billing-export-phase-1";
    await sync(dir, [task("1")]);
    const changes: [Record<string, unknown>, string][] = [
      [{ status: "in_progress" }, "status"],
      [{ status: "in_progress", owner: "executor-1" }, "owner"],
      [{ status: "in_progress", owner: "executor-1", subject: "renamed" }, "subject"],
      [{ status: "in_progress", owner: "executor-1", subject: "renamed", description: "d2" }, "description"],
      [{ status: "in_progress", owner: "executor-1", subject: "renamed", description: "d2", blockedBy: ["9"] }, "blockedBy"],
      [{ status: "in_progress", owner: "executor-1", subject: "renamed", description: "d2", blockedBy: ["9"], metadata: "{}" }, "metadata"],
    ];
    for (const [fields, changed] of changes) {
      const res = await sync(dir, [task("1", fields)]);
      expect(res.taskEventsAppended).toBe(1);
      const last = (await events()).at(-1)!;
      expect(last.changes).toEqual([changed]);
    }
    const all = await events();
    expect(all).toHaveLength(1 + changes.length);
    expect(all[1]).toMatchObject({ kind: "updated", status: "in_progress", previousStatus: "pending" });
    expect(new Set(all.map((e) => e.idempotencyKey)).size).toBe(all.length);
  });

  test("spinner text and forward links update the task without an event", async () => {
    const t = makeT();
    const { sync, events } = await setup(t);
    await sync("x", [task("1")]);
    await sync("x", [task("1", { activeForm: "Running tests", blocks: ["2"] })]);
    expect(await events()).toHaveLength(1);
    const stored = await t.run((ctx) => ctx.db.query("tasks").first());
    expect(stored).toMatchObject({ activeForm: "Running tests", blocks: ["2"], revision: 1 });
  });

  test("task ids that repeat across teams stay separate", async () => {
    const t = makeT();
    const { sync, events } = await setup(t);
    await sync("billing-export-orchestration", [task("1", { subject: "validate-design" })]);
    await sync("billing-export-phase-1", [task("1", { subject: "write CSV" })]);
    await sync("billing-export-phase-1", [task("1", { subject: "write CSV", status: "completed" })]);
    const tasks = await t.run((ctx) => ctx.db.query("tasks").collect());
    expect(tasks.map((x) => [x.subject, x.status]).sort()).toEqual([
      ["validate-design", "pending"],
      ["write CSV", "completed"],
    ]);
    expect(await events()).toHaveLength(3);
  });

  test("a vanished task is recorded once as removed, and restored when it returns", async () => {
    const t = makeT();
    const { sync, events } = await setup(t);
    await sync("x", [task("1"), task("2")]);
    await sync("x", [task("1")]);
    await sync("x", [task("1")]);
    expect((await events()).map((e) => e.kind)).toEqual(["created", "created", "removed"]);
    await sync("x", [task("1"), task("2")]);
    expect((await events()).at(-1)).toMatchObject({ kind: "created", changes: ["restored"] });
    const team = await t.run((ctx) => ctx.db.query("teams").first());
    expect(team!.taskCounts).toEqual({ pending: 2, inProgress: 0, completed: 0, other: 0 });
  });

  test("unknown task statuses are kept and counted as other", async () => {
    const t = makeT();
    const { sync } = await setup(t);
    await sync("x", [task("1", { status: "cancelled" }), task("2", { status: "completed" })]);
    const team = await t.run((ctx) => ctx.db.query("teams").first());
    expect(team!.taskCounts).toEqual({ pending: 0, inProgress: 0, completed: 1, other: 1 });
    const stored = await t.run((ctx) => ctx.db.query("tasks").collect());
    expect(stored.find((x) => x.taskId === "1")).toMatchObject({ status: "cancelled" });
  });

  test("members that disappear are marked removed, and come back", async () => {
    const t = makeT();
    const { sync } = await setup(t);
    const lead = member("team-lead", "x");
    const exec = member("executor-1", "x", { tmuxPaneId: "in-process", model: undefined });
    await sync("x", [], [lead, exec]);
    const res = await sync("x", [], [lead]);
    expect(res.membersRemoved).toBe(1);
    const members = await t.run((ctx) => ctx.db.query("teamMembers").collect());
    expect(members.find((m) => m.agentName === "executor-1")!.removedAt).toBeDefined();
    expect(members.find((m) => m.agentName === "team-lead")!.removedAt).toBeUndefined();
    await sync("x", [], [lead, exec]);
    const again = await t.run((ctx) => ctx.db.query("teamMembers").collect());
    expect(again.every((m) => m.removedAt === undefined)).toBe(true);
    expect(again).toHaveLength(2);
  });

  test("stale snapshots (lower seq) are ignored", async () => {
    const t = makeT();
    const { sync, events } = await setup(t);
    await sync("x", [task("1", { status: "completed" })], undefined, 10);
    const stale = await sync("x", [task("1", { status: "pending" })], undefined, 9);
    expect(stale.applied).toBe(false);
    expect(await events()).toHaveLength(1);
  });

  test("oversized and malformed snapshots are refused with the field named", async () => {
    const t = makeT();
    const { token } = await setup(t);
    const call = (overrides: Record<string, unknown>) =>
      refusal(t.mutation(api.teams.syncTeam, { nodeToken: token, team: team("x"), members: [], tasks: [], ...overrides } as never));
    expect((await call({ team: team("../../etc") })).field).toBe("team.dirName");
    expect((await call({ tasks: [task("1"), task("1")] })).field).toBe("tasks.taskId");
    expect((await call({ tasks: [task("1", { description: "x".repeat(30_000) })] })).field).toBe("tasks.description");
    expect((await call({ members: [member("bad name;", "x")] })).field).toBe("members.agentName");
    // A whole snapshot is for small teams: 500 task states a call (bigger teams sync in deltas and pages).
    expect((await call({ tasks: Array.from({ length: 501 }, (_, i) => task(`${i}`)) })).field).toBe("tasks");
    const history = Array.from({ length: 2 }, (_, i) => ({ seq: 1, task: task(`${i}`) }));
    expect((await call({ seq: 2, history, tasks: Array.from({ length: 499 }, (_, i) => task(`${i}`)) })).field).toBe("history");
    expect(await t.run((ctx) => ctx.db.query("teams").collect())).toHaveLength(0);
  });
});

describe("intermediate states (history)", () => {
  test("every observed transition becomes one event, in order, and a replay adds nothing", async () => {
    const t = makeT();
    const { token, sync, events } = await setup(t);
    await sync("x", [task("1"), task("2")]);
    const args = {
      nodeToken: token,
      team: team("x"),
      members: [member("team-lead", "x")],
      // Seen while offline: 1 went in_progress then completed; 3 appeared and was removed again.
      history: [
        { seq: 3, task: task("1", { status: "in_progress", owner: "executor-1" }) },
        { seq: 4, task: task("3", { subject: "brief" }) },
      ],
      tasks: [task("1", { status: "completed", owner: "executor-1" }), task("2")],
    };
    expect((await refusal(t.mutation(api.teams.syncTeam, args))).field).toBe("seq");
    const res = await t.mutation(api.teams.syncTeam, { ...args, seq: 5 });
    expect(res.taskEventsAppended).toBe(4);
    const log = (await events()).map((e) => [e.taskId, e.kind, e.status]);
    expect(log).toEqual([
      ["1", "created", "pending"],
      ["2", "created", "pending"],
      ["1", "updated", "in_progress"],
      ["3", "created", "pending"],
      ["1", "updated", "completed"],
      ["3", "removed", "pending"],
    ]);
    const replay = await t.mutation(api.teams.syncTeam, { ...args, seq: 5 });
    expect(replay).toMatchObject({ applied: false, taskEventsAppended: 0 });
    // A newer snapshot whose history repeats states the server already applied (its response was
    // lost): those are skipped by their sequence numbers; only the new state counts.
    const newer = await t.mutation(api.teams.syncTeam, {
      ...args,
      seq: 7,
      history: [...args.history, { seq: 6, task: task("2", { status: "in_progress" }) }],
      tasks: [task("1", { status: "completed", owner: "executor-1" }), task("2", { status: "completed" })],
    });
    expect(newer.taskEventsAppended).toBe(2);
    expect((await events()).map((e) => [e.taskId, e.status]).slice(6)).toEqual([
      ["2", "in_progress"],
      ["2", "completed"],
    ]);
  });

  test("history is validated like tasks", async () => {
    const t = makeT();
    const { token } = await setup(t);
    const err = await refusal(
      t.mutation(api.teams.syncTeam, { nodeToken: token, team: team("x"), members: [], tasks: [], seq: 1, history: [{ seq: 1, task: task("1", { status: "x".repeat(40) }) }] }),
    );
    expect(err.field).toBe("history.task.status");
  });
});

describe("activeTeamDirs", () => {
  test("lists this laptop's teams that are not removed", async () => {
    const t = makeT();
    const { token, sync } = await setup(t);
    await sync("a", []);
    await sync("b", []);
    await t.mutation(api.teams.removeTeam, { nodeToken: token, dirName: "b" });
    const other = await enroll(t, "laptop-b");
    await t.mutation(api.teams.syncTeam, { nodeToken: other.token, team: team("c"), members: [], tasks: [] });
    expect(await t.query(api.teams.activeTeamDirs, { nodeToken: token })).toEqual(["a"]);
  });

  test("thousands of removed teams hide no live one", async () => {
    const t = makeT({ documentsRead: 2500 });
    const { nodeId, token } = await setup(t);
    const other = await enroll(t, "laptop-b");
    await insertTeams(t, nodeId, 2100, (i) => ({ dirName: `m-removed-${String(i).padStart(4, "0")}`, removedAt: T0 }));
    await insertTeams(t, nodeId, 1, () => ({ dirName: "a-live" }));
    await insertTeams(t, nodeId, 1, () => ({ dirName: "z-live" }));
    await insertTeams(t, other.nodeId, 1, () => ({ dirName: "other-laptop" }));
    expect(await t.query(api.teams.activeTeamDirs, { nodeToken: token })).toEqual(["a-live", "z-live"]);
  });
});

/** `count` team rows of one laptop written directly (fast), with `over(i)` applied to each. */
async function insertTeams(t: T, nodeId: Id<"nodes">, count: number, over: (i: number) => Partial<Doc<"teams">> & { dirName: string }) {
  await t.run(async (ctx) => {
    for (let i = 0; i < count; i++) {
      const o = over(i);
      await ctx.db.insert("teams", {
        nodeId,
        teamName: o.dirName,
        memberCount: 0,
        taskCounts: { pending: 0, inProgress: 0, completed: 0, other: 0 },
        updatedAt: T0,
        ...o,
      });
    }
  });
}

describe("linking teams to orchestrations", () => {
  test("through the members' working directory, in either order, with the phase from the name", async () => {
    const t = makeT();
    const { token, sync } = await setup(t);
    // Team first: no orchestration yet.
    const early = await sync("billing-export-phase-1-5", [task("1")]);
    expect(early.orchestrationId).toBeUndefined();
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, {
      nodeToken: token,
      orchestration: orchestration(),
      phases: [],
    });
    const linked = await t.run((ctx) => ctx.db.query("teams").first());
    expect(linked).toMatchObject({ orchestrationId, phaseNumber: "1.5" });
    // Orchestration first: linked at once.
    const orch = await sync("billing-export-orchestration", [task("1")]);
    expect(orch).toMatchObject({ orchestrationId });
    expect(orch.phaseNumber).toBeUndefined();
    const phase2 = await sync("billing-export-phase-2", [task("1")], [member("team-lead", "p2", { cwd: "/home/dev/acme/.worktrees/billing-export/sub/dir" })]);
    expect(phase2).toMatchObject({ orchestrationId, phaseNumber: "2" });
    const events = await t.run((ctx) => ctx.db.query("taskEvents").collect());
    expect(events.filter((e) => e.orchestrationId === orchestrationId)).toHaveLength(2);
  });

  test("teams outside any orchestration are listed under their laptop until removed", async () => {
    const t = makeT();
    const { nodeId, token, sync } = await setup(t);
    await sync("steady-sprouting-dijkstra", [], [member("team-lead", "s", { cwd: "/home/dev/elsewhere" })]);
    const user = await signedIn(t);
    expect((await user.query(api.teams.listUnlinkedTeams, { nodeId })).map((x) => x.dirName)).toEqual(["steady-sprouting-dijkstra"]);
    expect(await t.mutation(api.teams.removeTeam, { nodeToken: token, dirName: "steady-sprouting-dijkstra" })).toEqual({ removed: true });
    expect(await t.mutation(api.teams.removeTeam, { nodeToken: token, dirName: "steady-sprouting-dijkstra" })).toEqual({ removed: false });
    expect(await user.query(api.teams.listUnlinkedTeams, { nodeId })).toEqual([]);
    const members = await t.run((ctx) => ctx.db.query("teamMembers").collect());
    expect(members.every((m) => m.removedAt !== undefined)).toBe(true);
  });

  test("a hundred and fifty removed teams outside orchestrations hide no live one", async () => {
    const t = makeT({ documentsRead: 1000 });
    const { nodeId } = await setup(t);
    const other = await enroll(t, "laptop-b");
    await insertTeams(t, nodeId, 150, (i) => ({ dirName: `removed-${i}`, removedAt: T0 }));
    await insertTeams(t, nodeId, 1, () => ({ dirName: "live-outside" }));
    await insertTeams(t, other.nodeId, 1, () => ({ dirName: "other-laptop" }));
    const user = await signedIn(t);
    expect((await user.query(api.teams.listUnlinkedTeams, { nodeId })).map((x) => x.dirName)).toEqual(["live-outside"]);
  });

  test("another laptop's team with the same directory name is a different team", async () => {
    const t = makeT();
    const a = await setup(t);
    const b = await enroll(t, "laptop-b");
    await a.sync("x", [task("1")]);
    await t.mutation(api.teams.syncTeam, { nodeToken: b.token, team: team("x"), members: [], tasks: [task("1", { status: "completed" })] });
    const teams = await t.run((ctx) => ctx.db.query("teams").collect());
    expect(teams).toHaveLength(2);
    const tasks = await t.run((ctx) => ctx.db.query("tasks").collect());
    expect(tasks.map((x) => x.status).sort()).toEqual(["completed", "pending"]);
  });
});

describe("diffMembers", () => {
  test("new agents are added, changed ones patched, vanished ones marked removed once", () => {
    const row = (name: string, id: string, overrides: Record<string, unknown> = {}) =>
      ({ ...member(name, "t"), _id: id, _creationTime: T0, teamId: "teams|1", nodeId: "nodes|1", updatedAt: T0, ...overrides }) as unknown as Doc<"teamMembers">;
    const stored = [row("team-lead", "m1"), row("executor-1", "m2"), row("executor-2", "m3"), row("reviewer", "m4", { removedAt: T0 })];
    const changes = diffMembers(stored, [member("team-lead", "t"), member("executor-1", "t", { model: "claude-sonnet-4-5" }), member("executor-3", "t")]);
    expect(changes.added.map((m) => m.agentName)).toEqual(["executor-3"]);
    expect(changes.changed).toEqual([{ id: "m2", fields: expect.objectContaining({ model: "claude-sonnet-4-5", removedAt: undefined }) }]);
    expect(changes.vanished).toEqual(["m3"]);
  });
});

describe("naming helpers", () => {
  test("phaseOfTeam", () => {
    expect(phaseOfTeam("f", "f-phase-2", "f-phase-2")).toBe("2");
    expect(phaseOfTeam("f", "f-phase-1.5", "f-phase-1-5")).toBe("1.5");
    expect(phaseOfTeam("f", "weird", "f-phase-1-5-5")).toBe("1.5.5");
    expect(phaseOfTeam("f", "f-orchestration", "f-orchestration")).toBeUndefined();
    expect(phaseOfTeam("f-phase-x", "f-phase-x-phase-3", "f-phase-x-phase-3")).toBe("3");
    expect(phaseOfTeam("f", "f-phase-1-retry", "f-phase-1-retry")).toBeUndefined();
  });

  test("primaryCwd and worktreeCandidates", () => {
    expect(primaryCwd([member("a", "t", { cwd: "/x" }), member("b", "t", { cwd: "/y" }), member("c", "t", { cwd: "/y" })])).toBe("/y");
    expect(primaryCwd([member("a", "t", { cwd: undefined })])).toBeUndefined();
    expect(worktreeCandidates("/r/.worktrees/f/src/")).toEqual(["/r/.worktrees/f/src", "/r/.worktrees/f"]);
    expect(worktreeCandidates("/r/.worktrees/f")).toEqual(["/r/.worktrees/f"]);
  });
});

describe("real Claude Code fields", () => {
  const lead = (dir: string) => member("team-lead", dir, { tmuxPaneId: "", reach: "lead" });
  const writer = (dir: string, overrides: Record<string, unknown> = {}) =>
    member("writer", dir, {
      tmuxPaneId: "in-process",
      isActive: false,
      backendType: "in-process",
      color: "blue",
      planModeRequired: true,
      reach: "in_process",
      ...overrides,
    });

  test("member fields are stored, and a change patches the member row", async () => {
    const t = makeT();
    const { sync } = await setup(t);
    const dir = "docs-refresh";
    await sync(dir, [], [lead(dir), writer(dir)]);
    const stored = () => t.run((ctx) => ctx.db.query("teamMembers").collect());
    const first = (await stored()).find((m) => m.agentName === "writer")!;
    expect(first).toMatchObject({ isActive: false, backendType: "in-process", color: "blue", planModeRequired: true, reach: "in_process" });
    expect((await stored()).find((m) => m.agentName === "team-lead")).toMatchObject({ reach: "lead" });
    expect((await stored()).find((m) => m.agentName === "team-lead")!.isActive).toBeUndefined();

    await sync(dir, [], [lead(dir), writer(dir, { isActive: true, color: "green", tmuxPaneId: "%3", backendType: "tmux", reach: "pane" })]);
    const second = (await stored()).find((m) => m.agentName === "writer")!;
    expect(second._id).toBe(first._id);
    expect(second).toMatchObject({ isActive: true, color: "green", tmuxPaneId: "%3", backendType: "tmux", reach: "pane" });

    // The iTerm2 backend records the pane's iTerm2 session id: kept whole.
    const iterm = "9E3C1F2A-4B5D-4E6F-8A7B-0C1D2E3F4A5B";
    await sync(dir, [], [lead(dir), writer(dir, { tmuxPaneId: iterm, backendType: "iterm2", reach: "none" })]);
    expect((await stored()).find((m) => m.agentName === "writer")).toMatchObject({ tmuxPaneId: iterm, backendType: "iterm2" });
  });

  test("members without the new fields (an older daemon) still sync", async () => {
    const t = makeT();
    const { sync } = await setup(t);
    const res = await sync("old-daemon", [task("1")]);
    expect(res.applied).toBe(true);
  });

  test("an unknown reach, a long color or an out-of-range task time is refused", async () => {
    const t = makeT();
    const { sync } = await setup(t);
    const dir = "bad";
    await expect(sync(dir, [], [writer(dir, { reach: "telepathy" })])).rejects.toThrow();
    expect((await refusal(sync(dir, [], [writer(dir, { color: "x".repeat(33) })]))).field).toBe("members.color");
    expect((await refusal(sync(dir, [], [writer(dir, { tmuxPaneId: "x".repeat(65) })]))).field).toBe("members.tmuxPaneId");
    expect((await refusal(sync(dir, [task("1", { updatedAt: 1_770_890_733 })]))).field).toBe("tasks.updatedAt");
  });

  test("task times and the tracker flag are stored without a task event of their own", async () => {
    const t = makeT();
    const { sync, events } = await setup(t);
    const dir = "docs-refresh";
    await sync(dir, [task("2", { createdAt: T0, updatedAt: T0 + 1000 })]);
    const row = () => t.run((ctx) => ctx.db.query("tasks").first());
    expect(await row()).toMatchObject({ claudeCreatedAt: T0, claudeUpdatedAt: T0 + 1000, revision: 1 });
    expect((await row())!.internal).toBeUndefined();

    // A new time on an ordinary task: no event; a real change alongside one: one event naming only it.
    expect((await sync(dir, [task("2", { createdAt: T0, updatedAt: T0 + 3000 })])).taskEventsAppended).toBe(0);
    const res = await sync(dir, [task("2", { createdAt: T0, updatedAt: T0 + 4000, status: "in_progress" })]);
    expect(res.taskEventsAppended).toBe(1);
    expect((await events()).map((e) => e.changes)).toEqual([[], ["status"]]);
    expect(await row()).toMatchObject({ claudeUpdatedAt: T0 + 4000, status: "in_progress", revision: 2 });

    // Becoming a tracker is stored quietly; a tracker's changes update its row and record no event.
    expect((await sync(dir, [task("2", { createdAt: T0, updatedAt: T0 + 5000, status: "in_progress", internal: true })])).taskEventsAppended).toBe(0);
    expect(await row()).toMatchObject({ claudeUpdatedAt: T0 + 5000, internal: true, revision: 2 });
    const tracker = await sync(dir, [task("2", { createdAt: T0, updatedAt: T0 + 9000, internal: true, status: "completed" })]);
    expect(tracker.taskEventsAppended).toBe(0);
    expect(await events()).toHaveLength(2);
    expect(await row()).toMatchObject({ claudeUpdatedAt: T0 + 9000, status: "completed", revision: 3 });
  });

  test("teammate trackers record no task events: not when they appear, change, vanish or return", async () => {
    const t = makeT();
    const { sync, events } = await setup(t);
    const dir = "docs-refresh";
    const tracker = (status: string) => task("1", { subject: "writer", status, internal: true, metadata: '{"_internal":true}' });
    const first = await sync(dir, [tracker("in_progress"), task("2")]);
    expect(first.taskEventsAppended).toBe(1);
    expect((await sync(dir, [tracker("completed"), task("2", { status: "in_progress" })])).taskEventsAppended).toBe(1);
    expect((await sync(dir, [task("2", { status: "in_progress" })])).taskEventsAppended).toBe(0);
    expect((await sync(dir, [tracker("in_progress"), task("2", { status: "in_progress" })])).taskEventsAppended).toBe(0);
    expect((await sync(dir, [tracker("deleted"), task("2", { status: "in_progress" })])).taskEventsAppended).toBe(0);
    // The ordinary task's history is complete; the tracker has none.
    expect((await events()).map((e) => [e.taskId, e.kind, e.status])).toEqual([
      ["2", "created", "pending"],
      ["2", "updated", "in_progress"],
    ]);
    const rows = await t.run((ctx) => ctx.db.query("tasks").collect());
    expect(rows.find((r) => r.taskId === "1")).toMatchObject({ internal: true, status: "in_progress" });
    expect(rows.find((r) => r.taskId === "1")!.removedAt).toBeDefined();
  });

  test("a task with status deleted is removed once, like a vanished one, and keeps its last state", async () => {
    const t = makeT();
    const { sync, events } = await setup(t);
    const dir = "docs-refresh";
    await sync(dir, [task("2"), task("3", { status: "in_progress" })]);
    const deleted = task("3", { status: "deleted", updatedAt: T0 + 1000 });
    const res = await sync(dir, [task("2"), deleted]);
    expect(res.taskEventsAppended).toBe(1);
    const removed = (await events()).at(-1)!;
    expect(removed).toMatchObject({ taskId: "3", kind: "removed", status: "in_progress" });
    const row = await t.run((ctx) => ctx.db.query("tasks").withIndex("by_team_task").collect());
    const three = row.find((x) => x.taskId === "3")!;
    expect(three.removedAt).toBeDefined();
    expect(three.status).toBe("in_progress");
    // The file stays on disk: later syncs change nothing.
    expect((await sync(dir, [task("2"), deleted])).taskEventsAppended).toBe(0);
    // Then the file goes too: still nothing.
    expect((await sync(dir, [task("2")])).taskEventsAppended).toBe(0);
    expect(await events()).toHaveLength(3);
    const teamRow = await t.run((ctx) => ctx.db.query("teams").first());
    expect(teamRow!.taskCounts).toEqual({ pending: 1, inProgress: 0, completed: 0, other: 0 });
  });

  test("a task first seen deleted leaves no row and no event; a deleted state in history removes once", async () => {
    const t = makeT();
    const { node, events } = { node: await enroll(t), events: () => t.run((ctx) => ctx.db.query("taskEvents").collect()) };
    const call = (tasks: ReturnType<typeof task>[], seq: number, history: { seq: number; task: ReturnType<typeof task> }[] = []) =>
      t.mutation(api.teams.syncTeam, { nodeToken: node.token, team: team("x"), members: [], tasks, seq, history });
    await call([task("9", { status: "deleted" })], 1);
    expect(await t.run((ctx) => ctx.db.query("tasks").collect())).toEqual([]);
    expect(await events()).toEqual([]);
    await call([task("1")], 2);
    // Offline, task 1 was deleted, and its file then vanished.
    const res = await call([], 4, [{ seq: 3, task: task("1", { status: "deleted" }) }]);
    expect(res.taskEventsAppended).toBe(1);
    expect((await events()).map((e) => e.kind)).toEqual(["created", "removed"]);
  });

  test("teammate trackers are not counted among the team's tasks", async () => {
    const t = makeT();
    const { sync } = await setup(t);
    await sync("docs-refresh", [
      task("1", { subject: "writer", status: "in_progress", internal: true, metadata: '{"_internal":true}' }),
      task("2", { status: "in_progress" }),
      task("3", { status: "deleted" }),
      task("4"),
    ]);
    const teamRow = await t.run((ctx) => ctx.db.query("teams").first());
    expect(teamRow!.taskCounts).toEqual({ pending: 1, inProgress: 1, completed: 0, other: 0 });
  });
});

describe("liveness", () => {
  test("members carry liveness and its reason; the team counts them; a change patches both", async () => {
    const t = makeT();
    const { sync } = await setup(t);
    const dir = "billing-export-phase-1";
    const members = (writer: Record<string, unknown>) => [
      member("team-lead", dir, { reach: "lead", liveness: "working" }),
      member("executor-1", dir, { reach: "pane", liveness: "waiting", livenessReason: "waiting for permission to use Bash" }),
      member("writer", dir, { reach: "pane", ...writer }),
      member("reviewer", dir, { reach: "pane", liveness: "gone", livenessReason: "its tmux pane %9 is gone" }),
    ];
    await sync(dir, [], members({ liveness: "idle", livenessReason: "idle since 12:00" }));
    const teamRow = () => t.run((ctx) => ctx.db.query("teams").first());
    const stored = () => t.run((ctx) => ctx.db.query("teamMembers").collect());
    expect((await teamRow())!.liveness).toEqual({ working: 1, idle: 1, waiting: 1, shutDown: 0, gone: 1 });
    expect((await stored()).find((m) => m.agentName === "executor-1")).toMatchObject({ liveness: "waiting", livenessReason: "waiting for permission to use Bash" });
    const before = await teamRow();
    // The same snapshot writes nothing (the counts are compared by value).
    await sync(dir, [], members({ liveness: "idle", livenessReason: "idle since 12:00" }));
    expect(await teamRow()).toEqual(before);
    await sync(dir, [], members({ liveness: "shut_down", livenessReason: "shut down at 12:05" }));
    expect((await teamRow())!.liveness).toEqual({ working: 1, idle: 0, waiting: 1, shutDown: 1, gone: 1 });
    expect((await stored()).find((m) => m.agentName === "writer")).toMatchObject({ liveness: "shut_down", livenessReason: "shut down at 12:05" });
  });

  test("an older daemon (no liveness) leaves the counts unset; unknown states and long reasons are refused", async () => {
    const t = makeT();
    const { sync } = await setup(t);
    await sync("x", []);
    expect((await t.run((ctx) => ctx.db.query("teams").first()))!.liveness).toBeUndefined();
    await expect(sync("x", [], [member("a", "x", { liveness: "sleeping" })])).rejects.toThrow(/Validator/);
    expect((await refusal(sync("x", [], [member("a", "x", { liveness: "idle", livenessReason: "x".repeat(1001) })]))).field).toBe("members.livenessReason");
  });
});

describe("team messages (inboxes)", () => {
  const key = (i: number) => i.toString(16).padStart(64, "0");
  const entry = (i: number, overrides: Record<string, unknown> = {}) => ({
    key: key(i),
    recipient: "team-lead",
    sender: "executor-1",
    kind: "text" as const,
    text: `message ${i}`,
    truncated: false,
    timestamp: T0 + i * 1000,
    read: false,
    ...overrides,
  });

  async function messaging(t: T) {
    const s = await setup(t);
    const { teamId } = await s.sync("billing-export-phase-1", []);
    const record = (messages: ReturnType<typeof entry>[], dirName = "billing-export-phase-1", token = s.token) =>
      t.mutation(api.teams.recordTeamMessages, { nodeToken: token, dirName, messages });
    const rows = () => t.run((ctx) => ctx.db.query("teamMessages").collect());
    // The team row with the message count it keeps (its teamMessageCounts row's, once it has one).
    const teamRow = () =>
      t.run(async (ctx) => {
        const row = (await ctx.db.get("teams", teamId))!;
        const counted = await ctx.db.query("teamMessageCounts").withIndex("by_team", (q) => q.eq("teamId", teamId)).unique();
        return { ...row, messageCount: counted === null ? row.messageCount : counted.count };
      });
    const storedTeam = () => t.run((ctx) => ctx.db.get("teams", teamId));
    return { ...s, teamId, record, rows, teamRow, storedTeam };
  }

  test("new keys are inserted; a replay writes nothing; only a read flip is patched", async () => {
    const t = makeT();
    const { record, rows, teamRow, storedTeam } = await messaging(t);
    const team = await storedTeam();
    const structured = entry(3, {
      kind: "permission_request",
      text: '{"type":"permission_request","tool_name":"Bash"}',
      summary: "asks to run tests",
      color: "blue",
      requestId: "perm-1",
      approved: undefined,
      detail: '{"tool_name":"Bash"}',
    });
    expect(await record([entry(1), entry(2), structured])).toEqual({ inserted: 3, updated: 0 });
    expect((await teamRow())!.messageCount).toBe(3);
    const first = await rows();
    expect(first.find((m) => m.key === key(3))).toMatchObject({ kind: "permission_request", requestId: "perm-1", detail: '{"tool_name":"Bash"}', color: "blue" });
    expect(await record([entry(1), entry(2), structured])).toEqual({ inserted: 0, updated: 0 });
    // A replay reads the laptop, its presence, the team and the three entries: not the count.
    expect(lastCallMetrics().documentsRead).toBe(6);
    expect(await rows()).toEqual(first);
    // The key fixes the entry: a changed text under a known key is not rewritten; read is.
    expect(await record([entry(1, { read: true, text: "edited?" }), entry(2)])).toEqual({ inserted: 0, updated: 1 });
    const after = await rows();
    expect(after.find((m) => m.key === key(1))).toMatchObject({ read: true, text: "message 1" });
    expect((await teamRow())!.messageCount).toBe(3);
    // The team row the detail page reads was never written: the count has its own row.
    expect(await storedTeam()).toEqual(team);
  });

  test("the team must be a live team of this laptop", async () => {
    const t = makeT();
    const { record, rows, token } = await messaging(t);
    expect(await refusal(record([entry(1)], "no-such-team"))).toEqual({
      code: "not_found",
      field: "dirName",
      message: "no team no-such-team on this laptop (sync the team first)",
    });
    const other = await enroll(t, "laptop-b");
    expect((await refusal(record([entry(1)], "billing-export-phase-1", other.token))).code).toBe("not_found");
    await t.mutation(api.teams.removeTeam, { nodeToken: token, dirName: "billing-export-phase-1" });
    expect((await refusal(record([entry(1)]))).code).toBe("not_found");
    expect(await rows()).toEqual([]);
  });

  test("caps: 100 per call, text and detail in bytes, keys, timestamps; refused with the field named, nothing written", async () => {
    const t = makeT();
    const { record, rows } = await messaging(t);
    const cases: [ReturnType<typeof entry>[], string][] = [
      [Array.from({ length: 101 }, (_, i) => entry(i)), "messages"],
      // 16 KiB counted in UTF-8: 5,462 three-byte characters are 16,386 bytes.
      [[entry(1, { text: "€".repeat(5462) })], "messages.text"],
      [[entry(1, { detail: "x".repeat(4097) })], "messages.detail"],
      [[entry(1, { key: "K".repeat(64) })], "messages.key"],
      [[entry(1, { key: "../inbox" })], "messages.key"],
      [[entry(1, { timestamp: -1 })], "messages.timestamp"],
      [[entry(1, { timestamp: Number.NaN })], "messages.timestamp"],
      [[entry(1, { sender: "" })], "messages.sender"],
      [[entry(1, { summary: "s".repeat(1001) })], "messages.summary"],
    ];
    for (const [messages, field] of cases) {
      expect(await refusal(record(messages)), field).toMatchObject({ code: "invalid_argument", field });
    }
    expect(await rows()).toEqual([]);
    // An entry without a timestamp (0) is kept; it sorts first.
    expect(await record([entry(1, { timestamp: 0 })])).toEqual({ inserted: 1, updated: 0 });
  });

  test("a full call of 100 maximal messages fits Convex's limits", async () => {
    const t = makeT({});
    const { record, teamRow } = await messaging(t);
    const big = Array.from({ length: 100 }, (_, i) => entry(i, { text: "€".repeat(5461), detail: "d".repeat(4096), summary: "s".repeat(1000) }));
    expect(await record(big)).toEqual({ inserted: 100, updated: 0 });
    expect(await record(big)).toEqual({ inserted: 0, updated: 0 });
    expect((await teamRow())!.messageCount).toBe(100);
  });

  test("at most 2,000 per team: the oldest go, older arrivals are not taken, reads stay bounded", async () => {
    const t = makeT({ documentsRead: 1000 });
    const { record, teamId, teamRow } = await messaging(t);
    // 1,950 stored already (written directly: fast), timestamps 1000..1949 s after T0.
    await t.run(async (ctx) => {
      const team = (await ctx.db.get("teams", teamId))!;
      for (let i = 1000; i < 2950; i++) {
        await ctx.db.insert("teamMessages", { ...entry(i), teamId, nodeId: team.nodeId, recordedAt: T0 });
      }
      // As an older version kept it: on the team row (the team has no teamMessageCounts row yet).
      await ctx.db.patch("teams", teamId, { messageCount: 1950 });
    });
    expect(await record(Array.from({ length: 100 }, (_, i) => entry(3000 + i)))).toEqual({ inserted: 100, updated: 0 });
    expect((await teamRow())!.messageCount).toBe(2000);
    // Counted page by page: each read is a transaction of its own, under the same limit.
    const kept: string[] = [];
    let cursor: string | null = null;
    for (let done = false; !done; ) {
      const page: { page: { key: string }[]; isDone: boolean; continueCursor: string } = await t.run((ctx) =>
        ctx.db.query("teamMessages").withIndex("by_team_time", (q) => q.eq("teamId", teamId)).paginate({ numItems: 500, cursor }),
      );
      kept.push(...page.page.map((m) => m.key));
      done = page.isDone;
      cursor = page.continueCursor;
    }
    expect(kept).toHaveLength(2000);
    expect(kept[0]).toBe(key(1050));
    expect(kept.at(-1)).toBe(key(3099));
    // At the cap, a replayed entry older than everything kept is not taken (it would go at once).
    expect(await record([entry(5)])).toEqual({ inserted: 0, updated: 0 });
    expect(await record([entry(4000)])).toEqual({ inserted: 1, updated: 0 });
    expect((await teamRow())!.messageCount).toBe(2000);
  });

  test("conversation: the newest `limit`, oldest first, with `more`; viewers may read; bounded", async () => {
    const t = makeT({ documentsRead: 1000 });
    const { record, teamId } = await messaging(t);
    for (let start = 0; start < 1500; start += 100) {
      await record(Array.from({ length: 100 }, (_, i) => entry(start + i)));
    }
    const viewer = await signedIn(t, { name: "V", email: "v@example.com", role: "viewer" });
    const page = await viewer.query(api.teams.conversation, { teamId });
    expect(page.messages).toHaveLength(100);
    expect(page.more).toBe(true);
    expect(page.messages[0].key).toBe(key(1400));
    expect(page.messages.at(-1)!.key).toBe(key(1499));
    expect((await viewer.query(api.teams.conversation, { teamId, limit: 10_000 })).messages).toHaveLength(200);
    const few = await viewer.query(api.teams.conversation, { teamId, limit: 3 });
    expect(few.messages.map((m) => m.text)).toEqual(["message 1497", "message 1498", "message 1499"]);
    expect((await refusal(viewer.query(api.teams.conversation, { teamId, limit: Number.NaN }))).field).toBe("limit");
    expect((await refusal(t.query(api.teams.conversation, { teamId }))).code).toBe("unauthenticated");
    const { teamId: quiet } = await t.mutation(api.teams.syncTeam, { nodeToken: (await enroll(t, "laptop-b")).token, team: team("quiet"), members: [], tasks: [] });
    expect(await viewer.query(api.teams.conversation, { teamId: quiet })).toEqual({ messages: [], more: false });
  });
});
