// Claude Code teams: the daemon's snapshot upsert, and teams outside any orchestration.
import { v } from "convex/values";
import { doc } from "convex-helpers/validators";
import { nodeMutation, nodeQuery, viewerQuery } from "./functions";
import { conversation as readConversation, recordTeamMessages as record } from "./model/teamMessages";
import {
  finishReconcile as finish,
  reconcileTeam as reconcile,
  removeTeam as remove,
  syncTeam as sync,
  syncTeamDelta as syncDelta,
  syncTeams as syncBatch,
} from "./model/teams";
import {
  finishReconcileResult,
  inboxMessage,
  memberSnapshot,
  reconcileTeamResult,
  syncTeamDeltaResult,
  syncTeamResult,
  taskCounts,
  taskObservation,
  taskSnapshot,
  teamSnapshot,
} from "./model/validators";
import schema from "./schema";

/**
 * A whole snapshot of a small team (at most 500 task states, 2 MiB of text, 4 MiB of stored task
 * rows), diffed against the stored one. Bigger teams sync with syncTeamDelta / reconcileTeam.
 */
export const syncTeam = nodeMutation({
  args: {
    team: teamSnapshot,
    members: v.array(memberSnapshot),
    tasks: v.array(taskSnapshot),
    seq: v.optional(v.number()),
    // Intermediate task states observed since the last sync (e.g. while offline), oldest first.
    history: v.optional(v.array(taskObservation)),
  },
  returns: syncTeamResult,
  handler: (ctx, { team, members, tasks, seq, history }) => sync(ctx, ctx.node, team, members, tasks, seq, history ?? []),
});

/**
 * Small teams' whole snapshots in one call (a daemon's cold start: one call for up to 50 teams
 * instead of one each), each applied as syncTeam applies it; results in the same order. All of
 * them within one syncTeam call's bounds (500 task states, 2 MiB of text, 4 MiB of stored rows),
 * and at most 4,000 stored rows read.
 */
export const syncTeams = nodeMutation({
  args: {
    teams: v.array(
      v.object({
        team: teamSnapshot,
        members: v.array(memberSnapshot),
        tasks: v.array(taskSnapshot),
        seq: v.optional(v.number()),
        history: v.optional(v.array(taskObservation)),
      }),
    ),
  },
  returns: v.array(syncTeamResult),
  handler: (ctx, { teams }) => syncBatch(ctx, ctx.node, teams),
});

/**
 * One change of a team since `base`, the revision Convex has: the team fields, the member list
 * when it changed, task states since base (oldest first; status "deleted" = removed) and the
 * ids of tasks gone. Applied only on `base` ("applied", revision = seq); a replay of `seq` is
 * "duplicate"; another base or a reconcile under way "mismatch"; no live team "unknown".
 * Bounds per call (model/checks.ts SYNC): 500 task states, 1,000 removed ids, 4 MiB of text,
 * 5 MiB of stored rows replaced or removed (else refused, field "storedTasks": send fewer).
 */
export const syncTeamDelta = nodeMutation({
  args: {
    team: teamSnapshot,
    base: v.number(),
    seq: v.number(),
    members: v.optional(v.array(memberSnapshot)),
    tasks: v.array(taskObservation),
    removed: v.array(v.string()),
    taskCounts,
  },
  returns: syncTeamDeltaResult,
  handler: (ctx, args) => syncDelta(ctx, ctx.node, args),
});

/**
 * One page of a full reconcile of a team (at most 500 task states and 4 MiB of text): creates or
 * revives the team, and holds deltas off ("mismatch") until finishReconcile says "done". Members
 * are sent on the first page. A page of an epoch older than the reconcile under way is "stale".
 */
export const reconcileTeam = nodeMutation({
  args: {
    team: teamSnapshot,
    epoch: v.number(),
    members: v.optional(v.array(memberSnapshot)),
    tasks: v.array(taskObservation),
  },
  returns: reconcileTeamResult,
  handler: (ctx, args) => reconcile(ctx, ctx.node, args),
});

/**
 * The end of a reconcile: marks removed the tasks no page included, a bounded page a call
 * ("more": call again), then the team's revision becomes `seq` ("done").
 */
export const finishReconcile = nodeMutation({
  args: { dirName: v.string(), epoch: v.number(), seq: v.number(), taskCounts },
  returns: finishReconcileResult,
  handler: (ctx, args) => finish(ctx, ctx.node, args),
});

export const removeTeam = nodeMutation({
  args: { dirName: v.string(), seq: v.optional(v.number()) },
  returns: v.object({ removed: v.boolean() }),
  handler: async (ctx, { dirName, seq }) => ({ removed: await remove(ctx, ctx.node, dirName, seq) }),
});

const ACTIVE_DIRS_LIMIT = 2000;

/**
 * The daemon's start-up reconcile: directories of this laptop's teams Convex still shows
 * (at most 2000, by directory name). Only live rows are read: removed teams never crowd
 * out a live one.
 */
export const activeTeamDirs = nodeQuery({
  args: {},
  returns: v.array(v.string()),
  handler: async (ctx) => {
    const teams = await ctx.db
      .query("teams")
      .withIndex("by_node_removed_dir", (q) => q.eq("nodeId", ctx.node._id).eq("removedAt", undefined))
      .take(ACTIVE_DIRS_LIMIT);
    return teams.map((t) => t.dirName);
  },
});

const UNLINKED_LIMIT = 100;

/**
 * Live teams of one laptop that belong to no orchestration (still shown under the laptop),
 * at most 100. The index selects exactly those: removed teams are never read.
 */
export const listUnlinkedTeams = viewerQuery({
  args: { nodeId: v.id("nodes") },
  returns: v.array(doc(schema, "teams")),
  handler: async (ctx, { nodeId }) =>
    await ctx.db
      .query("teams")
      .withIndex("by_node_orchestration_removed", (q) => q.eq("nodeId", nodeId).eq("orchestrationId", undefined).eq("removedAt", undefined))
      .take(UNLINKED_LIMIT),
});

/**
 * The daemon's inbox entries of one team (at most 100 a call): new keys are inserted, a known
 * key is patched only when `read` changed. The oldest rows beyond 2,000 per team are deleted.
 */
export const recordTeamMessages = nodeMutation({
  args: { dirName: v.string(), messages: v.array(inboxMessage) },
  returns: v.object({ inserted: v.number(), updated: v.number() }),
  handler: (ctx, { dirName, messages }) => record(ctx, ctx.node, dirName, messages),
});

/** A team's newest `limit` messages (default 100, at most 200), oldest first; `more` if older ones exist. */
export const conversation = viewerQuery({
  args: { teamId: v.id("teams"), limit: v.optional(v.number()) },
  returns: v.object({ messages: v.array(doc(schema, "teamMessages")), more: v.boolean() }),
  handler: (ctx, { teamId, limit }) => readConversation(ctx, teamId, limit),
});
