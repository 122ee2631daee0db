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
import type { MemberSnapshot, TaskSnapshot, TeamSnapshot } from "./validators";

const TASK_EVENT_FIELDS = ["status", "subject", "owner", "description", "blockedBy", "metadata"] as const;

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
  };
}

function changedTaskFields(prev: Doc<"tasks">, next: TaskSnapshot): string[] {
  const out: string[] = [];
  for (const key of TASK_EVENT_FIELDS) {
    const a = prev[key];
    const b = next[key];
    const same = Array.isArray(a) && Array.isArray(b) ? a.length === b.length && a.every((x, i) => x === b[i]) : a === b;
    if (!same) out.push(key);
  }
  return out;
}

function countTasks(tasks: { status: string; removedAt?: number }[]) {
  const counts = { pending: 0, inProgress: 0, completed: 0, other: 0 };
  for (const t of tasks) {
    if (t.removedAt !== undefined) continue;
    if (t.status === "pending") counts.pending++;
    else if (t.status === "in_progress") counts.inProgress++;
    else if (t.status === "completed") counts.completed++;
    else counts.other++;
  }
  return counts;
}

export type SyncTeamResult = {
  teamId: Id<"teams">;
  applied: boolean;
  orchestrationId?: Id<"orchestrations">;
  phaseNumber?: string;
  taskEventsAppended: number;
  membersRemoved: number;
};

