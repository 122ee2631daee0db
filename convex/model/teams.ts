// Claude Code teams: members and tasks. The daemon sends what changed against the revision
// Convex has (syncTeamDelta), or the whole team in pages (reconcileTeam, finishReconcile);
// small teams may still send a whole snapshot (syncTeam). Every call is bounded (checks.ts SYNC).
import { getDocumentSize, type Value } from "convex/values";
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
  SYNC,
  TEAM_DIR_RE,
  utf8Bytes,
} from "./checks";
import { invalid } from "./errors";
import type {
  FinishReconcileResult,
  LivenessCounts,
  MemberSnapshot,
  ReconcileTeamResult,
  SyncTeamDeltaResult,
  SyncTeamResult,
  TaskCounts,
  TaskSnapshot,
  TeamSnapshot,
} from "./validators";

const TASK_EVENT_FIELDS = ["status", "subject", "owner", "description", "blockedBy", "metadata"] as const;
// Stored without an event: spinner text, forward links, the tracker flag and Claude Code's own times.
const TASK_QUIET_FIELDS = ["activeForm", "blocks", "internal", "claudeCreatedAt", "claudeUpdatedAt"] as const;
// Claude Code keeps a deleted task's file in some builds: it is gone from the board all the same.
const DELETED = "deleted";
// backendType and color are short words ("in-process", "purple").
const TAG_MAX = 32;
// A tmux pane's "%12", or the iTerm2 session id the iTerm2 backend records (a 36-character UUID).
const PANE_ID_MAX = 64;

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
/** A task state to apply and the seq of the observation it was seen in (none: a snapshot sent without one). */
type ObservedState = { seq?: number; task: TaskSnapshot };

function checkTeamSnapshot(team: TeamSnapshot): void {
  checkPattern("team.dirName", team.dirName, TEAM_DIR_RE, "a team directory name");
  checkString("team.teamName", team.teamName, LIMITS.name);
  checkOptionalString("team.description", team.description, LIMITS.text);
  checkOptionalString("team.leadAgentId", team.leadAgentId, LIMITS.name * 2);
  checkOptionalTimestamp("team.createdAt", team.createdAt);
}

function checkMembers(members: MemberSnapshot[]): void {
  checkCount("members", members, LIMITS.membersPerTeam);
  const agents = new Set<string>();
  for (const m of members) {
    checkString("members.agentId", m.agentId, LIMITS.name * 2);
    if (agents.has(m.agentId)) invalid("members.agentId", "each agent once", m.agentId);
    agents.add(m.agentId);
    checkPattern("members.agentName", m.agentName, AGENT_RE, "an agent name");
    checkOptionalString("members.agentType", m.agentType, LIMITS.name);
    checkOptionalString("members.model", m.model, LIMITS.name);
    checkOptionalTimestamp("members.joinedAt", m.joinedAt);
    checkOptionalString("members.tmuxPaneId", m.tmuxPaneId, PANE_ID_MAX);
    checkOptionalString("members.cwd", m.cwd, LIMITS.path);
    checkOptionalString("members.backendType", m.backendType, TAG_MAX);
    checkOptionalString("members.color", m.color, TAG_MAX);
    checkOptionalString("members.livenessReason", m.livenessReason, LIMITS.summary);
  }
}

/** Observed task states (oldest first; a task may appear several times), each with its seq. */
function checkObservations(field: string, states: TaskObservation[], max: number): void {
  checkCount(field, states, max);
  for (const h of states) {
    checkNumber(`${field}.seq`, h.seq, { min: 0 });
    checkTask(`${field}.task`, h.task);
  }
}

/** UTF-8 bytes of every string in `value` (task states, members): what `SYNC.payloadBytes` bounds. */
export function payloadBytes(value: unknown): number {
  if (typeof value === "string") return utf8Bytes(value);
  if (Array.isArray(value)) return value.reduce((n: number, x) => n + payloadBytes(x), 0);
  if (value !== null && typeof value === "object") return Object.values(value).reduce((n: number, x) => n + payloadBytes(x), 0);
  return 0;
}

function checkPayload(field: string, value: unknown, max: number): void {
  const bytes = payloadBytes(value);
  if (bytes > max) invalid(field, `at most ${max} bytes of text (UTF-8) per call`, `${bytes} bytes`);
}

function checkTaskCounts(counts: TaskCounts): void {
  for (const [k, n] of Object.entries(counts)) checkNumber(`taskCounts.${k}`, n, { min: 0, integer: true });
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
  const touched = new Set<Id<"orchestrations">>();
  const progress = new Set<Id<"orchestrations">>();
  for (const team of teams) {
    if (team.orchestrationId === orchestrationId) continue;
    await ctx.db.patch("teams", team._id, {
      orchestrationId,
      phaseNumber: phaseOfTeam(feature, team.teamName, team.dirName),
    });
    if (team.liveness !== undefined && team.removedAt === undefined) {
      touched.add(orchestrationId);
      if (team.orchestrationId !== undefined) touched.add(team.orchestrationId);
    }
    if (team.removedAt === undefined) {
      progress.add(orchestrationId);
      if (team.orchestrationId !== undefined) progress.add(team.orchestrationId);
    }
  }
  for (const id of touched) await refreshAgents(ctx, id);
  for (const id of progress) await refreshProgress(ctx, id);
}

/** The row holding an orchestration's agents by liveness (null: none yet). */
async function agentsRowOf(ctx: QueryCtx, orchestrationId: Id<"orchestrations">): Promise<Doc<"orchestrationAgents"> | null> {
  return await ctx.db
    .query("orchestrationAgents")
    .withIndex("by_orchestration", (q) => q.eq("orchestrationId", orchestrationId))
    .unique();
}

