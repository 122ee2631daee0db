// Claude Code teams: members and tasks, diffed on the server against what is stored.
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import {
  AGENT_RE,
  checkCount,
  checkNumber,
  checkOptionalString,
  checkOptionalTimestamp,
  checkPattern,
  checkString,
  LIMITS,
  PHASE_RE,
  TEAM_DIR_RE,
} from "./checks";
import { invalid } from "./errors";
import type { LivenessCounts, MemberSnapshot, SyncTeamResult, TaskSnapshot, TeamSnapshot } from "./validators";

const TASK_EVENT_FIELDS = ["status", "subject", "owner", "description", "blockedBy", "metadata"] as const;
// Stored without an event: spinner text, forward links, the tracker flag and Claude Code's own times.
const TASK_QUIET_FIELDS = ["activeForm", "blocks", "internal", "claudeCreatedAt", "claudeUpdatedAt"] as const;
// Claude Code keeps a deleted task's file in some builds: it is gone from the board all the same.
const DELETED = "deleted";
// backendType and color are short words ("in-process", "purple").
const TAG_MAX = 32;

function checkTask(field: string, t: TaskSnapshot): void {
  checkString(`${field}.taskId`, t.taskId, 64);
  checkString(`${field}.subject`, t.subject, LIMITS.summary, { allowEmpty: true });
  checkString(`${field}.description`, t.description, LIMITS.description, { allowEmpty: true });
  checkOptionalString(`${field}.activeForm`, t.activeForm, LIMITS.summary);
  checkString(`${field}.status`, t.status, 32);
  checkOptionalString(`${field}.owner`, t.owner, LIMITS.name);
  checkCount(`${field}.blocks`, t.blocks, LIMITS.listItems);
  checkCount(`${field}.blockedBy`, t.blockedBy, LIMITS.listItems);
  for (const id of [...t.blocks, ...t.blockedBy]) checkString(`${field}.blockedBy`, id, 64);
  checkOptionalString(`${field}.metadata`, t.metadata, LIMITS.metadata);
  checkOptionalTimestamp(`${field}.createdAt`, t.createdAt);
  checkOptionalTimestamp(`${field}.updatedAt`, t.updatedAt);
}

export type TaskObservation = { seq: number; task: TaskSnapshot };

function validate(team: TeamSnapshot, members: MemberSnapshot[], tasks: TaskSnapshot[], history: TaskObservation[]): void {
  checkPattern("team.dirName", team.dirName, TEAM_DIR_RE, "a team directory name");
  checkString("team.teamName", team.teamName, LIMITS.name);
  checkOptionalString("team.description", team.description, LIMITS.text);
  checkOptionalString("team.leadAgentId", team.leadAgentId, LIMITS.name * 2);
  checkOptionalTimestamp("team.createdAt", team.createdAt);
  checkCount("members", members, LIMITS.membersPerTeam);
  checkCount("tasks", tasks, LIMITS.tasksPerTeam);
  const agents = new Set<string>();
  for (const m of members) {
    checkString("members.agentId", m.agentId, LIMITS.name * 2);
    if (agents.has(m.agentId)) invalid("members.agentId", "each agent once", m.agentId);
    agents.add(m.agentId);
    checkPattern("members.agentName", m.agentName, AGENT_RE, "an agent name");
    checkOptionalString("members.agentType", m.agentType, LIMITS.name);
    checkOptionalString("members.model", m.model, LIMITS.name);
    checkOptionalTimestamp("members.joinedAt", m.joinedAt);
    checkOptionalString("members.tmuxPaneId", m.tmuxPaneId, 32);
    checkOptionalString("members.cwd", m.cwd, LIMITS.path);
    checkOptionalString("members.backendType", m.backendType, TAG_MAX);
    checkOptionalString("members.color", m.color, TAG_MAX);
    checkOptionalString("members.livenessReason", m.livenessReason, LIMITS.summary);
  }
  const ids = new Set<string>();
  for (const t of tasks) {
    checkTask("tasks", t);
    if (ids.has(t.taskId)) invalid("tasks.taskId", "each task once", t.taskId);
    ids.add(t.taskId);
  }
  // Earlier observed states of tasks, oldest first (a task may appear several times).
  checkCount("history", history, LIMITS.tasksPerTeam);
  for (const h of history) {
    checkNumber("history.seq", h.seq, { min: 0 });
    checkTask("history.task", h.task);
  }
}

