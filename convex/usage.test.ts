// @vitest-environment edge-runtime
import { afterEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "./_generated/api";
import type { Id } from "./_generated/dataModel";
import { EACH_LIMIT } from "./model/needs";
import { COALESCE_MS } from "./model/notify";
import { KINDS_OFFERED_BEFORE } from "./model/notifyKinds";
import { DAY_MS, HOUR_MS, QUOTA, streamOf, USAGE } from "./model/usage";
import { enroll, lastCallMetrics, makeT, OPERATOR, orchestration, OWNER, refusal, signedIn, T0, tablesTouched, VIEWER, type T } from "./test.setup";

afterEach(() => {
  vi.useRealTimers();
});

const H0 = T0 - (T0 % HOUR_MS);
const D0 = T0 - (T0 % DAY_MS);

type Row = {
  moveFrom?: { phaseNumber?: string; agentName?: string };
  hour: number;
  orchestrationId?: Id<"orchestrations">;
  phaseNumber?: string;
  agentName?: string;
  model: string;
  messages: number;
  input: number;
  output: number;
  cacheWrite: number;
  cacheRead: number;
  webSearches?: number;
  costMicros?: number;
};

function row(overrides: Partial<Row> = {}): Row {
  return { hour: H0, model: "claude-sonnet-4-5-20250929", messages: 2, input: 100, output: 50, cacheWrite: 10, cacheRead: 1000, costMicros: 1234, ...overrides };
}

const ZERO = { messages: 0, input: 0, output: 0, cacheWrite: 0, cacheRead: 0, webSearches: 0, costMicros: 0, unpricedTokens: 0 };

async function laptop(t: T, name = "laptop-a") {
  const { nodeId, token } = await enroll(t, name);
  const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, {
    nodeToken: token,
    orchestration: orchestration({ featureName: `feature-${name}` }),
    phases: [],
  });
  const record = (batch: string, rows: Row[]) => t.mutation(api.usage.recordUsage, { nodeToken: token, batch, rows });
  return { nodeId, token, orchestrationId, record };
}

/** Every usage row but the batch ids, without ids and creation times: what the dashboard can see. */
async function usageState(t: T) {
  return await t.run(async (ctx) => {
    const strip = <R extends { _id: unknown; _creationTime: unknown }>(rows: R[]) => rows.map(({ _id, _creationTime, ...rest }) => rest);
    return {
      buckets: strip(await ctx.db.query("usageBuckets").collect()),
      totals: strip(await ctx.db.query("usageTotals").collect()),
      rollups: strip(await ctx.db.query("usageRollups").collect()),
      daily: strip(await ctx.db.query("usageDaily").collect()),
    };
  });
}

