// Validators shared by the schema and the functions, each written once: the tables in
// schema.ts spread the snapshot shapes below (`...taskSnapshot.fields`). No database access here.
import { v, type Infer } from "convex/values";

export const orchestrationStatus = v.union(
  v.literal("planning"),
  v.literal("executing"),
  v.literal("reviewing"),
  v.literal("complete"),
  v.literal("blocked"),
  v.literal("paused"),
);
export type OrchestrationStatus = Infer<typeof orchestrationStatus>;

export const phaseStatus = v.union(
  v.literal("planning"),
  v.literal("planned"),
  v.literal("awaiting_approval"),
  v.literal("executing"),
  v.literal("reviewing"),
  v.literal("complete"),
  v.literal("blocked"),
  v.literal("paused"),
);
export type PhaseStatus = Infer<typeof phaseStatus>;

export const attentionKind = v.union(v.literal("blocked"), v.literal("awaiting_approval"));

export const taskEventKind = v.union(
  v.literal("created"),
  v.literal("updated"),
  v.literal("removed"),
);

// Dashboard roles, lowest to highest: each role may do everything the roles before it may.
export const role = v.union(v.literal("viewer"), v.literal("operator"), v.literal("owner"));
export type Role = Infer<typeof role>;
export const ROLE_RANK: Record<Role, number> = { viewer: 1, operator: 2, owner: 3 };

// Who may send messages to the agents on a laptop (text typed into their terminals, so
// code execution as the laptop's user): a per-laptop rule only the owner changes.
// A laptop without a stored rule is "owners" (model/messaging.ts).
export const messagingRule = v.union(v.literal("owners"), v.literal("operators"), v.literal("nobody"));
export type MessagingRule = Infer<typeof messagingRule>;

// What the audit log records. `outcome` says whether the step succeeded: a failed
// action is `action.completed` with outcome "failed".
export const auditVerb = v.union(
  v.literal("action.submitted"),
  v.literal("action.cancelled"),
  v.literal("action.claimed"),
  v.literal("action.completed"),
  v.literal("action.expired"),
  v.literal("action.interrupted"),
  v.literal("node.enrolled"),
  v.literal("node.rekeyed"),
  v.literal("node.revoked"),
  v.literal("node.enrollment_code_created"),
  v.literal("node.messaging_changed"),
  v.literal("orchestration.budget_changed"),
  v.literal("user.joined"),
  v.literal("user.invited"),
  v.literal("user.invite_revoked"),
  v.literal("user.role_changed"),
  v.literal("user.removed"),
  v.literal("user.notification_answering_changed"),
  v.literal("prompt.answered"),
  v.literal("prompt.applied"),
  v.literal("prompt.too_late"),
  v.literal("prompt.expired"),
);
export type AuditVerb = Infer<typeof auditVerb>;
export const actorKind = v.union(v.literal("user"), v.literal("node"), v.literal("system"));
export type ActorKind = Infer<typeof actorKind>;
export const auditOutcome = v.union(v.literal("ok"), v.literal("failed"));
// What an audit entry is about, for the log's filter (model/audit.ts `kindOf`).
export const auditKind = v.union(v.literal("action"), v.literal("prompt"), v.literal("laptop"), v.literal("people"));
export type AuditKind = Infer<typeof auditKind>;

export const actionType = v.union(
  v.literal("approve_plan"),
  v.literal("reject_plan"),
  v.literal("pause"),
  v.literal("resume"),
  v.literal("retry"),
  v.literal("send_message"),
);
export type ActionType = Infer<typeof actionType>;

export const actionStatus = v.union(
  v.literal("pending"),
  v.literal("claimed"),
  v.literal("running"),
  v.literal("completed"),
  v.literal("failed"),
  v.literal("expired"),
  v.literal("cancelled"),
  v.literal("interrupted"),
);
export type ActionStatus = Infer<typeof actionStatus>;
export const FINAL_ACTION_STATUSES: readonly ActionStatus[] = [
  "completed",
  "failed",
  "expired",
  "cancelled",
  "interrupted",
];