/** The phase a team works on, from its name or directory name and the feature. */
export function phaseOfTeam(feature: string, teamName: string, dirName: string): string | undefined {
  for (const name of [teamName, dirName]) {
    const prefix = `${feature}-phase-`;
    if (!name.startsWith(prefix)) continue;
    // Directory names replace dots with dashes: "1-5" means "1.5".
    const phase = name.slice(prefix.length).replace(/-5/g, ".5");
    if (PHASE_RE.test(phase)) return phase;
  }
  return undefined;
}

/** The working directory most members share (ties: the lead's, i.e. the first). */
export function primaryCwd(members: MemberSnapshot[]): string | undefined {
  const counts = new Map<string, number>();
  for (const m of members) if (m.cwd) counts.set(m.cwd, (counts.get(m.cwd) ?? 0) + 1);
  let best: string | undefined;
  let bestCount = 0;
  for (const [cwd, n] of counts) {
    if (n > bestCount) {
      best = cwd;
      bestCount = n;
    }
  }
  return best;
}

/** Candidate worktree paths for a cwd: itself, then `<repo>/.worktrees/<name>` above it. */
export function worktreeCandidates(cwd: string): string[] {
  const trimmed = cwd.length > 1 ? cwd.replace(/\/+$/, "") : cwd;
  const out = [trimmed];
  const m = /^(.*\/\.worktrees\/[^/]+)\//.exec(trimmed + "/");
  if (m && m[1] !== trimmed) out.push(m[1]);
  return out;
}

async function findOrchestration(
  ctx: QueryCtx,
  nodeId: Id<"nodes">,
  cwd: string | undefined,
): Promise<Doc<"orchestrations"> | null> {
  if (cwd === undefined) return null;
  for (const path of worktreeCandidates(cwd)) {
    const found = await ctx.db
      .query("orchestrations")
      .withIndex("by_node_worktree_started", (q) => q.eq("nodeId", nodeId).eq("worktreePath", path))
      .order("desc")
      .first();
    if (found !== null) return found;
  }
  return null;
}

/** When an orchestration first appears, adopt the teams already working in its worktree. */
export async function linkTeamsToOrchestration(
  ctx: MutationCtx,
  nodeId: Id<"nodes">,
  orchestrationId: Id<"orchestrations">,
  feature: string,
  worktreePath: string,
): Promise<void> {
  const teams = await ctx.db
    .query("teams")
    .withIndex("by_node_cwd", (q) => q.eq("nodeId", nodeId).eq("cwd", worktreePath))
    .take(200);
  for (const team of teams) {
    if (team.orchestrationId === orchestrationId) continue;
    await ctx.db.patch("teams", team._id, {
      orchestrationId,
      phaseNumber: phaseOfTeam(feature, team.teamName, team.dirName),
    });
  }
}

function taskFields(t: TaskSnapshot) {
  return {
    taskId: t.taskId,
    subject: t.subject,
    description: t.description,
    activeForm: t.activeForm,
    status: t.status,
    owner: t.owner,
    blocks: t.blocks,
    blockedBy: t.blockedBy,
    metadata: t.metadata,
    internal: t.internal,
    claudeCreatedAt: t.createdAt,
    claudeUpdatedAt: t.updatedAt,
  };
}

function sameValue(a: unknown, b: unknown): boolean {
  return Array.isArray(a) && Array.isArray(b) ? a.length === b.length && a.every((x, i) => x === b[i]) : a === b;
}

function changedTaskFields(prev: Doc<"tasks">, next: TaskSnapshot): string[] {
  const out: string[] = [];
  for (const key of TASK_EVENT_FIELDS) {
    if (!sameValue(prev[key], next[key])) out.push(key);
  }
  return out;
}

/** A task the board shows: neither a teammate tracker nor deleted. */
function isBoardTask(t: { status: string; internal?: boolean }): boolean {
  return t.internal !== true && t.status !== DELETED;
}

