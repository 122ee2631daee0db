// The audit log, newest first: every action's submission, claim and outcome, enrollments,
// revocations, invitations and role changes, with who, when, from which client, which laptop.
import { paginationOptsValidator, paginationResultValidator } from "convex/server";
import { v } from "convex/values";
import { doc } from "convex-helpers/validators";
import { viewerQuery } from "./functions";
import { checkPagination } from "./model/checks";
import schema from "./schema";

const PAGE_MAX = 100;

/** One page of the log, newest first; optionally only one laptop's, orchestration's or action's entries. */
export const list = viewerQuery({
  args: {
    paginationOpts: paginationOptsValidator,
    nodeId: v.optional(v.id("nodes")),
    orchestrationId: v.optional(v.id("orchestrations")),
    actionId: v.optional(v.id("inboundActions")),
  },
  returns: paginationResultValidator(doc(schema, "auditLog")),
  handler: async (ctx, { paginationOpts, nodeId, orchestrationId, actionId }) => {
    const page = checkPagination(paginationOpts, PAGE_MAX);
    const log = ctx.db.query("auditLog");
    const q =
      actionId !== undefined
        ? log.withIndex("by_action_at", (q) => q.eq("actionId", actionId))
        : orchestrationId !== undefined
          ? log.withIndex("by_orchestration_at", (q) => q.eq("orchestrationId", orchestrationId))
          : nodeId !== undefined
            ? log.withIndex("by_node_at", (q) => q.eq("nodeId", nodeId))
            : log.withIndex("by_at");
    return await q.order("desc").paginate(page);
  },
});
