// Orchestrations: the daemon's snapshot upsert, and the dashboard's list and detail views.
import { v, type Infer } from "convex/values";
import type { Doc, Id } from "./_generated/dataModel";
import type { QueryCtx } from "./_generated/server";
import { nodeMutation, viewerQuery } from "./functions";
import schema from "./schema";
import { doc } from "convex-helpers/validators";
import { isOnline } from "./model/nodes";
import { withReadState } from "./model/actions";
import { listedAction } from "./actions";
import { checkNumber } from "./model/checks";
import { comparePhases, isActiveStatus, syncOrchestration as sync } from "./model/orchestrations";
import { DEFAULT_MESSAGING, messagingOf } from "./model/messaging";
import {
  livenessCounts,
  messagingRule,
  orchestrationSnapshot,
  orchestrationStatus,
  phaseSnapshot,
  type LivenessCounts,
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
  // The agents of its live teams by liveness (absent when no team reports liveness).
  agents: v.optional(livenessCounts),
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

const LIVE_TEAMS_PER_SUMMARY = 20;

/**
 * The agents of an orchestration's live teams by liveness (undefined when none reports it).
 * The index reads live teams only, at most LIVE_TEAMS_PER_SUMMARY (an orchestration has its own
 * team and one per running phase).
 */
export async function agentsOf(ctx: QueryCtx, orchestrationId: Id<"orchestrations">): Promise<LivenessCounts | undefined> {
  const teams = await ctx.db
    .query("teams")
    .withIndex("by_orchestration_removed", (q) => q.eq("orchestrationId", orchestrationId).eq("removedAt", undefined))
    .take(LIVE_TEAMS_PER_SUMMARY);
  let sum: LivenessCounts | undefined;
  for (const t of teams) {
    if (t.liveness === undefined) continue;
    sum ??= { working: 0, idle: 0, waiting: 0, shutDown: 0, gone: 0 };
    for (const k of ["working", "idle", "waiting", "shutDown", "gone"] as const) sum[k] += t.liveness[k];
    // Present only when some team reports a rate-limited agent (older rows have no rateLimited).
    if (t.liveness.rateLimited) sum.rateLimited = (sum.rateLimited ?? 0) + t.liveness.rateLimited;
  }
  return sum;
}

/** Summaries of `rows`, each with its agents' liveness. */
export async function summaries(ctx: QueryCtx, rows: Doc<"orchestrations">[], nodes: Map<Id<"nodes">, NodeInfo>) {
  const out = [];
  for (const o of rows) {
    const agents = await agentsOf(ctx, o._id);
    out.push({ ...toSummary(o, nodes), ...(agents === undefined ? {} : { agents }) });
  }
  return out;
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
    return { active: await summaries(ctx, active, nodes), finished: await summaries(ctx, finished, nodes) };
  },
});

const PHASE_LIMIT = 100;
const TEAM_LIMIT = 50;
const MEMBER_LIMIT = 100;
const TASK_LIMIT = 500;
const RECENT_EVENTS = 50;
const RECENT_ACTIONS = 20;

// Trackers are read along with the tasks: room for one per member besides the board's tasks.
const TASK_READ_LIMIT = TASK_LIMIT + MEMBER_LIMIT;

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
  // Board tasks only: teammate trackers are each member's `activity` instead.
  tasks: v.array(doc(schema, "tasks")),
  tasksTruncated: v.boolean(),
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

/** Everything the detail page shows, each part bounded. */
export const getOrchestrationDetail = viewerQuery({
  args: { orchestrationId: v.id("orchestrations") },
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
      recentEvents: v.array(doc(schema, "orchestrationEvents")),
      // As actions:listActions lists them (with `read` for delivered inbox messages).
      recentActions: v.array(listedAction),
    }),
  ),
  handler: async (ctx, { orchestrationId }) => {
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
    const teams = [];
    for (const team of teamRows) {
      const members = await ctx.db
        .query("teamMembers")
        .withIndex("by_team_agent", (q) => q.eq("teamId", team._id))
        .take(MEMBER_LIMIT);
      const rows = await ctx.db
        .query("tasks")
        .withIndex("by_team_task", (q) => q.eq("teamId", team._id))
        .take(TASK_READ_LIMIT + 1);
      const split = splitTrackers(members, rows);
      teams.push({
        team,
        members: split.members,
        tasks: split.tasks.slice(0, TASK_LIMIT),
        tasksTruncated: split.tasks.length > TASK_LIMIT || rows.length > TASK_READ_LIMIT,
      });
    }
    const recentEvents = await ctx.db
      .query("orchestrationEvents")
      .withIndex("by_orchestration_recorded", (q) => q.eq("orchestrationId", orchestrationId))
      .order("desc")
      .take(RECENT_EVENTS);
    const recentActions = await withReadState(
      ctx,
      await ctx.db
        .query("inboundActions")
        .withIndex("by_orchestration_created", (q) => q.eq("orchestrationId", orchestrationId))
        .order("desc")
        .take(RECENT_ACTIONS),
    );
    const info = nodes.get(orchestration.nodeId)!;
    return { orchestration, nodeName: info.name, nodeOnline: info.online, nodeMessaging: info.messaging, phases, teams, recentEvents, recentActions };
  },
});
