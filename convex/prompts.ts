// Permission prompts (issue 18): Claude Code asks to use a tool on a laptop; the dashboard
// answers; the laptop's daemon hands the decision to the waiting hook. model/prompts.ts has the rules.
import { v } from "convex/values";
import { doc } from "convex-helpers/validators";
import { internal } from "./_generated/api";
import type { Doc, Id } from "./_generated/dataModel";
import { internalMutation, type QueryCtx } from "./_generated/server";
import { nodeMutation, nodeQuery, operatorMutation, viewerQuery } from "./functions";
import * as model from "./model/prompts";
import { promptDecision, promptOpen, promptOutcome, promptStatus, type PromptStatus } from "./model/validators";
import schema from "./schema";

const promptDoc = doc(schema, "prompts");

/** A prompt as the dashboard shows it: the row, its laptop's name and its orchestration's feature. */
export const promptView = v.object({
  ...promptDoc.fields,
  nodeName: v.string(),
  featureName: v.optional(v.string()),
});

/** The daemon opens a prompt when a PermissionRequest hook arrives. Idempotent by (laptop, promptId). */
export const openPrompt = nodeMutation({
  args: { ...promptOpen.fields, orchestrationId: v.optional(v.id("orchestrations")) },
  returns: v.object({ ok: v.boolean() }),
  handler: async (ctx, args) => {
    const { ok, promptId } = await model.openPrompt(ctx, ctx.node, args);
    if (promptId !== undefined) {
      const stored = await ctx.db.get("prompts", promptId);
      await ctx.scheduler.runAt(stored!.expiresAt + model.EXPIRY_GRACE_MS, internal.prompts.expirePrompt, { promptId });
    }
    return { ok };
  },
});

/**
 * The daemon reports what became of a prompt: `applied` (handed to the waiting hook), `too_late`
 * (the hook had given up; the human at the keyboard answered), `expired` (no answer in time).
 * `ok: false` with the current status when the prompt cannot move there (or is not this laptop's).
 */
export const settlePrompt = nodeMutation({
  args: { promptId: v.string(), outcome: promptOutcome },
  returns: v.object({ ok: v.boolean(), status: v.union(promptStatus, v.literal("not_found")) }),
  handler: (ctx, { promptId, outcome }) => model.settlePrompt(ctx, ctx.node, ctx.actor, promptId, outcome),
});

const PENDING_LIMIT = 50;

/** The daemon subscribes to this: its laptop's answered prompts not yet settled, oldest first. */
export const pendingDecisions = nodeQuery({
  args: {},
  returns: v.array(promptDoc),
  handler: async (ctx) =>
    await ctx.db
      .query("prompts")
      .withIndex("by_node_status_opened", (q) => q.eq("nodeId", ctx.node._id).eq("status", "answered"))
      .take(PENDING_LIMIT),
});

const LIST_LIMIT = 50;
const SETTLED: readonly PromptStatus[] = ["answered", "applied", "too_late", "expired"];

/** The newest open prompts across all laptops (at most 50), with laptop and feature. */
export async function openPrompts(ctx: QueryCtx) {
  const rows = await ctx.db
    .query("prompts")
    .withIndex("by_status_opened", (q) => q.eq("status", "open"))
    .order("desc")
    .take(LIST_LIMIT);
  return await withNames(ctx, rows);
}

async function withNames(ctx: QueryCtx, rows: Doc<"prompts">[]) {
  const nodes = new Map<Id<"nodes">, string>();
  const features = new Map<Id<"orchestrations">, string | undefined>();
  for (const p of rows) {
    if (!nodes.has(p.nodeId)) nodes.set(p.nodeId, (await ctx.db.get("nodes", p.nodeId))?.name ?? "(removed laptop)");
    if (p.orchestrationId !== undefined && !features.has(p.orchestrationId)) {
      features.set(p.orchestrationId, (await ctx.db.get("orchestrations", p.orchestrationId))?.featureName);
    }
  }
  return rows.map((p) => {
    const featureName = p.orchestrationId === undefined ? undefined : features.get(p.orchestrationId);
    return { ...p, nodeName: nodes.get(p.nodeId)!, ...(featureName !== undefined ? { featureName } : {}) };
  });
}

/**
 * For the dashboard. `open`: the newest open prompts (at most 50), newest first. `recent`: prompts
 * answered or settled in the last 10 minutes (at most 50), most recently changed first, so an
 * answer's outcome shows: `answered` (waiting for the laptop), `applied`, `too_late`, `expired`.
 */
export const listOpen = viewerQuery({
  args: {},
  returns: v.object({ open: v.array(promptView), recent: v.array(promptView) }),
  handler: async (ctx) => {
    const now = Date.now();
    const since = now - model.RECENT_WINDOW_MS;
    // A prompt lives at most MAX_PROMPT_LIFETIME_MS (+ the grace) before it is answered or expires.
    const openedSince = since - model.MAX_PROMPT_LIFETIME_MS - model.ANSWERED_GRACE_MS;
    const recent: Doc<"prompts">[] = [];
    for (const status of SETTLED) {
      const rows = await ctx.db
        .query("prompts")
        .withIndex("by_status_opened", (q) => q.eq("status", status).gt("openedAt", openedSince))
        .order("desc")
        .take(LIST_LIMIT);
      recent.push(...rows.filter((p) => changedAt(p) >= since));
    }
    recent.sort((a, b) => changedAt(b) - changedAt(a));
    return { open: await openPrompts(ctx), recent: await withNames(ctx, recent.slice(0, LIST_LIMIT)) };
  },
});

function changedAt(p: Doc<"prompts">): number {
  return p.settledAt ?? p.answeredAt ?? p.openedAt;
}

/**
 * An operator answers an open prompt. Refused with `conflict` when it is no longer open
 * ("already answered on <laptop> by <who>", "expired: answered at the laptop"); `allow_always`
 * only when the prompt has suggestions; `message` only with deny. The laptop's messaging rule applies.
 */
export const answer = operatorMutation({
  args: { promptId: v.string(), decision: promptDecision, message: v.optional(v.string()) },
  returns: v.object({ status: v.literal("answered") }),
  handler: async (ctx, { promptId, decision, message }) => {
    await model.answerPrompt(ctx, ctx.user, ctx.actor, promptId, decision, message);
    return { status: "answered" as const };
  },
});

/** Scheduled at open time for the prompt's deadline plus the grace. */
export const expirePrompt = internalMutation({
  args: { promptId: v.id("prompts") },
  returns: v.null(),
  handler: async (ctx, { promptId }) => {
    const p = await ctx.db.get("prompts", promptId);
    if (p !== null) await model.expireIfOverdue(ctx, p, Date.now());
    return null;
  },
});

const SWEEP_BATCH = 100;

/** Cron: expire open prompts past their deadline and answered ones the laptop never settled. */
export const sweepPrompts = internalMutation({
  args: {},
  returns: v.object({ expired: v.number() }),
  handler: async (ctx) => {
    const now = Date.now();
    let expired = 0;
    for (const [status, grace] of [["open", model.EXPIRY_GRACE_MS], ["answered", model.ANSWERED_GRACE_MS]] as const) {
      const overdue = await ctx.db
        .query("prompts")
        .withIndex("by_status_expires", (q) => q.eq("status", status).lte("expiresAt", now - grace))
        .take(SWEEP_BATCH);
      for (const p of overdue) if (await model.expireIfOverdue(ctx, p, now)) expired++;
    }
    return { expired };
  },
});