describe("usage:recordUsage", () => {
  test("deltas add up in the bucket, the orchestration's totals and breakdown, and the laptop's day", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const a = await laptop(t);
    const o = a.orchestrationId;
    expect(await a.record("batch-0001", [row({ orchestrationId: o, phaseNumber: "1", agentName: "executor-1" })])).toEqual({ applied: true });
    expect(
      await a.record("batch-0002", [
        // The same bucket again, and the same agent in another hour.
        row({ orchestrationId: o, phaseNumber: "1", agentName: "executor-1", messages: 1, input: 1, output: 2, cacheWrite: 3, cacheRead: 4, costMicros: 5 }),
        row({ orchestrationId: o, phaseNumber: "1", agentName: "executor-1", hour: H0 + HOUR_MS }),
        row({ orchestrationId: o, phaseNumber: "1.5", agentName: "team-lead", model: "claude-opus-4-6" }),
      ]),
    ).toEqual({ applied: true });

    const buckets = await t.run((ctx) => ctx.db.query("usageBuckets").collect());
    expect(buckets).toHaveLength(3);
    expect(buckets.find((b) => b.hour === H0 && b.agentName === "executor-1")).toMatchObject({
      nodeId: a.nodeId,
      orchestrationId: o,
      phaseNumber: "1",
      model: "claude-sonnet-4-5-20250929",
      messages: 3,
      input: 101,
      output: 52,
      cacheWrite: 13,
      cacheRead: 1004,
      costMicros: 1239,
      unpricedTokens: 0,
    });

    const viewer = await signedIn(t, VIEWER);
    // What identifying the viewer reads: the query of an orchestration without usage.
    expect(await viewer.query(api.usage.orchestrationTotals, { orchestrationId: (await laptop(t, "laptop-z")).orchestrationId })).toBeNull();
    const identify = lastCallMetrics().documentsRead;
    const totals = await viewer.query(api.usage.orchestrationTotals, { orchestrationId: o });
    expect(totals).toEqual({ messages: 7, input: 301, output: 152, cacheWrite: 33, cacheRead: 3004, webSearches: 0, costMicros: 3707, unpricedTokens: 0, updatedAt: T0 });
    // The card reads one document.
    expect(lastCallMetrics().documentsRead).toBe(identify + 1);

    const b = await viewer.query(api.usage.orchestrationBreakdown, { orchestrationId: o });
    expect(b.byPhase.map((p) => [p.phaseNumber, p.messages, p.costMicros])).toEqual([
      ["1", 5, 2473],
      ["1.5", 2, 1234],
    ]);
    expect(b.byAgent.map((p) => [p.phaseNumber, p.agentName, p.messages])).toEqual([
      ["1", "executor-1", 5],
      ["1.5", "team-lead", 2],
    ]);
    expect(b.byModel.map((m) => [m.model, m.messages])).toEqual([
      ["claude-opus-4-6", 2],
      ["claude-sonnet-4-5-20250929", 5],
    ]);
    expect(b.byHour.map((h) => [h.hour, h.messages])).toEqual([
      [H0, 5],
      [H0 + HOUR_MS, 2],
    ]);
    expect(b.truncated).toEqual({ phases: false, agents: false, models: false, hours: false });

    const fleet = await viewer.query(api.usage.fleetSpend, { days: 1 });
    const { updatedAt: _updatedAt, ...sums } = totals!;
    expect(fleet).toEqual({ from: D0, rows: [{ day: D0, nodeId: a.nodeId, ...sums }], truncated: false });
  });

  test("web searches add up like tokens: in the totals, the breakdown by phase, agent, model and hour, and the laptop's day", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const a = await laptop(t);
    const o = a.orchestrationId;
    await a.record("search-0001", [
      row({ orchestrationId: o, phaseNumber: "1", agentName: "executor-1", webSearches: 3 }),
      row({ orchestrationId: o, phaseNumber: "1", agentName: "executor-1", hour: H0 + HOUR_MS, webSearches: 2 }),
      // None sent: none (the daemon sends the field only above 0).
      row({ orchestrationId: o, phaseNumber: "2", agentName: "team-lead" }),
      // Unattributed: the laptop's bucket and day only.
      row({ webSearches: 7 }),
    ]);
    await a.record("search-0002", [row({ orchestrationId: o, phaseNumber: "1", agentName: "executor-1", webSearches: 1 })]);
    const viewer = await signedIn(t, VIEWER);
    expect(await viewer.query(api.usage.orchestrationTotals, { orchestrationId: o })).toMatchObject({ messages: 8, webSearches: 6 });
    const b = await viewer.query(api.usage.orchestrationBreakdown, { orchestrationId: o });
    expect(b.byPhase.map((r) => [r.phaseNumber, r.webSearches])).toEqual([
      ["1", 6],
      ["2", 0],
    ]);
    expect(b.byAgent.map((r) => [r.phaseNumber, r.agentName, r.webSearches])).toEqual([
      ["1", "executor-1", 6],
      ["2", "team-lead", 0],
    ]);
    expect(b.byModel.map((r) => [r.model, r.webSearches])).toEqual([["claude-sonnet-4-5-20250929", 6]]);
    expect(b.byHour.map((r) => [r.hour, r.webSearches])).toEqual([
      [H0, 4],
      [H0 + HOUR_MS, 2],
    ]);
    expect((await viewer.query(api.usage.fleetSpend, { days: 1 })).rows.map((r) => [r.day, r.nodeId, r.webSearches])).toEqual([[D0, a.nodeId, 13]]);
    const buckets = (await usageState(t)).buckets.map((r) => [r.phaseNumber ?? "-", r.hour, r.webSearches]);
    expect(buckets.sort()).toEqual([
      ["-", H0, 7],
      ["1", H0, 4],
      ["1", H0 + HOUR_MS, 2],
      ["2", H0, 0],
    ]);
  });

  test("rows stored before web searches were counted (no such field) read as none, move and add up", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const a = await laptop(t);
    const o = a.orchestrationId;
    const model = "claude-sonnet-4-5-20250929";
    // As an older deployment wrote them: row()'s sums without webSearches.
    const old = { messages: 2, input: 100, output: 50, cacheWrite: 10, cacheRead: 1000, costMicros: 1234, unpricedTokens: 0 };
    await t.run(async (ctx) => {
      await ctx.db.insert("usageBuckets", { nodeId: a.nodeId, orchestrationId: o, model, hour: H0, ...old });
      await ctx.db.insert("usageTotals", { orchestrationId: o, nodeId: a.nodeId, ...old, updatedAt: T0 });
      await ctx.db.insert("usageRollups", { orchestrationId: o, kind: "phase", ...old });
      await ctx.db.insert("usageRollups", { orchestrationId: o, kind: "agent", ...old });
      await ctx.db.insert("usageRollups", { orchestrationId: o, kind: "model", model, ...old });
      await ctx.db.insert("usageRollups", { orchestrationId: o, kind: "hour", hour: H0, ...old });
      await ctx.db.insert("usageDaily", { day: D0, nodeId: a.nodeId, ...old });
    });
    const viewer = await signedIn(t, VIEWER);
    const searches = async () => {
      const totals = await viewer.query(api.usage.orchestrationTotals, { orchestrationId: o });
      const b = await viewer.query(api.usage.orchestrationBreakdown, { orchestrationId: o });
      const fleet = await viewer.query(api.usage.fleetSpend, { days: 1 });
      const each = (rows: { webSearches: number; phaseNumber?: string }[]) => rows.map((r) => [r.phaseNumber ?? "-", r.webSearches]);
      return { totals: totals?.webSearches, byPhase: each(b.byPhase), byAgent: each(b.byAgent), byModel: each(b.byModel), byHour: each(b.byHour), days: each(fleet.rows) };
    };
    expect(await viewer.query(api.usage.orchestrationTotals, { orchestrationId: o })).toEqual({ ...ZERO, ...old, updatedAt: T0 });
    expect(await searches()).toEqual({ totals: 0, byPhase: [["-", 0]], byAgent: [["-", 0]], byModel: [["-", 0]], byHour: [["-", 0]], days: [["-", 0]] });

    // A move of all it held empties the old rows: they are gone, not left at zero (or NaN).
    await a.record("old-rows-0001", [row({ orchestrationId: o, phaseNumber: "1", agentName: "team-lead", moveFrom: {} })]);
    const moved = await usageState(t);
    expect(moved.buckets.map((r) => [r.phaseNumber, r.agentName, r.messages, r.webSearches])).toEqual([["1", "team-lead", 2, 0]]);
    expect(moved.rollups.filter((r) => r.kind === "phase" || r.kind === "agent").map((r) => [r.kind, r.phaseNumber, r.webSearches])).toEqual([
      ["phase", "1", 0],
      ["agent", "1", 0],
    ]);

    // Searches added to the old totals, model, hour and day.
    await a.record("old-rows-0002", [row({ orchestrationId: o, webSearches: 2 })]);
    expect(await searches()).toEqual({ totals: 2, byPhase: [["1", 0], ["-", 2]], byAgent: [["1", 0], ["-", 2]], byModel: [["-", 2]], byHour: [["-", 2]], days: [["-", 2]] });
    const after = await usageState(t);
    expect(after.totals).toEqual([{ orchestrationId: o, nodeId: a.nodeId, ...ZERO, messages: 4, input: 200, output: 100, cacheWrite: 20, cacheRead: 2000, costMicros: 2468, webSearches: 2, updatedAt: T0 }]);
    expect(after.daily).toEqual([{ day: D0, nodeId: a.nodeId, ...ZERO, messages: 4, input: 200, output: 100, cacheWrite: 20, cacheRead: 2000, costMicros: 2468, webSearches: 2 }]);
  });

  test("a replayed batch changes nothing, whatever it carries; a new batch id is applied", async () => {
    const t = makeT();
    const a = await laptop(t);
    const rows = [row({ orchestrationId: a.orchestrationId, phaseNumber: "2" }), row()];
    expect(await a.record("replay:0001", rows)).toEqual({ applied: true });
    const before = await usageState(t);
    expect(await a.record("replay:0001", rows)).toEqual({ applied: false });
    expect(await a.record("replay:0001", [row({ messages: 999 })])).toEqual({ applied: false });
    expect(await usageState(t)).toEqual(before);
    // Batch ids are per laptop: another laptop's batch of the same id is its own.
    const b = await laptop(t, "laptop-b");
    expect(await b.record("replay:0001", [row()])).toEqual({ applied: true });
    expect(await a.record("replay:0002", rows)).toEqual({ applied: true });
    const viewer = await signedIn(t, VIEWER);
    expect((await viewer.query(api.usage.orchestrationTotals, { orchestrationId: a.orchestrationId }))?.messages).toBe(4);
  });

  test("tokens of a model without a price are kept apart: no cost is guessed", async () => {
    const t = makeT();
    const a = await laptop(t);
    const o = a.orchestrationId;
    await a.record("unpriced-0001", [
      row({ orchestrationId: o, model: "unknown", costMicros: undefined }),
      row({ orchestrationId: o, model: "claude-haiku-4-5", costMicros: 0 }),
      row({ orchestrationId: o, costMicros: 700 }),
    ]);
    const viewer = await signedIn(t, VIEWER);
    expect(await viewer.query(api.usage.orchestrationTotals, { orchestrationId: o })).toMatchObject({ costMicros: 700, unpricedTokens: 1160, input: 300 });
    const byModel = (await viewer.query(api.usage.orchestrationBreakdown, { orchestrationId: o })).byModel;
    expect(byModel.map((m) => [m.model, m.costMicros, m.unpricedTokens])).toEqual([
      ["claude-haiku-4-5", 0, 0],
      ["claude-sonnet-4-5-20250929", 700, 0],
      ["unknown", 0, 1160],
    ]);
  });

  test("unattributed usage goes to the laptop's bucket and day only; phase and agent may be unknown", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const a = await laptop(t);
    await a.record("unattr-0001", [row(), row({ orchestrationId: a.orchestrationId })]);
    const state = await usageState(t);
    expect(state.buckets).toHaveLength(2);
    expect(state.buckets.find((b) => b.orchestrationId === undefined)).toMatchObject({ nodeId: a.nodeId, messages: 2 });
    expect(state.totals.map((r) => r.orchestrationId)).toEqual([a.orchestrationId]);
    expect(state.daily).toEqual([{ day: D0, nodeId: a.nodeId, ...ZERO, messages: 4, input: 200, output: 100, cacheWrite: 20, cacheRead: 2000, costMicros: 2468 }]);
    const b = await (await signedIn(t, VIEWER)).query(api.usage.orchestrationBreakdown, { orchestrationId: a.orchestrationId });
    expect(b.byPhase).toEqual([{ ...ZERO, messages: 2, input: 100, output: 50, cacheWrite: 10, cacheRead: 1000, costMicros: 1234 }]);
    expect(b.byAgent.map((r) => [r.phaseNumber, r.agentName])).toEqual([[undefined, undefined]]);
  });

  test("a row of another laptop's orchestration refuses the batch, naming the row; nothing is written or remembered", async () => {
    const t = makeT();
    const a = await laptop(t);
    const b = await laptop(t, "laptop-b");
    const rows = [row({ orchestrationId: b.orchestrationId }), row({ orchestrationId: a.orchestrationId })];
    expect(await refusal(b.record("theft-0001", rows))).toMatchObject({ code: "not_found", field: "rows.1.orchestrationId" });
    expect(await usageState(t)).toEqual({ buckets: [], totals: [], rollups: [], daily: [] });
    expect(await t.run((ctx) => ctx.db.query("usageBatches").collect())).toEqual([]);
    // The same id with its own rows only is a new batch.
    expect(await b.record("theft-0001", rows.slice(0, 1))).toEqual({ applied: true });
  });

  test("every field is checked, and the refusal names it", async () => {
    const t = makeT();
    const a = await laptop(t);
    const cases: [string, Row[], string][] = [
      ["short", [row()], "batch"],
      ["bad batch id!", [row()], "batch"],
      ["fields-0001", [], "rows"],
      ["fields-0001", Array.from({ length: USAGE.rows + 1 }, () => row()), "rows"],
      ["fields-0001", [row(), row({ hour: H0 + 60_000 })], "rows.1.hour"],
      ["fields-0001", [row({ hour: Math.floor(H0 / 1000) - ((Math.floor(H0 / 1000)) % 3600) })], "rows.0.hour"],
      ["fields-0001", [row({ hour: NaN })], "rows.0.hour"],
      ["fields-0001", [row({ phaseNumber: "1-retry" })], "rows.0.phaseNumber"],
      ["fields-0001", [row({ agentName: "x".repeat(65) })], "rows.0.agentName"],
      ["fields-0001", [row({ agentName: "../lead" })], "rows.0.agentName"],
      ["fields-0001", [row({ agentName: "" })], "rows.0.agentName"],
      ["fields-0001", [row({ model: "" })], "rows.0.model"],
      ["fields-0001", [row({ model: "m".repeat(129) })], "rows.0.model"],
      ["fields-0001", [row({ model: "claude\u001b[31m" })], "rows.0.model"],
      ["fields-0001", [row({ messages: -1 })], "rows.0.messages"],
      ["fields-0001", [row({ input: 1.5 })], "rows.0.input"],
      ["fields-0001", [row({ output: Infinity })], "rows.0.output"],
      ["fields-0001", [row({ cacheWrite: 1e13 })], "rows.0.cacheWrite"],
      ["fields-0001", [row({ cacheRead: -0.5 })], "rows.0.cacheRead"],
      ["fields-0001", [row({ costMicros: 0.25 })], "rows.0.costMicros"],
      ["fields-0001", [row({ webSearches: -1 })], "rows.0.webSearches"],
      ["fields-0001", [row({ webSearches: 2.5 })], "rows.0.webSearches"],
      ["fields-0001", [row({ webSearches: USAGE.count + 1 })], "rows.0.webSearches"],
    ];
    for (const [batch, rows, field] of cases) {
      const err = await refusal(a.record(batch, rows));
      expect([err.code, err.field], `${field}: ${err.message}`).toEqual(["invalid_argument", field]);
    }
    expect(await usageState(t)).toEqual({ buckets: [], totals: [], rollups: [], daily: [] });
    expect(await t.run((ctx) => ctx.db.query("usageBatches").collect())).toEqual([]);
  });

  test("a row more than a day after the server's clock is refused, naming it; fleetSpend counts no day after today", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const a = await laptop(t);
    const err = await refusal(a.record("future-0001", [row(), row({ hour: H0 + DAY_MS + HOUR_MS })]));
    expect(err).toMatchObject({ code: "invalid_argument", field: "rows.1.hour" });
    expect(err.message).toMatch(/^rows\.1\.hour: expected not more than a day after the server's time/);
    expect(await usageState(t)).toEqual({ buckets: [], totals: [], rollups: [], daily: [] });
    // Up to a day ahead (a laptop's clock running fast) is kept, on the day it belongs to.
    expect(await a.record("future-0002", [row({ hour: H0 + DAY_MS })])).toEqual({ applied: true });
    // A day stored before the check, far ahead.
    await t.run((ctx) => ctx.db.insert("usageDaily", { day: Date.UTC(2199, 0, 1), nodeId: a.nodeId, ...ZERO, messages: 9 }));
    const viewer = await signedIn(t, VIEWER);
    expect(await viewer.query(api.usage.fleetSpend, { days: 7 })).toEqual({ from: D0 - 6 * DAY_MS, rows: [], truncated: false });
    // Its day come, it shows.
    vi.setSystemTime(T0 + DAY_MS);
    expect((await viewer.query(api.usage.fleetSpend, { days: 1 })).rows.map((r) => [r.day, r.messages])).toEqual([[D0 + DAY_MS, 2]]);
  });

  test("batch ids are kept 7 days and then pruned a few per call; an older replay counts again", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const a = await laptop(t);
    await a.record("old-batch-0000", [row()]);
    // 40 more applied 8 days ago (stored directly), and one of another laptop.
    const b = await laptop(t, "laptop-b");
    await t.run(async (ctx) => {
      for (let i = 1; i <= 40; i++) await ctx.db.insert("usageBatches", { nodeId: a.nodeId, batch: `old-batch-${String(i).padStart(4, "0")}`, rows: 1, appliedAt: T0 - 8 * DAY_MS });
      await ctx.db.insert("usageBatches", { nodeId: b.nodeId, batch: "b-batch-0001", rows: 1, appliedAt: T0 - 8 * DAY_MS });
    });
    const count = (nodeId: Id<"nodes">) => t.run(async (ctx) => (await ctx.db.query("usageBatches").withIndex("by_node_batch", (q) => q.eq("nodeId", nodeId)).collect()).length);
    vi.setSystemTime(T0 + 6 * DAY_MS);
    expect(await a.record("old-batch-0000", [row()])).toEqual({ applied: false });
    expect(await a.record("new-batch-0001", [row()])).toEqual({ applied: true });
    expect(await count(a.nodeId)).toBe(1 + 40 + 1 - USAGE.prune);
    expect(await a.record("new-batch-0002", [row()])).toEqual({ applied: true });
    expect(await a.record("new-batch-0003", [row()])).toEqual({ applied: true });
    // All 40 expired ones gone after three calls; the recent ones and laptop B's untouched.
    expect(await count(a.nodeId)).toBe(4);
    expect(await count(b.nodeId)).toBe(1);
    // Once pruned (past 7 days, by a later call), a replay is a new batch (docs/architecture.md).
    vi.setSystemTime(T0 + 7 * DAY_MS + 1);
    expect(await a.record("old-batch-0000", [row()])).toEqual({ applied: false });
    expect(await a.record("new-batch-0004", [row()])).toEqual({ applied: true });
    expect(await a.record("old-batch-0000", [row()])).toEqual({ applied: true });
  });
});