// How a message reaches an agent: typed into its own tmux pane, typed into the phase lead's tmux
// session (the one `tina-session start` created), or appended to its inbox file.
export const messageRoute = v.union(v.literal("pane"), v.literal("lead_session"), v.literal("inbox"));
export type MessageRoute = Infer<typeof messageRoute>;

// What the daemon needs to run an action; filled in by submitAction from stored rows,
// so the daemon never trusts a client-supplied feature name or path.
export const actionPayload = v.object({
  feature: v.optional(v.string()),
  phase: v.optional(v.string()),
  feedback: v.optional(v.string()),
  teamDir: v.optional(v.string()),
  agentName: v.optional(v.string()),
  text: v.optional(v.string()),
  // send_message: how the daemon reaches the agent (always set by submitAction for new actions).
  via: v.optional(messageRoute),
  // approve_plan / reject_plan: the plan revision (SHA-256 hex) the operator read.
  planHash: v.optional(v.string()),
});
export type ActionPayload = Infer<typeof actionPayload>;

export const actionResult = v.object({
  ok: v.boolean(),
  // Machine-readable outcome, e.g. "ok", "cli_exit_non_zero", "pane_gone", "timeout".
  code: v.string(),
  message: v.string(),
  exitCode: v.optional(v.number()),
  output: v.optional(v.string()),
  durationMs: v.optional(v.number()),
  // send_message: the way it was delivered, and for an inbox entry its key (see teamMessages).
  via: v.optional(messageRoute),
  messageKey: v.optional(v.string()),
});

export const actorSummary = v.object({
  id: v.string(),
  state: v.string(),
  restarts: v.number(),
  lastError: v.optional(v.string()),
});

export const nodeHealth = v.object({
  daemonVersion: v.string(),
  startedAt: v.number(),
  uptimeSecs: v.number(),
  outboxDepth: v.number(),
  lastSyncAt: v.optional(v.number()),
  connection: v.optional(v.string()),
  actors: v.array(actorSummary),
  // When the oldest observation still waiting to sync was queued (absent: none waits, or a
  // daemon older than this field).
  oldestUnsyncedAt: v.optional(v.number()),
});

// What the dashboard may ask a laptop to do. The target (orchestration, team) is an id:
// the server fills in the feature, phase and team directory from what it stores.
const phaseTarget = { orchestrationId: v.id("orchestrations"), phase: v.string() };
export const actionRequest = v.union(
  // `planHash`: the revision of the plan the dashboard showed (documents:getDocument's hash).
  v.object({ type: v.literal("approve_plan"), ...phaseTarget, planHash: v.optional(v.string()) }),
  v.object({ type: v.literal("reject_plan"), ...phaseTarget, feedback: v.string(), planHash: v.optional(v.string()) }),
  v.object({ type: v.literal("pause"), ...phaseTarget }),
  v.object({ type: v.literal("resume"), ...phaseTarget }),
  v.object({ type: v.literal("retry"), ...phaseTarget }),
  v.object({
    type: v.literal("send_message"),
    teamId: v.id("teams"),
    agentName: v.string(),
    text: v.string(),
    // Unset: the member's default route (model/messaging.ts `messageRoutes`).
    via: v.optional(messageRoute),
  }),
);
export type ActionRequest = Infer<typeof actionRequest>;

