// Operator actions: the dashboard submits, the laptop's daemon claims, runs and completes.
import { v } from "convex/values";
import { doc } from "convex-helpers/validators";
import { internal } from "./_generated/api";
import { internalMutation } from "./_generated/server";
import { nodeMutation, nodeQuery, operatorMutation, viewerQuery } from "./functions";
import * as model from "./model/actions";
import { checkNumber } from "./model/checks";
import { actionRequest, actionResult, actionStatus } from "./model/validators";
import schema from "./schema";

const actionDoc = doc(schema, "inboundActions");
/** An action as the dashboard lists it: for a delivered inbox message, whether the agent has read it. */
export const listedAction = v.object({ ...actionDoc.fields, read: v.optional(v.boolean()) });

/** Queue an action for a laptop. A repeated idempotency key returns the first action. */
export const submitAction = operatorMutation({
  args: { action: actionRequest, idempotencyKey: v.string(), expiresInMs: v.optional(v.number()) },
  returns: v.object({ actionId: v.id("inboundActions"), deduplicated: v.boolean() }),
  handler: async (ctx, { action, idempotencyKey, expiresInMs }) => {
    const out = await model.submitAction(ctx, ctx.user, ctx.actor, action, idempotencyKey, expiresInMs);
    if (!out.deduplicated) {
      const stored = await ctx.db.get("inboundActions", out.actionId);
      await ctx.scheduler.runAt(stored!.expiresAt, internal.actions.expireAction, { actionId: out.actionId });
    }
    return out;
  },
});

/** Withdraw an action the laptop has not claimed yet. */
export const cancelAction = operatorMutation({
  args: { actionId: v.id("inboundActions") },
  returns: v.object({ cancelled: v.boolean(), status: actionStatus }),
  handler: (ctx, { actionId }) => model.cancelAction(ctx, ctx.actor, actionId),
});

const LIST_DEFAULT = 50;
const LIST_MAX = 200;

/** Most recent actions, of one orchestration or across everything. */
export const listActions = viewerQuery({
  args: { orchestrationId: v.optional(v.id("orchestrations")), limit: v.optional(v.number()) },
  returns: v.array(listedAction),
  handler: async (ctx, { orchestrationId, limit }) => {
    const n = Math.min(Math.floor(checkNumber("limit", limit ?? LIST_DEFAULT, { min: 1 })), LIST_MAX);
    const rows =
      orchestrationId !== undefined
        ? await ctx.db
            .query("inboundActions")
            .withIndex("by_orchestration_created", (q) => q.eq("orchestrationId", orchestrationId))
            .order("desc")
            .take(n)
        : await ctx.db.query("inboundActions").order("desc").take(n);
    return await model.withReadState(ctx, rows);
  },
});

const PENDING_LIMIT = 50;

/** The daemon subscribes to this: its laptop's unexpired pending actions, oldest first. */
export const pendingActions = nodeQuery({
  args: {},
  returns: v.array(actionDoc),
  handler: async (ctx) => {
    const now = Date.now();
    const rows = await ctx.db
      .query("inboundActions")
      .withIndex("by_node_status_created", (q) => q.eq("nodeId", ctx.node._id).eq("status", "pending"))
      .take(PENDING_LIMIT);
    return rows.filter((a) => a.expiresAt > now);
  },
});

/** Atomically take a pending action; records the lease. Exactly one of two racing claims wins. */
export const claimAction = nodeMutation({
  args: { actionId: v.id("inboundActions"), leaseOwner: v.string(), leaseMs: v.optional(v.number()) },
  returns: v.union(
    v.object({ ok: v.literal(true), action: actionDoc }),
    v.object({
      ok: v.literal(false),
      reason: v.union(v.literal("not_found"), v.literal("expired"), v.literal("not_pending")),
      status: v.optional(actionStatus),
    }),
  ),
  handler: (ctx, { actionId, leaseOwner, leaseMs }) => model.claimAction(ctx, ctx.node, actionId, leaseOwner, leaseMs),
});

/** The handler has started on the laptop. */
export const markActionRunning = nodeMutation({
  args: { actionId: v.id("inboundActions"), leaseOwner: v.string() },
  returns: v.object({ ok: v.boolean() }),
  handler: async (ctx, { actionId, leaseOwner }) => ({ ok: await model.markRunning(ctx, ctx.node, actionId, leaseOwner) }),
});

/** Record the outcome. Only the lease holder may complete, and only once. */
export const completeAction = nodeMutation({
  args: { actionId: v.id("inboundActions"), leaseOwner: v.string(), result: actionResult },
  returns: v.object({ ok: v.boolean(), status: v.union(actionStatus, v.literal("not_found")) }),
  handler: (ctx, { actionId, leaseOwner, result }) => model.completeAction(ctx, ctx.node, actionId, leaseOwner, result),
});

/** Called once by a starting daemon: actions held by its previous instance end interrupted. */
export const interruptStaleActions = nodeMutation({
  args: { leaseOwner: v.string() },
  returns: v.object({ interrupted: v.number() }),
  handler: async (ctx, { leaseOwner }) => ({ interrupted: await model.interruptStale(ctx, ctx.node, leaseOwner) }),
});

/** Scheduled at submit time for the action's expiry. */
export const expireAction = internalMutation({
  args: { actionId: v.id("inboundActions") },
  returns: v.null(),
  handler: async (ctx, { actionId }) => {
    const a = await ctx.db.get("inboundActions", actionId);
    if (a !== null && a.status === "pending" && a.expiresAt <= Date.now()) await model.expire(ctx, a);
    return null;
  },
});

const SWEEP_BATCH = 100;

/** Cron: expire overdue pending actions and interrupt actions whose lease lapsed (dead daemon). */
export const sweepActions = internalMutation({
  args: {},
  returns: v.object({ expired: v.number(), interrupted: v.number() }),
  handler: async (ctx) => {
    const now = Date.now();
    const overdue = await ctx.db
      .query("inboundActions")
      .withIndex("by_status_expires", (q) => q.eq("status", "pending").lte("expiresAt", now))
      .take(SWEEP_BATCH);
    for (const a of overdue) await model.expire(ctx, a);
    let interrupted = 0;
    for (const status of ["claimed", "running"] as const) {
      const lapsed = await ctx.db
        .query("inboundActions")
        .withIndex("by_status_lease", (q) => q.eq("status", status).lte("leaseExpiresAt", now))
        .take(SWEEP_BATCH);
      for (const a of lapsed) {
        await model.interrupt(ctx, a, "the laptop stopped reporting on this action before its lease ran out; it was not re-run");
        interrupted++;
      }
    }
    return { expired: overdue.length, interrupted };
  },
});