describe("usage:recordUsage, moves", () => {
  test("a move takes usage recorded without a phase and agent to its phase and agent: the breakdown changes, the totals, days, models and hours do not", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const a = await laptop(t);
    const o = a.orchestrationId;
    // A lead's first messages, before its team existed: the orchestration only (its worktree).
    await a.record("move-0001", [row({ orchestrationId: o }), row({ orchestrationId: o, model: "unknown", costMicros: undefined })]);
    // Another agent's, attributed from the start.
    await a.record("move-0002", [row({ orchestrationId: o, phaseNumber: "1", agentName: "executor-1" })]);
    const before = await usageState(t);
    const viewer = await signedIn(t, VIEWER);
    const totals = await viewer.query(api.usage.orchestrationTotals, { orchestrationId: o });

    // Its team appears: the lead of phase 1. Priced and unpriced usage both move.
    expect(
      await a.record("move-0003", [
        row({ orchestrationId: o, phaseNumber: "1", agentName: "team-lead", moveFrom: {} }),
        row({ orchestrationId: o, phaseNumber: "1", agentName: "team-lead", model: "unknown", costMicros: undefined, moveFrom: {} }),
      ]),
    ).toEqual({ applied: true });
    const after = await usageState(t);
    expect(after.totals).toEqual(before.totals);
    expect(after.daily).toEqual(before.daily);
    expect(after.rollups.filter((r) => r.kind === "model" || r.kind === "hour")).toEqual(before.rollups.filter((r) => r.kind === "model" || r.kind === "hour"));
    // Emptied rows are gone, not left at zero.
    expect(after.buckets.map((b) => [b.phaseNumber, b.agentName, b.model]).sort()).toEqual([
      ["1", "executor-1", "claude-sonnet-4-5-20250929"],
      ["1", "team-lead", "claude-sonnet-4-5-20250929"],
      ["1", "team-lead", "unknown"],
    ]);
    expect(await viewer.query(api.usage.orchestrationTotals, { orchestrationId: o })).toEqual(totals);
    const b = await viewer.query(api.usage.orchestrationBreakdown, { orchestrationId: o });
    expect(b.byPhase.map((r) => [r.phaseNumber, r.messages, r.costMicros, r.unpricedTokens])).toEqual([["1", 6, 2 * 1234, 1160]]);
    expect(b.byAgent.map((r) => [r.phaseNumber, r.agentName, r.messages, r.unpricedTokens])).toEqual([
      ["1", "executor-1", 2, 0],
      ["1", "team-lead", 4, 1160],
    ]);
  });

  test("a move of part of a bucket leaves the rest; a move of more than was recorded refuses the batch and changes nothing", async () => {
    const t = makeT();
    const a = await laptop(t);
    const o = a.orchestrationId;
    await a.record("part-0001", [row({ orchestrationId: o, phaseNumber: "2" })]);
    const half = { messages: 1, input: 50, output: 25, cacheWrite: 5, cacheRead: 500, costMicros: 617 };
    await a.record("part-0002", [row({ orchestrationId: o, phaseNumber: "2", agentName: "team-lead", ...half, moveFrom: { phaseNumber: "2" } })]);
    const viewer = await signedIn(t, VIEWER);
    const agents = async () => (await viewer.query(api.usage.orchestrationBreakdown, { orchestrationId: o })).byAgent.map((r) => [r.agentName, r.messages, r.costMicros]);
    expect(await agents()).toEqual([
      ["team-lead", 1, 617],
      [undefined, 1, 617],
    ]);
    const before = await usageState(t);
    for (const moveFrom of [{ phaseNumber: "2" }, { phaseNumber: "3" }, {}]) {
      const err = await refusal(a.record(`part-${JSON.stringify(moveFrom).length}-0003`, [row({ orchestrationId: o, phaseNumber: "2", agentName: "team-lead", moveFrom })]));
      expect([err.code, err.field], err.message).toEqual(["invalid_argument", "rows"]);
    }
    expect(await usageState(t)).toEqual(before);
  });

  test("a move takes web searches with it: no more than were recorded, and a row keeps while some are left", async () => {
    const t = makeT();
    const a = await laptop(t);
    const o = a.orchestrationId;
    await a.record("search-move-0001", [row({ orchestrationId: o, webSearches: 4 })]);
    const before = await usageState(t);
    const lead = (overrides: Partial<Row>) => row({ orchestrationId: o, phaseNumber: "1", agentName: "team-lead", moveFrom: {}, ...overrides });
    // Every token, but one search more than were recorded: refused, nothing changes.
    const err = await refusal(a.record("search-move-0002", [lead({ webSearches: 5 })]));
    expect([err.code, err.field], err.message).toEqual(["invalid_argument", "rows"]);
    expect(await usageState(t)).toEqual(before);

    const viewer = await signedIn(t, VIEWER);
    const agents = async () => (await viewer.query(api.usage.orchestrationBreakdown, { orchestrationId: o })).byAgent.map((r) => [r.agentName, r.messages, r.webSearches]);
    // Every token and 3 of the 4 searches: the source keeps its last search.
    await a.record("search-move-0003", [lead({ webSearches: 3 })]);
    expect(await agents()).toEqual([
      ["team-lead", 2, 3],
      [undefined, 0, 1],
    ]);
    // The last one: the source is empty, and gone.
    await a.record("search-move-0004", [lead({ messages: 0, input: 0, output: 0, cacheWrite: 0, cacheRead: 0, costMicros: 0, webSearches: 1 })]);
    expect(await agents()).toEqual([["team-lead", 2, 4]]);
    const after = await usageState(t);
    expect(after.buckets.map((r) => [r.phaseNumber, r.agentName, r.webSearches])).toEqual([["1", "team-lead", 4]]);
    expect((await viewer.query(api.usage.orchestrationBreakdown, { orchestrationId: o })).byPhase.map((r) => [r.phaseNumber, r.webSearches])).toEqual([["1", 4]]);
    // Totals and days are not keyed by phase or agent: a move leaves them.
    expect(after.totals).toEqual(before.totals);
    expect(after.daily).toEqual(before.daily);
  });

  test("a move is checked like the rest, and the refusal names the field", async () => {
    const t = makeT();
    const a = await laptop(t);
    const o = a.orchestrationId;
    const cases: [Row, string][] = [
      [row({ phaseNumber: "1", moveFrom: {} }), "rows.0.orchestrationId"],
      [row({ orchestrationId: o, moveFrom: {} }), "rows.0.moveFrom"],
      [row({ orchestrationId: o, phaseNumber: "1", agentName: "x", moveFrom: { phaseNumber: "1", agentName: "x" } }), "rows.0.moveFrom"],
      [row({ orchestrationId: o, phaseNumber: "1", moveFrom: { phaseNumber: "one" } }), "rows.0.moveFrom.phaseNumber"],
      [row({ orchestrationId: o, phaseNumber: "1", moveFrom: { agentName: "../x" } }), "rows.0.moveFrom.agentName"],
      [row({ orchestrationId: o, phaseNumber: "1", moveFrom: { agentName: "a".repeat(65) } }), "rows.0.moveFrom.agentName"],
    ];
    for (const [r, field] of cases) {
      const err = await refusal(a.record("checked-0001", [r]));
      expect([err.code, err.field], `${field}: ${err.message}`).toEqual(["invalid_argument", field]);
    }
    expect(await usageState(t)).toEqual({ buckets: [], totals: [], rollups: [], daily: [] });
  });
});

