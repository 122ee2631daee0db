// "Needs attention": everything an operator should look at, across all laptops.
import { v } from "convex/values";
import { doc } from "convex-helpers/validators";
import { viewerQuery } from "./functions";
import { offlineAfterMs } from "./model/nodes";
import { nodeInfo, orchestrationSummary, toSummary } from "./orchestrations";
import { openPrompts, promptView } from "./prompts";
import schema from "./schema";

const EACH_LIMIT = 50;
const FAILED_WINDOW_MS = 24 * 60 * 60_000;

export const attention = viewerQuery({
  args: {},
  returns: v.object({
    // Open permission prompts, newest first (prompts:listOpen also shows recent outcomes).
    permissionPrompts: v.array(promptView),
    blocked: v.array(orchestrationSummary),
    awaitingApproval: v.array(orchestrationSummary),
    failedActions: v.array(doc(schema, "inboundActions")),
    offlineNodes: v.array(v.object({ _id: v.id("nodes"), name: v.string(), lastHeartbeat: v.number() })),
    // Everything above: what the navigation's badge shows.
    count: v.number(),
  }),
  handler: async (ctx) => {
    const now = Date.now();
    const byAttention = (kind: "blocked" | "awaiting_approval") =>
      ctx.db
        .query("orchestrations")
        .withIndex("by_attention_updated", (q) => q.eq("attention", kind))
        .order("desc")
        .take(EACH_LIMIT);
    const blocked = await byAttention("blocked");
    const awaiting = await byAttention("awaiting_approval");
    const nodes = await nodeInfo(ctx, [...blocked, ...awaiting].map((o) => o.nodeId));
    const failedActions = [];
    for (const status of ["failed", "expired", "interrupted"] as const) {
      failedActions.push(
        ...(await ctx.db
          .query("inboundActions")
          .withIndex("by_status_finished", (q) => q.eq("status", status).gt("finishedAt", now - FAILED_WINDOW_MS))
          .order("desc")
          .take(EACH_LIMIT)),
      );
    }
    failedActions.sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0));
    // Revoked laptops are not read at all, so they never crowd out one that went quiet.
    const offline = await ctx.db
      .query("nodes")
      .withIndex("by_status_revoked_heartbeat", (q) => q.eq("status", "offline").eq("revokedAt", undefined))
      .take(EACH_LIMIT);
    const staleOnline = await ctx.db
      .query("nodes")
      .withIndex("by_status_revoked_heartbeat", (q) =>
        q.eq("status", "online").eq("revokedAt", undefined).lt("lastHeartbeat", now - offlineAfterMs()),
      )
      .take(EACH_LIMIT);
    const offlineNodes = [...offline, ...staleOnline].map((n) => ({ _id: n._id, name: n.name, lastHeartbeat: n.lastHeartbeat }));
    const permissionPrompts = await openPrompts(ctx);
    const out = {
      permissionPrompts,
      blocked: blocked.map((o) => toSummary(o, nodes)),
      awaitingApproval: awaiting.map((o) => toSummary(o, nodes)),
      failedActions: failedActions.slice(0, EACH_LIMIT),
      offlineNodes,
    };
    const count = out.permissionPrompts.length + out.blocked.length + out.awaitingApproval.length + out.failedActions.length + out.offlineNodes.length;
    return { ...out, count };
  },
});