/** Writes an orchestration's agents sum when it differs from what `stored` holds. */
async function storeAgents(ctx: MutationCtx, orchestrationId: Id<"orchestrations">, stored: Doc<"orchestrationAgents"> | null, agents: LivenessCounts | undefined): Promise<void> {
  if (stored === null) {
    if (agents !== undefined) await ctx.db.insert("orchestrationAgents", { orchestrationId, agents });
  } else if (!sameCounts(stored.agents, agents)) {
    await ctx.db.patch("orchestrationAgents", stored._id, { agents });
  }
}

// An orchestration has its own team and one per running phase: the sum reads at most this many.
const LIVE_TEAMS_PER_ORCHESTRATION = 20;

/** A team about to be written: its row is counted as `liveness` (in `orchestrationId`, live), not as stored. */
type TeamChange = { id: Id<"teams">; orchestrationId: Id<"orchestrations"> | undefined; liveness: LivenessCounts | undefined };

/**
 * The agents of an orchestration's live teams by liveness (undefined when none reports it).
 * `change`: a team the caller is about to write, counted as it will be.
 */
export async function orchestrationAgents(ctx: QueryCtx, orchestrationId: Id<"orchestrations">, change?: TeamChange): Promise<LivenessCounts | undefined> {
  const teams = await ctx.db
    .query("teams")
    .withIndex("by_orchestration_removed", (q) => q.eq("orchestrationId", orchestrationId).eq("removedAt", undefined))
    .take(LIVE_TEAMS_PER_ORCHESTRATION);
  const counted = teams.filter((t) => t._id !== change?.id).map((t) => t.liveness);
  if (change !== undefined && change.orchestrationId === orchestrationId) counted.push(change.liveness);
  let sum: LivenessCounts | undefined;
  for (const liveness of counted) {
    if (liveness === undefined) continue;
    sum ??= { working: 0, idle: 0, waiting: 0, shutDown: 0, gone: 0 };
    for (const k of ["working", "idle", "waiting", "shutDown", "gone"] as const) sum[k] += liveness[k];
    // Present only when some team reports a rate-limited agent (older rows have no rateLimited).
    if (liveness.rateLimited) sum.rateLimited = (sum.rateLimited ?? 0) + liveness.rateLimited;
  }
  return sum;
}

/**
 * Stores the sum of an orchestration's live teams' agents by liveness (its orchestrationAgents
 * row), so no list reads teams. Called when a team's liveness, link or removal changed; written
 * only when the sum did change.
 */
export async function refreshAgents(ctx: MutationCtx, orchestrationId: Id<"orchestrations">, change?: TeamChange): Promise<void> {
  const stored = await agentsRowOf(ctx, orchestrationId);
  await storeAgents(ctx, orchestrationId, stored, await orchestrationAgents(ctx, orchestrationId, change));
}

/** A phase's board tasks over an orchestration's live teams: completed, and all of them. */
export type PhaseTasks = { phaseNumber: string; done: number; total: number };

function taskTotal(c: TaskCounts): number {
  return c.pending + c.inProgress + c.completed + c.other;
}

/** Each phase's board tasks over the orchestration's live teams (a team without a phase is not counted), in phase order. */
export async function orchestrationPhaseTasks(ctx: QueryCtx, orchestrationId: Id<"orchestrations">): Promise<PhaseTasks[]> {
  const teams = await ctx.db
    .query("teams")
    .withIndex("by_orchestration_removed", (q) => q.eq("orchestrationId", orchestrationId).eq("removedAt", undefined))
    .take(LIVE_TEAMS_PER_ORCHESTRATION);
  const byPhase = new Map<string, PhaseTasks>();
  for (const team of teams) {
    if (team.phaseNumber === undefined) continue;
    const sum = byPhase.get(team.phaseNumber) ?? { phaseNumber: team.phaseNumber, done: 0, total: 0 };
    sum.done += team.taskCounts.completed;
    sum.total += taskTotal(team.taskCounts);
    byPhase.set(team.phaseNumber, sum);
  }
  return [...byPhase.values()].sort((a, b) => a.phaseNumber.localeCompare(b.phaseNumber, "en", { numeric: true }));
}

function samePhaseTasks(a: PhaseTasks[], b: PhaseTasks[]): boolean {
  return a.length === b.length && a.every((p, i) => p.phaseNumber === b[i]!.phaseNumber && p.done === b[i]!.done && p.total === b[i]!.total);
}

async function progressRowOf(ctx: QueryCtx, orchestrationId: Id<"orchestrations">): Promise<Doc<"orchestrationProgress"> | null> {
  return await ctx.db
    .query("orchestrationProgress")
    .withIndex("by_orchestration", (q) => q.eq("orchestrationId", orchestrationId))
    .unique();
}

async function storeProgress(ctx: MutationCtx, orchestrationId: Id<"orchestrations">, stored: Doc<"orchestrationProgress"> | null, phases: PhaseTasks[]): Promise<void> {
  if (stored === null) {
    if (phases.length > 0) await ctx.db.insert("orchestrationProgress", { orchestrationId, phases });
  } else if (!samePhaseTasks(stored.phases, phases)) {
    await ctx.db.patch("orchestrationProgress", stored._id, { phases });
  }
}

/**
 * Stores each phase's board tasks over an orchestration's live teams (its orchestrationProgress
 * row), so no list reads teams. Called after a team's task counts, link, phase or removal changed
 * (the team row already written); written only when the counts did change.
 */
export async function refreshProgress(ctx: MutationCtx, orchestrationId: Id<"orchestrations">): Promise<void> {
  await storeProgress(ctx, orchestrationId, await progressRowOf(ctx, orchestrationId), await orchestrationPhaseTasks(ctx, orchestrationId));
}