/** The team's board tasks by status (teammate trackers and deleted tasks are not counted). */
function countTasks(tasks: TaskSnapshot[]) {
  const counts = { pending: 0, inProgress: 0, completed: 0, other: 0 };
  for (const t of tasks) {
    if (!isBoardTask(t)) continue;
    if (t.status === "pending") counts.pending++;
    else if (t.status === "in_progress") counts.inProgress++;
    else if (t.status === "completed") counts.completed++;
    else counts.other++;
  }
  return counts;
}

/** The members by liveness; undefined when none reports it (an older daemon). */
export function countLiveness(members: MemberSnapshot[]): LivenessCounts | undefined {
  if (members.every((m) => m.liveness === undefined)) return undefined;
  const counts: LivenessCounts = { working: 0, idle: 0, waiting: 0, shutDown: 0, gone: 0 };
  for (const m of members) {
    if (m.liveness === "shut_down") counts.shutDown++;
    // Only when someone is: rows from older daemons have no rateLimited either.
    else if (m.liveness === "rate_limited") counts.rateLimited = (counts.rateLimited ?? 0) + 1;
    else if (m.liveness !== undefined) counts[m.liveness]++;
  }
  return counts;
}

/** Two objects of counts are equal (either may be absent). */
function sameCounts(a: Record<string, number> | undefined, b: Record<string, number> | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => a[k] === b[k]);
}

/**
 * Brings the stored team, its members and its tasks to a laptop's snapshot. `history` holds
 * earlier observed states of tasks (e.g. seen while offline), oldest first, each with the
 * sequence number it was seen at; every real change becomes one task event.
 */
export async function syncTeam(
  ctx: MutationCtx,
  node: Doc<"nodes">,
  team: TeamSnapshot,
  members: MemberSnapshot[],
  tasks: TaskSnapshot[],
  seq: number | undefined,
  history: TaskObservation[] = [],
): Promise<SyncTeamResult> {
  checkSync(team, members, tasks, seq, history);
  const existing = await findTeam(ctx, node._id, team.dirName);
  if (existing !== null && alreadyApplied(existing.lastSeq, seq)) {
    return { teamId: existing._id, applied: false, taskEventsAppended: 0, membersRemoved: 0 };
  }
  const now = Date.now();
  const cwd = primaryCwd(members);
  const link = await orchestrationLink(ctx, node._id, team, cwd);
  const fields = teamFields(team, cwd, link, members, tasks);
  const teamId = await upsertTeam(ctx, node._id, team.dirName, existing, fields, seq, now);

  const memberChanges = diffMembers(await loadMembers(ctx, teamId), members);
  const membersRemoved = await applyMemberChanges(ctx, { teamId, nodeId: node._id, now }, memberChanges);

  const scope: TaskScope = { teamId, nodeId: node._id, link, now };
  const rows = await loadTasks(ctx, teamId);
  let taskEventsAppended = 0;
  // Each observed state in order: history an earlier call has not applied, then the snapshot.
  for (const state of [...unappliedHistory(history, existing?.lastSeq), ...tasks]) {
    // A deleted task is a vanished one: its row keeps its last state and is marked removed.
    const row = rows.get(state.taskId);
    if (state.status !== DELETED) taskEventsAppended += await applyTaskState(ctx, scope, rows, state);
    else if (row !== undefined && row.removedAt === undefined) taskEventsAppended += await markTaskRemoved(ctx, scope, rows, row);
  }
  const present = new Set(tasks.filter((t) => t.status !== DELETED).map((t) => t.taskId));
  taskEventsAppended += await markVanishedTasks(ctx, scope, rows, present);

  const { orchestrationId, phaseNumber } = link;
  return {
    teamId,
    applied: true,
    ...(orchestrationId ? { orchestrationId } : {}),
    ...(phaseNumber ? { phaseNumber } : {}),
    taskEventsAppended,
    membersRemoved,
  };
}

/** The snapshot is well formed, and history comes with a sequence number. */
function checkSync(
  team: TeamSnapshot,
  members: MemberSnapshot[],
  tasks: TaskSnapshot[],
  seq: number | undefined,
  history: TaskObservation[],
): void {
  validate(team, members, tasks, history);
  if (seq !== undefined) checkNumber("seq", seq, { min: 0 });
  // History is replayed state by state; only a sequence number makes a replay harmless.
  if (history.length > 0 && seq === undefined) invalid("seq", "a sequence number when history is sent");
}

