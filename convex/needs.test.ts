// @vitest-environment edge-runtime
import { afterEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "./_generated/api";
import { cutBytes, EACH_LIMIT, ITEMS_MAX_BYTES, KIND_ORDER, PLAN_STORED_MAX_BYTES } from "./model/needs";
import { needItem, type LaptopNeed, type SessionSnapshot } from "./model/validators";
import { promptView } from "./prompts";
import {
  OPERATOR,
  OWNER,
  SITE_URL,
  T0,
  VIEWER,
  addUser,
  enroll,
  lastCallMetrics,
  makeT,
  member,
  orchestration,
  phase,
  refusal,
  team,
  type T,
} from "./test.setup";

afterEach(() => {
  vi.useRealTimers();
});

const DIR = "billing-export-phase-1";
const SESSION = "0b6f3a0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b";

function need(key: string, overrides: Partial<LaptopNeed> = {}): LaptopNeed {
  return { key, kind: "stalled", since: T0, title: `${key} went quiet`, cause: "silent", ...overrides };
}

function session(sessionId: string, overrides: Partial<SessionSnapshot> = {}): SessionSnapshot {
  return { sessionId, liveness: "working", firstAt: T0, lastAt: T0 + 1000, lastEvent: "PreToolUse", events: 3, ...overrides };
}

/** Laptops A and B, a viewer; `sync` sends A's (or another laptop's) current set. */
async function world(t: T) {
  const a = await enroll(t, "laptop-a");
  const b = await enroll(t, "laptop-b");
  const viewer = await addUser(t, VIEWER);
  const sync = (items: LaptopNeed[], sessions: SessionSnapshot[] = [], token = a.token) =>
    t.mutation(api.needs.syncLaptop, { nodeToken: token, items, sessions });
  return { a, b, viewer, sync };
}

const needRows = (t: T) => t.run((ctx) => ctx.db.query("needs").collect());
const sessionRows = (t: T) => t.run((ctx) => ctx.db.query("claudeSessions").collect());
const byKey = async (t: T, key: string) => (await needRows(t)).filter((r) => r.key === key);

describe("needs:syncLaptop", () => {
  test("words are stored without control characters, a plan or tool input only on its own kind, an unknown time as 0", async () => {
    const t = makeT();
    const { sync } = await world(t);
    await sync(
      [
        need("stop:s1", { kind: "stop_failure", title: "stopped:\u001b[31m rate limited\nagain", detail: "line 1\nline 2\u0000\u0007", retryHint: "resets\t3pm", cause: undefined }),
        need("stall:s2", { planContent: "a plan on a stall", toolInput: "{}", toolInputTruncated: true }),
        need("perm:t:r0", { kind: "teammate_permission", since: 0, cause: undefined }),
      ],
      [session(SESSION, { reason: "rate\u001blimited", lastEvent: "Stop\nFailure" })],
    );
    expect((await byKey(t, "stop:s1"))[0]).toMatchObject({ title: "stopped: [31m rate limited again", detail: "line 1\nline 2  ", retryHint: "resets 3pm" });
    const [stall] = await byKey(t, "stall:s2");
    expect([stall.planContent, stall.toolInput, stall.toolInputTruncated]).toEqual([undefined, undefined, undefined]);
    expect((await byKey(t, "perm:t:r0"))[0].since).toBe(0);
    expect((await sessionRows(t))[0]).toMatchObject({ reason: "rate limited", lastEvent: "Stop Failure" });
  });

  test("opens, updates and resolves items; the same call twice writes nothing", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const { a, sync } = await world(t);
    const one = need("stall:s1");
    const two = need("idle:team:executor-2", { kind: "idle_with_tasks", title: "executor-2 is idle with 2 open tasks", openTasks: 2, cause: undefined });
    expect(await sync([one, two], [session(SESSION)])).toEqual({ opened: 2, updated: 0, resolved: 0 });
    const first = await needRows(t);
    expect(first).toHaveLength(2);
    expect(first.find((r) => r.key === "stall:s1")).toMatchObject({ nodeId: a.nodeId, kind: "stalled", openedAt: T0, updatedAt: T0, cause: "silent" });
    expect(first.every((r) => r.resolvedAt === undefined)).toBe(true);

    vi.setSystemTime(T0 + 60_000);
    const sessionsBefore = await sessionRows(t);
    expect(await sync([one, two], [session(SESSION)])).toEqual({ opened: 0, updated: 0, resolved: 0 });
    // Nothing written: every row exactly as it was, updatedAt included.
    expect(await needRows(t)).toEqual(first);
    expect(await sessionRows(t)).toEqual(sessionsBefore);

    vi.setSystemTime(T0 + 120_000);
    const changed = { ...one, title: "s1 went quiet for 12 minutes", cause: "long_tool" as const };
    expect(await sync([changed])).toEqual({ opened: 0, updated: 1, resolved: 1 });
    const [updated] = await byKey(t, "stall:s1");
    expect(updated).toMatchObject({ title: changed.title, cause: "long_tool", openedAt: T0, updatedAt: T0 + 120_000 });
    expect(updated.resolvedAt).toBeUndefined();
    expect(await byKey(t, two.key)).toMatchObject([{ resolvedAt: T0 + 120_000, updatedAt: T0 }]);

    // A field the laptop no longer sends is cleared.
    const { cause: _cause, ...noCause } = changed;
    expect(await sync([noCause])).toEqual({ opened: 0, updated: 1, resolved: 0 });
    expect((await byKey(t, "stall:s1"))[0].cause).toBeUndefined();

    // The same key again after it was resolved is a new item; the resolved row stays resolved.
    expect(await sync([noCause, two])).toEqual({ opened: 1, updated: 0, resolved: 0 });
    const rows = await byKey(t, two.key);
    expect(rows.map((r) => r.resolvedAt === undefined).sort()).toEqual([false, true]);
  });

  test("secrets are masked; a tool input is cut to 16 KiB and a plan to 64 KiB of UTF-8, marked", async () => {
    const t = makeT();
    const { sync } = await world(t);
    const input = JSON.stringify({ command: `curl -H 'Authorization: Bearer abcdefghijklmnop' ${"é".repeat(10_000)}` });
    await sync([
      need("perm:t:r1", { kind: "teammate_permission", toolName: "Bash", toolInput: input, detail: "uses token=supersecret123", cause: undefined }),
      need("plan:t:r2", { kind: "agent_plan_approval", planContent: "計".repeat(65_536), cause: undefined }),
    ]);
    const [perm] = await byKey(t, "perm:t:r1");
    expect(perm.detail).toBe("uses token=***");
    expect(perm.toolInput).not.toContain("abcdefghijklmnop");
    expect(new TextEncoder().encode(perm.toolInput!).length).toBeLessThanOrEqual(16 * 1024);
    expect(perm.toolInputTruncated).toBe(true);
    const [plan] = await byKey(t, "plan:t:r2");
    expect(new TextEncoder().encode(plan.planContent!).length).toBe(PLAN_STORED_MAX_BYTES - (PLAN_STORED_MAX_BYTES % 3));
    expect(cutBytes("aé", 2)).toBe("a");
    expect(cutBytes("aé", 3)).toBe("aé");
    expect(cutBytes("short", 2)).toBe("sh");
  });

  test("an oversized field is refused, naming the item and the field; nothing is written", async () => {
    const t = makeT();
    const { sync } = await world(t);
    const cases: [Partial<LaptopNeed>, string][] = [
      [{ title: "x".repeat(201) }, "items[1].title"],
      [{ key: "k".repeat(201) }, "items[1].key"],
      [{ detail: "d".repeat(4097) }, "items[1].detail"],
      [{ kind: "teammate_permission", toolInput: "i".repeat(16_385) }, "items[1].toolInput"],
      [{ kind: "agent_plan_approval", planContent: "p".repeat(65_537) }, "items[1].planContent"],
      [{ retryHint: "r".repeat(201) }, "items[1].retryHint"],
      [{ teamDir: "../etc" }, "items[1].teamDir"],
      [{ since: -1 }, "items[1].since"],
      [{ openTasks: -1 }, "items[1].openTasks"],
      [{ openTasks: 1.5 }, "items[1].openTasks"],
      [{ title: "   " }, "items[1].title"],
      [{ key: "two\nlines" }, "items[1].key"],
      [{ requestId: "$(id)" }, "items[1].requestId"],
    ];
    for (const [overrides, field] of cases) {
      const r = await refusal(sync([need("ok"), need("bad", overrides)]));
      expect(r, field).toMatchObject({ code: "invalid_argument", field });
      expect(r.message.startsWith(`${field}: `), r.message).toBe(true);
    }
    expect((await refusal(sync([need("a"), need("a")]))).field).toBe("items[1]");
    const s = await refusal(sync([], [session(SESSION, { reason: "r".repeat(201) })]));
    expect(s).toMatchObject({ code: "invalid_argument", field: "sessions[0].reason" });
    expect((await refusal(sync([], [session(SESSION, { cwd: "/" + "c".repeat(1024) })]))).field).toBe("sessions[0].cwd");
    expect((await refusal(sync([], [session(SESSION, { lastEvent: "e".repeat(65) })]))).field).toBe("sessions[0].lastEvent");
    expect(await needRows(t)).toEqual([]);
    expect(await sessionRows(t)).toEqual([]);
  });

  test("more than 200 items, 100 sessions or 4 MiB of text in all are refused", async () => {
    const t = makeT();
    const { sync } = await world(t);
    const items = Array.from({ length: 201 }, (_, i) => need(`stall:${i}`));
    expect(await refusal(sync(items))).toMatchObject({ code: "invalid_argument", field: "items" });
    expect((await refusal(sync(items))).message).toMatch(/^items: expected at most 200 items/);
    const sessions = Array.from({ length: 101 }, (_, i) => session(`s-${i}`));
    expect(await refusal(sync([], sessions))).toMatchObject({ code: "invalid_argument", field: "sessions" });
    // 65 plans of 64 Ki characters: each allowed, together over the budget.
    const plans = Array.from({ length: 65 }, (_, i) => need(`plan:${i}`, { kind: "agent_plan_approval", planContent: "p".repeat(65_536), cause: undefined }));
    expect(plans.length * 65_536).toBeGreaterThan(ITEMS_MAX_BYTES);
    expect(await refusal(sync(plans))).toMatchObject({ code: "invalid_argument", field: "items" });
    expect(await needRows(t)).toEqual([]);
    // The most a laptop may send fits Convex's limits.
    expect(await sync(items.slice(0, 200), sessions.slice(0, 100))).toEqual({ opened: 200, updated: 0, resolved: 0 });
    expect(await sync(items.slice(100, 200), sessions.slice(0, 50))).toEqual({ opened: 0, updated: 0, resolved: 100 });
    expect(await sessionRows(t)).toHaveLength(50);
  }, 120_000);

  test("a laptop's largest sync, and the list over many such laptops, stay within Convex's limits", async () => {
    // convex-test enforces Convex's transaction limits (16 MiB read and written, 32,000 documents read).
    const t = makeT();
    const { sync, viewer } = await world(t);
    const plan = (i: number) => need(`plan:${i}`, { kind: "agent_plan_approval", planContent: "p".repeat(60_000), detail: "d".repeat(4096), cause: undefined });
    const perm = (i: number) => need(`perm:${i}`, { kind: "teammate_permission", toolInput: "i".repeat(16_384), detail: "d".repeat(4096), cause: undefined });
    // Just under the 4 MiB budget: 55 plans and 30 tool inputs, each with a full detail.
    const first = [...Array.from({ length: 55 }, (_, i) => plan(i)), ...Array.from({ length: 30 }, (_, i) => perm(i))];
    expect(await sync(first)).toEqual({ opened: 85, updated: 0, resolved: 0 });
    // Replacing all of them: the new set written, the old one resolved.
    const second = [...Array.from({ length: 55 }, (_, i) => plan(i + 100)), ...Array.from({ length: 30 }, (_, i) => perm(i + 100))];
    expect(await sync(second)).toEqual({ opened: 85, updated: 0, resolved: 85 });
    const c = await enroll(t, "laptop-c");
    await sync(first, [], c.token);
    const list = await viewer.as.query(api.needs.needsYou, {});
    expect(list.items.filter((i) => i.kind === "agent_plan_approval")).toHaveLength(EACH_LIMIT);
    expect(list.items.filter((i) => i.kind === "teammate_permission")).toHaveLength(EACH_LIMIT);
  }, 120_000);

  test("the orchestration comes from the team's link, else from the laptop's newest orchestration of the feature", async () => {
    const t = makeT();
    const { a, b, sync } = await world(t);
    const older = await t.mutation(api.orchestrations.syncOrchestration, { nodeToken: a.token, orchestration: orchestration({ startedAt: T0 - 86_400_000 }), phases: [] });
    const newer = await t.mutation(api.orchestrations.syncOrchestration, {
      nodeToken: a.token,
      orchestration: orchestration({ status: "executing" }),
      phases: [phase("1", "executing")],
    });
    expect(older.orchestrationId).not.toBe(newer.orchestrationId);
    await t.mutation(api.teams.syncTeam, { nodeToken: a.token, team: team(DIR), members: [member("team-lead", DIR)], tasks: [] });
    const linked = await t.run((ctx) => ctx.db.query("teams").withIndex("by_node_dir", (q) => q.eq("nodeId", a.nodeId).eq("dirName", DIR)).unique());
    expect(linked).toMatchObject({ orchestrationId: newer.orchestrationId, phaseNumber: "1" });
    // An unlinked team (no member in the worktree).
    await t.mutation(api.teams.syncTeam, { nodeToken: a.token, team: team("loose"), members: [member("team-lead", "loose", { cwd: "/tmp" })], tasks: [] });

    await sync(
      [
        need("by-team", { teamDir: DIR }),
        need("by-feature", { featureName: "billing-export" }),
        need("team-wins", { teamDir: DIR, featureName: "other-feature" }),
        need("loose-team-feature", { teamDir: "loose", featureName: "billing-export" }),
        need("unknown", { teamDir: "nope", featureName: "nope" }),
      ],
      [session(SESSION, { teamDir: DIR }), session("s-2", { featureName: "billing-export" }), session("s-3")],
    );
    const of = async (key: string) => (await byKey(t, key))[0];
    expect(await of("by-team")).toMatchObject({ orchestrationId: newer.orchestrationId, phaseNumber: "1" });
    expect(await of("by-feature")).toMatchObject({ orchestrationId: newer.orchestrationId });
    expect((await of("by-feature")).phaseNumber).toBeUndefined();
    expect(await of("team-wins")).toMatchObject({ orchestrationId: newer.orchestrationId, phaseNumber: "1" });
    expect(await of("loose-team-feature")).toMatchObject({ orchestrationId: newer.orchestrationId });
    expect((await of("unknown")).orchestrationId).toBeUndefined();
    const sessions = new Map((await sessionRows(t)).map((s) => [s.sessionId, s.orchestrationId]));
    expect(sessions).toEqual(new Map([[SESSION, newer.orchestrationId], ["s-2", newer.orchestrationId], ["s-3", undefined]]));

    // Another laptop's feature of the same name is not this one's.
    await sync([need("b-item", { featureName: "billing-export" })], [], b.token);
    expect((await of("b-item")).orchestrationId).toBeUndefined();
  });

  test("a repeated sync reads no team or orchestration for rows already linked", async () => {
    const t = makeT();
    const { a, sync } = await world(t);
    // What any call reads besides the laptop's rows (its node, its presence once there is one).
    await sync([], []);
    await sync([], []);
    const overhead = lastCallMetrics().documentsRead;
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, {
      nodeToken: a.token,
      orchestration: orchestration({ status: "executing" }),
      phases: [phase("1", "executing")],
    });
    const dirs = [1, 2, 3, 4].map((i) => `billing-export-phase-${i}`);
    for (const dir of dirs) await t.mutation(api.teams.syncTeam, { nodeToken: a.token, team: team(dir), members: [member("team-lead", dir)], tasks: [] });
    const items = dirs.map((dir, i) => need(`item-${i}`, { teamDir: dir }));
    const sessions = dirs.map((dir, i) => session(`s-${i}`, { teamDir: dir }));
    await sync(items, sessions);
    // The first time: each team is read (once for its item and its session).
    expect(lastCallMetrics().documentsRead).toBe(overhead + dirs.length);
    expect((await needRows(t)).map((r) => r.orchestrationId)).toEqual(dirs.map(() => orchestrationId));
    // Again: only the laptop's own rows are read.
    await sync(items, sessions);
    expect(lastCallMetrics().documentsRead).toBe(overhead + items.length + sessions.length);
    // One item changed: its row keeps its link (the patch reads the row once more, no team).
    const again = await sync([need("item-0", { teamDir: dirs[0], title: "still quiet" }), ...items.slice(1)], sessions);
    expect(again).toEqual({ opened: 0, updated: 1, resolved: 0 });
    expect(lastCallMetrics().documentsRead).toBe(overhead + items.length + sessions.length + 1);
    expect((await byKey(t, "item-0"))[0]).toMatchObject({ title: "still quiet", orchestrationId, phaseNumber: "1" });
    expect((await sessionRows(t)).map((r) => r.orchestrationId)).toEqual(dirs.map(() => orchestrationId));
  });

  test("sessions are the laptop's current set: absent ones are deleted, changed ones updated", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const { a, b, sync, viewer } = await world(t);
    await sync([], [session("s-1"), session("s-2", { lastAt: T0 + 5000 })]);
    await sync([], [session("s-9")], b.token);
    vi.setSystemTime(T0 + 10_000);
    await sync([], [session("s-2", { liveness: "rate_limited", reason: "rate limited; resets 3pm", lastAt: T0 + 9000, events: 4 })]);
    const rows = await sessionRows(t);
    expect(rows.filter((r) => r.nodeId === a.nodeId)).toMatchObject([{ sessionId: "s-2", liveness: "rate_limited", reason: "rate limited; resets 3pm", updatedAt: T0 + 10_000 }]);
    // A field no longer sent is cleared.
    await sync([], [session("s-2", { liveness: undefined, lastAt: T0 + 9000, events: 4 })]);
    expect((await sessionRows(t)).find((r) => r.sessionId === "s-2")!.liveness).toBeUndefined();

    const mine = await viewer.as.query(api.needs.sessions, { nodeId: a.nodeId });
    expect(mine.map((s) => [s.sessionId, s.nodeName])).toEqual([["s-2", "laptop-a"]]);
    const all = await viewer.as.query(api.needs.sessions, {});
    // Newest activity first.
    expect(all.map((s) => s.sessionId)).toEqual(["s-2", "s-9"]);
    await sync([], []);
    expect(await viewer.as.query(api.needs.sessions, { nodeId: a.nodeId })).toEqual([]);
  });

  test("needs a laptop credential; a revoked laptop is refused", async () => {
    const t = makeT();
    const { sync } = await world(t);
    expect((await refusal(sync([need("x")], [], "tina_node_" + "A".repeat(43)))).code).toBe("unauthenticated");
    const owner = await addUser(t, OWNER);
    const c = await enroll(t, "laptop-c");
    await owner.as.mutation(api.nodes.revokeNode, { nodeId: c.nodeId });
    expect((await refusal(sync([need("x")], [], c.token))).code).toBe("revoked");
    expect(await needRows(t)).toEqual([]);
  });

  test("resolved items are deleted a day later, by the next sync or by the sweep", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const { b, sync } = await world(t);
    await sync([need("old-1"), need("old-2")]);
    await sync([need("b-1")], [], b.token);
    await sync([]);
    await sync([], [], b.token);
    expect((await needRows(t)).filter((r) => r.resolvedAt !== undefined)).toHaveLength(3);
    vi.setSystemTime(T0 + 24 * 60 * 60_000 - 1);
    await sync([]);
    expect(await needRows(t)).toHaveLength(3);
    vi.setSystemTime(T0 + 24 * 60 * 60_000 + 1);
    await sync([need("new")]);
    // A's old rows went with A's sync; B's stays until the sweep.
    expect((await needRows(t)).map((r) => r.key).sort()).toEqual(["b-1", "new"]);
    expect(await t.mutation(internal.needs.sweepNeeds, {})).toEqual({ deleted: 1 });
    expect((await needRows(t)).map((r) => r.key)).toEqual(["new"]);
  });
});

