// Laptops: enrollment, registration, heartbeats and presence (model/nodes.ts: how presence is kept).
import { v } from "convex/values";
import { internalMutation } from "./_generated/server";
import { enrollmentMutation, nodeMutation, nodeQuietMutation, ownerMutation, viewerQuery } from "./functions";
import { checkCount, checkNumber, checkOptionalNumber, checkOptionalString, checkString, LIMITS } from "./model/checks";
import {
  checkOffline as checkNodeOffline,
  checkOs,
  createEnrollmentCode as createCode,
  enroll,
  isOnline,
  leavePresence,
  offlineAfterMs,
  revoke,
  sameVisibleHealth,
  sweepStale,
} from "./model/nodes";
import { messagingOf, setMessaging as setRule } from "./model/messaging";
import { cleanText } from "./model/redact";
import { messagingRule, nodeHealth } from "./model/validators";

const LIST_LIMIT = 200;

/**
 * Exchange an enrollment secret for a node credential. `enrollmentSecret` is either the
 * deployment's TINA_ENROLLMENT_SECRET or a one-time code from `createEnrollmentCode`
 * (dashes, spaces and case do not matter). Enrolling an existing name again re-keys that
 * laptop (same node id, old credential stops working): a laptop never becomes two nodes.
 * Re-keying needs the secret or a code created for that name; a code created without a
 * name only adds new laptops. A revoked name is refused, except with a code created for
 * exactly that name.
 */
export const enrollNode = enrollmentMutation({
  args: { name: v.string(), os: v.string() },
  returns: v.object({ nodeId: v.id("nodes"), credential: v.string(), name: v.string() }),
  handler: (ctx, { name, os }) => enroll(ctx, ctx.enrollment, ctx.request, name, os),
});

/**
 * "Add a laptop": a one-time enrollment code, shown once, valid 15 minutes, single use.
 * Without `nodeName` it only adds a new laptop. With `nodeName` it enrolls only that laptop:
 * a new one, or the existing one re-keyed (and re-admitted if it was revoked).
 */
export const createEnrollmentCode = ownerMutation({
  args: { nodeName: v.optional(v.string()) },
  returns: v.object({ code: v.string(), expiresAt: v.number(), nodeName: v.optional(v.string()) }),
  handler: (ctx, { nodeName }) => createCode(ctx, ctx.actor, nodeName),
});

/**
 * Called by the daemon at start: idempotent, marks the laptop online (as every node call does).
 * `offlineAfterMs`: the deployment's offline threshold; the daemon beats at least twice per threshold.
 */
export const registerNode = nodeMutation({
  args: { os: v.string() },
  returns: v.object({ nodeId: v.id("nodes"), name: v.string(), serverTime: v.number(), offlineAfterMs: v.number() }),
  handler: async (ctx, args) => {
    const os = checkOs(args.os);
    if (os !== ctx.node.os) await ctx.db.patch("nodes", ctx.node._id, { os });
    return { nodeId: ctx.node._id, name: ctx.node.name, serverTime: Date.now(), offlineAfterMs: offlineAfterMs() };
  },
});

/**
 * A sign of life with the daemon's health. Presence is refreshed by the wrapper (it writes only
 * `presence`); the health goes to `nodes` only when what a person sees changed, never for the
 * uptime alone (dashboards count it from `startedAt`).
 */
export const heartbeat = nodeMutation({
  args: { health: nodeHealth },
  returns: v.object({ serverTime: v.number(), healthStored: v.boolean() }),
  handler: async (ctx, { health: raw }) => {
    checkString("health.daemonVersion", raw.daemonVersion, 64);
    checkNumber("health.startedAt", raw.startedAt, { min: 0 });
    checkNumber("health.uptimeSecs", raw.uptimeSecs, { min: 0 });
    checkNumber("health.outboxDepth", raw.outboxDepth, { min: 0, integer: true });
    checkOptionalNumber("health.lastSyncAt", raw.lastSyncAt, { min: 0 });
    checkOptionalNumber("health.oldestUnsyncedAt", raw.oldestUnsyncedAt, { min: 0 });
    checkOptionalString("health.connection", raw.connection, 64);
    checkCount("health.actors", raw.actors, LIMITS.actorsInHealth);
    for (const actor of raw.actors) {
      checkString("health.actors.id", actor.id, LIMITS.name);
      checkString("health.actors.state", actor.state, 32);
      checkNumber("health.actors.restarts", actor.restarts, { min: 0, integer: true });
      checkOptionalString("health.actors.lastError", actor.lastError, 500);
    }
    // Error text from the laptop is shown in the dashboard: never a secret.
    const health = {
      ...raw,
      actors: raw.actors.map((a) => (a.lastError === undefined ? a : { ...a, lastError: cleanText(a.lastError, 500) })),
    };
    const healthStored = !sameVisibleHealth(ctx.node.health, health);
    if (healthStored) await ctx.db.patch("nodes", ctx.node._id, { health });
    return { serverTime: Date.now(), healthStored };
  },
});

