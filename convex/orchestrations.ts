// Orchestrations: the daemon's snapshot upsert, and the dashboard's list and detail views.
import { paginationOptsValidator, paginationResultValidator } from "convex/server";
import { getDocumentSize, v, type Infer, type Value } from "convex/values";
import { omit } from "convex-helpers";
import type { Doc, Id } from "./_generated/dataModel";
import type { QueryCtx } from "./_generated/server";
import { nodeMutation, viewerQuery } from "./functions";
import schema from "./schema";
import { doc } from "convex-helpers/validators";
import { isOnline } from "./model/nodes";
import { withReadState } from "./model/actions";
import { listedAction } from "./actions";
import { checkNumber, checkPagination, checkString } from "./model/checks";
import { comparePhases, isActiveStatus, syncOrchestration as sync } from "./model/orchestrations";
import { DEFAULT_MESSAGING, messagingOf } from "./model/messaging";
import {
  livenessCounts,
  messagingRule,
  orchestrationSnapshot,
  orchestrationStatus,
  phaseSnapshot,
  taskEventKind,
  type MessagingRule,
} from "./model/validators";

export const syncOrchestration = nodeMutation({
  args: { orchestration: orchestrationSnapshot, phases: v.array(phaseSnapshot), seq: v.optional(v.number()) },
  returns: v.object({ orchestrationId: v.id("orchestrations"), applied: v.boolean(), changed: v.boolean() }),
  handler: (ctx, { orchestration, phases, seq }) => sync(ctx, ctx.node, orchestration, phases, seq),
});

const ACTIVE_LIMIT = 200;
const FINISHED_DEFAULT = 20;
const FINISHED_MAX = 100;

/** One orchestration in a list (also the attention view's items). */
export const orchestrationSummary = v.object({
  _id: v.id("orchestrations"),
  nodeId: v.id("nodes"),
  nodeName: v.string(),
  nodeOnline: v.boolean(),
  featureName: v.string(),
  branch: v.string(),
  status: orchestrationStatus,
  currentPhase: v.number(),
  totalPhases: v.number(),
  phasesCompleted: v.number(),
  startedAt: v.number(),
  completedAt: v.optional(v.number()),
  updatedAt: v.number(),
  attention: v.optional(v.string()),
  attentionPhase: v.optional(v.string()),
  attentionReason: v.optional(v.string()),
  // Its agents by liveness are not here: each row subscribes to orchestrations:orchestrationAgents,
  // so an agent's change re-runs that small query, not the list.
});

type NodeInfo = { name: string; online: boolean; messaging: MessagingRule };

/** Node name and presence for each node id, one read per distinct node. */
export async function nodeInfo(ctx: QueryCtx, ids: Iterable<Id<"nodes">>): Promise<Map<Id<"nodes">, NodeInfo>> {
  const out = new Map<Id<"nodes">, NodeInfo>();
  for (const id of new Set(ids)) {
    const n = await ctx.db.get("nodes", id);
    out.set(id, {
      name: n?.name ?? "(removed laptop)",
      online: isOnline(n),
      messaging: n === null ? DEFAULT_MESSAGING : messagingOf(n),
    });
  }
  return out;
}

/** Summaries of `rows` (no team is read). */
export function summaries(rows: Doc<"orchestrations">[], nodes: Map<Id<"nodes">, NodeInfo>) {
  return rows.map((o) => toSummary(o, nodes));
}

export function toSummary(o: Doc<"orchestrations">, nodes: Map<Id<"nodes">, NodeInfo>) {
  const n = nodes.get(o.nodeId);
  return {
    _id: o._id,
    nodeId: o.nodeId,
    nodeName: n?.name ?? "(removed laptop)",
    nodeOnline: n?.online ?? false,
    featureName: o.featureName,
    branch: o.branch,
    status: o.status,
    currentPhase: o.currentPhase,
    totalPhases: o.totalPhases,
    phasesCompleted: o.phasesCompleted,
    startedAt: o.startedAt,
    completedAt: o.completedAt,
    updatedAt: o.updatedAt,
    attention: o.attention,
    attentionPhase: o.attentionPhase,
    attentionReason: o.attentionReason,
  };
}