// ---------------------------------------------------------------------------------------

/** One item of every kind, on laptops A (online) and C (gone quiet). */
async function everything(t: T) {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
  const w = await world(t);
  const owner = await addUser(t, OWNER);
  const operator = await addUser(t, OPERATOR);
  await owner.as.mutation(api.nodes.setMessaging, { nodeId: w.a.nodeId, messaging: "operators" });
  const awaiting = await t.mutation(api.orchestrations.syncOrchestration, {
    nodeToken: w.a.token,
    orchestration: orchestration({ status: "executing", currentPhase: 2 }),
    phases: [phase("1", "complete"), phase("2", "awaiting_approval")],
  });
  const blocked = await t.mutation(api.orchestrations.syncOrchestration, {
    nodeToken: w.a.token,
    orchestration: orchestration({ featureName: "search", worktreePath: "/w/search", status: "blocked" }),
    phases: [phase("1", "blocked", { blockedReason: "tests fail" })],
  });
  vi.setSystemTime(T0 + 1000);
  const { actionId } = await operator.as.mutation(api.actions.submitAction, {
    action: { type: "retry", orchestrationId: blocked.orchestrationId, phase: "1" },
    idempotencyKey: "needs-retry-0001",
  });
  await t.mutation(api.actions.claimAction, { nodeToken: w.a.token, actionId, leaseOwner: "d" });
  await t.mutation(api.actions.completeAction, {
    nodeToken: w.a.token,
    actionId,
    leaseOwner: "d",
    result: { ok: false, code: "cli_exit_non_zero", message: "tina-session exited 1" },
  });
  vi.setSystemTime(T0 + 2000);
  const promptId = "f".repeat(32);
  await t.mutation(api.prompts.openPrompt, {
    nodeToken: w.a.token,
    promptId,
    sessionId: SESSION,
    toolName: "Bash",
    toolInput: '{"command":"npm test"}',
    description: "Run the tests",
    agentName: "executor-1",
    orchestrationId: awaiting.orchestrationId,
    openedAt: T0 + 2000,
    expiresAt: T0 + 50_000,
  });
  const c = await enroll(t, "laptop-c");
  await t.run((ctx) => ctx.db.patch("nodes", c.nodeId, { status: "offline", lastHeartbeat: T0 - 60_000 }));
  await w.sync([
    need("perm:t:r1", { kind: "teammate_permission", title: "executor-1 asks to use Bash", since: T0 - 10, toolName: "Bash", toolInput: "{}", requestId: "r1", agentName: "executor-1", cause: undefined }),
    need("plan:t:r2", { kind: "agent_plan_approval", title: "executor-2 asks to approve its plan", since: T0 - 20, planContent: "# Plan", cause: undefined }),
    need("idle:t:executor-3", { kind: "idle_with_tasks", title: "executor-3 is idle with 2 open tasks", since: T0 - 30, openTasks: 2, cause: undefined }),
    need("stop:s1", { kind: "stop_failure", title: "the session stopped: rate limited", since: T0 - 40, errorKind: "rate_limit", retryHint: "resets 3pm", retryAt: T0 + 3_600_000, cause: undefined }),
    need("stall:old", { since: T0 - 100, cause: "long_tool" }),
    need("stall:new", { since: T0 - 50, featureName: "billing-export" }),
  ]);
  return { ...w, owner, operator, awaiting, blocked, actionId, promptId, c };
}