async function findTeam(ctx: QueryCtx, nodeId: Id<"nodes">, dirName: string): Promise<Doc<"teams"> | null> {
  return await ctx.db
    .query("teams")
    .withIndex("by_node_dir", (q) => q.eq("nodeId", nodeId).eq("dirName", dirName))
    .unique();
}

/** A snapshot no newer than the last one applied (a replay after a lost response) changes nothing. */
function alreadyApplied(lastSeq: number | undefined, seq: number | undefined): boolean {
  return seq !== undefined && lastSeq !== undefined && seq <= lastSeq;
}

/** The orchestration a team works for (by its members' worktree), and the phase. */
type OrchestrationLink = { orchestrationId: Id<"orchestrations"> | undefined; phaseNumber: string | undefined };

async function orchestrationLink(
  ctx: QueryCtx,
  nodeId: Id<"nodes">,
  team: TeamSnapshot,
  cwd: string | undefined,
): Promise<OrchestrationLink> {
  const orchestration = await findOrchestration(ctx, nodeId, cwd);
  if (orchestration === null) return { orchestrationId: undefined, phaseNumber: undefined };
  return { orchestrationId: orchestration._id, phaseNumber: phaseOfTeam(orchestration.featureName, team.teamName, team.dirName) };
}

/** Everything a snapshot says about the team row itself. */
function teamFields(
  team: TeamSnapshot,
  cwd: string | undefined,
  link: OrchestrationLink,
  members: MemberSnapshot[],
  tasks: TaskSnapshot[],
) {
  return {
    teamName: team.teamName,
    description: team.description,
    leadAgentId: team.leadAgentId,
    createdAt: team.createdAt,
    cwd,
    ...link,
    memberCount: members.length,
    taskCounts: countTasks(tasks),
    liveness: countLiveness(members),
  };
}
type TeamFields = ReturnType<typeof teamFields>;

/** Inserts the team, or patches it (and its `lastSeq`) when the snapshot says something new. */
async function upsertTeam(
  ctx: MutationCtx,
  nodeId: Id<"nodes">,
  dirName: string,
  existing: Doc<"teams"> | null,
  fields: TeamFields,
  seq: number | undefined,
  now: number,
): Promise<Id<"teams">> {
  if (existing === null) {
    return await ctx.db.insert("teams", { ...fields, nodeId, dirName, lastSeq: seq, updatedAt: now });
  }
  const next = { ...fields, removedAt: undefined };
  const countsSame = sameCounts(existing.taskCounts, next.taskCounts) && sameCounts(existing.liveness, next.liveness);
  const sameRest = Object.entries(next).every(([k, v]) => k === "taskCounts" || k === "liveness" || existing[k as keyof typeof existing] === v);
  if (!countsSame || !sameRest) {
    await ctx.db.patch("teams", existing._id, { ...next, lastSeq: seq ?? existing.lastSeq, updatedAt: now });
  } else if (seq !== undefined) {
    await ctx.db.patch("teams", existing._id, { lastSeq: seq });
  }
  return existing._id;
}

async function loadMembers(ctx: QueryCtx, teamId: Id<"teams">): Promise<Doc<"teamMembers">[]> {
  return await ctx.db
    .query("teamMembers")
    .withIndex("by_team_agent", (q) => q.eq("teamId", teamId))
    .take(LIMITS.membersPerTeam * 4);
}

function memberFields(m: MemberSnapshot) {
  return {
    agentName: m.agentName,
    agentType: m.agentType,
    model: m.model,
    joinedAt: m.joinedAt,
    tmuxPaneId: m.tmuxPaneId,
    cwd: m.cwd,
    isActive: m.isActive,
    backendType: m.backendType,
    color: m.color,
    planModeRequired: m.planModeRequired,
    reach: m.reach,
    liveness: m.liveness,
    livenessReason: m.livenessReason,
    removedAt: undefined,
  };
}

export type MemberChanges = {
  added: MemberSnapshot[];
  changed: { id: Id<"teamMembers">; fields: ReturnType<typeof memberFields> }[];
  /** Stored members no longer in the snapshot and not yet marked removed. */
  vanished: Id<"teamMembers">[];
};