describe("usage:recordUsage, a daemon's numbered batches", () => {
  const STREAM = "0123456789abcdef0123456789abcdef";
  const OTHER = "fedcba9876543210fedcba9876543210";
  const id = (seq: number, stream = STREAM) => `usage:${stream}:${seq}`;

  test("only `usage:<32 hex>:<number from 1>` is numbered; any other id is an ordinary one", () => {
    expect(streamOf(id(1))).toEqual({ stream: STREAM, seq: 1 });
    expect(streamOf(id(999_999_999_999_999))).toEqual({ stream: STREAM, seq: 999_999_999_999_999 });
    for (const other of [id(0), `usage:${STREAM}:01`, `usage:${STREAM.toUpperCase()}:1`, `usage:${STREAM}0:1`, `usage:${STREAM}:1:2`, `usage:${STREAM}:1000000000000000`, "usage:0123456789abcdef0123456789abcdef"]) {
      expect(streamOf(other), other).toBeNull();
    }
  });

  test("a stream's batch is applied when its number is above the last applied one; a replay of it or any before it changes nothing, however late", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const a = await laptop(t);
    const o = a.orchestrationId;
    expect(await a.record(id(1), [row({ orchestrationId: o })])).toEqual({ applied: true });
    expect(await a.record(id(2), [row({ orchestrationId: o })])).toEqual({ applied: true });
    // A number skipped (a batch the laptop dropped) is no gap to wait for.
    expect(await a.record(id(5), [row({ orchestrationId: o })])).toEqual({ applied: true });
    const before = await usageState(t);
    // The lost-reply replay, a year later: still nothing (ordinary ids are forgotten after 7 days).
    vi.setSystemTime(T0 + 365 * DAY_MS);
    for (const seq of [5, 2, 1, 3, 4]) expect(await a.record(id(seq), [row({ orchestrationId: o, messages: 99 })]), `${seq}`).toEqual({ applied: false });
    expect(await usageState(t)).toEqual(before);
    // No id row is stored per batch: one row per stream, with the last number.
    const streams = await t.run((ctx) => ctx.db.query("usageStreams").collect());
    expect(streams.map((r) => [r.nodeId, r.stream, r.seq])).toEqual([[a.nodeId, STREAM, 5]]);
    expect(await t.run((ctx) => ctx.db.query("usageBatches").collect())).toEqual([]);
    // A new ledger on this laptop (its usage state was lost) is a stream of its own, from 1.
    expect(await a.record(id(1, OTHER), [row({ orchestrationId: o })])).toEqual({ applied: true });
    // Another laptop's stream of the same name is its own.
    const b = await laptop(t, "laptop-b");
    expect(await b.record(id(1), [row()])).toEqual({ applied: true });
    expect(await a.record(id(6), [row({ orchestrationId: o })])).toEqual({ applied: true });
    const viewer = await signedIn(t, VIEWER);
    expect((await viewer.query(api.usage.orchestrationTotals, { orchestrationId: o }))?.messages).toBe(2 * 5);
  });

  test("a refused stream batch moves nothing: the same number with good rows is applied", async () => {
    const t = makeT();
    const a = await laptop(t);
    const b = await laptop(t, "laptop-b");
    expect(await refusal(a.record(id(1), [row({ orchestrationId: b.orchestrationId })]))).toMatchObject({ code: "not_found" });
    expect(await t.run((ctx) => ctx.db.query("usageStreams").collect())).toEqual([]);
    expect(await a.record(id(1), [row({ orchestrationId: a.orchestrationId })])).toEqual({ applied: true });
  });
});

describe("usage:pruneUsage (retention)", () => {
  test("buckets past 90 days, days past 400 and batch ids past 7 are deleted, oldest first, within the limits; it runs again while some are left", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const a = await laptop(t);
    const quiet = await laptop(t, "laptop-quiet");
    const sums = { ...ZERO, messages: 1, input: 1 };
    const oldBuckets = USAGE.sweep + 500;
    await t.run(async (ctx) => {
      for (let i = 0; i < oldBuckets; i++) {
        await ctx.db.insert("usageBuckets", { nodeId: a.nodeId, model: `m-${i}`, hour: H0 - USAGE.bucketTtlMs - HOUR_MS - i * HOUR_MS, ...sums });
      }
      // Kept: within 90 days by an hour.
      await ctx.db.insert("usageBuckets", { nodeId: a.nodeId, model: "edge", hour: H0 - USAGE.bucketTtlMs + HOUR_MS, ...sums });
      for (let i = 0; i < 3; i++) await ctx.db.insert("usageDaily", { day: D0 - USAGE.dayTtlMs - (i + 1) * DAY_MS, nodeId: a.nodeId, ...sums });
      await ctx.db.insert("usageDaily", { day: D0 - 30 * DAY_MS, nodeId: a.nodeId, ...sums });
      // A laptop that stopped sending: its expired ids are not pruned by its own calls.
      await ctx.db.insert("usageBatches", { nodeId: quiet.nodeId, batch: "gone-batch-0001", rows: 1, appliedAt: T0 - 8 * DAY_MS });
      await ctx.db.insert("usageBatches", { nodeId: a.nodeId, batch: "kept-batch-0001", rows: 1, appliedAt: T0 - DAY_MS });
    });
    await a.record("fresh-batch-0001", [row({ orchestrationId: a.orchestrationId })]);
    const totalsBefore = await t.run((ctx) => ctx.db.query("usageTotals").collect());

    const first = await t.mutation(internal.usage.pruneUsage, {});
    expect(first).toEqual({ buckets: USAGE.sweep, days: 3, batches: 1, more: true });
    const metrics = lastCallMetrics();
    // Each row read by its index and again by its delete; at most 3 tables' `sweep` twice in all.
    expect(metrics.documentsRead).toBeLessThanOrEqual(2 * (USAGE.sweep + 3 + 1) + 5);
    expect(6 * USAGE.sweep).toBeLessThan(32_000 / 2);
    expect(metrics.documentsWritten).toBeLessThanOrEqual(USAGE.sweep + 3 + 1 + 1);
    expect(metrics.bytesWritten).toBeLessThan(16 << 20);
    // The rest, by the run it scheduled for itself.
    await t.finishAllScheduledFunctions(vi.runAllTimers);
    const left = await t.run(async (ctx) => ({
      buckets: (await ctx.db.query("usageBuckets").collect()).map((r) => r.model).sort(),
      days: (await ctx.db.query("usageDaily").collect()).map((r) => r.day).sort(),
      batches: (await ctx.db.query("usageBatches").collect()).map((r) => r.batch).sort(),
    }));
    expect(left).toEqual({
      buckets: ["claude-sonnet-4-5-20250929", "edge"],
      days: [D0 - 30 * DAY_MS, D0],
      batches: ["fresh-batch-0001", "kept-batch-0001"],
    });
    // What pages read is untouched.
    expect(await t.run((ctx) => ctx.db.query("usageTotals").collect())).toEqual(totalsBefore);
    // Nothing left: a run deletes nothing and schedules nothing.
    expect(await t.mutation(internal.usage.pruneUsage, {})).toEqual({ buckets: 0, days: 0, batches: 0, more: false });
  });
});

describe("within Convex's limits", () => {
  test("the largest batch (200 rows, each its own orchestration, phase, agent, model and day) stays far below every limit", async () => {
    const t = makeT();
    const { nodeId, token } = await enroll(t);
    const ids = await t.run(async (ctx) => {
      const out: Id<"orchestrations">[] = [];
      for (let i = 0; i < USAGE.rows; i++) {
        out.push(await ctx.db.insert("orchestrations", { nodeId, ...orchestration({ featureName: `f-${i}`, startedAt: T0 + i }), active: true, phasesCompleted: 0, updatedAt: T0 }));
      }
      return out;
    });
    const rows = ids.map((orchestrationId, i) =>
      row({
        orchestrationId,
        hour: H0 - i * DAY_MS,
        phaseNumber: `${i + 1}.5.5`,
        agentName: `agent-${i}-`.padEnd(USAGE.agentName, "x"),
        model: `model-${i}-`.padEnd(USAGE.model, "y"),
        messages: 1e12,
        input: 1e12,
        output: 1e12,
        cacheWrite: 1e12,
        cacheRead: 1e12,
        webSearches: 1e12,
        costMicros: 1e12,
      }),
    );
    const batch = "max-batch-".padEnd(128, "z");
    expect(await t.mutation(api.usage.recordUsage, { nodeToken: token, batch, rows })).toEqual({ applied: true });
    const first = lastCallMetrics();
    // 200 orchestrations read, 7 rows per row looked up and written, the batch id, presence.
    expect(first.documentsWritten).toBeLessThanOrEqual(7 * USAGE.rows + 5);
    expect(first.documentsRead).toBeLessThanOrEqual(USAGE.rows + 10);
    // Index ranges: the 200 orchestrations, the 1,400 rows' lookups, the batch id, pruning, auth.
    expect(first.databaseQueries).toBeLessThanOrEqual(8 * USAGE.rows + 10);
    expect(first.databaseQueries).toBeLessThan(4096 / 2);
    expect(first.bytesWritten).toBeLessThan(1 << 20);
    // Applied again on top (every row found and patched), then replayed.
    expect(await t.mutation(api.usage.recordUsage, { nodeToken: token, batch: batch.replace("max", "two"), rows })).toEqual({ applied: true });
    const second = lastCallMetrics();
    // Each of the 1,400 rows found by its index and read again by its patch: about 1.05 MiB, under
    // a twelfth of Convex's 16 MiB.
    expect(second.documentsRead).toBeLessThanOrEqual(USAGE.rows + 2 * 7 * USAGE.rows + 10);
    expect(second.databaseQueries).toBeLessThan(4096 / 2);
    expect(second.bytesRead).toBeLessThan(1.25 * (1 << 20));
    expect(await t.mutation(api.usage.recordUsage, { nodeToken: token, batch, rows })).toEqual({ applied: false });
    expect(lastCallMetrics().documentsRead).toBeLessThanOrEqual(5);
    const totals = await t.run((ctx) => ctx.db.query("usageTotals").withIndex("by_orchestration", (q) => q.eq("orchestrationId", ids[7])).unique());
    expect(totals).toMatchObject({ messages: 2e12, webSearches: 2e12, costMicros: 2e12 });
  });

  test("a long history: the breakdown reads and returns a bounded number of rows, the newest hours, and says what it cut", async () => {
    const t = makeT({ documentsRead: 2000 });
    const a = await laptop(t);
    const o = a.orchestrationId;
    const extra = { phases: USAGE.phases + 5, agents: USAGE.agents + 5, models: USAGE.models + 5, hours: USAGE.hours + 500 };
    await t.run(async (ctx) => {
      const sums = { ...ZERO, messages: 1 };
      for (let i = 0; i < extra.phases; i++) await ctx.db.insert("usageRollups", { orchestrationId: o, kind: "phase", phaseNumber: String(i + 1), ...sums });
      for (let i = 0; i < extra.agents; i++) await ctx.db.insert("usageRollups", { orchestrationId: o, kind: "agent", phaseNumber: "1", agentName: `agent-${i}`, ...sums });
      for (let i = 0; i < extra.models; i++) await ctx.db.insert("usageRollups", { orchestrationId: o, kind: "model", model: `model-${i}`, ...sums });
      for (let i = 0; i < extra.hours; i++) await ctx.db.insert("usageRollups", { orchestrationId: o, kind: "hour", hour: H0 - i * HOUR_MS, ...sums });
    });
    const viewer = await signedIn(t, VIEWER);
    const b = await viewer.query(api.usage.orchestrationBreakdown, { orchestrationId: o });
    expect(lastCallMetrics().documentsRead).toBeLessThanOrEqual(USAGE.phases + USAGE.agents + USAGE.models + USAGE.hours + 4 + 5);
    expect([b.byPhase.length, b.byAgent.length, b.byModel.length, b.byHour.length]).toEqual([USAGE.phases, USAGE.agents, USAGE.models, USAGE.hours]);
    expect(b.truncated).toEqual({ phases: true, agents: true, models: true, hours: true });
    // The newest 31 days of hours, oldest first.
    expect(b.byHour[b.byHour.length - 1].hour).toBe(H0);
    expect(b.byHour[0].hour).toBe(H0 - (USAGE.hours - 1) * HOUR_MS);
    // Phases in plan order.
    expect(b.byPhase.slice(0, 3).map((p) => p.phaseNumber)).toEqual(["1", "2", "3"]);
    // The totals are still one document (beyond the viewer's identity, read by any query).
    await viewer.query(api.usage.orchestrationTotals, { orchestrationId: o });
    const identify = lastCallMetrics().documentsRead;
    await a.record("after-history-1", [row({ orchestrationId: o })]);
    await viewer.query(api.usage.orchestrationTotals, { orchestrationId: o });
    expect(lastCallMetrics().documentsRead).toBe(identify + 1);
  });
});

