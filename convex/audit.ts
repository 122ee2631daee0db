// The audit log, newest first: every action's submission, claim and outcome, enrollments,
// revocations, invitations and role changes, with who, when, from which client, which laptop.
import { paginationOptsValidator, paginationResultValidator } from "convex/server";
import { v, type Infer } from "convex/values";
import { doc } from "convex-helpers/validators";
import type { Doc } from "./_generated/dataModel";
import type { QueryCtx } from "./_generated/server";
import { viewerQuery } from "./functions";
import { isFolded, kindOf } from "./model/audit";
import { checkPagination, checkString } from "./model/checks";
import { displayName } from "./model/users";
import { actionType, actorKind, auditKind, auditVerb, promptDecision } from "./model/validators";
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

// ---- The log for people: one row per action (issue 21, point 5) ----------------------------

const FEED_PAGE_MAX = 50;
const OPTIONS_MAX = 200;

/** How an entry ended, in a word the dashboard turns into a sentence. */
const rowOutcome = v.union(
  v.literal("done"),
  v.literal("failed"),
  v.literal("expired"),
  v.literal("cancelled"),
  v.literal("interrupted"),
  v.literal("waiting"),
  v.literal("running"),
  v.literal("too_late"),
);
type RowOutcome = Infer<typeof rowOutcome>;
/** The outcomes the filter offers, each a set of row outcomes. */
const outcomeFilter = v.union(v.literal("done"), v.literal("failed"), v.literal("expired"), v.literal("pending"));
type OutcomeFilter = Infer<typeof outcomeFilter>;
const FILTER_OUTCOMES: Record<OutcomeFilter, readonly RowOutcome[]> = {
  done: ["done"],
  failed: ["failed", "interrupted", "too_late"],
  expired: ["expired", "cancelled"],
  pending: ["waiting", "running"],
};

const feedRow = v.object({
  _id: v.id("auditLog"),
  at: v.number(),
  verb: auditVerb,
  kind: auditKind,
  actorKind,
  actorName: v.optional(v.string()),
  client: v.optional(v.string()),
  userAgent: v.optional(v.string()),
  nodeId: v.optional(v.id("nodes")),
  nodeName: v.optional(v.string()),
  orchestrationId: v.optional(v.id("orchestrations")),
  detail: v.optional(v.string()),
  outcome: rowOutcome,
  // Why it failed, in the laptop's or the server's words (never a secret: redacted on write).
  reason: v.optional(v.string()),
  action: v.optional(
    v.object({
      type: actionType,
      agentName: v.optional(v.string()),
      feature: v.optional(v.string()),
      phase: v.optional(v.string()),
      textLength: v.optional(v.number()),
    }),
  ),
  prompt: v.optional(v.object({ toolName: v.string(), decision: v.optional(promptDecision), agentName: v.optional(v.string()) })),
});
export type FeedRow = Infer<typeof feedRow>;

const ACTION_OUTCOME: Record<Doc<"inboundActions">["status"], RowOutcome> = {
  pending: "waiting",
  claimed: "running",
  running: "running",
  completed: "done",
  failed: "failed",
  expired: "expired",
  cancelled: "cancelled",
  interrupted: "interrupted",
};
const PROMPT_OUTCOME: Record<Doc<"prompts">["status"], RowOutcome> = {
  open: "waiting",
  answered: "running",
  applied: "done",
  too_late: "too_late",
  expired: "expired",
};