/** The daemon stops cleanly: offline now, not a threshold later. Not itself a sign of life. */
export const signOff = nodeQuietMutation({
  args: {},
  returns: v.object({ offline: v.boolean() }),
  handler: async (ctx) => ({ offline: await leavePresence(ctx, ctx.node._id) }),
});

/**
 * Scheduled at each stored sign of life for its deadline (and cancelled by the next one): flips
 * the node offline when it stayed quiet. `heartbeatAt`: checks scheduled by older versions.
 */
export const checkOffline = internalMutation({
  args: { nodeId: v.id("nodes"), heartbeatAt: v.optional(v.number()) },
  returns: v.null(),
  handler: async (ctx, { nodeId }) => {
    await checkNodeOffline(ctx, nodeId);
    return null;
  },
});

/** Cron safety net behind the scheduled checks: every online node quiet for the threshold. */
export const markStaleOffline = internalMutation({
  args: {},
  returns: v.number(),
  handler: (ctx) => sweepStale(ctx),
});

const nodeView = v.object({
  _id: v.id("nodes"),
  name: v.string(),
  os: v.string(),
  online: v.boolean(),
  lastHeartbeat: v.number(),
  enrolledAt: v.number(),
  revoked: v.boolean(),
  messaging: messagingRule,
  health: v.optional(nodeHealth),
});

export const listNodes = viewerQuery({
  args: {},
  returns: v.array(nodeView),
  handler: async (ctx) => {
    const nodes = await ctx.db.query("nodes").withIndex("by_name").take(LIST_LIMIT);
    return nodes.map((n) => ({
      _id: n._id,
      name: n.name,
      os: n.os,
      online: isOnline(n),
      lastHeartbeat: n.lastHeartbeat,
      enrolledAt: n.enrolledAt,
      revoked: n.revokedAt !== undefined,
      messaging: messagingOf(n),
      ...(n.health === undefined ? {} : { health: n.health }),
    }));
  },
});

/**
 * Who may message this laptop's agents (typed into their terminals): "owners" (the default),
 * "operators" (owners and operators) or "nobody". Audited when it changes.
 */
export const setMessaging = ownerMutation({
  args: { nodeId: v.id("nodes"), messaging: messagingRule },
  returns: v.object({ changed: v.boolean() }),
  handler: (ctx, { nodeId, messaging }) => setRule(ctx, ctx.actor, nodeId, messaging),
});

/**
 * Cut a laptop off: its credential stops working at once; its queued actions are cancelled and
 * its quota rows deleted.
 */
export const revokeNode = ownerMutation({
  args: { nodeId: v.id("nodes") },
  returns: v.object({ revoked: v.boolean() }),
  handler: (ctx, { nodeId }) => revoke(ctx, ctx.actor, nodeId),
});

/** Counts past this show as "100+": a laptop's card reads at most this many orchestrations twice. */
export const ORCHESTRATION_COUNT_CAP = 100;

/**
 * How many orchestrations a laptop runs now and has run in all, for its card in the fleet.
 * Bounded: at most `ORCHESTRATION_COUNT_CAP + 1` rows of each, by index.
 */
export const orchestrationCounts = viewerQuery({
  args: { nodeId: v.id("nodes") },
  returns: v.object({ active: v.number(), all: v.number(), cap: v.number() }),
  handler: async (ctx, { nodeId }) => {
    const cap = ORCHESTRATION_COUNT_CAP;
    const active = await ctx.db
      .query("orchestrations")
      .withIndex("by_node_active_started", (q) => q.eq("nodeId", nodeId).eq("active", true))
      .take(cap + 1);
    const all = await ctx.db
      .query("orchestrations")
      .withIndex("by_node_active_started", (q) => q.eq("nodeId", nodeId))
      .take(cap + 1);
    return { active: Math.min(active.length, cap + 1), all: Math.min(all.length, cap + 1), cap };
  },
});
