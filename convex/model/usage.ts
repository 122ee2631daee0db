// Usage (issue 22): tokens and cost from Claude Code's transcripts, aggregated on the laptop and
// added here as deltas. Nothing raw arrives: per (laptop, orchestration, phase, agent, model, UTC
// hour) a count of assistant messages, tokens by kind, server-side web searches and, when the
// laptop knows the model's price, their cost in micro-USD (searches included). Each batch is
// applied once per laptop (`usageBatches`), and each delta is added to the bucket and to the rows
// the dashboard reads: the orchestration's totals (one row for a card), its breakdown by phase,
// agent, model and hour, and the laptop's day.
import { v, type Infer } from "convex/values";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { AGENT_RE, checkCount, checkNumber, checkPattern, checkPhase, checkString, checkTimestamp, IDEMPOTENCY_RE } from "./checks";
import { fail, invalid } from "./errors";
import { comparePhases } from "./orchestrations";
import { audit, type UserActor } from "./audit";
import { cleanText } from "./redact";

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

export const USAGE = {
  // Rows per batch: each touches at most 7 rows (bucket, totals, phase, agent, model, hour, day),
  // each read once by index and written once: <= 1,400 index ranges and reads, ~0.5 MiB.
  rows: 200,
  // A row's hour may be this far after the server's clock at most (a laptop's clock running
  // fast); anything later is a bug or a clock years off, and would count in "the last N days".
  futureMs: DAY_MS,
  agentName: 64,
  model: 128,
  // Token counts, messages, web searches and micro-USD per row.
  count: 1e12,
  // A stream's batch (`usage:<stream>:<seq>`, what the daemon sends) is applied only when its
  // number is above the last one applied: a replay is ignored however late it comes. Other batch
  // ids are kept 7 days; each call deletes up to `prune` expired ids of its laptop (it adds one),
  // so they never pile up, and a replay of such a batch applied longer ago is applied again.
  batchTtlMs: 7 * DAY_MS,
  prune: 16,
  // usage:pruneUsage (daily): buckets, which no page reads, are kept 90 days; a laptop's days (the
  // fleet's spend, which shows at most 31) 400 days. Each call deletes at most `sweep` rows of each
  // table and runs again at once while some are left.
  bucketTtlMs: 90 * DAY_MS,
  dayTtlMs: 400 * DAY_MS,
  sweep: 2_000,
  // orchestrationBreakdown: rows of each kind it returns at most (see `breakdown`).
  phases: 200,
  agents: 500,
  models: 50,
  hours: 31 * 24,
  // fleetSpend: days it covers at most, and (laptop, day) rows it returns at most: 100 laptops.
  days: 31,
  dayRows: 31 * 100,
  // usage:moveBudgetCrossings: usageTotals rows per call (each read with its orchestration).
  migrate: 200,
} as const;

/**
 * What every usage row sums, as queries return it. `webSearches`: server-side web searches
 * (`usage.server_tool_use.web_search_requests`), priced per search on top of tokens.
 * `unpricedTokens`: tokens of models without a known price (no cost).
 */
export const usageSums = {
  messages: v.number(),
  input: v.number(),
  output: v.number(),
  cacheWrite: v.number(),
  cacheRead: v.number(),
  webSearches: v.number(),
  costMicros: v.number(),
  unpricedTokens: v.number(),
};
export type UsageSums = { [K in keyof typeof usageSums]: number };
const SUM_KEYS = Object.keys(usageSums) as (keyof UsageSums)[];

/** The sums as stored: rows written before web searches were counted have none (read as 0). */
export const storedSums = { ...usageSums, webSearches: v.optional(v.number()) };
type StoredSums = Omit<UsageSums, "webSearches"> & { webSearches?: number };

/** One aggregated row as the daemon sends it (`usage:recordUsage`). */
export const usageRow = v.object({
  hour: v.number(),
  orchestrationId: v.optional(v.id("orchestrations")),
  phaseNumber: v.optional(v.string()),
  agentName: v.optional(v.string()),
  model: v.string(),
  messages: v.number(),
  input: v.number(),
  output: v.number(),
  cacheWrite: v.number(),
  cacheRead: v.number(),
  // Sent only when above 0 (daemons before it never send it).
  webSearches: v.optional(v.number()),
  costMicros: v.optional(v.number()),
  // A move, not new usage: these sums, sent before under this phase and agent (absent: not
  // known), belong to the row's phase and agent. The daemon learns it when a session that had no
  // team yet turns out to lead one (tina/usage/ledger.py); totals, days, models and hours stay.
  moveFrom: v.optional(v.object({ phaseNumber: v.optional(v.string()), agentName: v.optional(v.string()) })),
});
export type UsageRow = Infer<typeof usageRow>;

export const rollupKind = v.union(v.literal("phase"), v.literal("agent"), v.literal("model"), v.literal("hour"));
type RollupKind = Infer<typeof rollupKind>;

function zero(): UsageSums {
  return { messages: 0, input: 0, output: 0, cacheWrite: 0, cacheRead: 0, webSearches: 0, costMicros: 0, unpricedTokens: 0 };
}

function addInto(into: UsageSums, d: UsageSums): void {
  for (const k of SUM_KEYS) into[k] += d[k];
}