describe("needs:needsYou", () => {
  test("every kind, in order, newest first within a kind, with keys, titles and the count", async () => {
    const t = makeT();
    const w = await everything(t);
    const { items, count } = await w.viewer.as.query(api.needs.needsYou, {});
    const a = w.a.nodeId;
    expect(items.map((i) => [i.kind, i.key])).toEqual([
      ["permission_prompt", `prompt:${w.promptId}`],
      ["teammate_permission", `laptop:${a}:perm:t:r1`],
      ["plan_approval", `approval:${w.awaiting.orchestrationId}:2`],
      ["agent_plan_approval", `laptop:${a}:plan:t:r2`],
      ["stop_failure", `laptop:${a}:stop:s1`],
      ["stalled", `laptop:${a}:stall:new`],
      ["stalled", `laptop:${a}:stall:old`],
      ["blocked_phase", `blocked:${w.blocked.orchestrationId}:1`],
      ["idle_with_tasks", `laptop:${a}:idle:t:executor-3`],
      ["failed_action", `action:${w.actionId}`],
      ["offline_laptop", `offline:${w.c.nodeId}`],
    ]);
    expect(count).toBe(11);
    // Budget items (issue 22) are tested with budgets, in convex/usage.test.ts.
    expect([...new Set(items.map((i) => i.kind))]).toEqual(KIND_ORDER.filter((k) => k !== "budget"));
    const of = (key: string) => items.find((i) => i.key.endsWith(key))!;
    expect(of(w.promptId)).toMatchObject({ title: "executor-1 asks to use Bash", detail: "Run the tests", nodeName: "laptop-a", nodeOnline: true, featureName: "billing-export", dismissed: false });
    expect(of(w.promptId).prompt).toMatchObject({ promptId: w.promptId, status: "open", nodeName: "laptop-a" });
    expect(of(":2")).toMatchObject({ title: "The plan of billing-export phase 2 awaits approval", orchestrationId: w.awaiting.orchestrationId, phaseNumber: "2" });
    expect(of(":2").planContent).toBeUndefined();
    expect(of(`blocked:${w.blocked.orchestrationId}:1`)).toMatchObject({ title: "search is blocked in phase 1", detail: "tests fail", featureName: "search" });
    expect(of(`action:${w.actionId}`)).toMatchObject({
      title: "Retrying of search phase 1 failed",
      actionType: "retry",
      actionStatus: "failed",
      actionError: "tina-session exited 1",
      since: T0 + 1000,
    });
    expect(of(`offline:${w.c.nodeId}`)).toMatchObject({ title: "laptop-c is offline", nodeOnline: false, since: T0 - 60_000 });
    expect(of("perm:t:r1")).toMatchObject({ title: "executor-1 asks to use Bash", toolName: "Bash", toolInput: "{}", requestId: "r1", agentName: "executor-1", since: T0 - 10 });
    expect(of("plan:t:r2")).toMatchObject({ planContent: "# Plan" });
    expect(of("stop:s1")).toMatchObject({ errorKind: "rate_limit", retryHint: "resets 3pm", retryAt: T0 + 3_600_000 });
    expect(of("idle:t:executor-3")).toMatchObject({ openTasks: 2 });
    expect(of("stall:new")).toMatchObject({ featureName: "billing-export", orchestrationId: w.awaiting.orchestrationId, cause: "silent" });
    expect(of("stall:old")).toMatchObject({ cause: "long_tool" });
  });

  test("a revoked laptop's items are not shown, and the sweep deletes them", async () => {
    const t = makeT();
    const w = await everything(t);
    const before = await w.viewer.as.query(api.needs.needsYou, {});
    await w.sync([need("stall:b")], [session("s-b")], w.b.token);
    expect((await w.viewer.as.query(api.needs.needsYou, {})).count).toBe(before.count + 1);
    await w.owner.as.mutation(api.nodes.revokeNode, { nodeId: w.b.nodeId });
    const after = await w.viewer.as.query(api.needs.needsYou, {});
    expect(after.items.filter((i) => i.nodeId === w.b.nodeId)).toEqual([]);
    expect(await w.viewer.as.query(api.needs.sessions, {})).toEqual([]);
    await t.mutation(internal.needs.sweepNeeds, {});
    expect((await needRows(t)).filter((r) => r.nodeId === w.b.nodeId)).toEqual([]);
    expect(await sessionRows(t)).toEqual([]);
  });

  test("at most 50 items of a kind, the newest", async () => {
    const t = makeT();
    const { sync, viewer } = await world(t);
    await sync(Array.from({ length: 60 }, (_, i) => need(`stall:${i}`, { since: T0 + i })));
    const { items, count } = await viewer.as.query(api.needs.needsYou, {});
    expect(items).toHaveLength(EACH_LIMIT);
    expect(count).toBe(EACH_LIMIT);
    expect(items[0].since).toBe(T0 + 59);
    expect(items.at(-1)!.since).toBe(T0 + 10);
  });

  test("the prompt in an item is exactly prompts:listOpen's shape", () => {
    const sorted = (o: unknown): unknown =>
      Array.isArray(o) ? o.map(sorted) : o !== null && typeof o === "object" ? Object.fromEntries(Object.entries(o).sort(([x], [y]) => x.localeCompare(y)).map(([k, x]) => [k, sorted(x)])) : o;
    // A validator's JSON form (what Convex stores for it) is internal to the library.
    const json = (validator: object) => (validator as unknown as { json: unknown }).json;
    expect(sorted(json(needItem.fields.prompt))).toEqual(sorted(json(promptView)));
  });

  test("a viewer role is needed: without one, refused like every dashboard query", async () => {
    const t = makeT();
    const w = await everything(t);
    expect((await refusal(t.query(api.needs.needsYou, {}))).code).toBe("unauthenticated");
    const outsider = await t.run(async (ctx) => {
      const userId = await ctx.db.insert("users", { email: "mallory@example.com" });
      const sessionId = await ctx.db.insert("authSessions", { userId, expirationTime: Date.now() + 3_600_000 });
      return `${userId}|${sessionId}`;
    });
    const as = t.withIdentity({ issuer: SITE_URL, subject: outsider, tokenIdentifier: `${SITE_URL}|${outsider}` });
    expect((await refusal(as.query(api.needs.needsYou, {}))).code).toBe("forbidden");
    expect((await refusal(as.query(api.needs.sessions, {}))).code).toBe("forbidden");
    expect((await refusal(as.mutation(api.needs.dismiss, { key: `offline:${w.c.nodeId}`, since: T0 - 60_000 }))).code).toBe("forbidden");
    expect((await refusal(as.mutation(api.needs.restore, { key: `offline:${w.c.nodeId}` }))).code).toBe("forbidden");
    expect(await t.run((ctx) => ctx.db.query("needDismissals").collect())).toEqual([]);
  });
});