/**
 * A live team's patch (`before` as stored, `after` as written) and its orchestrations' progress:
 * when only its task counts changed, the stored phase is adjusted without reading the other
 * teams; when its link, phase or removal changed, the orchestrations it leaves and joins are summed again.
 */
async function refreshProgressFor(
  ctx: MutationCtx,
  before: Pick<Doc<"teams">, "orchestrationId" | "phaseNumber" | "removedAt" | "taskCounts">,
  after: Pick<Doc<"teams">, "orchestrationId" | "phaseNumber" | "taskCounts">,
): Promise<void> {
  const left = before.removedAt === undefined ? before.orchestrationId : undefined;
  const moved = left !== after.orchestrationId || before.phaseNumber !== after.phaseNumber;
  if (!moved && sameCounts(before.taskCounts, after.taskCounts)) return;
  if (!moved && after.orchestrationId !== undefined) {
    if (after.phaseNumber === undefined) return;
    const stored = await progressRowOf(ctx, after.orchestrationId);
    const i = stored?.phases.findIndex((p) => p.phaseNumber === after.phaseNumber) ?? -1;
    if (stored !== null && i >= 0) {
      const p = stored.phases[i]!;
      const done = p.done - before.taskCounts.completed + after.taskCounts.completed;
      const total = p.total - taskTotal(before.taskCounts) + taskTotal(after.taskCounts);
      if (done >= 0 && total >= done) {
        await storeProgress(ctx, after.orchestrationId, stored, stored.phases.map((q, j) => (j === i ? { phaseNumber: p.phaseNumber, done, total } : q)));
        return;
      }
    }
  }
  if (left !== undefined && left !== after.orchestrationId) await refreshProgress(ctx, left);
  if (after.orchestrationId !== undefined) await refreshProgress(ctx, after.orchestrationId);
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

/** Counts the stored rows a call reads before it writes; past `max` bytes the call is refused. */
export class StoredBudget {
  used = 0;
  rows = 0;
  constructor(
    private readonly field: string,
    private readonly max: number,
    private readonly hint: string,
    // Rows read per call at most (a batch of teams shares one budget: `syncTeams`).
    private readonly maxRows = Infinity,
  ) {}

  add(row: Record<string, Value> | null): void {
    if (row === null) return;
    this.used += getDocumentSize(row);
    this.rows += 1;
    if (this.used > this.max) invalid(this.field, `at most ${this.max} bytes of stored rows read per call (${this.hint})`, `${this.used} bytes`);
    if (this.rows > this.maxRows) invalid(this.field, `at most ${this.maxRows} stored rows read per call (${this.hint})`, `${this.rows} rows`);
  }
}

/** The budget of one `syncTeam` call: its stored rows read. */
export function snapshotBudget(): StoredBudget {
  return new StoredBudget("tasks", SYNC.snapshotStoredBytes, "a team this big syncs with syncTeamDelta and reconcileTeam");
}

/** The team's task rows this call touches, by task id (null: no row); rows it writes are updated here. */
type TaskRows = Map<string, Doc<"tasks"> | null>;

/** Reads each task's row once (one index range each), counting it against the budget. */
async function loadTaskRows(ctx: QueryCtx, teamId: Id<"teams">, taskIds: Iterable<string>, budget: StoredBudget, rows: TaskRows = new Map()): Promise<TaskRows> {
  for (const taskId of taskIds) {
    if (rows.has(taskId)) continue;
    const row = await ctx.db
      .query("tasks")
      .withIndex("by_team_task", (q) => q.eq("teamId", teamId).eq("taskId", taskId))
      .unique();
    budget.add(row);
    rows.set(taskId, row);
  }
  return rows;
}

/**
 * Brings the stored team, its members and its tasks to a laptop's snapshot. `history` holds
 * earlier observed states of tasks (e.g. seen while offline), oldest first, each with the
 * sequence number it was seen at; every real change becomes one task event.
 *
 * For small teams (tests, older daemons): the snapshot is diffed against the team's live task
 * rows, so it is bounded by construction (`SYNC.snapshot*`); bigger teams sync with
 * syncTeamDelta / reconcileTeam. With a `seq`, the team's revision becomes `seq` so a delta can follow.
 */
export async function syncTeam(
  ctx: MutationCtx,
  node: Doc<"nodes">,
  team: TeamSnapshot,
  members: MemberSnapshot[],
  tasks: TaskSnapshot[],
  seq: number | undefined,
  history: TaskObservation[] = [],
  budget: StoredBudget = snapshotBudget(),
): Promise<SyncTeamResult> {
  checkSync(team, members, tasks, seq, history);
  const existing = await findTeam(ctx, node._id, team.dirName);
  if (existing !== null && alreadyApplied(existing.lastSeq, seq)) {
    return { teamId: existing._id, applied: false, taskEventsAppended: 0, membersRemoved: 0 };
  }
  // Read before anything is written: a team too big for this path is refused untouched.
  const rows = existing === null ? new Map() : await loadLiveTasks(ctx, existing._id, budget);
  const storedMembers = existing === null ? [] : await loadMembers(ctx, existing._id, budget);
  const states: ObservedState[] = [...unappliedHistory(history, existing?.lastSeq), ...tasks.map((task) => ({ seq, task }))];
  if (existing !== null) await loadTaskRows(ctx, existing._id, states.map((s) => s.task.taskId), budget, rows);

  const now = Date.now();
  const cwd = primaryCwd(members);
  const { link, orchestration } = await orchestrationLink(ctx, node._id, team, cwd);
  const fields = { ...teamFields(team, cwd, link), ...memberSummary(members), taskCounts: countTasks(tasks) };
  const sequence = seq === undefined ? { revision: undefined } : { lastSeq: seq, revision: seq };
  const teamId = await upsertTeam(ctx, node._id, team.dirName, existing, fields, { ...sequence, reconcileEpoch: undefined }, now, orchestration);

  const membersRemoved = await applyMemberChanges(ctx, { teamId, nodeId: node._id, now }, diffMembers(storedMembers, members));

  const scope: TaskScope = { teamId, nodeId: node._id, link, now };
  // Each observed state in order: history an earlier call has not applied, then the snapshot.
  let taskEventsAppended = await applyStates(ctx, scope, rows, states);
  const present = new Set(tasks.filter((t) => t.status !== DELETED).map((t) => t.taskId));
  taskEventsAppended += await markVanishedTasks(ctx, scope, rows, present);
  return { teamId, applied: true, ...linkResult(link), taskEventsAppended, membersRemoved };
}

/** One team of a `syncTeams` batch: what `syncTeam` takes. */
export type TeamBatchEntry = {
  team: TeamSnapshot;
  members: MemberSnapshot[];
  tasks: TaskSnapshot[];
  seq?: number;
  history?: TaskObservation[];
};

/**
 * Several small teams' whole snapshots in one call, each as `syncTeam` applies it, in order.
 * Together they stay within one `syncTeam` call's bounds (task states, text, stored bytes read)
 * and at most `SYNC.batchTeams` teams and `SYNC.batchRows` stored rows read.
 */
export async function syncTeams(ctx: MutationCtx, node: Doc<"nodes">, teams: TeamBatchEntry[]): Promise<SyncTeamResult[]> {
  checkCount("teams", teams, SYNC.batchTeams);
  const dirs = new Set<string>();
  let states = 0;
  for (const t of teams) {
    if (dirs.has(t.team.dirName)) invalid("teams.team.dirName", "each team once", t.team.dirName);
    dirs.add(t.team.dirName);
    states += t.tasks.length + (t.history?.length ?? 0);
  }
  if (states > SYNC.states) invalid("teams", `at most ${SYNC.states} task states in all`, `${states}`);
  checkPayload("teams", teams.map((t) => [t.tasks, t.history ?? [], t.members]), SYNC.snapshotPayloadBytes);
  const budget = new StoredBudget("teams", SYNC.snapshotStoredBytes, "send fewer teams a call", SYNC.batchRows);
  const out: SyncTeamResult[] = [];
  for (const t of teams) out.push(await syncTeam(ctx, node, t.team, t.members, t.tasks, t.seq, t.history ?? [], budget));
  return out;
}

/** The snapshot is well formed and small enough, and history comes with a sequence number. */
function checkSync(
  team: TeamSnapshot,
  members: MemberSnapshot[],
  tasks: TaskSnapshot[],
  seq: number | undefined,
  history: TaskObservation[],
): void {
  checkTeamSnapshot(team);
  checkMembers(members);
  checkCount("tasks", tasks, SYNC.states);
  const ids = new Set<string>();
  for (const t of tasks) {
    checkTask("tasks", t);
    if (ids.has(t.taskId)) invalid("tasks.taskId", "each task once", t.taskId);
    ids.add(t.taskId);
  }
  // Earlier observed states of tasks, oldest first (a task may appear several times).
  checkObservations("history", history, SYNC.states - tasks.length);
  checkPayload("tasks", [tasks, history, members], SYNC.snapshotPayloadBytes);
  if (seq !== undefined) checkNumber("seq", seq, { min: 0 });
  // History is replayed state by state; only a sequence number makes a replay harmless.
  if (history.length > 0 && seq === undefined) invalid("seq", "a sequence number when history is sent");
}

/** The team's live task rows (at most `SYNC.snapshotLiveTasks`, within the budget), by task id. */
async function loadLiveTasks(ctx: QueryCtx, teamId: Id<"teams">, budget: StoredBudget): Promise<TaskRows> {
  const rows: TaskRows = new Map();
  const live = ctx.db.query("tasks").withIndex("by_team_removed_epoch", (q) => q.eq("teamId", teamId).eq("removedAt", undefined));
  for await (const row of live) {
    if (rows.size >= SYNC.snapshotLiveTasks) {
      invalid("tasks", `a team of at most ${SYNC.snapshotLiveTasks} live tasks (bigger teams sync with syncTeamDelta and reconcileTeam)`);
    }
    budget.add(row);
    rows.set(row.taskId, row);
  }
  return rows;
}

/**
 * Each state in order; a deleted one marks its live row removed (it keeps its last state).
 *
 * A state that is not its task's last in this call, seen at or before the observation the row
 * last changed to (`seenSeq`), is skipped: it was applied already, by a reconcile page or a
 * snapshot sent again because its reply was lost (or the daemon was killed before it recorded
 * the reply). Sent again, it would be recorded twice, after a later one. A task's last state
 * is always applied (compared with the row): the row never stays behind what the laptop sees.
 */
async function applyStates(ctx: MutationCtx, scope: TaskScope, rows: TaskRows, states: ObservedState[], stamp?: number): Promise<number> {
  const last = new Map<string, number>();
  states.forEach((s, i) => last.set(s.task.taskId, i));
  let appended = 0;
  for (const [i, { seq, task: state }] of states.entries()) {
    const row = rows.get(state.taskId) ?? undefined;
    const seen = row?.seenSeq;
    if (i !== last.get(state.taskId) && seq !== undefined && seen !== undefined && seq <= seen) continue;
    if (state.status !== DELETED) appended += await applyTaskState(ctx, scope, rows, state, seq, stamp);
    else if (row !== undefined && row.removedAt === undefined) appended += await markTaskRemoved(ctx, scope, rows, row);
  }
  return appended;
}

type DeltaArgs = {
  team: TeamSnapshot;
  base: number;
  seq: number;
  members?: MemberSnapshot[];
  tasks: TaskObservation[];
  removed: string[];
  taskCounts: TaskCounts;
};

/**
 * One change of a team against the revision Convex has (`base`): applied only when the stored
 * revision is `base` and no reconcile is under way; `seq` becomes the revision. Reads the team,
 * the rows of the tasks it names (one index range each) and, when sent, the members.
 */
export async function syncTeamDelta(ctx: MutationCtx, node: Doc<"nodes">, args: DeltaArgs): Promise<SyncTeamDeltaResult> {
  const { team, base, seq, members, tasks, removed, taskCounts } = args;
  checkDelta(args);
  const row = await findTeam(ctx, node._id, team.dirName);
  if (row === null || row.removedAt !== undefined) return { status: "unknown", taskEventsAppended: 0 };
  const known = { revision: row.revision, teamId: row._id, ...linkResult(row), taskEventsAppended: 0 };
  if (row.revision === seq) return { ...known, status: "duplicate" };
  if (row.revision !== base || row.reconcileEpoch !== undefined) return { ...known, status: "mismatch" };

  const budget = new StoredBudget("storedTasks", SYNC.storedBytes, "send fewer tasks or removed ids per call");
  const rows = await loadTaskRows(ctx, row._id, [...tasks.map((t) => t.task.taskId), ...removed], budget);
  const storedMembers = members === undefined ? undefined : await loadMembers(ctx, row._id, budget);

  const now = Date.now();
  const cwd = members === undefined ? row.cwd : primaryCwd(members);
  const { link, orchestration } = await orchestrationLink(ctx, node._id, team, cwd);
  const fields = { ...teamFields(team, cwd, link), ...(members === undefined ? {} : memberSummary(members)), taskCounts };
  await upsertTeam(ctx, node._id, team.dirName, row, fields, { lastSeq: seq, revision: seq }, now, orchestration);
  if (members !== undefined && storedMembers !== undefined) {
    await applyMemberChanges(ctx, { teamId: row._id, nodeId: node._id, now }, diffMembers(storedMembers, members));
  }
  const scope: TaskScope = { teamId: row._id, nodeId: node._id, link, now };
  let taskEventsAppended = await applyStates(ctx, scope, rows, tasks);
  for (const taskId of removed) {
    const gone = rows.get(taskId);
    if (gone && gone.removedAt === undefined) taskEventsAppended += await markTaskRemoved(ctx, scope, rows, gone);
  }
  return { status: "applied", revision: seq, teamId: row._id, ...linkResult(link), taskEventsAppended };
}

function checkDelta({ team, base, seq, members, tasks, removed, taskCounts }: DeltaArgs): void {
  checkTeamSnapshot(team);
  checkNumber("base", base, { min: 0 });
  checkNumber("seq", seq, { min: 0 });
  if (seq <= base) invalid("seq", "a sequence number above base", `${seq}`);
  if (members !== undefined) checkMembers(members);
  checkObservations("tasks", tasks, SYNC.states);
  checkCount("removed", removed, SYNC.removed);
  for (const id of removed) checkString("removed", id, 64);
  checkTaskCounts(taskCounts);
  checkPayload("tasks", [tasks, members ?? []], SYNC.payloadBytes);
}

type ReconcileArgs = { team: TeamSnapshot; epoch: number; members?: MemberSnapshot[]; tasks: TaskObservation[] };

/**
 * One page of a full reconcile: creates (or revives) the team, marks the reconcile under way
 * (deltas get "mismatch" until finishReconcile is done) and applies the page's task states,
 * stamping each task row with the epoch. A page of an older epoch than the one under way is stale.
 */
export async function reconcileTeam(ctx: MutationCtx, node: Doc<"nodes">, args: ReconcileArgs): Promise<ReconcileTeamResult> {
  const { team, epoch, members, tasks } = args;
  checkTeamSnapshot(team);
  checkNumber("epoch", epoch, { min: 0 });
  if (members !== undefined) checkMembers(members);
  checkObservations("tasks", tasks, SYNC.states);
  checkPayload("tasks", [tasks, members ?? []], SYNC.payloadBytes);
  const row = await findTeam(ctx, node._id, team.dirName);
  if (row !== null && row.reconcileEpoch !== undefined && epoch < row.reconcileEpoch) {
    return { status: "stale", teamId: row._id, ...linkResult(row), taskEventsAppended: 0 };
  }
  const budget = new StoredBudget("storedTasks", SYNC.storedBytes, "send fewer tasks or removed ids per call");
  const rows: TaskRows = row === null ? new Map() : await loadTaskRows(ctx, row._id, tasks.map((t) => t.task.taskId), budget);
  const storedMembers = members === undefined || row === null ? [] : await loadMembers(ctx, row._id, budget);

  const now = Date.now();
  const cwd = members === undefined ? row?.cwd : primaryCwd(members);
  const { link, orchestration } = await orchestrationLink(ctx, node._id, team, cwd);
  const fields = {
    ...teamFields(team, cwd, link),
    ...(members === undefined ? (row === null ? memberSummary([]) : {}) : memberSummary(members)),
    taskCounts: row?.taskCounts ?? { pending: 0, inProgress: 0, completed: 0, other: 0 },
  };
  const teamId = await upsertTeam(ctx, node._id, team.dirName, row, fields, { reconcileEpoch: epoch, revision: undefined }, now, orchestration);
  if (members !== undefined) await applyMemberChanges(ctx, { teamId, nodeId: node._id, now }, diffMembers(storedMembers, members));
  const scope: TaskScope = { teamId, nodeId: node._id, link, now };
  const taskEventsAppended = await applyStates(ctx, scope, rows, tasks, epoch);
  return { status: "applied", teamId, ...linkResult(link), taskEventsAppended };
}

type FinishArgs = { dirName: string; epoch: number; seq: number; taskCounts: TaskCounts };

/**
 * The last step of a reconcile: marks removed, at most `SYNC.finishTasks` (and `finishBytes`) a
 * call, the team's live tasks the reconcile did not include (another epoch, or none), read through
 * the index; "more" until none is left, then the team's revision becomes `seq` and its counts
 * the daemon's ("done").
 */
export async function finishReconcile(ctx: MutationCtx, node: Doc<"nodes">, args: FinishArgs): Promise<FinishReconcileResult> {
  const { dirName, epoch, seq, taskCounts } = args;
  checkPattern("dirName", dirName, TEAM_DIR_RE, "a team directory name");
  checkNumber("epoch", epoch, { min: 0 });
  checkNumber("seq", seq, { min: 0 });
  checkTaskCounts(taskCounts);
  const row = await findTeam(ctx, node._id, dirName);
  if (row === null || row.reconcileEpoch !== epoch) return { status: "stale", tasksRemoved: 0 };

  const { stale, complete } = await staleTasks(ctx, row._id, epoch);
  const now = Date.now();
  const scope: TaskScope = { teamId: row._id, nodeId: node._id, link: { orchestrationId: row.orchestrationId, phaseNumber: row.phaseNumber }, now };
  const rows: TaskRows = new Map(stale.map((t) => [t.taskId, t]));
  for (const gone of stale) await markTaskRemoved(ctx, scope, rows, gone);
  if (!complete) return { status: "more", tasksRemoved: stale.length };
  const countsChanged = !sameCounts(row.taskCounts, taskCounts);
  await ctx.db.patch("teams", row._id, {
    revision: seq,
    lastSeq: seq,
    reconcileEpoch: undefined,
    taskCounts,
    ...(countsChanged ? { updatedAt: now } : {}),
  });
  if (row.removedAt === undefined) await refreshProgressFor(ctx, row, { ...row, taskCounts });
  return { status: "done", revision: seq, tasksRemoved: stale.length };
}

/** Live tasks of another epoch than `epoch` (or none), up to the page bounds; `complete` if that is all of them. */
async function staleTasks(ctx: QueryCtx, teamId: Id<"teams">, epoch: number): Promise<{ stale: Doc<"tasks">[]; complete: boolean }> {
  const live = () => ctx.db.query("tasks");
  const ranges = [
    live().withIndex("by_team_removed_epoch", (q) => q.eq("teamId", teamId).eq("removedAt", undefined).lt("syncEpoch", epoch)),
    live().withIndex("by_team_removed_epoch", (q) => q.eq("teamId", teamId).eq("removedAt", undefined).gt("syncEpoch", epoch)),
    // Rows no reconcile ever stamped (in case a range below a number leaves out unset fields).
    live().withIndex("by_team_removed_epoch", (q) => q.eq("teamId", teamId).eq("removedAt", undefined).eq("syncEpoch", undefined)),
  ];
  const found = new Map<Id<"tasks">, Doc<"tasks">>();
  let bytes = 0;
  for (const range of ranges) {
    for await (const row of range) {
      if (found.has(row._id)) continue;
      if (found.size >= SYNC.finishTasks || bytes >= SYNC.finishBytes) return { stale: [...found.values()], complete: false };
      found.set(row._id, row);
      bytes += getDocumentSize(row);
    }
  }
  return { stale: [...found.values()], complete: true };
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

function linkResult({ orchestrationId, phaseNumber }: Partial<OrchestrationLink>) {
  return { ...(orchestrationId ? { orchestrationId } : {}), ...(phaseNumber ? { phaseNumber } : {}) };
}

/** The link, and the orchestration row it was read from (null: none). */
async function orchestrationLink(
  ctx: QueryCtx,
  nodeId: Id<"nodes">,
  team: TeamSnapshot,
  cwd: string | undefined,
): Promise<{ link: OrchestrationLink; orchestration: Doc<"orchestrations"> | null }> {
  const orchestration = await findOrchestration(ctx, nodeId, cwd);
  if (orchestration === null) return { link: { orchestrationId: undefined, phaseNumber: undefined }, orchestration };
  const phaseNumber = phaseOfTeam(orchestration.featureName, team.teamName, team.dirName);
  return { link: { orchestrationId: orchestration._id, phaseNumber }, orchestration };
}

/** What a snapshot says about the team row itself. */
function teamFields(team: TeamSnapshot, cwd: string | undefined, link: OrchestrationLink) {
  return {
    teamName: team.teamName,
    description: team.description,
    leadAgentId: team.leadAgentId,
    createdAt: team.createdAt,
    cwd,
    ...link,
  };
}

/** What the member list says about the team row. */
function memberSummary(members: MemberSnapshot[]) {
  return { memberCount: members.length, liveness: countLiveness(members) };
}

type TeamFields = ReturnType<typeof teamFields> & Partial<ReturnType<typeof memberSummary>> & { taskCounts: TaskCounts };
/** Where the team stands in the daemon's sequence: written with every call that changes it. */
type TeamSequence = Partial<Pick<Doc<"teams">, "lastSeq" | "revision" | "reconcileEpoch">>;

/**
 * Inserts the team, or patches it when the snapshot says something new (then `updatedAt` moves);
 * the sequence fields are written whenever they differ. When what the team adds to its
 * orchestration's agents changes (liveness, link, revival), the orchestrations' sums are refreshed.
 * `linked`: the orchestration row of `fields.orchestrationId`, as read by orchestrationLink.
 */
async function upsertTeam(
  ctx: MutationCtx,
  nodeId: Id<"nodes">,
  dirName: string,
  existing: Doc<"teams"> | null,
  fields: TeamFields,
  sequence: TeamSequence,
  now: number,
  linked: Doc<"orchestrations"> | null,
): Promise<Id<"teams">> {
  if (existing === null) {
    const id = await ctx.db.insert("teams", { memberCount: 0, ...fields, ...sequence, nodeId, dirName, updatedAt: now });
    if (fields.orchestrationId !== undefined && fields.liveness !== undefined) await refreshAgents(ctx, fields.orchestrationId);
    if (fields.orchestrationId !== undefined) await refreshProgress(ctx, fields.orchestrationId);
    return id;
  }
  await refreshAgentsFor(ctx, existing, fields, linked);
  const next = { ...fields, removedAt: undefined };
  const countsSame = sameCounts(existing.taskCounts, next.taskCounts) && (!("liveness" in next) || sameCounts(existing.liveness, next.liveness));
  const sameRest = Object.entries(next).every(([k, v]) => k === "taskCounts" || k === "liveness" || existing[k as keyof typeof existing] === v);
  const sequenceSame = Object.entries(sequence).every(([k, v]) => existing[k as keyof typeof existing] === v);
  if (!countsSame || !sameRest) {
    await ctx.db.patch("teams", existing._id, { ...next, ...sequence, updatedAt: now });
  } else if (!sequenceSame) {
    await ctx.db.patch("teams", existing._id, sequence);
  }
  await refreshProgressFor(ctx, existing, fields);
  return existing._id;
}

/**
 * Refreshes the agents of the orchestrations a (live after this call) team's patch affects:
 * the one it leaves and the one it joins when its link, liveness or removal changes. Also fills
 * in the sum of an orchestration whose row does not say its sum is in orchestrationAgents
 * (stored by an older version) while this team reports liveness, and then says so.
 */
async function refreshAgentsFor(ctx: MutationCtx, existing: Doc<"teams">, fields: TeamFields, linked: Doc<"orchestrations"> | null): Promise<void> {
  const before = existing.removedAt === undefined ? existing.orchestrationId : undefined;
  const after = fields.orchestrationId;
  const liveness = "liveness" in fields ? fields.liveness : existing.liveness;
  const row = linked !== null && linked._id === after ? linked : undefined;
  const livenessChanged = !sameCounts(existing.liveness, liveness);
  if (before !== undefined && before === after && livenessChanged && row?.agentsInTable === true) {
    // The common case, an agent's liveness changes: the stored sum is adjusted without reading the other teams.
    const stored = await agentsRowOf(ctx, after);
    const agents = stored?.agents === undefined ? null : adjustedSum(stored.agents, existing.liveness, liveness);
    if (stored !== null && agents !== null) {
      await storeAgents(ctx, after, stored, agents);
      return;
    }
  }
  if (before !== after || livenessChanged) {
    // The team row is written after this: the sums count it as it will be.
    const change: TeamChange = { id: existing._id, orchestrationId: after, liveness };
    if (before !== undefined && before !== after) await refreshAgents(ctx, before, change);
    if (after !== undefined) await refreshAgents(ctx, after, change);
  } else if (after !== undefined && liveness !== undefined && row !== undefined && row.agentsInTable !== true) {
    await refreshAgents(ctx, after);
  }
  if (after !== undefined && row !== undefined && row.agentsInTable !== true && liveness !== undefined) {
    await ctx.db.patch("orchestrations", after, { agentsInTable: true });
  }
}

/**
 * `sum` with one team's counts replaced (`old` out, `next` in); undefined when no agent is left
 * (a team reporting liveness counts at least one agent); null when `sum` did not hold `old`
 * (then the caller sums the teams again).
 */
function adjustedSum(sum: LivenessCounts, old: LivenessCounts | undefined, next: LivenessCounts | undefined): LivenessCounts | undefined | null {
  const out: LivenessCounts = { ...sum };
  const keys = ["working", "idle", "waiting", "shutDown", "gone", "rateLimited"] as const;
  for (const k of keys) {
    const n = (out[k] ?? 0) - (old?.[k] ?? 0) + (next?.[k] ?? 0);
    if (n < 0) return null;
    if (k === "rateLimited") {
      if (n > 0) out.rateLimited = n;
      else delete out.rateLimited;
    } else out[k] = n;
  }
  return keys.some((k) => (out[k] ?? 0) > 0) ? out : undefined;
}

/** The team's member rows (every agent it ever had, at most 800), each counted against the budget as it is read. */
async function loadMembers(ctx: QueryCtx, teamId: Id<"teams">, budget: StoredBudget): Promise<Doc<"teamMembers">[]> {
  const rows: Doc<"teamMembers">[] = [];
  for await (const row of ctx.db.query("teamMembers").withIndex("by_team_agent", (q) => q.eq("teamId", teamId))) {
    if (rows.length >= LIMITS.membersPerTeam * 4) break;
    budget.add(row);
    rows.push(row);
  }
  return rows;
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

type TaskEvent = Pick<Doc<"taskEvents">, "taskId" | "kind" | "changes" | "status" | "previousStatus" | "subject" | "owner">;

/** The observed states an earlier call has not applied yet (their seq is above its `lastSeq`). */
function unappliedHistory(history: TaskObservation[], lastSeq: number | undefined): TaskObservation[] {
  const appliedUpTo = lastSeq ?? -1;
  return history.filter((h) => h.seq > appliedUpTo);
}

/**
 * Applies one observed state of a task to its row: inserts it, records a real change (or a
 * return after removal) with a new revision, or quietly updates what is not history.
 * A teammate tracker (`internal`) is no board task: its rows change, but it has no events.
 * A reconcile page passes its epoch as `stamp`: the row records it even when nothing else changed.
 * A change records `seq`, the observation it was seen in, as the row's `seenSeq` (never lowering it).
 * Returns the number of events appended.
 */
async function applyTaskState(ctx: MutationCtx, scope: TaskScope, rows: TaskRows, t: TaskSnapshot, seq: number | undefined, stamp?: number): Promise<number> {
  const { teamId, nodeId, now } = scope;
  const prev = rows.get(t.taskId) ?? undefined;
  const next = { ...taskFields(t), ...seenAt(prev?.seenSeq, seq) };
  const epoch = stamp === undefined ? {} : { syncEpoch: stamp };
  if (prev === undefined) {
    const fields = { ...next, ...epoch, teamId, nodeId, revision: 1, updatedAt: now };
    const id = await ctx.db.insert("tasks", fields);
    rows.set(t.taskId, { ...fields, _id: id, _creationTime: now });
    if (t.internal === true) return 0;
    const created: TaskEvent = { taskId: t.taskId, kind: "created", changes: [], status: t.status, subject: t.subject, owner: t.owner };
    return await appendTaskEvent(ctx, scope, id, 1, created);
  }
  const restored = prev.removedAt !== undefined;
  const changes = restored ? ["restored"] : changedTaskFields(prev, t);
  if (changes.length > 0) {
    const revision = prev.revision + 1;
    await ctx.db.patch("tasks", prev._id, { ...next, ...epoch, removedAt: undefined, revision, updatedAt: now });
    rows.set(t.taskId, { ...prev, ...next, ...epoch, removedAt: undefined, revision, updatedAt: now });
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
    await ctx.db.patch("tasks", prev._id, { ...quiet, ...epoch, updatedAt: now });
    rows.set(t.taskId, { ...prev, ...quiet, ...epoch, updatedAt: now });
  } else if (stamp !== undefined && prev.syncEpoch !== stamp) {
    await ctx.db.patch("tasks", prev._id, { syncEpoch: stamp });
    rows.set(t.taskId, { ...prev, syncEpoch: stamp });
  }
  return 0;
}

/** The row's `seenSeq` once a state seen at `seq` changed it: the higher of the two (none if neither). */
function seenAt(seen: number | undefined, seq: number | undefined): { seenSeq?: number } {
  if (seq === undefined) return seen === undefined ? {} : { seenSeq: seen };
  return { seenSeq: seen === undefined ? seq : Math.max(seen, seq) };
}

/** Tasks gone from the snapshot are marked removed (they keep their last state). Returns events appended. */
async function markVanishedTasks(ctx: MutationCtx, scope: TaskScope, rows: TaskRows, present: Set<string>): Promise<number> {
  let appended = 0;
  for (const gone of rows.values()) {
    if (gone === null || present.has(gone.taskId) || gone.removedAt !== undefined) continue;
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

/**
 * Appends the event of a task row's revision; returns 1. The row's revision moves in the same
 * mutation as its event is inserted, so a key `<row>:<revision>` cannot exist yet: no lookup (a
 * delta or a reconcile page appends hundreds of these; each lookup is an index range).
 */
async function appendTaskEvent(
  ctx: MutationCtx,
  { teamId, nodeId, link, now }: TaskScope,
  taskRowId: Id<"tasks">,
  revision: number,
  event: TaskEvent,
): Promise<number> {
  const idempotencyKey = `${taskRowId}:${revision}`;
  await ctx.db.insert("taskEvents", { teamId, nodeId, ...link, recordedAt: now, ...event, idempotencyKey });
  return 1;
}

/**
 * The team directory is gone: the team and its members are marked removed; tasks keep their last
 * state. Reads the team and its member rows (within `SYNC.memberBytes`), never its tasks.
 */
export async function removeTeam(ctx: MutationCtx, node: Doc<"nodes">, dirName: string, seq: number | undefined): Promise<boolean> {
  checkPattern("dirName", dirName, TEAM_DIR_RE, "a team directory name");
  if (seq !== undefined) checkNumber("seq", seq, { min: 0 });
  const team = await findTeam(ctx, node._id, dirName);
  if (team === null || team.removedAt !== undefined) return false;
  if (seq !== undefined && team.lastSeq !== undefined && seq <= team.lastSeq) return false;
  const now = Date.now();
  await ctx.db.patch("teams", team._id, { removedAt: now, updatedAt: now, lastSeq: seq ?? team.lastSeq });
  if (team.orchestrationId !== undefined && team.liveness !== undefined) await refreshAgents(ctx, team.orchestrationId);
  if (team.orchestrationId !== undefined) await refreshProgress(ctx, team.orchestrationId);
  const live: Id<"teamMembers">[] = [];
  let [rows, bytes] = [0, 0];
  for await (const m of ctx.db.query("teamMembers").withIndex("by_team_agent", (q) => q.eq("teamId", team._id))) {
    if (rows >= LIMITS.membersPerTeam * 4 || bytes >= SYNC.memberBytes) break;
    rows += 1;
    bytes += getDocumentSize(m);
    if (m.removedAt === undefined) live.push(m._id);
  }
  for (const id of live) await ctx.db.patch("teamMembers", id, { removedAt: now, updatedAt: now });
  return true;
}
