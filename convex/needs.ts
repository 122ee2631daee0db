// "Needs you" (issue 18): one list of what a person should look at, across all laptops.
// model/needs.ts has the rules.
import { v } from "convex/values";
import { doc } from "convex-helpers/validators";
import { internalMutation } from "./_generated/server";
import { nodeMutation, viewerMutation, viewerQuery } from "./functions";
import * as model from "./model/needs";
import { requestNotify } from "./model/notify";
import { laptopNeed, needItem, sessionSnapshot } from "./model/validators";
import { openPrompts } from "./prompts";
import schema from "./schema";

/**
 * A laptop sends its current items and Claude Code sessions: items are opened, updated (only
 * when a field changed) or resolved (no longer sent); sessions no longer sent are deleted.
 * The same call twice writes nothing. At most 200 items and 100 sessions.
 */
export const syncLaptop = nodeMutation({
  args: { items: v.array(laptopNeed), sessions: v.array(sessionSnapshot) },
  returns: v.object({ opened: v.number(), updated: v.number(), resolved: v.number() }),
  handler: async (ctx, { items, sessions }) => {
    const result = await model.syncLaptop(ctx, ctx.node, items, sessions);
    if (result.opened + result.updated + result.resolved > 0) await requestNotify(ctx);
    return result;
  },
});

/**
 * Everything that needs a person, in the order of model/needs.ts KIND_ORDER (newest first within
 * a kind, at most 50 per kind), each with this viewer's dismissal or snooze. `count`: the items
 * neither dismissed nor snoozed now (the navigation's badge).
 */
export const needsYou = viewerQuery({
  args: {},
  returns: v.object({ items: v.array(needItem), count: v.number() }),
  handler: (ctx) => model.needsYou(ctx, ctx.user.userId, Date.now(), openPrompts),
});

/**
 * Hides an item from this viewer's list: while it keeps this `since` (no `until`), or until
 * `until` (a snooze, at most 7 days ahead). Nobody else's list changes.
 */
export const dismiss = viewerMutation({
  args: { key: v.string(), since: v.number(), until: v.optional(v.number()) },
  returns: v.null(),
  handler: async (ctx, { key, since, until }) => {
    await model.dismiss(ctx, ctx.user.userId, key, since, until);
    await requestNotify(ctx);
    return null;
  },
});

/** Shows a dismissed or snoozed item again in this viewer's list. */
export const restore = viewerMutation({
  args: { key: v.string() },
  returns: v.null(),
  handler: async (ctx, { key }) => {
    await model.restore(ctx, ctx.user.userId, key);
    await requestNotify(ctx);
    return null;
  },
});

/** The Claude Code sessions of a laptop (or of all laptops), most recently active first, at most 100. */
export const sessions = viewerQuery({
  args: { nodeId: v.optional(v.id("nodes")) },
  returns: v.array(v.object({ ...doc(schema, "claudeSessions").fields, nodeName: v.string() })),
  handler: (ctx, { nodeId }) => model.sessions(ctx, nodeId),
});

/** Cron: resolved items a day old, revoked laptops' items and sessions, dismissals 30 days old. */
export const sweepNeeds = internalMutation({
  args: {},
  returns: v.object({ deleted: v.number() }),
  handler: (ctx) => model.sweep(ctx, Date.now()),
});