/** What to write so the stored members match the snapshot (no database access). */
export function diffMembers(stored: Doc<"teamMembers">[], members: MemberSnapshot[]): MemberChanges {
  const byAgent = new Map(stored.map((m) => [m.agentId, m]));
  const changes: MemberChanges = { added: [], changed: [], vanished: [] };
  for (const m of members) {
    const prev = byAgent.get(m.agentId);
    byAgent.delete(m.agentId);
    const fields = memberFields(m);
    if (prev === undefined) changes.added.push(m);
    else if (Object.entries(fields).some(([k, v]) => prev[k as keyof typeof prev] !== v)) {
      changes.changed.push({ id: prev._id, fields });
    }
  }
  for (const gone of byAgent.values()) if (gone.removedAt === undefined) changes.vanished.push(gone._id);
  return changes;
}

/** Writes the member changes; returns how many members were marked removed. */
async function applyMemberChanges(
  ctx: MutationCtx,
  { teamId, nodeId, now }: { teamId: Id<"teams">; nodeId: Id<"nodes">; now: number },
  changes: MemberChanges,
): Promise<number> {
  for (const m of changes.added) {
    await ctx.db.insert("teamMembers", { ...memberFields(m), teamId, nodeId, agentId: m.agentId, updatedAt: now });
  }
  for (const { id, fields } of changes.changed) await ctx.db.patch("teamMembers", id, { ...fields, updatedAt: now });
  for (const id of changes.vanished) await ctx.db.patch("teamMembers", id, { removedAt: now, updatedAt: now });
  return changes.vanished.length;
}

/** The team's task rows and events: whose they are and when this sync happens. */
type TaskScope = { teamId: Id<"teams">; nodeId: Id<"nodes">; link: OrchestrationLink; now: number };

/** Each task's row by task id, as this sync leaves it: rows it inserts or changes are updated here. */
type TaskRows = Map<string, Doc<"tasks">>;

type TaskEvent = Pick<Doc<"taskEvents">, "taskId" | "kind" | "changes" | "status" | "previousStatus" | "subject" | "owner">;

async function loadTasks(ctx: QueryCtx, teamId: Id<"teams">): Promise<TaskRows> {
  const stored = await ctx.db
    .query("tasks")
    .withIndex("by_team_task", (q) => q.eq("teamId", teamId))
    .take(LIMITS.tasksPerTeam * 4);
  return new Map(stored.map((t) => [t.taskId, t]));
}

/** The observed states an earlier call has not applied yet (their seq is above its `lastSeq`). */
function unappliedHistory(history: TaskObservation[], lastSeq: number | undefined): TaskSnapshot[] {
  const appliedUpTo = lastSeq ?? -1;
  return history.filter((h) => h.seq > appliedUpTo).map((h) => h.task);
}

/**
 * Applies one observed state of a task to its row: inserts it, records a real change (or a
 * return after removal) with a new revision, or quietly updates what is not history.
 * A teammate tracker (`internal`) is no board task: its rows change, but it has no events.
 * Returns the number of events appended.
 */
async function applyTaskState(ctx: MutationCtx, scope: TaskScope, rows: TaskRows, t: TaskSnapshot): Promise<number> {
  const { teamId, nodeId, now } = scope;
  const prev = rows.get(t.taskId);
  const next = taskFields(t);
  if (prev === undefined) {
    const id = await ctx.db.insert("tasks", { ...next, teamId, nodeId, revision: 1, updatedAt: now });
    rows.set(t.taskId, (await ctx.db.get("tasks", id))!);
    if (t.internal === true) return 0;
    const created: TaskEvent = { taskId: t.taskId, kind: "created", changes: [], status: t.status, subject: t.subject, owner: t.owner };
    return await appendTaskEvent(ctx, scope, id, 1, created, { newRow: true });
  }
  const restored = prev.removedAt !== undefined;
  const changes = restored ? ["restored"] : changedTaskFields(prev, t);
  if (changes.length > 0) {
    const revision = prev.revision + 1;
    await ctx.db.patch("tasks", prev._id, { ...next, removedAt: undefined, revision, updatedAt: now });
    rows.set(t.taskId, { ...prev, ...next, removedAt: undefined, revision, updatedAt: now });
    if (t.internal === true) return 0;
    return await appendTaskEvent(ctx, scope, prev._id, revision, {
      taskId: t.taskId,
      kind: restored ? "created" : "updated",
      changes,
      status: t.status,
      previousStatus: prev.status,
      subject: t.subject,
      owner: t.owner,
    });
  }
  if (TASK_QUIET_FIELDS.some((key) => !sameValue(prev[key], next[key]))) {
    // Spinner text, forward links and Claude Code's times change often and are not history.
    const quiet = Object.fromEntries(TASK_QUIET_FIELDS.map((key) => [key, next[key]])) as Pick<typeof next, (typeof TASK_QUIET_FIELDS)[number]>;
    await ctx.db.patch("tasks", prev._id, { ...quiet, updatedAt: now });
    rows.set(t.taskId, { ...prev, ...quiet, updatedAt: now });
  }
  return 0;
}