describe("quota and budgets within Convex's limits", () => {
  test("fleetQuota reads and returns at most 400 rows (200 laptops with two accounts), each laptop read once", async () => {
    const t = makeT();
    const laptops = QUOTA.rows / 2 + 30;
    await t.run(async (ctx) => {
      for (let n = 0; n < laptops; n++) {
        const nodeId = await ctx.db.insert("nodes", { name: `n-${String(n).padStart(3, "0")}`, os: "linux", credentialHash: `h-${n}`, status: "offline", enrolledAt: T0, lastHeartbeat: 0 });
        for (const account of ["~/.claude", "x".repeat(QUOTA.account)]) {
          await ctx.db.insert("usageQuota", {
            nodeId,
            account,
            observedAt: T0,
            fiveHour: { usedPct: 50, resetsAt: T0 + HOUR_MS },
            sevenDay: { usedPct: 50, resetsAt: T0 + DAY_MS },
            limitedAt: T0,
            limitedText: "x".repeat(QUOTA.limitedText),
            updatedAt: T0,
          });
        }
      }
    });
    const viewer = await signedIn(t, VIEWER);
    const { rows, truncated } = await viewer.query(api.usage.fleetQuotaRows, {});
    expect(rows).toHaveLength(QUOTA.rows);
    expect(truncated).toBe(true);
    // The rows (one more, to tell), each of their laptops once, and the viewer's identity.
    expect(lastCallMetrics().documentsRead).toBeLessThanOrEqual(QUOTA.rows + 1 + QUOTA.rows / 2 + 1 + 5);
    expect(lastCallMetrics().bytesRead).toBeLessThan(1 << 20);
    // usage:fleetQuota, as the dashboard reads it now: the same rows, without the flag.
    expect(await viewer.query(api.usage.fleetQuota, {})).toEqual(rows);
  });

  test("fleetQuotaRows says when rows were left out: not at exactly 400", async () => {
    const t = makeT();
    await t.run(async (ctx) => {
      for (let n = 0; n < QUOTA.rows / 2; n++) {
        const nodeId = await ctx.db.insert("nodes", { name: `n-${String(n).padStart(3, "0")}`, os: "linux", credentialHash: `h-${n}`, status: "offline", enrolledAt: T0, lastHeartbeat: 0 });
        for (const account of ["~/.claude", "~/.claude-work"]) await ctx.db.insert("usageQuota", { nodeId, account, observedAt: T0, updatedAt: T0 });
      }
    });
    const viewer = await signedIn(t, VIEWER);
    const all = await viewer.query(api.usage.fleetQuotaRows, {});
    expect([all.rows.length, all.truncated]).toEqual([QUOTA.rows, false]);
    await t.run(async (ctx) => {
      const nodeId = await ctx.db.insert("nodes", { name: "n-late", os: "linux", credentialHash: "h-late", status: "offline", enrolledAt: T0, lastHeartbeat: 0 });
      await ctx.db.insert("usageQuota", { nodeId, observedAt: T0, updatedAt: T0 });
    });
    const more = await viewer.query(api.usage.fleetQuotaRows, {});
    expect([more.rows.length, more.truncated]).toEqual([QUOTA.rows, true]);
  });

  test("recordQuota reads at most one more row than a laptop may keep, however many it has", async () => {
    const t = makeT();
    const a = await enroll(t);
    await t.run(async (ctx) => {
      for (let i = 0; i < 3 * QUOTA.accounts; i++) {
        await ctx.db.insert("usageQuota", { nodeId: a.nodeId, account: `~/.claude-${i}`, observedAt: T0, updatedAt: T0 + i });
      }
    });
    await t.mutation(api.usage.recordQuota, { nodeToken: a.token, account: "~/.claude-new", observedAt: T0, fiveHour: { usedPct: 1, resetsAt: T0 + HOUR_MS } });
    expect(lastCallMetrics().documentsRead).toBeLessThanOrEqual(QUOTA.accounts + 1 + 5);
  });

  test("needsYou lists at most 50 orchestrations over budget, the newest crossings, reading a bounded number of rows", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const { nodeId } = await enroll(t);
    await t.run(async (ctx) => {
      for (let i = 0; i < EACH_LIMIT + 20; i++) {
        const orchestrationId = await ctx.db.insert("orchestrations", { nodeId, ...orchestration({ featureName: `f-${i}`, startedAt: T0 + i }), active: true, phasesCompleted: 0, updatedAt: T0 });
        await ctx.db.insert("usageTotals", { orchestrationId, nodeId, ...ZERO, costMicros: 2_000_000, updatedAt: T0, budgetMicros: 1_000_000, budgetCrossedAt: T0 + i });
        await ctx.db.insert("usageBudgetCrossings", { orchestrationId, nodeId, featureName: `f-${i}`, budgetMicros: 1_000_000, crossedAt: T0 + i, costMicros: 2_000_000 });
      }
    });
    const viewer = await signedIn(t, VIEWER);
    const budget = (await viewer.query(api.needs.needsYou, {})).items.filter((i) => i.kind === "budget");
    expect(budget).toHaveLength(EACH_LIMIT);
    expect(budget[0].since).toBe(T0 + EACH_LIMIT + 19);
    expect(budget[0].title).toBe(`f-${EACH_LIMIT + 19} reached its budget of $1.00`);
    expect(lastCallMetrics().documentsRead).toBeLessThan(400);
  });

  test("moveBudgetCrossings copies the crossings older versions kept on the totals, a bounded page per call; again, it adds nothing", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const { nodeId } = await enroll(t);
    const legacy = USAGE.migrate + 20;
    const ids = await t.run(async (ctx) => {
      const out: Id<"orchestrations">[] = [];
      for (let i = 0; i < legacy + 1; i++) {
        const orchestrationId = await ctx.db.insert("orchestrations", { nodeId, ...orchestration({ featureName: `f-${i}`, startedAt: T0 + i }), active: true, phasesCompleted: 0, updatedAt: T0 });
        // As older versions stored a crossing; the last one has a budget it has not reached.
        const crossed = i < legacy ? { budgetCrossedAt: T0 + i, budgetCrossedCostMicros: 1_500_000 + i } : {};
        await ctx.db.insert("usageTotals", { orchestrationId, nodeId, ...ZERO, costMicros: 3_000_000, updatedAt: T0, budgetMicros: 1_000_000, ...crossed });
        out.push(orchestrationId);
      }
      return out;
    });
    const viewer = await signedIn(t, VIEWER);
    const budgetItems = async () => (await viewer.query(api.needs.needsYou, {})).items.filter((i) => i.kind === "budget");
    expect(await budgetItems()).toEqual([]);

    expect(await t.mutation(internal.usage.moveBudgetCrossings, {})).toMatchObject({ moved: USAGE.migrate, isDone: false });
    // A page of totals, each with its crossing (none yet) and its orchestration.
    expect(lastCallMetrics().documentsRead).toBeLessThanOrEqual(2 * USAGE.migrate + 5);
    expect(lastCallMetrics().documentsWritten).toBeLessThanOrEqual(USAGE.migrate + 5);
    // It goes on by itself.
    await t.finishAllScheduledFunctions(vi.runAllTimers);
    const crossings = await t.run((ctx) => ctx.db.query("usageBudgetCrossings").collect());
    expect(crossings).toHaveLength(legacy);
    expect(crossings.find((c) => c.orchestrationId === ids[7])).toMatchObject({ nodeId, featureName: "f-7", budgetMicros: 1_000_000, crossedAt: T0 + 7, costMicros: 1_500_007 });
    const items = await budgetItems();
    expect(items).toHaveLength(EACH_LIMIT);
    expect(items[0]).toMatchObject({ key: `budget:${ids[legacy - 1]}`, since: T0 + legacy - 1, title: `f-${legacy - 1} reached its budget of $1.00` });
    expect(items[0].detail).toMatch(/^\$1\.50 spent when it did/);
    // Run again: nothing more.
    expect(await t.mutation(internal.usage.moveBudgetCrossings, {})).toMatchObject({ moved: 0 });
    await t.finishAllScheduledFunctions(vi.runAllTimers);
    expect(await t.run((ctx) => ctx.db.query("usageBudgetCrossings").collect())).toEqual(crossings);
  });
});

