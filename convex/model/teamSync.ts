// Where a team stands in the daemon's sequence (lastSeq, revision, reconcileEpoch) and how many
// messages it keeps: the `teamSync` row, apart from the team row the detail page reads. Nearly
// every sync call moves these, so a call that changes nothing a page shows writes nothing it
// reads. A team stored by an older version has no teamSync row until its first write here: its
// team row's own fields are its state until then.
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";

const FIELDS = ["lastSeq", "revision", "reconcileEpoch", "messageCount"] as const;

export type TeamSyncState = Partial<Pick<Doc<"teamSync">, (typeof FIELDS)[number]>>;

/** A team's sync state as read: its row (null: none yet) and the state (from the team row if none). */
export type TeamSync = { teamId: Id<"teams">; row: Doc<"teamSync"> | null; state: TeamSyncState };

export async function loadTeamSync(ctx: QueryCtx, team: Doc<"teams">): Promise<TeamSync> {
  const row = await ctx.db
    .query("teamSync")
    .withIndex("by_team", (q) => q.eq("teamId", team._id))
    .unique();
  const source: TeamSyncState = row ?? team;
  const state: TeamSyncState = {};
  for (const key of FIELDS) if (source[key] !== undefined) state[key] = source[key];
  return { teamId: team._id, row, state };
}

/** A new team's (empty) sync state. */
export function newTeamSync(teamId: Id<"teams">): TeamSync {
  return { teamId, row: null, state: {} };
}

/**
 * Writes `next` (a field set to undefined is cleared) over the state: patches the row when a field
 * changes, or creates it (with the state carried over from the team row). Returns the new state.
 */
export async function writeTeamSync(ctx: MutationCtx, sync: TeamSync, next: TeamSyncState): Promise<TeamSyncState> {
  const state: TeamSyncState = { ...sync.state };
  for (const key of FIELDS) {
    if (!(key in next)) continue;
    const value = next[key];
    if (value === undefined) delete state[key];
    else state[key] = value;
  }
  const changed = FIELDS.some((key) => state[key] !== sync.state[key]);
  if (sync.row === null) {
    if (changed || FIELDS.some((key) => state[key] !== undefined)) {
      const id = await ctx.db.insert("teamSync", { teamId: sync.teamId, ...state });
      sync.row = { _id: id, _creationTime: Date.now(), teamId: sync.teamId, ...state };
    }
  } else if (changed) {
    const patch: TeamSyncState = {};
    for (const key of FIELDS) if (state[key] !== sync.state[key]) patch[key] = state[key];
    await ctx.db.patch("teamSync", sync.row._id, patch);
  }
  sync.state = state;
  return state;
}