/** All laptops together: active orchestrations (newest first) and a window of finished ones. */
export const listOrchestrations = viewerQuery({
  args: {
    nodeId: v.optional(v.id("nodes")),
    status: v.optional(orchestrationStatus),
    finishedLimit: v.optional(v.number()),
  },
  returns: v.object({ active: v.array(orchestrationSummary), finished: v.array(orchestrationSummary) }),
  handler: async (ctx, { nodeId, status, finishedLimit }) => {
    const finishedTake = Math.floor(checkNumber("finishedLimit", finishedLimit ?? FINISHED_DEFAULT, { min: 0, max: FINISHED_MAX }));
    let active: Doc<"orchestrations">[];
    let finished: Doc<"orchestrations">[];
    if (status !== undefined) {
      // The index selects exactly the matching rows (a status is either active or finished),
      // so rows of other laptops or statuses never crowd out a match.
      const rows = (n: number) =>
        (nodeId === undefined
          ? ctx.db.query("orchestrations").withIndex("by_status_started", (q) => q.eq("status", status))
          : ctx.db.query("orchestrations").withIndex("by_node_status_started", (q) => q.eq("nodeId", nodeId).eq("status", status))
        )
          .order("desc")
          .take(n);
      const isActive = isActiveStatus(status);
      active = isActive ? await rows(ACTIVE_LIMIT) : [];
      finished = isActive ? [] : await rows(finishedTake);
    } else if (nodeId !== undefined) {
      const q = (isActive: boolean) =>
        ctx.db
          .query("orchestrations")
          .withIndex("by_node_active_started", (q) => q.eq("nodeId", nodeId).eq("active", isActive))
          .order("desc");
      active = await q(true).take(ACTIVE_LIMIT);
      finished = await q(false).take(finishedTake);
    } else {
      const q = (isActive: boolean) =>
        ctx.db
          .query("orchestrations")
          .withIndex("by_active_started", (q) => q.eq("active", isActive))
          .order("desc");
      active = await q(true).take(ACTIVE_LIMIT);
      finished = await q(false).take(finishedTake);
    }
    const nodes = await nodeInfo(ctx, [...active, ...finished].map((o) => o.nodeId));
    return { active: summaries(active, nodes), finished: summaries(finished, nodes) };
  },
});

/**
 * The agents of an orchestration's live teams by liveness (null when none reports it), as team
 * sync keeps them: each row of the list subscribes to this, so an agent's change re-runs one
 * small query (the row's sum), not the list, the detail or Needs you.
 */
export const orchestrationAgents = viewerQuery({
  args: { orchestrationId: v.id("orchestrations") },
  returns: v.union(v.null(), livenessCounts),
  handler: async (ctx, { orchestrationId }) => (await agentsOf(ctx, orchestrationId)) ?? null,
});

/** An orchestration's agents by liveness, as team sync keeps them (undefined: none reports it). */
async function agentsOf(ctx: QueryCtx, orchestrationId: Id<"orchestrations">): Promise<Infer<typeof livenessCounts> | undefined> {
  const row = await ctx.db
    .query("orchestrationAgents")
    .withIndex("by_orchestration", (q) => q.eq("orchestrationId", orchestrationId))
    .unique();
  if (row !== null) return row.agents;
  // None yet, or kept on the orchestration row by an older version.
  const o = await ctx.db.get("orchestrations", orchestrationId);
  return o === null || o.agentsInTable === true ? undefined : o.agents;
}

/** What happened last: the newest event of the orchestration's journal, or of its tasks. */
const lastActivity = v.union(
  v.object({ source: v.literal("event"), at: v.number(), eventType: v.string(), summary: v.string(), phaseNumber: v.optional(v.string()) }),
  v.object({
    source: v.literal("task"),
    at: v.number(),
    kind: taskEventKind,
    status: v.string(),
    previousStatus: v.optional(v.string()),
    subject: v.string(),
    owner: v.optional(v.string()),
    phaseNumber: v.optional(v.string()),
  }),
);

/**
 * What a row of the list shows beyond the orchestration row: its agents by liveness, each phase's
 * tasks done of all (both kept by team sync: no team or task is read) and its last activity (the
 * newest journal event and the newest task event: one index read each). A row subscribes to this,
 * so a task's or an agent's change re-runs one small query, not the list.
 */