describe("usage:fleetSpend", () => {
  test("each laptop's spend per day over the last days, today included, oldest first", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(D0 + 10 * HOUR_MS);
    const t = makeT();
    const a = await laptop(t);
    const b = await laptop(t, "laptop-b");
    await a.record("fleet-a-0001", [row({ hour: D0 }), row({ hour: D0 + HOUR_MS, orchestrationId: a.orchestrationId }), row({ hour: D0 - DAY_MS }), row({ hour: D0 - 7 * DAY_MS })]);
    await b.record("fleet-b-0001", [row({ hour: D0 - DAY_MS, costMicros: undefined })]);
    const viewer = await signedIn(t, VIEWER);
    const week = await viewer.query(api.usage.fleetSpend, { days: 7 });
    expect(week.from).toBe(D0 - 6 * DAY_MS);
    expect(week.truncated).toBe(false);
    expect(week.rows.map((r) => r.day)).toEqual([D0 - DAY_MS, D0 - DAY_MS, D0]);
    expect(week.rows.map((r) => [r.day, r.nodeId, r.costMicros, r.unpricedTokens])).toEqual(
      expect.arrayContaining([
        [D0 - DAY_MS, a.nodeId, 1234, 0],
        [D0 - DAY_MS, b.nodeId, 0, 1160],
        [D0, a.nodeId, 2468, 0],
      ]),
    );
    expect((await viewer.query(api.usage.fleetSpend, { days: 8 })).rows).toHaveLength(4);
    expect((await viewer.query(api.usage.fleetSpend, { days: 1 })).rows.map((r) => r.messages)).toEqual([4]);
    for (const days of [0, 32, 1.5, NaN]) {
      expect(await refusal(viewer.query(api.usage.fleetSpend, { days }))).toMatchObject({ code: "invalid_argument", field: "days" });
    }
  });

  test("today and the days before it, asked apart: today's rows are never read by the query of the days before", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(D0 + 10 * HOUR_MS);
    const t = makeT();
    const a = await laptop(t);
    await a.record("split-a-0001", [row({ hour: D0 }), row({ hour: D0 - DAY_MS }), row({ hour: D0 - 3 * DAY_MS })]);
    const viewer = await signedIn(t, VIEWER);
    const before = await viewer.query(api.usage.fleetSpend, { days: 6, until: D0 - DAY_MS });
    const read = lastCallMetrics().documentsRead;
    expect(before.from).toBe(D0 - 6 * DAY_MS);
    expect(before.rows.map((r) => r.day)).toEqual([D0 - 3 * DAY_MS, D0 - DAY_MS]);
    const today = await viewer.query(api.usage.fleetSpend, { days: 1, until: D0 });
    expect(today.rows.map((r) => [r.day, r.nodeId])).toEqual([[D0, a.nodeId]]);
    // Together, the week the one query gives.
    expect([...before.rows, ...today.rows]).toEqual((await viewer.query(api.usage.fleetSpend, { days: 7 })).rows);
    // More laptops spending today: the days before read just what they did (their index range
    // ends before today, so a batch rewriting today's rows leaves that query be).
    for (const name of ["laptop-b", "laptop-c", "laptop-d"]) await (await laptop(t, name)).record(`split-${name}`, [row({ hour: D0 + HOUR_MS })]);
    expect(await viewer.query(api.usage.fleetSpend, { days: 6, until: D0 - DAY_MS })).toEqual(before);
    expect(lastCallMetrics().documentsRead).toBe(read);
    expect((await viewer.query(api.usage.fleetSpend, { days: 1, until: D0 })).rows).toHaveLength(4);
    // A day's start, not after tomorrow by the server's clock.
    for (const until of [D0 + 2 * DAY_MS, D0 + 1, NaN]) {
      expect(await refusal(viewer.query(api.usage.fleetSpend, { days: 1, until }))).toMatchObject({ code: "invalid_argument", field: "until" });
    }
    expect((await viewer.query(api.usage.fleetSpend, { days: 1, until: D0 + DAY_MS })).rows).toEqual([]);
  });

  test("past 3,100 (laptop, day) rows it keeps the newest days and says so", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(D0 + HOUR_MS);
    const t = makeT();
    const laptops = 110;
    await t.run(async (ctx) => {
      for (let n = 0; n < laptops; n++) {
        const nodeId = await ctx.db.insert("nodes", { name: `n-${n}`, os: "linux", credentialHash: `h-${n}`, status: "offline", enrolledAt: T0, lastHeartbeat: 0 });
        for (let d = 0; d < USAGE.days; d++) await ctx.db.insert("usageDaily", { day: D0 - d * DAY_MS, nodeId, ...ZERO, messages: 1 });
      }
    });
    const viewer = await signedIn(t, VIEWER);
    const month = await viewer.query(api.usage.fleetSpend, { days: USAGE.days });
    expect(month.truncated).toBe(true);
    expect(month.rows).toHaveLength(USAGE.dayRows);
    expect(lastCallMetrics().documentsRead).toBeLessThanOrEqual(USAGE.dayRows + 5);
    expect(month.rows[month.rows.length - 1].day).toBe(D0);
    expect(month.rows.filter((r) => r.day === D0)).toHaveLength(laptops);
    expect(month.rows[0].day).toBeGreaterThan(D0 - (USAGE.days - 1) * DAY_MS);
  });
});