/** Tasks gone from the snapshot are marked removed (they keep their last state). Returns events appended. */
async function markVanishedTasks(ctx: MutationCtx, scope: TaskScope, rows: TaskRows, present: Set<string>): Promise<number> {
  let appended = 0;
  for (const gone of rows.values()) {
    if (present.has(gone.taskId) || gone.removedAt !== undefined) continue;
    appended += await markTaskRemoved(ctx, scope, rows, gone);
  }
  return appended;
}

/** Marks one task row removed (it keeps its last state) with one `removed` event. Returns events appended. */
async function markTaskRemoved(ctx: MutationCtx, scope: TaskScope, rows: TaskRows, gone: Doc<"tasks">): Promise<number> {
  const revision = gone.revision + 1;
  await ctx.db.patch("tasks", gone._id, { removedAt: scope.now, revision, updatedAt: scope.now });
  rows.set(gone.taskId, { ...gone, removedAt: scope.now, revision, updatedAt: scope.now });
  if (gone.internal === true) return 0;
  return await appendTaskEvent(ctx, scope, gone._id, revision, {
    taskId: gone.taskId,
    kind: "removed",
    changes: [],
    status: gone.status,
    previousStatus: gone.status,
    subject: gone.subject,
    owner: gone.owner,
  });
}

/** Appends the event of a task row's revision unless it is already recorded; returns 1 if appended. */
async function appendTaskEvent(
  ctx: MutationCtx,
  { teamId, nodeId, link, now }: TaskScope,
  taskRowId: Id<"tasks">,
  revision: number,
  event: TaskEvent,
  { newRow = false }: { newRow?: boolean } = {},
): Promise<number> {
  const idempotencyKey = `${taskRowId}:${revision}`;
  // A row this mutation inserted has no events yet: its key cannot exist, so no lookup (a
  // cold start appends thousands of these; each lookup is a read).
  if (!newRow) {
    const dup = await ctx.db
      .query("taskEvents")
      .withIndex("by_idempotency", (q) => q.eq("idempotencyKey", idempotencyKey))
      .first();
    if (dup !== null) return 0;
  }
  await ctx.db.insert("taskEvents", { teamId, nodeId, ...link, recordedAt: now, ...event, idempotencyKey });
  return 1;
}

/** The team directory is gone: the team and its members are marked removed; tasks keep their last state. */
export async function removeTeam(ctx: MutationCtx, node: Doc<"nodes">, dirName: string, seq: number | undefined): Promise<boolean> {
  checkPattern("dirName", dirName, TEAM_DIR_RE, "a team directory name");
  if (seq !== undefined) checkNumber("seq", seq, { min: 0 });
  const team = await ctx.db
    .query("teams")
    .withIndex("by_node_dir", (q) => q.eq("nodeId", node._id).eq("dirName", dirName))
    .unique();
  if (team === null || team.removedAt !== undefined) return false;
  if (seq !== undefined && team.lastSeq !== undefined && seq <= team.lastSeq) return false;
  const now = Date.now();
  await ctx.db.patch("teams", team._id, { removedAt: now, updatedAt: now, lastSeq: seq ?? team.lastSeq });
  const members = await ctx.db
    .query("teamMembers")
    .withIndex("by_team_agent", (q) => q.eq("teamId", team._id))
    .take(LIMITS.membersPerTeam * 4);
  for (const m of members) if (m.removedAt === undefined) await ctx.db.patch("teamMembers", m._id, { removedAt: now, updatedAt: now });
  return true;
}