export const orchestrationProgress = viewerQuery({
  args: { orchestrationId: v.id("orchestrations") },
  returns: v.object({
    agents: v.optional(livenessCounts),
    phases: schema.tables.orchestrationProgress.validator.fields.phases,
    lastActivity: v.optional(lastActivity),
  }),
  handler: async (ctx, { orchestrationId }) => {
    const agents = await agentsOf(ctx, orchestrationId);
    const progress = await ctx.db
      .query("orchestrationProgress")
      .withIndex("by_orchestration", (q) => q.eq("orchestrationId", orchestrationId))
      .unique();
    const event = await ctx.db
      .query("orchestrationEvents")
      .withIndex("by_orchestration_recorded", (q) => q.eq("orchestrationId", orchestrationId))
      .order("desc")
      .first();
    const task = await ctx.db
      .query("taskEvents")
      .withIndex("by_orchestration_recorded", (q) => q.eq("orchestrationId", orchestrationId))
      .order("desc")
      .first();
    let last: Infer<typeof lastActivity> | undefined;
    if (event !== null) {
      last = { source: "event", at: event.recordedAt, eventType: event.eventType, summary: event.summary, phaseNumber: event.phaseNumber };
    }
    if (task !== null && (last === undefined || task.recordedAt > last.at)) {
      last = {
        source: "task",
        at: task.recordedAt,
        kind: task.kind,
        status: task.status,
        previousStatus: task.previousStatus,
        subject: task.subject,
        owner: task.owner,
        phaseNumber: task.phaseNumber,
      };
    }
    return {
      ...(agents === undefined ? {} : { agents }),
      phases: progress?.phases ?? [],
      ...(last === undefined ? {} : { lastActivity: last }),
    };
  },
});

const PHASE_LIMIT = 100;
const TEAM_LIMIT = 50;
const MEMBER_LIMIT = 100;
const RECENT_ACTIONS = 20;

// The detail reads members and teammate trackers within one budget, whatever the teams' sizes.
// Members come first (each team's, up to MEMBER_LIMIT); then each team's live trackers (one per
// teammate, read through their own index range), and the walk stops at the budget.
// Phases (<= 100, bounded fields), teams (<= 50) and recent actions (<= 20) come on top: the whole
// call stays far below Convex's 16 MiB / 32,000 documents read and 16 MiB returned.
const DETAIL_READ_DOCS = 8_000;
const DETAIL_READ_BYTES = 2 << 20;
// Convex ids are 31-37 characters; anything much longer is no id (refused before it is parsed).
const MAX_ID_LENGTH = 128;

/** What a member is doing: its teammate tracker (a task Claude Code keeps per teammate). */
const memberActivity = v.object({
  taskId: v.string(),
  subject: v.string(),
  status: v.string(),
  activeForm: v.optional(v.string()),
});

/** A phase, with what is known of its plan document in `plan` (its content comes from documents:getDocument). */
const phaseDetail = doc(schema, "phases");

const memberDetail = v.object({ ...doc(schema, "teamMembers").fields, activity: v.optional(memberActivity) });

const teamDetail = v.object({
  team: doc(schema, "teams"),
  members: v.array(memberDetail),
  // More members than the detail lists (MEMBER_LIMIT) or than its read budget allowed.
  membersTruncated: v.boolean(),
  // The walk for teammate trackers stopped at the read budget: some activity may be missing.
  activityPartial: v.boolean(),
  // Board tasks are not here: orchestrations:teamTasks pages through them.
});