describe("usage:recordQuota and usage:fleetQuota", () => {
  const W5 = { usedPct: 23.5, resetsAt: T0 + 3 * HOUR_MS };
  const W7 = { usedPct: 41.2, resetsAt: T0 + 4 * DAY_MS };

  async function quotaRows(t: T) {
    return await t.run(async (ctx) => (await ctx.db.query("usageQuota").collect()).map(({ _id, _creationTime, ...rest }) => rest));
  }

  /** Two laptops at T0 (fake timers), and a call of usage:recordQuota as either. */
  async function twoLaptops() {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const a = await enroll(t, "laptop-a");
    const b = await enroll(t, "laptop-b");
    const quota = (token: string, args: Record<string, unknown>) => t.mutation(api.usage.recordQuota, { nodeToken: token, ...args } as never);
    return { t, a, b, quota };
  }

  test("each laptop's windows and last rate-limit stop, replaced field by field; a window keeps until it resets", async () => {
    const { t, a, b, quota } = await twoLaptops();
    expect(await quota(a.token, { observedAt: T0, fiveHour: W5, sevenDay: W7 })).toBeNull();
    await quota(b.token, { observedAt: T0, sevenDay: { usedPct: 85, resetsAt: T0 + DAY_MS } });
    const viewer = await signedIn(t, VIEWER);
    expect(await viewer.query(api.usage.fleetQuota, {})).toEqual([
      { nodeId: a.nodeId, nodeName: "laptop-a", observedAt: T0, fiveHour: W5, sevenDay: W7 },
      { nodeId: b.nodeId, nodeName: "laptop-b", observedAt: T0, sevenDay: { usedPct: 85, resetsAt: T0 + DAY_MS } },
    ]);

    // Only the 5-hour window sent: the 7-day one is kept. Then a rate-limit stop, its text cleaned.
    vi.setSystemTime(T0 + 60_000);
    await quota(a.token, { observedAt: T0 + 60_000, fiveHour: { usedPct: 100, resetsAt: W5.resetsAt } });
    await quota(a.token, { observedAt: T0 + 61_000, limitedAt: T0 + 61_000, limitedText: "Claude usage limit reached\u001b[0m. Your limit will reset at 5pm. token=abcdefghijkl" });
    const [row] = (await viewer.query(api.usage.fleetQuota, {})).filter((r) => r.nodeId === a.nodeId);
    expect(row).toMatchObject({ observedAt: T0 + 61_000, fiveHour: { usedPct: 100, resetsAt: W5.resetsAt }, sevenDay: W7, limitedAt: T0 + 61_000 });
    expect(row.limitedText).toBe("Claude usage limit reached [0m. Your limit will reset at 5pm. token=***");

    // Past the 5-hour reset, a call without it forgets it; the stop stays (the dashboard compares).
    vi.setSystemTime(W5.resetsAt + 1);
    await quota(a.token, { observedAt: W5.resetsAt + 1, sevenDay: { usedPct: 50, resetsAt: W7.resetsAt } });
    const [later] = (await viewer.query(api.usage.fleetQuota, {})).filter((r) => r.nodeId === a.nodeId);
    expect(later).toEqual({ nodeId: a.nodeId, nodeName: "laptop-a", observedAt: W5.resetsAt + 1, sevenDay: { usedPct: 50, resetsAt: W7.resetsAt }, limitedAt: T0 + 61_000, limitedText: row.limitedText });
    // Laptop B's row is its own: nothing A sent changed it.
    expect((await quotaRows(t)).find((r) => r.nodeId === b.nodeId)).toMatchObject({ observedAt: T0, sevenDay: { usedPct: 85, resetsAt: T0 + DAY_MS } });
  });

  test("each account of a laptop (its config dir) has a row of its own; a new one past eight replaces the least recently updated", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const a = await enroll(t, "laptop-a");
    const quota = (args: Record<string, unknown>) => t.mutation(api.usage.recordQuota, { nodeToken: a.token, ...args } as never);
    await quota({ account: "~/.claude-work", observedAt: T0, fiveHour: W5 });
    await quota({ account: "~/.claude", observedAt: T0, fiveHour: { usedPct: 90, resetsAt: W5.resetsAt } });
    await quota({ observedAt: T0, sevenDay: W7 }); // a laptop that could not tell which
    // A stop in one account leaves the others alone.
    vi.setSystemTime(T0 + 1);
    await quota({ account: "~/.claude-work", observedAt: T0 + 1, limitedAt: T0 + 1, limitedText: "limit reached" });
    const viewer = await signedIn(t, VIEWER);
    expect(await viewer.query(api.usage.fleetQuota, {})).toEqual([
      { nodeId: a.nodeId, nodeName: "laptop-a", account: "~/.claude", observedAt: T0, fiveHour: { usedPct: 90, resetsAt: W5.resetsAt } },
      { nodeId: a.nodeId, nodeName: "laptop-a", account: "~/.claude-work", observedAt: T0 + 1, fiveHour: W5, limitedAt: T0 + 1, limitedText: "limit reached" },
      { nodeId: a.nodeId, nodeName: "laptop-a", observedAt: T0, sevenDay: W7 },
    ]);

    // Eight accounts at most: the one updated longest ago makes room.
    for (let i = 0; i < 5; i++) {
      vi.setSystemTime(T0 + 10 + i);
      await quota({ account: `~/.claude-${i}`, observedAt: T0 + 10 + i, fiveHour: W5 });
    }
    vi.setSystemTime(T0 + 20);
    await quota({ account: "~/.claude", observedAt: T0 + 20, fiveHour: W5 }); // updated: kept
    await quota({ account: "~/.claude-new", observedAt: T0 + 20, fiveHour: W5 });
    const accounts = (await quotaRows(t)).map((r) => r.account ?? null);
    expect(accounts).toHaveLength(QUOTA.accounts);
    expect(accounts).not.toContain(null); // the oldest of the three of T0
    expect(accounts).toEqual(expect.arrayContaining(["~/.claude", "~/.claude-work", "~/.claude-new"]));
  });

  test("each row carries the key of the account its config dir is logged in to; a new login replaces it", async () => {
    const { t, a, b, quota } = await twoLaptops();
    const one = "0123456789abcdef".repeat(2);
    await quota(a.token, { account: "~/.claude", accountKey: one, observedAt: T0, fiveHour: W5 });
    await quota(a.token, { account: "~/.claude-work", accountKey: one, observedAt: T0, fiveHour: W5 });
    await quota(b.token, { account: "~/.claude", accountKey: one, observedAt: T0 + 1, fiveHour: { usedPct: 30, resetsAt: W5.resetsAt } });
    const viewer = await signedIn(t, VIEWER);
    const keys = async () => (await viewer.query(api.usage.fleetQuota, {})).map((r) => [r.nodeName, r.account, r.accountKey ?? null]);
    expect(await keys()).toEqual([
      ["laptop-a", "~/.claude", one],
      ["laptop-a", "~/.claude-work", one],
      ["laptop-b", "~/.claude", one],
    ]);
    // Logged in to another account, then with an API key (no account): the key follows.
    vi.setSystemTime(T0 + 2);
    await quota(a.token, { account: "~/.claude-work", accountKey: "f".repeat(32), observedAt: T0 + 2, fiveHour: W5 });
    await quota(b.token, { account: "~/.claude", observedAt: T0 + 2, fiveHour: W5 });
    expect(await keys()).toEqual([
      ["laptop-a", "~/.claude", one],
      ["laptop-a", "~/.claude-work", "f".repeat(32)],
      ["laptop-b", "~/.claude", null],
    ]);
  });

  test("an older observation changes nothing; the same call twice writes nothing the second time", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const a = await enroll(t);
    const quota = (args: Record<string, unknown>) => t.mutation(api.usage.recordQuota, { nodeToken: a.token, ...args } as never);
    await quota({ observedAt: T0, fiveHour: W5 });
    const before = await quotaRows(t);
    await quota({ observedAt: T0 - 1, fiveHour: { usedPct: 99, resetsAt: W5.resetsAt }, limitedAt: T0 - 1 });
    expect(await quotaRows(t)).toEqual(before);
    await quota({ observedAt: T0, fiveHour: W5 });
    expect(await quotaRows(t)).toEqual(before);
    expect(lastCallMetrics().documentsWritten).toBeLessThanOrEqual(1); // the laptop's presence at most
    // An older rate-limit stop than the stored one keeps the stored one.
    await quota({ observedAt: T0 + 2, limitedAt: T0 + 2, limitedText: "newer" });
    await quota({ observedAt: T0 + 3, limitedAt: T0 + 1, limitedText: "older" });
    expect((await quotaRows(t))[0]).toMatchObject({ observedAt: T0 + 3, limitedAt: T0 + 2, limitedText: "newer" });
  });

  test("every field is checked, and the refusal names it; nothing is written", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const a = await enroll(t);
    const cases: [Record<string, unknown>, string][] = [
      [{ observedAt: NaN }, "observedAt"],
      [{ observedAt: T0 / 1000 }, "observedAt"],
      [{ observedAt: T0 + 5 * 60_000 + 1 }, "observedAt"],
      [{ observedAt: T0, fiveHour: { usedPct: -1, resetsAt: W5.resetsAt } }, "fiveHour.usedPct"],
      [{ observedAt: T0, fiveHour: { usedPct: 1000.5, resetsAt: W5.resetsAt } }, "fiveHour.usedPct"],
      [{ observedAt: T0, sevenDay: { usedPct: Infinity, resetsAt: W7.resetsAt } }, "sevenDay.usedPct"],
      [{ observedAt: T0, sevenDay: { usedPct: 1, resetsAt: 1738857600 } }, "sevenDay.resetsAt"],
      [{ observedAt: T0, limitedAt: -5 }, "limitedAt"],
      [{ observedAt: T0, limitedAt: T0, limitedText: "x".repeat(301) }, "limitedText"],
      [{ observedAt: T0, limitedText: "no time" }, "limitedText"],
      [{ observedAt: T0, account: "" }, "account"],
      [{ observedAt: T0, account: "~/" + "x".repeat(199) }, "account"],
      [{ observedAt: T0, account: "~/.claude\nforged" }, "account"],
      [{ observedAt: T0, accountKey: "" }, "accountKey"],
      [{ observedAt: T0, accountKey: "A".repeat(32) }, "accountKey"],
      [{ observedAt: T0, accountKey: "a".repeat(33) }, "accountKey"],
      [{ observedAt: T0, accountKey: "me@example.com" }, "accountKey"],
    ];
    for (const [args, field] of cases) {
      const err = await refusal(t.mutation(api.usage.recordQuota, { nodeToken: a.token, ...args } as never));
      expect([err.code, err.field], `${field}: ${err.message}`).toEqual(["invalid_argument", field]);
    }
    expect(await quotaRows(t)).toEqual([]);
  });

  test("a revoked laptop's quota is not shown; a laptop cannot write another's row (it names none)", async () => {
    const t = makeT();
    const a = await enroll(t, "laptop-a");
    const b = await enroll(t, "laptop-b");
    await t.mutation(api.usage.recordQuota, { nodeToken: a.token, observedAt: T0, fiveHour: W5 });
    // B has no way to name A: its call makes its own row.
    await t.mutation(api.usage.recordQuota, { nodeToken: b.token, observedAt: T0 + 1, fiveHour: { usedPct: 1, resetsAt: W5.resetsAt } });
    expect((await quotaRows(t)).find((r) => r.nodeId === a.nodeId)).toMatchObject({ observedAt: T0, fiveHour: W5 });
    const owner = await signedIn(t, OWNER);
    await owner.mutation(api.nodes.revokeNode, { nodeId: b.nodeId });
    expect((await owner.query(api.usage.fleetQuota, {})).map((r) => r.nodeName)).toEqual(["laptop-a"]);
  });
});

describe("usage:forgetRevokedQuota (migration)", () => {
  test("deletes the quota rows of laptops revoked before revoking deleted them, a bounded page of laptops per call", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const live = await enroll(t, "laptop-live");
    await t.mutation(api.usage.recordQuota, { nodeToken: live.token, observedAt: T0, fiveHour: { usedPct: 5, resetsAt: T0 + HOUR_MS } });
    const revoked = QUOTA.revokedNodes + 10;
    await t.run(async (ctx) => {
      for (let n = 0; n < revoked; n++) {
        const nodeId = await ctx.db.insert("nodes", { name: `gone-${n}`, os: "linux", credentialHash: `h-${n}`, status: "offline", enrolledAt: T0, lastHeartbeat: T0, revokedAt: T0 + n });
        for (const account of ["~/.claude", "~/.claude-work"]) await ctx.db.insert("usageQuota", { nodeId, account, observedAt: T0, updatedAt: T0 });
      }
    });
    expect(await t.mutation(internal.usage.forgetRevokedQuota, {})).toMatchObject({ deleted: 2 * QUOTA.revokedNodes, isDone: false });
    expect(lastCallMetrics().documentsWritten).toBeLessThanOrEqual(QUOTA.revokedNodes * QUOTA.accounts + 5);
    await t.finishAllScheduledFunctions(vi.runAllTimers);
    expect(await t.run(async (ctx) => (await ctx.db.query("usageQuota").collect()).map((r) => r.nodeId))).toEqual([live.nodeId]);
    // Run again: nothing more.
    expect(await t.mutation(internal.usage.forgetRevokedQuota, {})).toMatchObject({ deleted: 0 });
    await t.finishAllScheduledFunctions(vi.runAllTimers);
    expect(await t.run((ctx) => ctx.db.query("usageQuota").collect())).toHaveLength(1);
  });
});