// Snapshot shapes sent by the daemon, stored as sent (schema.ts adds ids and bookkeeping).
export const phaseSnapshot = v.object({
  phaseNumber: v.string(),
  status: phaseStatus,
  planPath: v.optional(v.string()),
  gitRange: v.optional(v.string()),
  planningStartedAt: v.optional(v.number()),
  executionStartedAt: v.optional(v.number()),
  reviewStartedAt: v.optional(v.number()),
  completedAt: v.optional(v.number()),
  planningMins: v.optional(v.number()),
  executionMins: v.optional(v.number()),
  reviewMins: v.optional(v.number()),
  durationMins: v.optional(v.number()),
  blockedReason: v.optional(v.string()),
  pausedFrom: v.optional(v.string()),
  feedback: v.optional(v.string()),
});
export type PhaseSnapshot = Infer<typeof phaseSnapshot>;

export const orchestrationSnapshot = v.object({
  featureName: v.string(),
  specDocPath: v.string(),
  branch: v.string(),
  worktreePath: v.string(),
  repoRoot: v.optional(v.string()),
  totalPhases: v.number(),
  currentPhase: v.number(),
  status: orchestrationStatus,
  startedAt: v.number(),
  completedAt: v.optional(v.number()),
});
export type OrchestrationSnapshot = Infer<typeof orchestrationSnapshot>;

// How a member can be reached besides its inbox: a tmux pane, inside the lead's process, the
// lead itself, or no known way (the daemon derives it from tmuxPaneId and backendType).
export const memberReach = v.union(v.literal("pane"), v.literal("in_process"), v.literal("lead"), v.literal("none"));
export type MemberReach = Infer<typeof memberReach>;

// What an agent is doing, as the daemon derives it from its team's files (tina/daemon/projection.py).
export const liveness = v.union(
  v.literal("working"),
  v.literal("idle"),
  v.literal("waiting"),
  // Claude Code stopped on a rate limit (its hook said so); it resumes when the limit resets.
  v.literal("rate_limited"),
  v.literal("shut_down"),
  v.literal("gone"),
);
export type Liveness = Infer<typeof liveness>;

// How many agents are in each liveness state (a team's members, an orchestration's live teams).
export const livenessCounts = v.object({
  working: v.number(),
  idle: v.number(),
  waiting: v.number(),
  shutDown: v.number(),
  gone: v.number(),
  // Absent on rows from daemons older than the rate_limited liveness.
  rateLimited: v.optional(v.number()),
});
export type LivenessCounts = Infer<typeof livenessCounts>;

export const memberSnapshot = v.object({
  agentId: v.string(),
  agentName: v.string(),
  agentType: v.optional(v.string()),
  model: v.optional(v.string()),
  joinedAt: v.optional(v.number()),
  tmuxPaneId: v.optional(v.string()),
  cwd: v.optional(v.string()),
  // false while idle; absent while working or when Claude Code does not say.
  isActive: v.optional(v.boolean()),
  // "in-process" | "tmux" | "iterm2", as Claude Code writes it.
  backendType: v.optional(v.string()),
  // The teammate's colour in Claude Code ("blue", "purple"...).
  color: v.optional(v.string()),
  planModeRequired: v.optional(v.boolean()),
  reach: v.optional(memberReach),
  liveness: v.optional(liveness),
  // Why, in words ("waiting for permission to use Bash", "its tmux pane %4 is gone").
  livenessReason: v.optional(v.string()),
});
export type MemberSnapshot = Infer<typeof memberSnapshot>;

export const taskSnapshot = v.object({
  taskId: v.string(),
  subject: v.string(),
  description: v.string(),
  activeForm: v.optional(v.string()),
  // Raw Claude Code status: pending | in_progress | completed, or anything newer.
  status: v.string(),
  owner: v.optional(v.string()),
  blocks: v.array(v.string()),
  blockedBy: v.array(v.string()),
  // Canonical JSON (sorted keys) of the task's metadata, if any.
  metadata: v.optional(v.string()),
  // A teammate tracker (metadata._internal; its subject is the agent's name): not a board task.
  internal: v.optional(v.boolean()),
  // As Claude Code wrote them, when it does (ms since the epoch); no task event of their own.
  createdAt: v.optional(v.number()),
  updatedAt: v.optional(v.number()),
});
export type TaskSnapshot = Infer<typeof taskSnapshot>;

