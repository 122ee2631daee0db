// Laptops: enrollment, registration, heartbeats and presence.
import { v } from "convex/values";
import { internal } from "./_generated/api";
import { internalMutation, mutation } from "./_generated/server";
import { nodeMutation, operatorMutation, viewerQuery } from "./functions";
import { newCredential, safeEqual, sha256Hex } from "./model/auth";
import { checkCount, checkNumber, checkOptionalString, checkPattern, checkString, LIMITS } from "./model/checks";
import { fail } from "./model/errors";
import { nodeHealth } from "./model/validators";

/** A node is offline this long after its last heartbeat. */
export const OFFLINE_AFTER_MS = 60_000;
const NODE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const LIST_LIMIT = 200;

/**
 * Exchange the deployment's enrollment secret (env TINA_ENROLLMENT_SECRET) for a node
 * credential. Enrolling an existing name again re-keys that laptop (same node id, old
 * credential stops working): the same laptop never becomes two nodes.
 */
export const enrollNode = mutation({
  args: { enrollmentSecret: v.string(), name: v.string(), os: v.string() },
  returns: v.object({ nodeId: v.id("nodes"), credential: v.string(), name: v.string() }),
  handler: async (ctx, args) => {
    const expected = process.env.TINA_ENROLLMENT_SECRET;
    if (!expected) fail("forbidden", "enrollment is disabled: TINA_ENROLLMENT_SECRET is not set on the deployment");
    if (!safeEqual(args.enrollmentSecret, expected)) fail("unauthenticated", "wrong enrollment secret");
    const name = checkPattern("name", args.name, NODE_NAME_RE, "a laptop name (letters, digits, '.', '_', '-'; at most 63)");
    const os = checkString("os", args.os, 32);
    const credential = newCredential();
    const credentialHash = await sha256Hex(credential);
    const now = Date.now();
    const existing = await ctx.db.query("nodes").withIndex("by_name", (q) => q.eq("name", name)).unique();
    if (existing !== null) {
      if (existing.revokedAt !== undefined) {
        fail("forbidden", `laptop "${name}" was revoked; enroll it under another name`, "name");
      }
      await ctx.db.patch(existing._id, { credentialHash, os });
      return { nodeId: existing._id, credential, name };
    }
    const nodeId = await ctx.db.insert("nodes", {
      name,
      os,
      credentialHash,
      status: "offline",
      enrolledAt: now,
      lastHeartbeat: 0,
    });
    return { nodeId, credential, name };
  },
});

/** Called by the daemon at start: idempotent, marks the laptop online. */
export const registerNode = nodeMutation({
  args: { os: v.string() },
  returns: v.object({ nodeId: v.id("nodes"), name: v.string(), serverTime: v.number() }),
  handler: async (ctx, args) => {
    const os = checkString("os", args.os, 32);
    const now = Date.now();
    await ctx.db.patch(ctx.node._id, { os, status: "online", lastHeartbeat: now });
    await ctx.scheduler.runAfter(OFFLINE_AFTER_MS + 1000, internal.nodes.checkOffline, {
      nodeId: ctx.node._id,
      heartbeatAt: now,
    });
    return { nodeId: ctx.node._id, name: ctx.node.name, serverTime: now };
  },
});

export const heartbeat = nodeMutation({
  args: { health: nodeHealth },
  returns: v.object({ serverTime: v.number() }),
  handler: async (ctx, { health }) => {
    checkString("health.daemonVersion", health.daemonVersion, 64);
    checkNumber("health.uptimeSecs", health.uptimeSecs, { min: 0 });
    checkNumber("health.outboxDepth", health.outboxDepth, { min: 0, integer: true });
    checkOptionalString("health.connection", health.connection, 64);
    checkCount("health.actors", health.actors, LIMITS.actorsInHealth);
    for (const actor of health.actors) {
      checkString("health.actors.id", actor.id, LIMITS.name);
      checkString("health.actors.state", actor.state, 32);
      checkOptionalString("health.actors.lastError", actor.lastError, 500);
    }
    const now = Date.now();
    await ctx.db.patch(ctx.node._id, { status: "online", lastHeartbeat: now, health });
    await ctx.scheduler.runAfter(OFFLINE_AFTER_MS + 1000, internal.nodes.checkOffline, {
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
    const node = await ctx.db.get(nodeId);
    if (node !== null && node.status === "online" && node.lastHeartbeat <= heartbeatAt) {
      await ctx.db.patch(nodeId, { status: "offline" });
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
      .withIndex("by_status_heartbeat", (q) =>
        q.eq("status", "online").lt("lastHeartbeat", Date.now() - OFFLINE_AFTER_MS),
      )
      .take(LIST_LIMIT);
    for (const node of stale) await ctx.db.patch(node._id, { status: "offline" });
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
  health: v.optional(nodeHealth),
});

export const listNodes = viewerQuery({
  args: {},
  returns: v.array(nodeView),
  handler: async (ctx) => {
    const now = Date.now();
    const nodes = await ctx.db.query("nodes").withIndex("by_name").take(LIST_LIMIT);
    return nodes.map((n) => ({
      _id: n._id,
      name: n.name,
      os: n.os,
      online: n.revokedAt === undefined && n.status === "online" && now - n.lastHeartbeat <= OFFLINE_AFTER_MS,
      lastHeartbeat: n.lastHeartbeat,
      enrolledAt: n.enrolledAt,
      revoked: n.revokedAt !== undefined,
      ...(n.health === undefined ? {} : { health: n.health }),
    }));
  },
});

/** Cut a laptop off: its credential stops working at once. (Owner-only once roles exist.) */
export const revokeNode = operatorMutation({
  args: { nodeId: v.id("nodes") },
  returns: v.object({ revoked: v.boolean() }),
  handler: async (ctx, { nodeId }) => {
    const node = await ctx.db.get(nodeId);
    if (node === null) fail("not_found", "no such laptop", "nodeId");
    if (node.revokedAt !== undefined) return { revoked: false };
    await ctx.db.patch(nodeId, { revokedAt: Date.now(), status: "offline" });
    return { revoked: true };
  },
});
