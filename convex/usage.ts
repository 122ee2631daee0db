// Usage (issue 22): the daemon adds aggregated token counts and cost; the dashboard reads an
// orchestration's totals and breakdown and the fleet's spend per day (model/usage.ts).
import { v } from "convex/values";
import { nodeMutation, operatorMutation, viewerQuery } from "./functions";
import { requestNotify } from "./model/notify";
import {
  breakdown,
  breakdownOf,
  fleetQuota as fleetQuotaResult,
  fleetQuotaOf,
  fleetSpend as fleetSpendResult,
  fleetSpendOf,
  orchestrationTotals as totals,
  quotaArgs,
  recordQuota as recordQuotaOf,
  recordUsage as record,
  setBudget as setBudgetOf,
  totalsOf,
  usageRow,
} from "./model/usage";

/** A batch of usage deltas (1..200 rows), applied once per batch id and laptop. */
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

/** Each laptop's usage per UTC day over the last `days` days (1..31, today included). */
export const fleetSpend = viewerQuery({
  args: { days: v.number() },
  returns: fleetSpendResult,
  handler: (ctx, { days }) => fleetSpendOf(ctx, days, Date.now()),
});

/**
 * This laptop's Claude account quota as its status line and hooks saw it at `observedAt`: the
 * windows sent replace the stored ones, an older observation is ignored (model/usage.ts).
 */
export const recordQuota = nodeMutation({
  args: quotaArgs,
  returns: v.null(),
  handler: (ctx, args) => recordQuotaOf(ctx, ctx.node, args, Date.now()),
});

/** Each laptop's quota windows and last rate-limit stop, by laptop name. */
export const fleetQuota = viewerQuery({
  args: {},
  returns: fleetQuotaResult,
  handler: (ctx) => fleetQuotaOf(ctx),
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