// A task as the `tasks` table stores it: the snapshot, except that Claude Code's own times are
// `claudeCreatedAt`/`claudeUpdatedAt` (the row's `updatedAt` is when Convex last wrote it).
const { createdAt: _createdAt, updatedAt: _updatedAt, ...storedTaskFields } = taskSnapshot.fields;
export const storedTask = {
  ...storedTaskFields,
  claudeCreatedAt: v.optional(v.number()),
  claudeUpdatedAt: v.optional(v.number()),
};

export const taskObservation = v.object({ seq: v.number(), task: taskSnapshot });

export const teamSnapshot = v.object({
  dirName: v.string(),
  teamName: v.string(),
  description: v.optional(v.string()),
  leadAgentId: v.optional(v.string()),
  createdAt: v.optional(v.number()),
});
export type TeamSnapshot = Infer<typeof teamSnapshot>;

// What `teams:syncTeam` answers; `applied` is false for a snapshot no newer than the last one.
export const syncTeamResult = v.object({
  teamId: v.id("teams"),
  applied: v.boolean(),
  orchestrationId: v.optional(v.id("orchestrations")),
  phaseNumber: v.optional(v.string()),
  taskEventsAppended: v.number(),
  membersRemoved: v.number(),
});
export type SyncTeamResult = Infer<typeof syncTeamResult>;

// A team's board tasks by status, as the daemon counts them in its whole snapshot.
export const taskCounts = v.object({
  pending: v.number(),
  inProgress: v.number(),
  completed: v.number(),
  other: v.number(),
});
export type TaskCounts = Infer<typeof taskCounts>;

// What `teams:syncTeamDelta` answers. "applied": the delta was on the stored revision and is now
// stored (revision = seq); "duplicate": that seq is the stored revision already (a replay);
// "mismatch": another base (or a reconcile under way), nothing written; "unknown": no live team
// of that directory, nothing written. `revision` is the server's revision after the call.
export const syncTeamDeltaResult = v.object({
  status: v.union(v.literal("applied"), v.literal("duplicate"), v.literal("mismatch"), v.literal("unknown")),
  revision: v.optional(v.number()),
  teamId: v.optional(v.id("teams")),
  orchestrationId: v.optional(v.id("orchestrations")),
  phaseNumber: v.optional(v.string()),
  taskEventsAppended: v.number(),
});
export type SyncTeamDeltaResult = Infer<typeof syncTeamDeltaResult>;

// What `teams:reconcileTeam` answers for one page; "stale": a newer reconcile is under way.
export const reconcileTeamResult = v.object({
  status: v.union(v.literal("applied"), v.literal("stale")),
  teamId: v.id("teams"),
  orchestrationId: v.optional(v.id("orchestrations")),
  phaseNumber: v.optional(v.string()),
  taskEventsAppended: v.number(),
});
export type ReconcileTeamResult = Infer<typeof reconcileTeamResult>;

// What `teams:finishReconcile` answers: "more" until every task the reconcile did not include
// is marked removed, then "done" (revision = seq); "stale": not the reconcile under way.
export const finishReconcileResult = v.object({
  status: v.union(v.literal("more"), v.literal("done"), v.literal("stale")),
  revision: v.optional(v.number()),
  tasksRemoved: v.number(),
});
export type FinishReconcileResult = Infer<typeof finishReconcileResult>;

export const orchestrationEventInput = v.object({
  phaseNumber: v.optional(v.string()),
  eventType: v.string(),
  source: v.string(),
  summary: v.string(),
  detail: v.optional(v.string()),
  recordedAt: v.number(),
  idempotencyKey: v.string(),
});
export type OrchestrationEventInput = Infer<typeof orchestrationEventInput>;