export async function syncTeam(
  ctx: MutationCtx,
  node: Doc<"nodes">,
  team: TeamSnapshot,
  members: MemberSnapshot[],
  tasks: TaskSnapshot[],
  seq: number | undefined,
  history: TaskObservation[] = [],
): Promise<SyncTeamResult> {
  validate(team, members, tasks, history);
  if (seq !== undefined) checkNumber("seq", seq, { min: 0 });
  // History is replayed state by state; only a sequence number makes a replay harmless.
  if (history.length > 0 && seq === undefined) invalid("seq", "a sequence number when history is sent");
  const now = Date.now();
  const existing = await ctx.db
    .query("teams")
    .withIndex("by_node_dir", (q) => q.eq("nodeId", node._id).eq("dirName", team.dirName))
    .unique();
  if (existing !== null && seq !== undefined && existing.lastSeq !== undefined && seq <= existing.lastSeq) {
    return { teamId: existing._id, applied: false, taskEventsAppended: 0, membersRemoved: 0 };
  }

  const cwd = primaryCwd(members);
  const orchestration = await findOrchestration(ctx, node._id, cwd);
  const orchestrationId = orchestration?._id;
  const phaseNumber = orchestration ? phaseOfTeam(orchestration.featureName, team.teamName, team.dirName) : undefined;
  const link = { orchestrationId, phaseNumber };

  let teamId: Id<"teams">;
  const teamFields = {
    teamName: team.teamName,
    description: team.description,
    leadAgentId: team.leadAgentId,
    createdAt: team.createdAt,
    cwd,
    ...link,
    memberCount: members.length,
  };
  if (existing === null) {
    teamId = await ctx.db.insert("teams", {
      ...teamFields,
      nodeId: node._id,
      dirName: team.dirName,
      taskCounts: countTasks(tasks),
      lastSeq: seq,
      updatedAt: now,
    });
  } else {
    teamId = existing._id;
  }

  // Members: upsert what is there, mark what disappeared as removed.
  const storedMembers = await ctx.db
    .query("teamMembers")
    .withIndex("by_team_agent", (q) => q.eq("teamId", teamId))
    .take(LIMITS.membersPerTeam * 4);
  const membersByAgent = new Map(storedMembers.map((m) => [m.agentId, m]));
  for (const m of members) {
    const prev = membersByAgent.get(m.agentId);
    membersByAgent.delete(m.agentId);
    const next = {
      agentName: m.agentName,
      agentType: m.agentType,
      model: m.model,
      joinedAt: m.joinedAt,
      tmuxPaneId: m.tmuxPaneId,
      cwd: m.cwd,
      removedAt: undefined,
    };
    if (prev === undefined) {
      await ctx.db.insert("teamMembers", { ...next, teamId, nodeId: node._id, agentId: m.agentId, updatedAt: now });
    } else if (Object.entries(next).some(([k, v]) => prev[k as keyof typeof prev] !== v)) {
      await ctx.db.patch("teamMembers", prev._id, { ...next, updatedAt: now });
    }
  }
  let membersRemoved = 0;
  for (const gone of membersByAgent.values()) {
    if (gone.removedAt === undefined) {
      await ctx.db.patch("teamMembers", gone._id, { removedAt: now, updatedAt: now });
      membersRemoved++;
    }
  }

  // Tasks: update the current state, append one event per real change.
  const storedTasks = await ctx.db
    .query("tasks")
    .withIndex("by_team_task", (q) => q.eq("teamId", teamId))
    .take(LIMITS.tasksPerTeam * 4);
  const tasksById = new Map(storedTasks.map((t) => [t.taskId, t]));
  const eventBase = { teamId, nodeId: node._id, ...link, recordedAt: now };
  let appended = 0;
  const append = async (
    taskRowId: Id<"tasks">,
    revision: number,
    event: { taskId: string; kind: "created" | "updated" | "removed"; changes: string[]; status: string; previousStatus?: string; subject: string; owner?: string },
    { newRow = false }: { newRow?: boolean } = {},
  ) => {
    const idempotencyKey = `${taskRowId}:${revision}`;
    // A row this mutation inserted has no events yet: its key cannot exist, so no lookup (a
    // cold start appends thousands of these; each lookup is a read).
    if (!newRow) {
      const dup = await ctx.db
        .query("taskEvents")
        .withIndex("by_idempotency", (q) => q.eq("idempotencyKey", idempotencyKey))
        .first();
      if (dup !== null) return;
    }
    await ctx.db.insert("taskEvents", { ...eventBase, ...event, idempotencyKey });
    appended++;
  };
  // Each observed state in order: the intermediate ones (history, e.g. seen while offline),
  // then the current snapshot. Every real change becomes one event.
  const applyState = async (t: TaskSnapshot) => {
    const prev = tasksById.get(t.taskId);
    const next = taskFields(t);
    if (prev === undefined) {
      const id = await ctx.db.insert("tasks", { ...next, teamId, nodeId: node._id, revision: 1, updatedAt: now });
      tasksById.set(t.taskId, (await ctx.db.get("tasks", id))!);
      await append(
        id,
        1,
        { taskId: t.taskId, kind: "created", changes: [], status: t.status, subject: t.subject, owner: t.owner },
        { newRow: true },
      );
      return;
    }
    const changes = prev.removedAt !== undefined ? ["restored"] : changedTaskFields(prev, t);
    if (changes.length > 0) {
      const revision = prev.revision + 1;
      await ctx.db.patch("tasks", prev._id, { ...next, removedAt: undefined, revision, updatedAt: now });
      tasksById.set(t.taskId, { ...prev, ...next, removedAt: undefined, revision, updatedAt: now });
      await append(prev._id, revision, {
        taskId: t.taskId,
        kind: prev.removedAt !== undefined ? "created" : "updated",
        changes,
        status: t.status,
        previousStatus: prev.status,
        subject: t.subject,
        owner: t.owner,
      });
    } else if (prev.activeForm !== next.activeForm || prev.blocks.join("\u0000") !== next.blocks.join("\u0000")) {
      // Spinner text and forward links change often and are not history.
      await ctx.db.patch("tasks", prev._id, { activeForm: next.activeForm, blocks: next.blocks, updatedAt: now });
      tasksById.set(t.taskId, { ...prev, activeForm: next.activeForm, blocks: next.blocks, updatedAt: now });
    }
  };
  // States already applied by an earlier call (a replay after a lost response) are skipped.
  const appliedUpTo = existing?.lastSeq ?? -1;
  for (const h of history) if (h.seq > appliedUpTo) await applyState(h.task);
  const current: { status: string; removedAt?: number }[] = [];
  const present = new Set<string>();
  for (const t of tasks) {
    await applyState(t);
    present.add(t.taskId);
    current.push(taskFields(t));
  }
  for (const gone of tasksById.values()) {
    if (present.has(gone.taskId) || gone.removedAt !== undefined) continue;
    const revision = gone.revision + 1;
    await ctx.db.patch("tasks", gone._id, { removedAt: now, revision, updatedAt: now });
    await append(gone._id, revision, {
      taskId: gone.taskId,
      kind: "removed",
      changes: [],
      status: gone.status,
      previousStatus: gone.status,
      subject: gone.subject,
      owner: gone.owner,
    });
  }

  if (existing !== null) {
    const fields = { ...teamFields, taskCounts: countTasks(current), removedAt: undefined };
    const counts = existing.taskCounts;
    const sameCounts = Object.entries(fields.taskCounts).every(([k, v]) => counts[k as keyof typeof counts] === v);
    const sameRest = Object.entries(fields).every(
      ([k, v]) => k === "taskCounts" || existing[k as keyof typeof existing] === v,
    );
    if (!sameCounts || !sameRest) {
      await ctx.db.patch("teams", teamId, { ...fields, lastSeq: seq ?? existing.lastSeq, updatedAt: now });
    } else if (seq !== undefined) {
      await ctx.db.patch("teams", teamId, { lastSeq: seq });
    }
  }
  return { teamId, applied: true, ...(orchestrationId ? { orchestrationId } : {}), ...(phaseNumber ? { phaseNumber } : {}), taskEventsAppended: appended, membersRemoved };
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
