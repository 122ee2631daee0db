// Claude Code teams: the daemon's snapshot upsert, and teams outside any orchestration.
import { v } from "convex/values";
import { doc } from "convex-helpers/validators";
import { nodeMutation, nodeQuery, viewerQuery } from "./functions";
import { conversation as readConversation, recordTeamMessages as record } from "./model/teamMessages";
import { removeTeam as remove, syncTeam as sync } from "./model/teams";
import { inboxMessage, memberSnapshot, syncTeamResult, taskObservation, taskSnapshot, teamSnapshot } from "./model/validators";
import schema from "./schema";

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