/** Board tasks, and each member's activity from its live teammate tracker (the newest, if several). */
export function splitTrackers(
  members: Doc<"teamMembers">[],
  rows: Doc<"tasks">[],
): { members: Infer<typeof memberDetail>[]; tasks: Doc<"tasks">[] } {
  const tasks: Doc<"tasks">[] = [];
  const trackers = new Map<string, Doc<"tasks">>();
  for (const row of rows) {
    if (row.internal !== true) {
      tasks.push(row);
      continue;
    }
    if (row.removedAt !== undefined) continue;
    // A tracker's subject is its teammate's name (its owner too, when Claude Code sets one).
    const agent = row.owner ?? row.subject;
    const seen = trackers.get(agent);
    if (seen === undefined || newer(row, seen)) trackers.set(agent, row);
  }
  const withActivity = members.map((m) => {
    const t = trackers.get(m.agentName);
    if (t === undefined) return m;
    const activity: Infer<typeof memberActivity> = { taskId: t.taskId, subject: t.subject, status: t.status };
    if (t.activeForm !== undefined) activity.activeForm = t.activeForm;
    return { ...m, activity };
  });
  return { members: withActivity, tasks };
}

function newer(a: Doc<"tasks">, b: Doc<"tasks">): boolean {
  const at = a.claudeUpdatedAt ?? a.claudeCreatedAt ?? 0;
  const bt = b.claudeUpdatedAt ?? b.claudeCreatedAt ?? 0;
  if (at !== bt) return at > bt;
  return Number(a.taskId) > Number(b.taskId);
}

/** Documents and bytes a query may still read (measured as Convex measures documents). */
class ReadBudget {
  constructor(
    private docs: number,
    private bytes: number,
    private parent?: ReadBudget,
  ) {}
  get left(): boolean {
    return this.docs > 0 && this.bytes > 0;
  }
  spend(row: Record<string, unknown>): void {
    this.docs -= 1;
    this.bytes -= getDocumentSize(row as Record<string, Value>);
    this.parent?.spend(row);
  }
  /** A part (1/`parts`) of what is left, spent from this budget too. */
  share(parts: number): ReadBudget {
    return new ReadBudget(Math.floor(this.docs / parts), Math.floor(this.bytes / parts), this);
  }
}

/**
 * A team's live teammate trackers (never its board tasks: a board task's change does not touch
 * what the detail read), walked until the budget is spent; `complete` when the walk reached the end.
 */
async function liveTrackersWithin(ctx: QueryCtx, teamId: Id<"teams">, budget: ReadBudget): Promise<{ rows: Doc<"tasks">[]; complete: boolean }> {
  const rows: Doc<"tasks">[] = [];
  if (!budget.left) return { rows, complete: false };
  const live = ctx.db
    .query("tasks")
    .withIndex("by_team_removed_internal", (q) => q.eq("teamId", teamId).eq("removedAt", undefined).eq("internal", true));
  for await (const row of live) {
    budget.spend(row);
    rows.push(row);
    if (!budget.left) return { rows, complete: false };
  }
  return { rows, complete: true };
}

/**
 * Everything the detail page shows but the task boards and the events (paginated), each part
 * bounded. The id comes from the page's address, so any string up to 128 characters is taken: one
 * that is not an orchestration id of this deployment (malformed, another table's, another
 * deployment's) is simply not found (null), like a removed orchestration.
 */