// A phase's plan or the orchestration's design doc as read on the laptop. `hash` is the SHA-256
// (hex) of the whole file; `content` is cut at DOCUMENT_MAX bytes (`truncated`). A file that is
// gone is `missing`, with no content and no hash.
export const documentKind = v.union(v.literal("plan"), v.literal("design"));
export type DocumentKind = Infer<typeof documentKind>;

export const documentSnapshot = v.object({
  kind: documentKind,
  phaseNumber: v.optional(v.string()),
  path: v.string(),
  content: v.string(),
  hash: v.optional(v.string()),
  size: v.number(),
  truncated: v.boolean(),
  modifiedAt: v.optional(v.number()),
  missing: v.boolean(),
});
export type DocumentSnapshot = Infer<typeof documentSnapshot>;

// A document as the dashboard reads it (documents:getDocument): the snapshot without what the
// query was asked for, and when it reached Convex.
const { kind: _kind, phaseNumber: _phaseNumber, ...documentViewFields } = documentSnapshot.fields;
export const documentView = v.object({ ...documentViewFields, syncedAt: v.number() });

// What the detail view says about a phase's plan without its content (getDocument loads that).
export const planSummary = v.object({
  hash: v.optional(v.string()),
  size: v.number(),
  modifiedAt: v.optional(v.number()),
  syncedAt: v.number(),
  missing: v.boolean(),
  truncated: v.boolean(),
});
export type PlanSummary = Infer<typeof planSummary>;

// The kinds of message Claude Code agents leave in each other's inboxes (`type` of a JSON text).
export const inboxKind = v.union(
  v.literal("text"),
  v.literal("idle_notification"),
  v.literal("task_assignment"),
  v.literal("shutdown_request"),
  v.literal("shutdown_response"),
  v.literal("plan_approval_request"),
  v.literal("plan_approval_response"),
  v.literal("permission_request"),
  v.literal("permission_response"),
  v.literal("unknown"),
);
export type InboxKind = Infer<typeof inboxKind>;

// One inbox entry (~/.claude/teams/<team>/inboxes/<recipient>.json). `key` is stable across
// re-reads (tina.local.inbox_key); only `read` changes afterwards. `timestamp` is ms since the
// epoch, 0 when the entry has none.
export const inboxMessage = v.object({
  key: v.string(),
  recipient: v.string(),
  sender: v.string(),
  kind: inboxKind,
  text: v.string(),
  truncated: v.boolean(),
  summary: v.optional(v.string()),
  color: v.optional(v.string()),
  timestamp: v.number(),
  read: v.boolean(),
  requestId: v.optional(v.string()),
  approved: v.optional(v.boolean()),
  detail: v.optional(v.string()),
});
export type InboxMessage = Infer<typeof inboxMessage>;

// ---------------------------------------------------------------------------------------
// Permission prompts (issue 18): Claude Code asks to use a tool, the laptop's daemon holds the
// hook's answer open, the dashboard answers, the daemon hands the decision to the hook.
//
//   open ──answer──▶ answered ──settle──▶ applied | too_late | expired
//     └──────── settle "expired" / expiry at expiresAt + 5 s ──────▶ expired

export const promptStatus = v.union(
  v.literal("open"),
  v.literal("answered"),
  v.literal("applied"),
  v.literal("too_late"),
  v.literal("expired"),
);
export type PromptStatus = Infer<typeof promptStatus>;

// `allow_always` hands the prompt's own permission suggestions back as `updatedPermissions`.
export const promptDecision = v.union(v.literal("allow_once"), v.literal("allow_always"), v.literal("deny"));
export type PromptDecision = Infer<typeof promptDecision>;

// What the daemon reports after a decision (or the deadline): handed to the waiting hook, the
// hook had already given up (the human at the keyboard answered), or no answer in time.
export const promptOutcome = v.union(v.literal("applied"), v.literal("too_late"), v.literal("expired"));
export type PromptOutcome = Infer<typeof promptOutcome>;