/** The sums of a stored row (its other fields left out), a sum it lacks as 0. */
export function sumsOf(row: StoredSums): UsageSums {
  const out = zero();
  for (const k of SUM_KEYS) out[k] = row[k] ?? 0;
  return out;
}

/** What a row adds: its cost when priced, else its tokens as unpriced. */
function deltaOf(r: UsageRow): UsageSums {
  const tokens = r.input + r.output + r.cacheWrite + r.cacheRead;
  return {
    messages: r.messages,
    input: r.input,
    output: r.output,
    cacheWrite: r.cacheWrite,
    cacheRead: r.cacheRead,
    webSearches: r.webSearches ?? 0,
    costMicros: r.costMicros ?? 0,
    unpricedTokens: r.costMicros === undefined ? tokens : 0,
  };
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function checkRow(r: UsageRow, i: number, now: number): void {
  const at = (f: string) => `rows.${i}.${f}`;
  checkTimestamp(at("hour"), r.hour);
  if (r.hour % HOUR_MS !== 0) invalid(at("hour"), "the start of a UTC hour (a multiple of 3,600,000 ms)", `${r.hour}`);
  if (r.hour > now + USAGE.futureMs) invalid(at("hour"), "not more than a day after the server's time", new Date(r.hour).toISOString());
  if (r.phaseNumber !== undefined) checkPhase(at("phaseNumber"), r.phaseNumber);
  if (r.agentName !== undefined) {
    checkString(at("agentName"), r.agentName, USAGE.agentName);
    checkPattern(at("agentName"), r.agentName, AGENT_RE, "an agent name (letters, digits, '.', '_', '@', '-')");
  }
  checkString(at("model"), r.model, USAGE.model);
  if (CONTROL.test(r.model)) invalid(at("model"), "a model name without control characters");
  for (const f of ["messages", "input", "output", "cacheWrite", "cacheRead"] as const) {
    checkNumber(at(f), r[f], { min: 0, max: USAGE.count, integer: true });
  }
  if (r.webSearches !== undefined) checkNumber(at("webSearches"), r.webSearches, { min: 0, max: USAGE.count, integer: true });
  if (r.costMicros !== undefined) checkNumber(at("costMicros"), r.costMicros, { min: 0, max: USAGE.count, integer: true });
  const from = r.moveFrom;
  if (from === undefined) return;
  if (r.orchestrationId === undefined) invalid(at("orchestrationId"), "an orchestration (a move is within one)");
  if (from.phaseNumber !== undefined) checkPhase(at("moveFrom.phaseNumber"), from.phaseNumber);
  if (from.agentName !== undefined) {
    checkString(at("moveFrom.agentName"), from.agentName, USAGE.agentName);
    checkPattern(at("moveFrom.agentName"), from.agentName, AGENT_RE, "an agent name (letters, digits, '.', '_', '@', '-')");
  }
  if (from.phaseNumber === r.phaseNumber && from.agentName === r.agentName) invalid(at("moveFrom"), "another phase or agent than the row's");
}

function negated(d: UsageSums): UsageSums {
  const out = zero();
  for (const k of SUM_KEYS) out[k] = -d[k];
  return out;
}

/**
 * A stored row's sums plus `d` (a new row's when `row` is null). A move takes from its source:
 * taking more than the row holds refuses the batch. `empty`: a move took all it held (delete it).
 */
function nextSums(row: StoredSums | null, d: UsageSums): { sums: UsageSums; empty: boolean } {
  const sums = row === null ? zero() : sumsOf(row);
  addInto(sums, d);
  if (SUM_KEYS.some((k) => sums[k] < 0)) fail("invalid_argument", "a move takes more usage than was recorded under its phase and agent", "rows");
  const moved = SUM_KEYS.some((k) => d[k] < 0);
  return { sums, empty: moved && SUM_KEYS.every((k) => sums[k] === 0) };
}

/** A map of deltas by key, each key's fields kept beside its sums. */
class Deltas<K> {
  private readonly rows = new Map<string, { key: K; sums: UsageSums }>();
  add(key: K, d: UsageSums): void {
    const id = JSON.stringify(key);
    let row = this.rows.get(id);
    if (row === undefined) {
      row = { key, sums: zero() };
      this.rows.set(id, row);
    }
    addInto(row.sums, d);
  }
  values() {
    return this.rows.values();
  }
}

type BucketKey = { orchestrationId?: Id<"orchestrations">; phaseNumber?: string; agentName?: string; model: string; hour: number };
type RollupKey = { orchestrationId: Id<"orchestrations">; kind: RollupKind; phaseNumber?: string; agentName?: string; model?: string; hour?: number };

function added(row: StoredSums, d: UsageSums): UsageSums {
  const out = sumsOf(row);
  addInto(out, d);
  return out;
}

// `usage:<stream>:<seq>`: the daemon's ledger (a random stream) numbers its batches 1, 2, 3…
// and sends them in that order, each until it is answered (tina/usage/ledger.py).
const STREAM_RE = /^usage:([0-9a-f]{32}):([1-9][0-9]{0,14})$/;

/** The stream and number of a stream batch id; null for any other id. */
export function streamOf(batch: string): { stream: string; seq: number } | null {
  const m = STREAM_RE.exec(batch);
  return m === null ? null : { stream: m[1], seq: Number(m[2]) };
}

/**
 * Applies a batch of deltas from `node`, once: a stream batch numbered at or below its stream's
 * last applied one, or another batch id this laptop sent in the last 7 days, changes nothing
 * (`applied: false`). Every field is checked before anything is read; a row of an
 * orchestration that is not this laptop's refuses the whole batch (`not_found`, naming the row).
 * `budgetCrossed`: an orchestration's spend reached its budget in this batch (notify).
 */
export async function recordUsage(ctx: MutationCtx, node: Doc<"nodes">, batch: string, rows: UsageRow[]): Promise<{ applied: boolean; budgetCrossed: boolean }> {
  checkPattern("batch", batch, IDEMPOTENCY_RE, "8-128 characters of [A-Za-z0-9._:-]");
  if (rows.length === 0) invalid("rows", "at least one row", "0");
  checkCount("rows", rows, USAGE.rows);
  const now = Date.now();
  rows.forEach((r, i) => checkRow(r, i, now));

  const numbered = streamOf(batch);
  const stream =
    numbered === null
      ? null
      : await ctx.db
          .query("usageStreams")
          .withIndex("by_node_stream", (q) => q.eq("nodeId", node._id).eq("stream", numbered.stream))
          .unique();
  if (numbered !== null) {
    if (stream !== null && numbered.seq <= stream.seq) return { applied: false, budgetCrossed: false };
  } else {
    const seen = await ctx.db
      .query("usageBatches")
      .withIndex("by_node_batch", (q) => q.eq("nodeId", node._id).eq("batch", batch))
      .first();
    if (seen !== null) return { applied: false, budgetCrossed: false };
  }

  const owned = new Map<Id<"orchestrations">, Doc<"orchestrations">>();
  for (const [i, r] of rows.entries()) {
    if (r.orchestrationId === undefined || owned.has(r.orchestrationId)) continue;
    const o = await ctx.db.get("orchestrations", r.orchestrationId);
    if (o === null || o.nodeId !== node._id) fail("not_found", "no such orchestration on this laptop", `rows.${i}.orchestrationId`);
    owned.set(r.orchestrationId, o);
  }

  const buckets = new Deltas<BucketKey>();
  const totals = new Deltas<Id<"orchestrations">>();
  const rollups = new Deltas<RollupKey>();
  const days = new Deltas<number>();
  for (const r of rows) {
    const d = deltaOf(r);
    const { orchestrationId, phaseNumber, agentName, model, hour } = r;
    if (r.moveFrom !== undefined && orchestrationId !== undefined) {
      // From the source to the row's phase and agent: only what is keyed by phase or agent moves.
      const from = r.moveFrom;
      const out = negated(d);
      buckets.add({ orchestrationId, phaseNumber: from.phaseNumber, agentName: from.agentName, model, hour }, out);
      buckets.add({ orchestrationId, phaseNumber, agentName, model, hour }, d);
      rollups.add({ orchestrationId, kind: "phase", phaseNumber: from.phaseNumber }, out);
      rollups.add({ orchestrationId, kind: "phase", phaseNumber }, d);
      rollups.add({ orchestrationId, kind: "agent", phaseNumber: from.phaseNumber, agentName: from.agentName }, out);
      rollups.add({ orchestrationId, kind: "agent", phaseNumber, agentName }, d);
      continue;
    }
    buckets.add({ orchestrationId, phaseNumber, agentName, model, hour }, d);
    days.add(hour - (hour % DAY_MS), d);
    if (orchestrationId === undefined) continue;
    totals.add(orchestrationId, d);
    rollups.add({ orchestrationId, kind: "phase", phaseNumber }, d);
    rollups.add({ orchestrationId, kind: "agent", phaseNumber, agentName }, d);
    rollups.add({ orchestrationId, kind: "model", model }, d);
    rollups.add({ orchestrationId, kind: "hour", hour }, d);
  }

  for (const { key, sums } of buckets.values()) {
    const row = await ctx.db
      .query("usageBuckets")
      .withIndex("by_node_key", (q) =>
        q
          .eq("nodeId", node._id)
          .eq("orchestrationId", key.orchestrationId)
          .eq("phaseNumber", key.phaseNumber)
          .eq("agentName", key.agentName)
          .eq("model", key.model)
          .eq("hour", key.hour),
      )
      .unique();
    const next = nextSums(row, sums);
    if (row === null) await ctx.db.insert("usageBuckets", { nodeId: node._id, ...definedKey(key), ...next.sums });
    else if (next.empty) await ctx.db.delete("usageBuckets", row._id);
    else await ctx.db.patch("usageBuckets", row._id, next.sums);
  }
  let budgetCrossed = false;
  for (const { key: orchestrationId, sums } of totals.values()) {
    const row = await ctx.db
      .query("usageTotals")
      .withIndex("by_orchestration", (q) => q.eq("orchestrationId", orchestrationId))
      .unique();
    if (row === null) {
      await ctx.db.insert("usageTotals", { orchestrationId, nodeId: node._id, ...sums, updatedAt: now });
      continue;
    }
    const next = added(row, sums);
    // Its spend reaches its budget: the "needs you" item (model/needs.ts) opens now. Only then is
    // `usageBudgetCrossings` written: needs:needsYou, which reads it, re-runs once.
    const budget = row.budgetMicros;
    const crossing = budget !== undefined && row.budgetCrossedAt === undefined && next.costMicros >= budget;
    await ctx.db.patch("usageTotals", row._id, { ...next, updatedAt: now, ...(crossing ? { budgetCrossedAt: now } : {}) });
    if (crossing) {
      budgetCrossed = true;
      await writeCrossing(ctx, owned.get(orchestrationId)!, { budgetMicros: budget, crossedAt: now, costMicros: next.costMicros });
    }
  }
  for (const { key, sums } of rollups.values()) {
    const row = await ctx.db
      .query("usageRollups")
      .withIndex("by_orchestration_kind_key", (q) =>
        q
          .eq("orchestrationId", key.orchestrationId)
          .eq("kind", key.kind)
          .eq("phaseNumber", key.phaseNumber)
          .eq("agentName", key.agentName)
          .eq("model", key.model)
          .eq("hour", key.hour),
      )
      .unique();
    const next = nextSums(row, sums);
    if (row === null) await ctx.db.insert("usageRollups", { ...definedKey(key), ...next.sums });
    else if (next.empty) await ctx.db.delete("usageRollups", row._id);
    else await ctx.db.patch("usageRollups", row._id, next.sums);
  }
  for (const { key: day, sums } of days.values()) {
    const row = await ctx.db
      .query("usageDaily")
      .withIndex("by_day_node", (q) => q.eq("day", day).eq("nodeId", node._id))
      .unique();
    if (row === null) await ctx.db.insert("usageDaily", { day, nodeId: node._id, ...sums });
    else await ctx.db.patch("usageDaily", row._id, added(row, sums));
  }

  if (numbered !== null) {
    if (stream === null) await ctx.db.insert("usageStreams", { nodeId: node._id, stream: numbered.stream, seq: numbered.seq, updatedAt: now });
    else await ctx.db.patch("usageStreams", stream._id, { seq: numbered.seq, updatedAt: now });
    return { applied: true, budgetCrossed };
  }
  await ctx.db.insert("usageBatches", { nodeId: node._id, batch, rows: rows.length, appliedAt: now });
  const expired = await ctx.db
    .query("usageBatches")
    .withIndex("by_node_applied", (q) => q.eq("nodeId", node._id).lt("appliedAt", now - USAGE.batchTtlMs))
    .take(USAGE.prune);
  for (const old of expired) await ctx.db.delete("usageBatches", old._id);
  return { applied: true, budgetCrossed };
}

/**
 * Retention (daily, usage:pruneUsage): buckets past `USAGE.bucketTtlMs`, laptops' days past
 * `USAGE.dayTtlMs` and batch ids past `USAGE.batchTtlMs` (those of laptops that stopped
 * sending, which their own calls no longer prune), oldest first, at most `USAGE.sweep` of each.
 * `more`: some table had more to delete (run again).
 */
export async function pruneUsage(ctx: MutationCtx, now: number): Promise<{ buckets: number; days: number; batches: number; more: boolean }> {
  const buckets = await ctx.db
    .query("usageBuckets")
    .withIndex("by_hour", (q) => q.lt("hour", now - USAGE.bucketTtlMs))
    .take(USAGE.sweep);
  for (const r of buckets) await ctx.db.delete("usageBuckets", r._id);
  const days = await ctx.db
    .query("usageDaily")
    .withIndex("by_day_node", (q) => q.lt("day", now - USAGE.dayTtlMs))
    .take(USAGE.sweep);
  for (const r of days) await ctx.db.delete("usageDaily", r._id);
  const batches = await ctx.db
    .query("usageBatches")
    .withIndex("by_applied", (q) => q.lt("appliedAt", now - USAGE.batchTtlMs))
    .take(USAGE.sweep);
  for (const r of batches) await ctx.db.delete("usageBatches", r._id);
  const more = [buckets, days, batches].some((rows) => rows.length === USAGE.sweep);
  return { buckets: buckets.length, days: days.length, batches: batches.length, more };
}

/** `key` without its undefined fields (Convex stores no `undefined`). */
function definedKey<K extends object>(key: K): K {
  return Object.fromEntries(Object.entries(key).filter(([, value]) => value !== undefined)) as K;
}

// ---------------------------------------------------------------------------------------
// What the dashboard reads.

// `budgetMicros`: its budget, when one is set; `budgetCrossedAt`: when its spend reached it.
export const orchestrationTotals = v.object({ ...usageSums, updatedAt: v.number(), budgetMicros: v.optional(v.number()), budgetCrossedAt: v.optional(v.number()) });

export async function totalsOf(ctx: QueryCtx, orchestrationId: Id<"orchestrations">): Promise<Infer<typeof orchestrationTotals> | null> {
  const row = await ctx.db
    .query("usageTotals")
    .withIndex("by_orchestration", (q) => q.eq("orchestrationId", orchestrationId))
    .unique();
  return row === null ? null : { ...sumsOf(row), updatedAt: row.updatedAt, ...definedKey({ budgetMicros: row.budgetMicros, budgetCrossedAt: row.budgetCrossedAt }) };
}

export const breakdown = v.object({
  byPhase: v.array(v.object({ phaseNumber: v.optional(v.string()), ...usageSums })),
  byAgent: v.array(v.object({ phaseNumber: v.optional(v.string()), agentName: v.optional(v.string()), ...usageSums })),
  byModel: v.array(v.object({ model: v.string(), ...usageSums })),
  byHour: v.array(v.object({ hour: v.number(), ...usageSums })),
  // A kind with more rows than its bound: phases, agents and models are cut after the first in
  // the index's order (phase, agent, model as strings), hours keep the newest 744 (31 days).
  truncated: v.object({ phases: v.boolean(), agents: v.boolean(), models: v.boolean(), hours: v.boolean() }),
});

/** Phases in plan order, "not known" (no phase) last. */
function byPhaseOrder(a: string | undefined, b: string | undefined): number {
  if (a === undefined || b === undefined) return (a === undefined ? 1 : 0) - (b === undefined ? 1 : 0);
  return comparePhases(a, b);
}

/** Agents by name, "not known" (no name) last. */
function byName(a: string | undefined, b: string | undefined): number {
  if (a === undefined || b === undefined) return (a === undefined ? 1 : 0) - (b === undefined ? 1 : 0);
  return a < b ? -1 : a > b ? 1 : 0;
}

async function rollupsOf(ctx: QueryCtx, orchestrationId: Id<"orchestrations">, kind: RollupKind, max: number, order: "asc" | "desc" = "asc") {
  const rows = await ctx.db
    .query("usageRollups")
    .withIndex("by_orchestration_kind_key", (q) => q.eq("orchestrationId", orchestrationId).eq("kind", kind))
    .order(order)
    .take(max + 1);
  return { rows: rows.slice(0, max), truncated: rows.length > max };
}

/** An orchestration's usage by phase, by (phase, agent), by model and by hour: at most ~1,500 rows read. */
export async function breakdownOf(ctx: QueryCtx, orchestrationId: Id<"orchestrations">): Promise<Infer<typeof breakdown>> {
  const phases = await rollupsOf(ctx, orchestrationId, "phase", USAGE.phases);
  const agents = await rollupsOf(ctx, orchestrationId, "agent", USAGE.agents);
  const models = await rollupsOf(ctx, orchestrationId, "model", USAGE.models);
  const hours = await rollupsOf(ctx, orchestrationId, "hour", USAGE.hours, "desc");
  return {
    byPhase: phases.rows
      .map((r) => ({ ...definedKey({ phaseNumber: r.phaseNumber }), ...sumsOf(r) }))
      .sort((a, b) => byPhaseOrder(a.phaseNumber, b.phaseNumber)),
    byAgent: agents.rows
      .map((r) => ({ ...definedKey({ phaseNumber: r.phaseNumber, agentName: r.agentName }), ...sumsOf(r) }))
      .sort((a, b) => byPhaseOrder(a.phaseNumber, b.phaseNumber) || byName(a.agentName, b.agentName)),
    byModel: models.rows.map((r) => ({ model: r.model ?? "unknown", ...sumsOf(r) })),
    byHour: hours.rows.map((r) => ({ hour: r.hour ?? 0, ...sumsOf(r) })).reverse(),
    truncated: { phases: phases.truncated, agents: agents.truncated, models: models.truncated, hours: hours.truncated },
  };
}

export const fleetSpend = v.object({
  // The first day covered (00:00 UTC), `days - 1` days before the last.
  from: v.number(),
  rows: v.array(v.object({ day: v.number(), nodeId: v.id("nodes"), ...usageSums })),
  // More than 3,100 (laptop, day) rows: the newest are returned, the oldest days are incomplete.
  truncated: v.boolean(),
});

/**
 * Each laptop's usage per UTC day over `days` days up to `until` (a day's 00:00 UTC; today by the
 * server's clock when absent), oldest day first. A dashboard asks for today and for the days
 * before it apart: every batch rewrites today's rows, and only the query whose range holds them
 * runs again. A day after today (a laptop's clock running fast, or a row stored before hours were
 * bounded) shows once its day has come.
 */
export async function fleetSpendOf(ctx: QueryCtx, days: number, now: number, until?: number): Promise<Infer<typeof fleetSpend>> {
  checkNumber("days", days, { min: 1, max: USAGE.days, integer: true });
  const today = now - (now % DAY_MS);
  if (until !== undefined) {
    checkTimestamp("until", until);
    if (until % DAY_MS !== 0) invalid("until", "the start of a UTC day (a multiple of 86,400,000 ms)", `${until}`);
    // A viewer's clock may be ahead of the server's; not by more than a day.
    if (until > today + DAY_MS) invalid("until", "not after tomorrow by the server's clock", new Date(until).toISOString());
  }
  const last = until ?? today;
  const from = last - (days - 1) * DAY_MS;
  const rows = await ctx.db
    .query("usageDaily")
    .withIndex("by_day_node", (q) => q.gte("day", from).lte("day", last))
    .order("desc")
    .take(USAGE.dayRows + 1);
  const kept = rows.slice(0, USAGE.dayRows).reverse();
  return { from, rows: kept.map((r) => ({ day: r.day, nodeId: r.nodeId, ...sumsOf(r) })), truncated: rows.length > USAGE.dayRows };
}

// ---------------------------------------------------------------------------------------
// Quota (issue 22): each Claude account's 5-hour and 7-day windows, as Claude Code's status line
// reports them, and the last rate-limit stop its hooks saw. One row per laptop and account: the
// account is the Claude Code config dir its sessions ran with (`~/.claude`, `~/.claude-work`), as
// each one keeps its own login; none when the laptop could not tell.

export const QUOTA = {
  // used_percentage: Claude Code reports 0..100, more when over; anything past 1000 is a bug.
  usedPct: 1000,
  // A laptop's clock may run ahead of Convex's by this much at most.
  futureMs: 5 * 60_000,
  limitedText: 300,
  // An account's name: its config dir as the laptop shows it.
  account: 200,
  // Accounts a laptop keeps rows for: a new one past this replaces the least recently updated.
  accounts: 8,
  // fleetQuota: rows it returns at most (200 laptops with two accounts each).
  rows: 400,
  // usage:forgetRevokedQuota: revoked laptops per call (each with at most `accounts` rows).
  revokedNodes: 50,
} as const;

// eslint-disable-next-line no-control-regex
const ACCOUNT_RE = /^[^\u0000-\u001f\u007f]+$/;
// The key of the Claude account a config dir is logged in to: a salted hash of its id, made on
// the laptop (tina/usage/account.py), so that config dirs and laptops of one account show as one.
const ACCOUNT_KEY_RE = /^[0-9a-f]{32}$/;

export const quotaWindow = v.object({ usedPct: v.number(), resetsAt: v.number() });
export type QuotaWindow = Infer<typeof quotaWindow>;

export const quotaArgs = {
  account: v.optional(v.string()),
  accountKey: v.optional(v.string()),
  observedAt: v.number(),
  fiveHour: v.optional(quotaWindow),
  sevenDay: v.optional(quotaWindow),
  limitedAt: v.optional(v.number()),
  limitedText: v.optional(v.string()),
};
export type QuotaArgs = { account?: string; accountKey?: string; observedAt: number; fiveHour?: QuotaWindow; sevenDay?: QuotaWindow; limitedAt?: number; limitedText?: string };

function checkWindow(field: string, w: QuotaWindow | undefined): void {
  if (w === undefined) return;
  checkNumber(`${field}.usedPct`, w.usedPct, { min: 0, max: QUOTA.usedPct });
  checkTimestamp(`${field}.resetsAt`, w.resetsAt);
}

/** A window that has reset by `now` says nothing any more. */
function current(w: QuotaWindow | undefined, now: number): QuotaWindow | undefined {
  return w === undefined || w.resetsAt <= now ? undefined : w;
}

/**
 * Stores what `node`'s laptop saw of one Claude account's quota (`account`; none: the laptop
 * could not tell which). Field by field: a window sent replaces the stored one, a window not
 * sent keeps the stored one until it resets; a rate-limit stop newer than the stored one
 * replaces it (with its text, cleaned). An observation older than the stored one changes
 * nothing; the same call twice writes nothing the second time. A laptop keeps at most
 * `QUOTA.accounts` rows: a new account past them replaces the least recently updated.
 */
export async function recordQuota(ctx: MutationCtx, node: Doc<"nodes">, args: QuotaArgs, now: number): Promise<null> {
  if (args.account !== undefined) {
    checkString("account", args.account, QUOTA.account);
    if (!ACCOUNT_RE.test(args.account)) invalid("account", "a config directory's name, without control characters", JSON.stringify(args.account.slice(0, 40)));
  }
  if (args.accountKey !== undefined && !ACCOUNT_KEY_RE.test(args.accountKey)) {
    invalid("accountKey", "32 lowercase hex digits", JSON.stringify(args.accountKey.slice(0, 40)));
  }
  checkTimestamp("observedAt", args.observedAt);
  if (args.observedAt > now + QUOTA.futureMs) invalid("observedAt", "not more than 5 minutes in the future", new Date(args.observedAt).toISOString());
  checkWindow("fiveHour", args.fiveHour);
  checkWindow("sevenDay", args.sevenDay);
  if (args.limitedAt !== undefined) checkTimestamp("limitedAt", args.limitedAt);
  if (args.limitedText !== undefined) {
    checkString("limitedText", args.limitedText, QUOTA.limitedText, { allowEmpty: true });
    if (args.limitedAt === undefined) invalid("limitedText", "sent only with limitedAt");
  }

  const rows = await ctx.db
    .query("usageQuota")
    .withIndex("by_node", (q) => q.eq("nodeId", node._id))
    .take(QUOTA.accounts + 1);
  const row = rows.find((r) => r.account === args.account) ?? null;
  if (row !== null && args.observedAt < row.observedAt) return null;

  const newerLimit = args.limitedAt !== undefined && (row?.limitedAt === undefined || args.limitedAt > row.limitedAt);
  const limitedText = args.limitedText === undefined ? undefined : cleanText(args.limitedText, QUOTA.limitedText).replace(/\s+/g, " ").trim();
  const next = {
    accountKey: args.accountKey,
    observedAt: args.observedAt,
    fiveHour: args.fiveHour ?? current(row?.fiveHour, now),
    sevenDay: args.sevenDay ?? current(row?.sevenDay, now),
    limitedAt: newerLimit ? args.limitedAt : row?.limitedAt,
    limitedText: newerLimit ? limitedText || undefined : row?.limitedText,
  };
  if (row === null) {
    // The least recently updated make room (more than one only if the limit was lowered).
    const stale = [...rows].sort((a, b) => a.updatedAt - b.updatedAt).slice(0, Math.max(0, rows.length - QUOTA.accounts + 1));
    for (const r of stale) await ctx.db.delete("usageQuota", r._id);
    await ctx.db.insert("usageQuota", { nodeId: node._id, ...definedKey({ account: args.account, ...next }), updatedAt: now });
  } else if (!sameQuota(next, quotaOf(row))) {
    await ctx.db.patch("usageQuota", row._id, { ...next, updatedAt: now });
  }
  return null;
}

function sameWindow(a: QuotaWindow | undefined, b: QuotaWindow | undefined): boolean {
  return a === undefined || b === undefined ? a === b : a.usedPct === b.usedPct && a.resetsAt === b.resetsAt;
}

function sameQuota(a: QuotaArgs, b: QuotaArgs): boolean {
  return (
    a.accountKey === b.accountKey &&
    a.observedAt === b.observedAt &&
    sameWindow(a.fiveHour, b.fiveHour) &&
    sameWindow(a.sevenDay, b.sevenDay) &&
    a.limitedAt === b.limitedAt &&
    a.limitedText === b.limitedText
  );
}

function quotaOf(row: Doc<"usageQuota">): QuotaArgs {
  return { accountKey: row.accountKey, observedAt: row.observedAt, fiveHour: row.fiveHour, sevenDay: row.sevenDay, limitedAt: row.limitedAt, limitedText: row.limitedText };
}

export const fleetQuota = v.array(
  v.object({
    nodeId: v.id("nodes"),
    nodeName: v.string(),
    account: v.optional(v.string()),
    accountKey: v.optional(v.string()),
    observedAt: v.number(),
    fiveHour: v.optional(quotaWindow),
    sevenDay: v.optional(quotaWindow),
    limitedAt: v.optional(v.number()),
    limitedText: v.optional(v.string()),
  }),
);

export const fleetQuotaRows = v.object({
  rows: fleetQuota,
  // More than `QUOTA.rows` rows: those of the laptops last in id order (not name) are left out.
  truncated: v.boolean(),
});

/**
 * Each laptop's accounts' quota as last seen (revoked laptops left out), by laptop name, then
 * account (the one not known last); at most `QUOTA.rows` rows, each laptop read once.
 */
export async function fleetQuotaOf(ctx: QueryCtx): Promise<Infer<typeof fleetQuotaRows>> {
  const rows = await ctx.db.query("usageQuota").withIndex("by_node").take(QUOTA.rows + 1);
  const nodes = new Map<Id<"nodes">, Doc<"nodes"> | null>();
  const out: Infer<typeof fleetQuota> = [];
  for (const r of rows.slice(0, QUOTA.rows)) {
    if (!nodes.has(r.nodeId)) nodes.set(r.nodeId, await ctx.db.get("nodes", r.nodeId));
    const n = nodes.get(r.nodeId);
    // Revoking deletes a laptop's rows (forgetQuota); these are from before it did.
    if (n == null || n.revokedAt !== undefined) continue;
    out.push({ nodeId: r.nodeId, nodeName: n.name, ...definedKey({ account: r.account, ...quotaOf(r) }) } as Infer<typeof fleetQuota>[number]);
  }
  return { rows: out.sort((a, b) => byName(a.nodeName, b.nodeName) || byName(a.account, b.account)), truncated: rows.length > QUOTA.rows };
}

/** Deletes a laptop's quota rows (nodes:revokeNode): at most `QUOTA.accounts`, all it keeps. */
export async function forgetQuota(ctx: MutationCtx, nodeId: Id<"nodes">): Promise<number> {
  const rows = await ctx.db
    .query("usageQuota")
    .withIndex("by_node", (q) => q.eq("nodeId", nodeId))
    .take(QUOTA.accounts);
  for (const r of rows) await ctx.db.delete("usageQuota", r._id);
  return rows.length;
}

/**
 * Migration (usage:forgetRevokedQuota): deletes the quota rows of laptops revoked before revoking
 * deleted them, `QUOTA.revokedNodes` laptops per call. `cursor`: where the last call stopped.
 */
export async function forgetRevokedQuota(ctx: MutationCtx, cursor: string | null): Promise<{ deleted: number; continueCursor: string; isDone: boolean }> {
  const page = await ctx.db
    .query("nodes")
    .withIndex("by_status_revoked_heartbeat", (q) => q.eq("status", "offline").gt("revokedAt", 0))
    .paginate({ numItems: QUOTA.revokedNodes, cursor });
  let deleted = 0;
  for (const n of page.page) deleted += await forgetQuota(ctx, n._id);
  return { deleted, continueCursor: page.continueCursor, isDone: page.isDone };
}

// ---------------------------------------------------------------------------------------
// Budgets (issue 22): an optional spend limit per orchestration. When its spend reaches it, a
// "needs you" item (kind `budget`, model/needs.ts) opens; it goes away when the budget is raised
// above the spend or cleared, and each person may dismiss it.

/** Micro-USD as dollars and cents, for titles and the audit log ("$12.34"). */
export function usd(micros: number): string {
  return micros > 0 && micros < 10_000 ? "<$0.01" : `$${(micros / 1e6).toFixed(2)}`;
}

type Crossing = { budgetMicros: number; crossedAt: number; costMicros: number };

async function crossingOf(ctx: QueryCtx, orchestrationId: Id<"orchestrations">): Promise<Doc<"usageBudgetCrossings"> | null> {
  return await ctx.db
    .query("usageBudgetCrossings")
    .withIndex("by_orchestration", (q) => q.eq("orchestrationId", orchestrationId))
    .unique();
}

/** Opens (or moves) the orchestration's budget item: its one row of `usageBudgetCrossings`. */
async function writeCrossing(ctx: MutationCtx, o: Doc<"orchestrations">, crossing: Crossing, row?: Doc<"usageBudgetCrossings"> | null): Promise<void> {
  const existing = row === undefined ? await crossingOf(ctx, o._id) : row;
  if (existing === null) await ctx.db.insert("usageBudgetCrossings", { orchestrationId: o._id, nodeId: o.nodeId, featureName: o.featureName, ...crossing });
  else await ctx.db.patch("usageBudgetCrossings", existing._id, crossing);
}

/**
 * Sets (`budgetMicros`, whole micro-USD, 1..10^12) or clears (null) an orchestration's budget.
 * A budget at or below its spend so far opens the item at once (a new one: it shows again to
 * those who dismissed the last); one above it, or none, closes it. Audited; the same budget
 * again changes nothing. Returns whether the item opened or closed (notify).
 */
export async function setBudget(
  ctx: MutationCtx,
  actor: UserActor,
  orchestrationId: Id<"orchestrations">,
  budgetMicros: number | null,
): Promise<{ changed: boolean }> {
  if (budgetMicros !== null) checkNumber("budgetMicros", budgetMicros, { min: 1, max: USAGE.count, integer: true });
  const o = await ctx.db.get("orchestrations", orchestrationId);
  if (o === null) fail("not_found", "no such orchestration", "orchestrationId");
  const row = await ctx.db
    .query("usageTotals")
    .withIndex("by_orchestration", (q) => q.eq("orchestrationId", orchestrationId))
    .unique();
  const before = row?.budgetMicros;
  if ((before ?? null) === budgetMicros) return { changed: false };
  const now = Date.now();
  const cost = row?.costMicros ?? 0;
  const crossed = budgetMicros !== null && cost >= budgetMicros;
  const budget = {
    budgetMicros: budgetMicros ?? undefined,
    budgetSetAt: budgetMicros === null ? undefined : now,
    budgetCrossedAt: crossed ? now : undefined,
    budgetCrossedCostMicros: undefined,
  };
  if (row === null) await ctx.db.insert("usageTotals", { orchestrationId, nodeId: o.nodeId, ...zero(), updatedAt: now, ...definedKey(budget) });
  else await ctx.db.patch("usageTotals", row._id, budget);
  const crossing = await crossingOf(ctx, orchestrationId);
  if (budgetMicros !== null && crossed) await writeCrossing(ctx, o, { budgetMicros, crossedAt: now, costMicros: cost }, crossing);
  else if (crossing !== null) await ctx.db.delete("usageBudgetCrossings", crossing._id);
  await audit(ctx, actor, {
    verb: "orchestration.budget_changed",
    nodeId: o.nodeId,
    orchestrationId,
    detail: `${o.featureName}: budget ${before === undefined ? "none" : usd(before)} → ${budgetMicros === null ? "none" : usd(budgetMicros)} (spent ${usd(cost)})`,
  });
  return { changed: crossed || crossing !== null || row?.budgetCrossedAt !== undefined };
}

/**
 * Migration (usage:moveBudgetCrossings): older versions kept a crossing on the orchestration's
 * `usageTotals` row (`budgetCrossedAt`, `budgetCrossedCostMicros`), which needs:needsYou read and
 * every batch rewrote. Copies each into `usageBudgetCrossings` unless it is there already, a page
 * per call (`cursor`: where the last call stopped); running it again adds nothing.
 */
export async function moveBudgetCrossings(ctx: MutationCtx, cursor: string | null): Promise<{ moved: number; continueCursor: string; isDone: boolean }> {
  const page = await ctx.db
    .query("usageTotals")
    .withIndex("by_budget_crossed", (q) => q.gt("budgetCrossedAt", 0))
    .paginate({ numItems: USAGE.migrate, cursor });
  let moved = 0;
  for (const row of page.page) {
    if (row.budgetMicros === undefined || row.budgetCrossedAt === undefined || (await crossingOf(ctx, row.orchestrationId)) !== null) continue;
    const o = await ctx.db.get("orchestrations", row.orchestrationId);
    if (o === null) continue;
    await writeCrossing(ctx, o, { budgetMicros: row.budgetMicros, crossedAt: row.budgetCrossedAt, costMicros: row.budgetCrossedCostMicros ?? row.costMicros }, null);
    moved++;
  }
  return { moved, continueCursor: page.continueCursor, isDone: page.isDone };
}