/** One row of the log: an entry with how its action or answered prompt ended. */
async function feedRowOf(ctx: QueryCtx, e: Doc<"auditLog">): Promise<FeedRow> {
  const row: FeedRow = {
    _id: e._id,
    at: e.at,
    verb: e.verb,
    kind: e.kind ?? kindOf(e.verb),
    actorKind: e.actorKind,
    outcome: e.outcome === "failed" ? "failed" : "done",
    ...(e.actorName === undefined ? {} : { actorName: e.actorName }),
    ...(e.client === undefined ? {} : { client: e.client }),
    ...(e.userAgent === undefined ? {} : { userAgent: e.userAgent }),
    ...(e.nodeId === undefined ? {} : { nodeId: e.nodeId }),
    ...(e.nodeName === undefined ? {} : { nodeName: e.nodeName }),
    ...(e.orchestrationId === undefined ? {} : { orchestrationId: e.orchestrationId }),
    ...(e.detail === undefined ? {} : { detail: e.detail }),
  };
  if (e.verb === "action.submitted" && e.actionId !== undefined) {
    const a = await ctx.db.get("inboundActions", e.actionId);
    if (a !== null) {
      const p = a.payload;
      row.outcome = ACTION_OUTCOME[a.status];
      if (a.result !== undefined && !a.result.ok) row.reason = a.result.message || a.result.code.replace(/_/g, " ");
      row.action = {
        type: a.type,
        ...(p.agentName === undefined ? {} : { agentName: p.agentName }),
        ...(p.feature === undefined ? {} : { feature: p.feature }),
        ...(p.phase === undefined ? {} : { phase: p.phase }),
        ...(p.text === undefined ? {} : { textLength: p.text.length }),
      };
    } else if (e.actionType !== undefined) {
      row.action = { type: e.actionType };
    }
  }
  if (e.promptId !== undefined) {
    const p = await ctx.db.get("prompts", e.promptId);
    if (p !== null) {
      if (e.verb === "prompt.answered") row.outcome = PROMPT_OUTCOME[p.status];
      // A prompt nobody answered from the dashboard: its own row says how it ended.
      if (e.verb === "prompt.expired") row.outcome = "expired";
      if (e.verb === "prompt.too_late") row.outcome = "too_late";
      row.prompt = {
        toolName: p.toolName,
        ...(p.decision === undefined ? {} : { decision: p.decision }),
        ...(p.agentName === undefined ? {} : { agentName: p.agentName }),
      };
    }
  }
  return row;
}

/**
 * The log for people, newest first: one row per action (its claim and outcome folded into its
 * submission's row) and per answered prompt, each with how it ended. Filters: who did it, which
 * laptop, what kind, how it ended. A page reads at most `numItems` entries (50 at most) and one
 * action or prompt per entry; rows a filter or the folding leaves out make the page shorter.
 */
export const feed = viewerQuery({
  args: {
    paginationOpts: paginationOptsValidator,
    actorId: v.optional(v.string()),
    nodeId: v.optional(v.id("nodes")),
    kind: v.optional(auditKind),
    outcome: v.optional(outcomeFilter),
  },
  returns: paginationResultValidator(feedRow),
  handler: async (ctx, { paginationOpts, actorId, nodeId, kind, outcome }) => {
    const page = checkPagination(paginationOpts, FEED_PAGE_MAX);
    if (actorId !== undefined) checkString("actorId", actorId, 64);
    const log = ctx.db.query("auditLog");
    // The most selective filter picks the index; the others are checked on the page.
    const q =
      actorId !== undefined
        ? log.withIndex("by_actor_at", (q) => q.eq("actorId", actorId))
        : nodeId !== undefined
          ? log.withIndex("by_node_at", (q) => q.eq("nodeId", nodeId))
          : kind !== undefined
            ? log.withIndex("by_kind_at", (q) => q.eq("kind", kind))
            : log.withIndex("by_at");
    const result = await q.order("desc").paginate(page);
    const rows: FeedRow[] = [];
    for (const e of result.page) {
      if (isFolded(e)) continue;
      if (nodeId !== undefined && e.nodeId !== nodeId) continue;
      if (kind !== undefined && (e.kind ?? kindOf(e.verb)) !== kind) continue;
      const row = await feedRowOf(ctx, e);
      if (outcome !== undefined && !FILTER_OUTCOMES[outcome].includes(row.outcome)) continue;
      rows.push(row);
    }
    return { ...result, page: rows };
  },
});

/** Who and which laptops the log's filters offer (at most 200 of each). */
export const filterOptions = viewerQuery({
  args: {},
  returns: v.object({
    people: v.array(v.object({ id: v.string(), name: v.string() })),
    laptops: v.array(v.object({ id: v.id("nodes"), name: v.string() })),
  }),
  handler: async (ctx) => {
    const members = await ctx.db.query("members").take(OPTIONS_MAX);
    const people = [];
    for (const m of members) {
      const user = await ctx.db.get("users", m.userId);
      if (user !== null) people.push({ id: m.userId as string, name: displayName(user) });
    }
    const nodes = await ctx.db.query("nodes").withIndex("by_name").take(OPTIONS_MAX);
    return {
      people: people.sort((a, b) => a.name.localeCompare(b.name)),
      laptops: nodes.map((n) => ({ id: n._id, name: n.name })),
    };
  },
});