// What the daemon sends when a PermissionRequest hook arrives (prompts:openPrompt).
// `promptId`: 32 lower-case hex digits, chosen by the daemon. `toolInput`: canonical JSON of the
// tool's input, at most 16 KiB (the daemon cuts it and marks the cut: `inputTruncated`).
// `suggestions`: JSON text of Claude Code's `permission_suggestions`, at most 16 KiB, else absent.
// `openedAt`/`expiresAt`: the laptop's clock; Convex keeps the lifetime (expiresAt - openedAt) and
// stores both on its own clock (a laptop's clock may be off).
export const promptOpen = v.object({
  promptId: v.string(),
  sessionId: v.string(),
  cwd: v.optional(v.string()),
  toolName: v.string(),
  toolInput: v.string(),
  inputTruncated: v.optional(v.boolean()),
  description: v.optional(v.string()),
  suggestions: v.optional(v.string()),
  teamDir: v.optional(v.string()),
  agentName: v.optional(v.string()),
  openedAt: v.number(),
  expiresAt: v.number(),
});
export type PromptOpen = Infer<typeof promptOpen>;

// The answer, as stored on the prompt once the dashboard has answered.
export const promptAnswer = {
  decision: v.optional(promptDecision),
  // deny: the reason Claude is told.
  message: v.optional(v.string()),
  answeredBy: v.optional(v.id("users")),
  answeredByName: v.optional(v.string()),
  answeredAt: v.optional(v.number()),
  // When the daemon (or the expiry) settled it: applied, too_late, expired.
  settledAt: v.optional(v.number()),
};

// A prompt as the dashboard shows it (prompts:listOpen, needs:needsYou): the `prompts` row as
// schema.ts stores it, with its laptop's name and its orchestration's feature.
// needs.test.ts checks it against the schema's own document validator.
export const promptViewFields = {
  _id: v.id("prompts"),
  _creationTime: v.number(),
  nodeId: v.id("nodes"),
  ...promptOpen.fields,
  inputTruncated: v.boolean(),
  orchestrationId: v.optional(v.id("orchestrations")),
  status: promptStatus,
  ...promptAnswer,
  nodeName: v.string(),
  featureName: v.optional(v.string()),
};

// ---------------------------------------------------------------------------------------
// "Needs you" (issue 18): what a person should look at, across all laptops. Some items Convex
// derives itself (open prompts, blocked phases, failed actions, offline laptops); the rest each
// laptop computes from its teams' files and Claude Code's hooks and sends as its current set
// (needs:syncLaptop). tina/convex/needs.py mirrors these shapes.

export const laptopNeedKind = v.union(
  // A teammate asks its lead for a tool; answered at the lead's terminal.
  v.literal("teammate_permission"),
  // A teammate in plan mode waits for its lead to approve its plan.
  v.literal("agent_plan_approval"),
  v.literal("idle_with_tasks"),
  // A Claude Code session stopped on an API error (rate limit, billing, server).
  v.literal("stop_failure"),
  v.literal("stalled"),
);
export type LaptopNeedKind = Infer<typeof laptopNeedKind>;

export const stallCause = v.union(
  v.literal("waiting_for_human"),
  v.literal("long_tool"),
  v.literal("api_error"),
  v.literal("silent"),
);
export type StallCause = Infer<typeof stallCause>;