describe("dismiss, snooze, restore", () => {
  const visible = async (who: { query: T["query"] }, key: string) => {
    const { items, count } = await who.query(api.needs.needsYou, {});
    const now = Date.now();
    const shown = items.filter((i) => !i.dismissed && (i.snoozedUntil === undefined || i.snoozedUntil <= now));
    return { item: items.find((i) => i.key === key)!, count, shown: shown.map((i) => i.key) };
  };

  test("a dismissed item stays hidden while its since is the same, and shows again when it changes", async () => {
    const t = makeT();
    const w = await everything(t);
    const key = `laptop:${w.a.nodeId}:stall:old`;
    const before = await visible(w.viewer.as, key);
    expect(before.item.dismissed).toBe(false);
    expect(await w.viewer.as.mutation(api.needs.dismiss, { key, since: before.item.since })).toBeNull();
    const hidden = await visible(w.viewer.as, key);
    expect(hidden.item).toMatchObject({ dismissed: true });
    expect(hidden.item.snoozedUntil).toBeUndefined();
    expect(hidden.count).toBe(before.count - 1);
    // The laptop reports the same item with a new `since`: it happened again.
    const current = (await needRows(t)).filter((r) => r.resolvedAt === undefined && r.nodeId === w.a.nodeId);
    await w.sync(current.map(({ _id, _creationTime, nodeId, orchestrationId, phaseNumber, openedAt, updatedAt, resolvedAt, ...n }) => (n.key === "stall:old" ? { ...n, since: T0 + 5 } : n)));
    const again = await visible(w.viewer.as, key);
    expect(again.item).toMatchObject({ dismissed: false, since: T0 + 5 });
    expect(again.count).toBe(before.count);
  });

  test("a snooze hides an item until its time; then it counts again (snoozedUntil stays for the web's clock)", async () => {
    const t = makeT();
    const w = await everything(t);
    const key = `offline:${w.c.nodeId}`;
    const before = await visible(w.viewer.as, key);
    const until = Date.now() + 60 * 60_000;
    await w.viewer.as.mutation(api.needs.dismiss, { key, since: before.item.since, until });
    const snoozed = await visible(w.viewer.as, key);
    expect(snoozed.item).toMatchObject({ dismissed: false, snoozedUntil: until });
    expect(snoozed.count).toBe(before.count - 1);
    vi.setSystemTime(until + 1);
    const woke = await visible(w.viewer.as, key);
    expect(woke.item).toMatchObject({ dismissed: false, snoozedUntil: until });
    // An hour later laptops A and B have gone quiet too: the count is what is shown.
    expect(woke.shown).toContain(key);
    expect(woke.count).toBe(woke.shown.length);
    expect(snoozed.shown).not.toContain(key);
    expect(snoozed.count).toBe(snoozed.shown.length);

    const now = Date.now();
    expect(await refusal(w.viewer.as.mutation(api.needs.dismiss, { key, since: before.item.since, until: now }))).toMatchObject({ code: "invalid_argument", field: "until" });
    expect(await refusal(w.viewer.as.mutation(api.needs.dismiss, { key, since: before.item.since, until: now + 7 * 24 * 60 * 60_000 + 1 }))).toMatchObject({ code: "invalid_argument", field: "until" });
    expect(await refusal(w.viewer.as.mutation(api.needs.dismiss, { key: "k".repeat(513), since: T0 }))).toMatchObject({ code: "invalid_argument", field: "key" });
    expect(await refusal(w.viewer.as.mutation(api.needs.dismiss, { key, since: NaN }))).toMatchObject({ code: "invalid_argument", field: "since" });
  });

  test("restore shows an item again; dismissing twice writes once", async () => {
    const t = makeT();
    const w = await everything(t);
    const key = `action:${w.actionId}`;
    const before = await visible(w.viewer.as, key);
    const { item } = before;
    await w.viewer.as.mutation(api.needs.dismiss, { key, since: item.since });
    const rows = await t.run((ctx) => ctx.db.query("needDismissals").collect());
    await w.viewer.as.mutation(api.needs.dismiss, { key, since: item.since });
    expect(await t.run((ctx) => ctx.db.query("needDismissals").collect())).toEqual(rows);
    expect((await visible(w.viewer.as, key)).item.dismissed).toBe(true);
    expect(await w.viewer.as.mutation(api.needs.restore, { key })).toBeNull();
    expect(await visible(w.viewer.as, key)).toEqual(before);
    expect(await t.run((ctx) => ctx.db.query("needDismissals").collect())).toEqual([]);
    // Restoring what is not dismissed is harmless.
    expect(await w.viewer.as.mutation(api.needs.restore, { key })).toBeNull();
  });

  test("another person's dismissal does not change my list", async () => {
    const t = makeT();
    const w = await everything(t);
    const key = `prompt:${w.promptId}`;
    const mine = await visible(w.viewer.as, key);
    await w.operator.as.mutation(api.needs.dismiss, { key, since: mine.item.since, client: "phone" });
    expect((await visible(w.operator.as, key)).item.dismissed).toBe(true);
    expect(await visible(w.viewer.as, key)).toEqual(mine);
    await w.viewer.as.mutation(api.needs.dismiss, { key, since: mine.item.since, until: Date.now() + 60_000 });
    await w.operator.as.mutation(api.needs.restore, { key });
    expect((await visible(w.viewer.as, key)).item.snoozedUntil).toBe(Date.now() + 60_000);
  });

  test("dismissals are deleted after 30 days", async () => {
    const t = makeT();
    const w = await everything(t);
    await w.viewer.as.mutation(api.needs.dismiss, { key: `offline:${w.c.nodeId}`, since: T0 - 60_000 });
    vi.setSystemTime(Date.now() + 30 * 24 * 60 * 60_000 - 1000);
    await t.mutation(internal.needs.sweepNeeds, {});
    expect(await t.run((ctx) => ctx.db.query("needDismissals").collect())).toHaveLength(1);
    vi.setSystemTime(Date.now() + 2000);
    await t.mutation(internal.needs.sweepNeeds, {});
    expect(await t.run((ctx) => ctx.db.query("needDismissals").collect())).toEqual([]);
  });
});
