// Laptops: enrollment, registration, heartbeats and presence.
import { v } from "convex/values";
import { internal } from "./_generated/api";
import { internalMutation } from "./_generated/server";
import { enrollmentMutation, nodeMutation, ownerMutation, viewerQuery } from "./functions";
import { checkCount, checkNumber, checkOptionalNumber, checkOptionalString, checkString, LIMITS } from "./model/checks";
import { checkOs, createEnrollmentCode as createCode, enroll, offlineAfterMs, revoke } from "./model/nodes";
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

/** Called by the daemon at start: idempotent, marks the laptop online. */
export const registerNode = nodeMutation({
  args: { os: v.string() },
  returns: v.object({ nodeId: v.id("nodes"), name: v.string(), serverTime: v.number() }),
  handler: async (ctx, args) => {
    const os = checkOs(args.os);
    const now = Date.now();
    await ctx.db.patch("nodes", ctx.node._id, { os, status: "online", lastHeartbeat: now });
    await ctx.scheduler.runAfter(offlineAfterMs() + 1000, internal.nodes.checkOffline, {
      nodeId: ctx.node._id,
      heartbeatAt: now,
    });
    return { nodeId: ctx.node._id, name: ctx.node.name, serverTime: now };
  },
});

export const heartbeat = nodeMutation({
  args: { health: nodeHealth },
  returns: v.object({ serverTime: v.number() }),
  handler: async (ctx, { health: raw }) => {
    checkString("health.daemonVersion", raw.daemonVersion, 64);
    checkNumber("health.startedAt", raw.startedAt, { min: 0 });
    checkNumber("health.uptimeSecs", raw.uptimeSecs, { min: 0 });
    checkNumber("health.outboxDepth", raw.outboxDepth, { min: 0, integer: true });
    checkOptionalNumber("health.lastSyncAt", raw.lastSyncAt, { min: 0 });
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
    const now = Date.now();
    await ctx.db.patch("nodes", ctx.node._id, { status: "online", lastHeartbeat: now, health });
    await ctx.scheduler.runAfter(offlineAfterMs() + 1000, internal.nodes.checkOffline, {
      nodeId: ctx.node._id,
      heartbeatAt: now,
    });
    return { serverTime: now };
  },
});

/** Scheduled after each heartbeat: flips the stored status when no newer one came. */
export const checkOffline = internalMutation({
  args: { nodeId: v.id("nodes"), heartbeatAt: v.number() },
  returns: v.null(),
  handler: async (ctx, { nodeId, heartbeatAt }) => {
    const node = await ctx.db.get("nodes", nodeId);
    if (node !== null && node.status === "online" && node.lastHeartbeat <= heartbeatAt) {
      await ctx.db.patch("nodes", nodeId, { status: "offline" });
    }
    return null;
  },
});

/** Cron safety net: every online node whose heartbeat is older than the limit. */
export const markStaleOffline = internalMutation({
  args: {},
  returns: v.number(),
  handler: async (ctx) => {
    const stale = await ctx.db
      .query("nodes")
      .withIndex("by_status_revoked_heartbeat", (q) =>
        // A revoked laptop is offline already (revocation sets it).
        q.eq("status", "online").eq("revokedAt", undefined).lt("lastHeartbeat", Date.now() - offlineAfterMs()),
      )
      .take(LIST_LIMIT);
    for (const node of stale) await ctx.db.patch("nodes", node._id, { status: "offline" });
    return stale.length;
  },
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
    const now = Date.now();
    const offlineAfter = offlineAfterMs();
    const nodes = await ctx.db.query("nodes").withIndex("by_name").take(LIST_LIMIT);
    return nodes.map((n) => ({
      _id: n._id,
      name: n.name,
      os: n.os,
      online: n.revokedAt === undefined && n.status === "online" && now - n.lastHeartbeat <= offlineAfter,
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

/** Cut a laptop off: its credential stops working at once; its queued actions are cancelled. */
export const revokeNode = ownerMutation({
  args: { nodeId: v.id("nodes") },
  returns: v.object({ revoked: v.boolean() }),
  handler: (ctx, { nodeId }) => revoke(ctx, ctx.actor, nodeId),
});