// One item as a laptop computes it. `key` is stable on the laptop ("perm:<teamDir>:<requestId>",
// "stall:<sessionId>", ...); `since` (ms epoch) is when the condition began. Sizes are checked by
// model/needs.ts (title and retryHint 200, detail 4,096, toolInput 16,384, planContent 65,536).
// What a laptop says of an item beyond where it is: stored as sent, shown as stored.
const laptopNeedDetail = {
  agentName: v.optional(v.string()),
  requestId: v.optional(v.string()),
  toolName: v.optional(v.string()),
  // Canonical JSON text, cut at 16,384 characters (`toolInputTruncated`).
  toolInput: v.optional(v.string()),
  toolInputTruncated: v.optional(v.boolean()),
  planContent: v.optional(v.string()),
  cause: v.optional(stallCause),
  // stop_failure: rate_limit | billing_error | server_error | ...
  errorKind: v.optional(v.string()),
  // In words: "resets 3pm (Europe/London)", "retry in a few minutes", "fix billing first".
  retryHint: v.optional(v.string()),
  retryAt: v.optional(v.number()),
  // idle_with_tasks: tasks it owns that are not completed.
  openTasks: v.optional(v.number()),
};

export const laptopNeed = v.object({
  key: v.string(),
  kind: laptopNeedKind,
  since: v.number(),
  title: v.string(),
  detail: v.optional(v.string()),
  teamDir: v.optional(v.string()),
  sessionId: v.optional(v.string()),
  // The tina orchestration (worktree) it belongs to, when the laptop knows.
  featureName: v.optional(v.string()),
  ...laptopNeedDetail,
});
export type LaptopNeed = Infer<typeof laptopNeed>;

// What a Claude Code session's hooks last said about it.
export const sessionLiveness = v.union(
  v.literal("working"),
  v.literal("idle"),
  v.literal("waiting"),
  v.literal("rate_limited"),
  v.literal("failed"),
  v.literal("ended"),
);
export type SessionLiveness = Infer<typeof sessionLiveness>;

// One Claude Code session the laptop's hooks know about (needs:syncLaptop sends the current set).
export const sessionSnapshot = v.object({
  sessionId: v.string(),
  liveness: v.optional(sessionLiveness),
  reason: v.optional(v.string()),
  cwd: v.optional(v.string()),
  teamDir: v.optional(v.string()),
  agentName: v.optional(v.string()),
  featureName: v.optional(v.string()),
  firstAt: v.number(),
  lastAt: v.number(),
  // The last hook event's name ("PreToolUse", "Stop", ...) and how many arrived.
  lastEvent: v.string(),
  events: v.number(),
});
export type SessionSnapshot = Infer<typeof sessionSnapshot>;

export const needKind = v.union(
  v.literal("permission_prompt"),
  v.literal("plan_approval"),
  v.literal("blocked_phase"),
  v.literal("failed_action"),
  v.literal("offline_laptop"),
  // An orchestration's spend reached its budget (usage:setBudget; model/usage.ts).
  v.literal("budget"),
  laptopNeedKind,
);
export type NeedKind = Infer<typeof needKind>;

// One item of needs:needsYou. `key` is global and stable: "prompt:<promptId>",
// "approval:<orchestrationId>:<phase>", "blocked:<orchestrationId>:<phase>", "action:<actionId>",
// "offline:<nodeId>", "budget:<orchestrationId>", "laptop:<nodeId>:<laptop's key>". `dismissed`/`snoozedUntil`: the viewer's
// own dismissal of this key with the same `since`.
export const needItem = v.object({
  key: v.string(),
  kind: needKind,
  title: v.string(),
  detail: v.optional(v.string()),
  since: v.number(),
  nodeId: v.optional(v.id("nodes")),
  nodeName: v.optional(v.string()),
  nodeOnline: v.optional(v.boolean()),
  orchestrationId: v.optional(v.id("orchestrations")),
  featureName: v.optional(v.string()),
  phaseNumber: v.optional(v.string()),
  // permission_prompt: answered with prompts:answer.
  prompt: v.optional(v.object(promptViewFields)),
  actionId: v.optional(v.id("inboundActions")),
  actionType: v.optional(actionType),
  actionStatus: v.optional(actionStatus),
  actionError: v.optional(v.string()),
  ...laptopNeedDetail,
  dismissed: v.boolean(),
  snoozedUntil: v.optional(v.number()),
});
export type NeedItem = Infer<typeof needItem>;
