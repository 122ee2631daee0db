// Usage (issue 22): the daemon adds aggregated token counts and cost; the dashboard reads an
// orchestration's totals and breakdown and the fleet's spend per day (model/usage.ts).
import { v } from "convex/values";
import { internal } from "./_generated/api";
import { internalMutation } from "./_generated/server";
import { nodeMutation, operatorMutation, viewerQuery } from "./functions";
import { requestNotify } from "./model/notify";
import {
  breakdown,
  breakdownOf,
  fleetQuota as fleetQuotaResult,
  fleetQuotaOf,
  fleetQuotaRows as fleetQuotaRowsResult,
  fleetSpend as fleetSpendResult,
  fleetSpendOf,
  forgetRevokedQuota as forgetRevoked,
  moveBudgetCrossings as moveCrossings,
  orchestrationTotals as totals,
  pruneUsage as prune,
  quotaArgs,
  recordQuota as recordQuotaOf,
  recordUsage as record,
  setBudget as setBudgetOf,
  totalsOf,
  usageRow,
} from "./model/usage";

/**
 * A batch of usage deltas (1..200 rows), applied once per laptop: a stream's batches
 * (`usage:<stream>:<seq>`) in their order, any other id once in 7 days.
 */
export const recordUsage = nodeMutation({
  args: { batch: v.string(), rows: v.array(usageRow) },
  returns: v.object({ applied: v.boolean() }),
  handler: async (ctx, { batch, rows }) => {
    const { applied, budgetCrossed } = await record(ctx, ctx.node, batch, rows);
    if (budgetCrossed) await requestNotify(ctx);
    return { applied };
  },
});

/** One orchestration's usage so far (one document read); null before any usage arrived. */
export const orchestrationTotals = viewerQuery({
  args: { orchestrationId: v.id("orchestrations") },
  returns: v.union(v.null(), totals),
  handler: (ctx, { orchestrationId }) => totalsOf(ctx, orchestrationId),
});

/** One orchestration's usage by phase, agent, model and hour, each kind bounded (`truncated`). */
export const orchestrationBreakdown = viewerQuery({
  args: { orchestrationId: v.id("orchestrations") },
  returns: breakdown,
  handler: (ctx, { orchestrationId }) => breakdownOf(ctx, orchestrationId),
});

/**
 * Each laptop's usage per UTC day over `days` days (1..31) up to `until` (a UTC day's start;
 * today when absent). The dashboard asks for today and for the days before it in two queries, so
 * that a batch, which rewrites today's rows, re-runs only the small one.
 */
export const fleetSpend = viewerQuery({
  args: { days: v.number(), until: v.optional(v.number()) },
  returns: fleetSpendResult,
  handler: (ctx, { days, until }) => fleetSpendOf(ctx, days, Date.now(), until),
});

/**
 * One of this laptop's Claude accounts' quota (`account`: its config dir, when known;
 * `accountKey`: the account it is logged in to, as a key) as its status line and hooks saw it at
 * `observedAt`: the windows sent replace the stored ones, an older observation is ignored
 * (model/usage.ts).
 */
export const recordQuota = nodeMutation({
  args: quotaArgs,
  returns: v.null(),
  handler: (ctx, args) => recordQuotaOf(ctx, ctx.node, args, Date.now()),
});

/**
 * Each laptop's accounts' quota windows and last rate-limit stop, by laptop name and account, at
 * most 400 rows; `truncated`: some were left out.
 */
export const fleetQuotaRows = viewerQuery({
  args: {},
  returns: fleetQuotaRowsResult,
  handler: (ctx) => fleetQuotaOf(ctx),
});

/** fleetQuotaRows' rows alone, for dashboards built before it: remove once none calls it. */
export const fleetQuota = viewerQuery({
  args: {},
  returns: fleetQuotaResult,
  handler: async (ctx) => (await fleetQuotaOf(ctx)).rows,
});

/**
 * Sets (`budgetMicros`, micro-USD) or clears (null) an orchestration's budget. Its spend reaching
 * it opens a "needs you" item, which closes when the budget is raised above the spend or cleared.
 */
export const setBudget = operatorMutation({
  args: { orchestrationId: v.id("orchestrations"), budgetMicros: v.union(v.number(), v.null()) },
  returns: v.null(),
  handler: async (ctx, { orchestrationId, budgetMicros }) => {
    const { changed } = await setBudgetOf(ctx, ctx.actor, orchestrationId, budgetMicros);
    if (changed) await requestNotify(ctx);
    return null;
  },
});

// Migrations, each run once after deploying the version that needs it (`npx convex run
// usage:<name>`); each goes on by itself, a page per call, and running it again changes nothing.

/** Copies budget crossings kept on `usageTotals` by older versions to `usageBudgetCrossings`. */
export const moveBudgetCrossings = internalMutation({
  args: { cursor: v.optional(v.union(v.string(), v.null())) },
  returns: v.object({ moved: v.number(), continueCursor: v.string(), isDone: v.boolean() }),
  handler: async (ctx, { cursor }) => {
    const result = await moveCrossings(ctx, cursor ?? null);
    if (!result.isDone) await ctx.scheduler.runAfter(0, internal.usage.moveBudgetCrossings, { cursor: result.continueCursor });
    return result;
  },
});

/** Deletes the quota rows of laptops revoked before revoking deleted them. */
export const forgetRevokedQuota = internalMutation({
  args: { cursor: v.optional(v.union(v.string(), v.null())) },
  returns: v.object({ deleted: v.number(), continueCursor: v.string(), isDone: v.boolean() }),
  handler: async (ctx, { cursor }) => {
    const result = await forgetRevoked(ctx, cursor ?? null);
    if (!result.isDone) await ctx.scheduler.runAfter(0, internal.usage.forgetRevokedQuota, { cursor: result.continueCursor });
    return result;
  },
});

/** Retention (crons.ts, daily): old buckets, days and batch ids; runs again at once while some are left. */
export const pruneUsage = internalMutation({
  args: {},
  returns: v.object({ buckets: v.number(), days: v.number(), batches: v.number(), more: v.boolean() }),
  handler: async (ctx) => {
    const result = await prune(ctx, Date.now());
    if (result.more) await ctx.scheduler.runAfter(0, internal.usage.pruneUsage, {});
    return result;
  },
});