export const getOrchestrationDetail = viewerQuery({
  args: { orchestrationId: v.string() },
  returns: v.union(
    v.null(),
    v.object({
      orchestration: doc(schema, "orchestrations"),
      nodeName: v.string(),
      nodeOnline: v.boolean(),
      // Who may message the agents on the laptop (the dashboard disables what the user may not send).
      nodeMessaging: messagingRule,
      phases: v.array(phaseDetail),
      teams: v.array(teamDetail),
      // As actions:listActions lists them (with `read` for delivered inbox messages).
      recentActions: v.array(listedAction),
    }),
  ),
  handler: async (ctx, args) => {
    // Far longer than any id: refused like any oversized argument (no address is that long).
    checkString("orchestrationId", args.orchestrationId, MAX_ID_LENGTH, { allowEmpty: true });
    const orchestrationId = ctx.db.normalizeId("orchestrations", args.orchestrationId);
    if (orchestrationId === null) return null;
    const orchestration = await ctx.db.get("orchestrations", orchestrationId);
    if (orchestration === null) return null;
    const nodes = await nodeInfo(ctx, [orchestration.nodeId]);
    const phases = (
      await ctx.db
        .query("phases")
        .withIndex("by_orchestration_phase", (q) => q.eq("orchestrationId", orchestrationId))
        .take(PHASE_LIMIT)
    ).sort((a, b) => comparePhases(a.phaseNumber, b.phaseNumber));
    const teamRows = await ctx.db
      .query("teams")
      .withIndex("by_orchestration_phase", (q) => q.eq("orchestrationId", orchestrationId))
      .take(TEAM_LIMIT);
    const budget = new ReadBudget(DETAIL_READ_DOCS, DETAIL_READ_BYTES);
    const memberLists: { members: Doc<"teamMembers">[]; truncated: boolean }[] = [];
    for (const team of teamRows) {
      const members: Doc<"teamMembers">[] = [];
      let truncated = false;
      for await (const m of ctx.db.query("teamMembers").withIndex("by_team_agent", (q) => q.eq("teamId", team._id))) {
        if (members.length === MEMBER_LIMIT || !budget.left) {
          truncated = true;
          break;
        }
        budget.spend(m);
        members.push(m);
      }
      memberLists.push({ members, truncated });
    }
    // What the members left, shared by the teams: one big team leaves the others their part.
    const teams = [];
    for (const [i, team] of teamRows.entries()) {
      const { members, truncated } = memberLists[i]!;
      const walk = await liveTrackersWithin(ctx, team._id, budget.share(teamRows.length - i));
      teams.push({
        team,
        members: splitTrackers(members, walk.rows).members,
        membersTruncated: truncated,
        activityPartial: !walk.complete,
      });
    }
    const recentActions = await withReadState(
      ctx,
      await ctx.db
        .query("inboundActions")
        .withIndex("by_orchestration_created", (q) => q.eq("orchestrationId", orchestrationId))
        .order("desc")
        .take(RECENT_ACTIONS),
    );
    const info = nodes.get(orchestration.nodeId)!;
    return { orchestration, nodeName: info.name, nodeOnline: info.online, nodeMessaging: info.messaging, phases, teams, recentActions };
  },
});

const TASK_PAGE_MAX = 200;
// A page of tasks stops early after this many bytes read (descriptions may be 20 KB each).
const TASK_PAGE_BYTES = 2 << 20;

/** A board task as teamTasks lists it: the row without its description and metadata. */
export const boardTask = v.object({
  ...omit(doc(schema, "tasks").fields, ["description", "metadata"]),
  // Whether the task has a description (orchestrations:taskDescription gives it).
  hasDescription: v.boolean(),
});

/**
 * A team's live board tasks (teammate trackers are the detail's member activity), a page at a
 * time, each page bounded in rows and bytes read and without descriptions.
 */
export const teamTasks = viewerQuery({
  args: { teamId: v.id("teams"), paginationOpts: paginationOptsValidator },
  returns: paginationResultValidator(boardTask),
  handler: async (ctx, { teamId, paginationOpts }) => {
    const opts = checkPagination(paginationOpts, TASK_PAGE_MAX);
    const result = await ctx.db
      .query("tasks")
      .withIndex("by_team_removed_epoch", (q) => q.eq("teamId", teamId).eq("removedAt", undefined))
      // Teammate trackers are few (one per teammate): skipping them costs a few reads per page.
      // eslint-disable-next-line @convex-dev/no-filter-in-query
      .filter((q) => q.neq(q.field("internal"), true))
      .paginate({
        ...opts,
        maximumBytesRead: Math.min(opts.maximumBytesRead ?? TASK_PAGE_BYTES, TASK_PAGE_BYTES),
        maximumRowsRead: Math.min(opts.maximumRowsRead ?? 2 * TASK_PAGE_MAX, 2 * TASK_PAGE_MAX),
      });
    return {
      ...result,
      page: result.page.map((t) => ({ ...omit(t, ["description", "metadata"]), hasDescription: t.description !== "" })),
    };
  },
});

/** One task's description and metadata, for the board's card opened on demand (null if gone). */
export const taskDescription = viewerQuery({
  args: { taskId: v.id("tasks") },
  returns: v.union(v.null(), v.object({ description: v.string(), metadata: v.optional(v.string()) })),
  handler: async (ctx, { taskId }) => {
    const t = await ctx.db.get("tasks", taskId);
    if (t === null) return null;
    return t.metadata === undefined ? { description: t.description } : { description: t.description, metadata: t.metadata };
  },
});