describe("usage:setBudget and its \"needs you\" item", () => {
  async function budgetItems(as: Awaited<ReturnType<typeof signedIn>>) {
    return (await as.query(api.needs.needsYou, {})).items.filter((i) => i.kind === "budget");
  }

  test("spend reaching the budget opens one item naming the orchestration, budget and spend; raising or clearing closes it", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const a = await laptop(t);
    const o = a.orchestrationId;
    // Someone has a notification channel: the queue row exists, so triggers schedule.
    await t.run((ctx) => ctx.db.insert("notifyQueue", { key: "main" }));
    const pendingAt = async () => (await t.run((ctx) => ctx.db.query("notifyQueue").first()))!.pendingAt;
    const operator = await signedIn(t, OPERATOR);
    const viewer = await signedIn(t, VIEWER);

    // A budget set before any usage: the totals show it, nothing is over.
    expect(await operator.mutation(api.usage.setBudget, { orchestrationId: o, budgetMicros: 3_000_000 })).toBeNull();
    expect(await viewer.query(api.usage.orchestrationTotals, { orchestrationId: o })).toEqual({ ...ZERO, updatedAt: T0, budgetMicros: 3_000_000 });
    expect(await budgetItems(viewer)).toEqual([]);
    expect(await pendingAt()).toBeUndefined();

    // $1.50: below. Then $3.00 more: $4.50 >= $3.00, crossed in that batch.
    const spend = (overrides: Partial<Row> = {}) => row({ orchestrationId: o, costMicros: 1_500_000, ...overrides });
    await a.record("budget-0001", [spend()]);
    expect(await budgetItems(viewer)).toEqual([]);
    vi.setSystemTime(T0 + 1000);
    await a.record("budget-0002", [spend(), spend({ agentName: "x" })]);
    expect(await pendingAt()).toBeDefined();
    const [item] = await budgetItems(viewer);
    expect(item).toMatchObject({
      key: `budget:${o}`,
      since: T0 + 1000,
      orchestrationId: o,
      featureName: "feature-laptop-a",
      nodeId: a.nodeId,
      nodeName: "laptop-a",
      title: "feature-laptop-a reached its budget of $3.00",
      dismissed: false,
    });
    expect(item.detail).toMatch(/^\$4\.50 spent when it did/);
    // More usage does not change the item (its since, title and detail stay: no new notification).
    await a.record("budget-0003", [spend()]);
    expect(await budgetItems(viewer)).toEqual([item]);

    // The laptop's own sync replaces only what it reports: the budget item stays.
    await t.mutation(api.needs.syncLaptop, { nodeToken: a.token, items: [], sessions: [] });
    expect(await budgetItems(viewer)).toEqual([item]);

    // Raised above the spend ($6.00): closed. Lowered to $4.00: open again, as a new item.
    await operator.mutation(api.usage.setBudget, { orchestrationId: o, budgetMicros: 10_000_000 });
    expect(await budgetItems(viewer)).toEqual([]);
    vi.setSystemTime(T0 + 2000);
    await operator.mutation(api.usage.setBudget, { orchestrationId: o, budgetMicros: 4_000_000 });
    expect((await budgetItems(viewer)).map((i) => [i.since, i.title])).toEqual([[T0 + 2000, "feature-laptop-a reached its budget of $4.00"]]);
    // Cleared: closed, and the totals no longer carry a budget.
    await operator.mutation(api.usage.setBudget, { orchestrationId: o, budgetMicros: null });
    expect(await budgetItems(viewer)).toEqual([]);
    expect(await viewer.query(api.usage.orchestrationTotals, { orchestrationId: o })).not.toHaveProperty("budgetMicros");

    // Every change is in the audit log, with who did it and the figures.
    const log = await t.run((ctx) => ctx.db.query("auditLog").collect());
    expect(log.filter((e) => e.verb === "orchestration.budget_changed").map((e) => [e.actorName, e.orchestrationId, e.kind, e.detail])).toEqual([
      [OPERATOR.name, o, "action", "feature-laptop-a: budget none → $3.00 (spent $0.00)"],
      [OPERATOR.name, o, "action", "feature-laptop-a: budget $3.00 → $10.00 (spent $6.00)"],
      [OPERATOR.name, o, "action", "feature-laptop-a: budget $10.00 → $4.00 (spent $6.00)"],
      [OPERATOR.name, o, "action", "feature-laptop-a: budget $4.00 → none (spent $6.00)"],
    ]);
  });

  test("a crossing is notified like every other item: one message of kind budget, closed when the budget is cleared", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const a = await laptop(t);
    const o = a.orchestrationId;
    const owner = await signedIn(t, OWNER);
    await owner.mutation(api.notify.updateSettings, { ntfy: { server: "https://ntfy.example.com/", topic: "tina-alerts" } });
    // Lets the coalesced evaluation run and takes the messages it would deliver.
    const delivered = async () => {
      vi.advanceTimersByTime(COALESCE_MS + 50);
      await t.finishInProgressScheduledFunctions();
      return await t.run(async (ctx) => {
        const out: { op: string; tag: string; kind?: string; title?: string }[] = [];
        for (const job of await ctx.db.system.query("_scheduled_functions").collect()) {
          if (job.name.includes("notifyNode") && job.state.kind === "pending") {
            out.push(...(job.args[0] as { messages: { op: string; tag: string; kind?: string; title?: string }[] }).messages);
            await ctx.scheduler.cancel(job._id);
          }
        }
        return out;
      });
    };
    await delivered();
    await owner.mutation(api.usage.setBudget, { orchestrationId: o, budgetMicros: 1_000_000 });
    expect(await delivered()).toEqual([]);
    await a.record("notify-0001", [row({ orchestrationId: o, costMicros: 1_500_000 })]);
    expect((await delivered()).map((m) => [m.op, m.tag, m.kind, m.title])).toEqual([["show", `budget:${o}`, "budget", "feature-laptop-a reached its budget of $1.00"]]);
    await owner.mutation(api.usage.setBudget, { orchestrationId: o, budgetMicros: null });
    expect((await delivered()).map((m) => [m.op, m.tag])).toEqual([["close", `budget:${o}`]]);
    // Settings saved before budgets existed (every kind then, none of them this one): notified too.
    await t.run(async (ctx) => {
      const settings = (await ctx.db.query("notifySettings").collect())[0];
      await ctx.db.patch("notifySettings", settings._id, { kinds: [...KINDS_OFFERED_BEFORE], kindsOffered: undefined });
    });
    await owner.mutation(api.usage.setBudget, { orchestrationId: o, budgetMicros: 1_000_000 });
    expect((await delivered()).map((m) => [m.op, m.tag])).toEqual([["show", `budget:${o}`]]);
  });

  test("a budget below the spend opens the item at once; a viewer may dismiss it for themselves", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const a = await laptop(t);
    const o = a.orchestrationId;
    await a.record("budget-0001", [row({ orchestrationId: o, costMicros: 12_340_000 })]);
    const operator = await signedIn(t, OPERATOR);
    const viewer = await signedIn(t, VIEWER);
    await operator.mutation(api.usage.setBudget, { orchestrationId: o, budgetMicros: 10_000_000 });
    const [item] = await budgetItems(viewer);
    expect(item).toMatchObject({ title: "feature-laptop-a reached its budget of $10.00", since: T0 });
    expect(item.detail).toMatch(/^\$12\.34 spent when it did/);
    // The same budget again changes nothing (no new since, no audit entry).
    await operator.mutation(api.usage.setBudget, { orchestrationId: o, budgetMicros: 10_000_000 });
    expect((await budgetItems(viewer))[0].since).toBe(T0);
    await viewer.mutation(api.needs.dismiss, { key: item.key, since: item.since });
    expect((await budgetItems(viewer))[0].dismissed).toBe(true);
    expect((await budgetItems(operator))[0].dismissed).toBe(false);
  });

  test("usage arriving writes nothing needsYou reads unless it crosses the budget: batches every 0.6 s re-run no open list", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const a = await laptop(t);
    const o = a.orchestrationId;
    const operator = await signedIn(t, OPERATOR);
    const viewer = await signedIn(t, VIEWER);
    await operator.mutation(api.usage.setBudget, { orchestrationId: o, budgetMicros: 3_000_000 });
    const spend = (batch: string) => a.record(batch, [row({ orchestrationId: o, costMicros: 1_000_000 })]);
    await spend("quiet-0001");
    const { read } = await tablesTouched(() => viewer.query(api.needs.needsYou, {}));
    // Every document of every table needsYou reads.
    const readDocs = () =>
      t.run(async (ctx) => {
        const out: Record<string, unknown[]> = {};
        for (const table of [...read].sort()) out[table] = await ctx.db.query(table as "nodes").collect();
        return out;
      });
    // The tables a batch wrote that needsYou reads.
    const batch = async (id: string) => {
      vi.advanceTimersByTime(600);
      const { written } = await tablesTouched(() => spend(id));
      return [...written].filter((table) => read.has(table));
    };

    // Below the budget ($2.00 of $3.00).
    let before = await readDocs();
    expect(await batch("quiet-0002")).toEqual([]);
    expect(await readDocs()).toEqual(before);
    // Reaching it ($3.00): the item opens.
    expect(await batch("quiet-0003")).not.toEqual([]);
    const [item] = await budgetItems(viewer);
    expect(item).toMatchObject({ since: T0 + 1200, title: "feature-laptop-a reached its budget of $3.00" });
    expect(item.detail).toMatch(/^\$3\.00 spent when it did/);
    // Past it: every batch leaves what needsYou reads as it was.
    before = await readDocs();
    for (let i = 4; i <= 8; i++) expect(await batch(`quiet-000${i}`)).toEqual([]);
    expect(await readDocs()).toEqual(before);
    expect(await budgetItems(viewer)).toEqual([item]);
    expect((await viewer.query(api.usage.orchestrationTotals, { orchestrationId: o }))!.costMicros).toBe(8_000_000);
  });

  test("the budget is checked and the refusal names the field; a viewer may not set one", async () => {
    const t = makeT();
    const a = await laptop(t);
    const operator = await signedIn(t, OPERATOR);
    for (const budgetMicros of [0, -1, 1.5, NaN, Infinity, 1e13]) {
      expect(await refusal(operator.mutation(api.usage.setBudget, { orchestrationId: a.orchestrationId, budgetMicros }))).toMatchObject({ code: "invalid_argument", field: "budgetMicros" });
    }
    const gone = await t.run(async (ctx) => {
      const id = await ctx.db.insert("orchestrations", { nodeId: a.nodeId, ...orchestration({ featureName: "gone" }), active: true, phasesCompleted: 0, updatedAt: T0 });
      await ctx.db.delete("orchestrations", id);
      return id;
    });
    expect(await refusal(operator.mutation(api.usage.setBudget, { orchestrationId: gone, budgetMicros: 1 }))).toMatchObject({ code: "not_found", field: "orchestrationId" });
    const viewer = await signedIn(t, VIEWER);
    expect(await refusal(viewer.mutation(api.usage.setBudget, { orchestrationId: a.orchestrationId, budgetMicros: 1 }))).toMatchObject({ code: "forbidden" });
    expect(await t.run((ctx) => ctx.db.query("usageTotals").collect())).toEqual([]);
  });
});
