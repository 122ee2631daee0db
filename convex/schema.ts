import { authTables } from "@convex-dev/auth/server";
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
import {
  actionPayload,
  actionResult,
  actionStatus,
  actionType,
  actorKind,
  attentionKind,
  auditKind,
  auditOutcome,
  auditVerb,
  documentSnapshot,
  inboxMessage,
  laptopNeed,
  livenessCounts,
  memberSnapshot,
  messagingRule,
  nodeHealth,
  orchestrationEventInput,
  orchestrationSnapshot,
  phaseSnapshot,
  planSummary,
  promptAnswer,
  promptOpen,
  promptStatus,
  role,
  sessionSnapshot,
  storedTask,
  taskEventKind,
  teamSnapshot,
} from "./model/validators";
import { answerDecision, answerTarget, deliveryOutcome, notifyKind, notifyStateKind, quietHours } from "./model/notify";
import { quotaWindow, rollupKind, storedSums } from "./model/usage";

// Where a team's rows belong: the team, its laptop and, once linked, the orchestration and phase.
const teamScope = {
  teamId: v.id("teams"),
  nodeId: v.id("nodes"),
  orchestrationId: v.optional(v.id("orchestrations")),
  phaseNumber: v.optional(v.string()),
};

// Timestamps: every `*At` field and `lastHeartbeat` is milliseconds since the
// Unix epoch as a float64 number. Durations are `*Mins` (whole minutes) or `*Ms`.
export default defineSchema({
  // Convex Auth: users, sessions, accounts (password hashes), refresh tokens,
  // verification codes, rate limits. Only the library and convex/model/users.ts touch them.
  ...authTables,

  // Who may use the dashboard, and as what. A user without a row here sees nothing.
  members: defineTable({
    userId: v.id("users"),
    role,
    // Set for identities from an external OIDC provider (see convex/auth.config.ts):
    // their `tokenIdentifier` ("<issuer>|<subject>"). Convex Auth users are found by userId.
    tokenIdentifier: v.optional(v.string()),
    invitedBy: v.optional(v.id("users")),
    createdAt: v.number(),
    updatedAt: v.number(),
  })
    .index("by_user", ["userId"])
    .index("by_role", ["role"])
    .index("by_token", ["tokenIdentifier"]),

  // Invitations by the owner: single use, expiring; only a hash of the code is stored.
  invites: defineTable({
    email: v.string(),
    role,
    codeHash: v.string(),
    createdBy: v.id("users"),
    createdAt: v.number(),
    expiresAt: v.number(),
    acceptedAt: v.optional(v.number()),
    acceptedBy: v.optional(v.id("users")),
    revokedAt: v.optional(v.number()),
  })
    .index("by_code", ["codeHash"])
    .index("by_email_created", ["email", "createdAt"])
    // Open invitations (neither accepted nor withdrawn), by expiry: used ones are never read.
    .index("by_open_expires", ["acceptedAt", "revokedAt", "expiresAt"]),

  // One-time laptop enrollment codes ("add a laptop"): single use, 15 minutes, hashed.
  enrollmentCodes: defineTable({
    codeHash: v.string(),
    // When set, the code enrolls only a laptop of this name (and may re-admit it if revoked).
    nodeName: v.optional(v.string()),
    createdBy: v.id("users"),
    createdByName: v.optional(v.string()),
    createdAt: v.number(),
    expiresAt: v.number(),
    usedAt: v.optional(v.number()),
    usedByNode: v.optional(v.id("nodes")),
  })
    .index("by_code", ["codeHash"])
    .index("by_created", ["createdAt"]),

  // Append-only: who did what, when, from which client, to which laptop, and the outcome.
  auditLog: defineTable({
    at: v.number(),
    verb: auditVerb,
    actorKind,
    // A user id, a node id, or the name of a system job.
    actorId: v.string(),
    actorName: v.optional(v.string()),
    // The client's own description (e.g. the dashboard's user agent), validated and truncated.
    client: v.optional(v.string()),
    // What the deployment saw of the request, when it knows (not on the local backend).
    userAgent: v.optional(v.string()),
    ip: v.optional(v.string()),
    nodeId: v.optional(v.id("nodes")),
    nodeName: v.optional(v.string()),
    orchestrationId: v.optional(v.id("orchestrations")),
    actionId: v.optional(v.id("inboundActions")),
    actionType: v.optional(actionType),
    targetUserId: v.optional(v.id("users")),
    promptId: v.optional(v.id("prompts")),
    outcome: auditOutcome,
    // One line for people; never a secret (redacted and truncated on write).
    detail: v.optional(v.string()),
    // What it is about (absent on entries written before it existed: their verb says it).
    kind: v.optional(auditKind),
    // A later step of an action or an answered prompt: the log shows it on the first step's row.
    folded: v.optional(v.literal(true)),
  })
    .index("by_at", ["at"])
    .index("by_kind_at", ["kind", "at"])
    .index("by_actor_at", ["actorId", "at"])
    .index("by_node_at", ["nodeId", "at"])
    .index("by_orchestration_at", ["orchestrationId", "at"])
    .index("by_action_at", ["actionId", "at"]),

  // One row per laptop. The credential itself is never stored, only its SHA-256.
  nodes: defineTable({
    name: v.string(),
    os: v.string(),
    credentialHash: v.string(),
    status: v.union(v.literal("online"), v.literal("offline")),
    enrolledAt: v.number(),
    // Written on online/offline transitions only (each beat goes to `presence`): when the
    // laptop came online, or its last sign of life once offline. 0: never connected.
    lastHeartbeat: v.number(),
    revokedAt: v.optional(v.number()),
    // Stored when what a person sees changes, never for the uptime alone.
    health: v.optional(nodeHealth),
    // Who may message this laptop's agents; unset means "owners" (model/messaging.ts).
    messaging: v.optional(messagingRule),
  })
    .index("by_name", ["name"])
    .index("by_credential", ["credentialHash"])
    // Laptops by presence, revoked ones apart (revocation leaves a laptop offline).
    .index("by_status_revoked_heartbeat", ["status", "revokedAt", "lastHeartbeat"]),

  // Each laptop's latest sign of life: written by heartbeats and by every call of the laptop,
  // read by no dashboard query, so a heartbeat wakes no dashboard. \`nodes.status\` changes
  // only on an online/offline transition.
  presence: defineTable({
    nodeId: v.id("nodes"),
    lastBeatAt: v.number(),
    online: v.boolean(),
    // The pending offline check (model/nodes.ts): moved to the new deadline on each write.
    offlineCheck: v.optional(v.id("_scheduled_functions")),
    // When that check runs: before then it is known to be pending (cancelled without reading it).
    offlineCheckAt: v.optional(v.number()),
  })
    .index("by_node", ["nodeId"])
    .index("by_online_beat", ["online", "lastBeatAt"]),

  // Whether someone watches the dashboard (presence.ts; not the laptops' `presence` above): one
  // row, key "dashboard", `until` moved on by open dashboards at most once per 30 s. The laptops
  // subscribe to it and send usage in quick batches until then, every 30 s otherwise.
  dashboardPresence: defineTable({
    key: v.literal("dashboard"),
    until: v.number(),
  }).index("by_key", ["key"]),

  // An orchestration is identified by (node, feature, start time).
  orchestrations: defineTable({
    nodeId: v.id("nodes"),
    // What the daemon sends for an orchestration (model/validators.ts).
    ...orchestrationSnapshot.fields,
    // Denormalized for the lists, so they never read phases.
    active: v.boolean(),
    phasesCompleted: v.number(),
    attention: v.optional(attentionKind),
    attentionPhase: v.optional(v.string()),
    attentionReason: v.optional(v.string()),
    // The agents of its live teams by liveness, as older versions kept it here; kept in
    // `orchestrationAgents` now (`agentsInTable`: its sum lives there, so this is not read).
    agents: v.optional(livenessCounts),
    agentsInTable: v.optional(v.boolean()),
    // Highest snapshot sequence applied by older versions; it is kept in `orchestrationSync` now.
    lastSeq: v.optional(v.number()),
    updatedAt: v.number(),
  })
    .index("by_node_feature_started", ["nodeId", "featureName", "startedAt"])
    .index("by_node_worktree_started", ["nodeId", "worktreePath", "startedAt"])
    .index("by_active_started", ["active", "startedAt"])
    .index("by_node_active_started", ["nodeId", "active", "startedAt"])
    .index("by_status_started", ["status", "startedAt"])
    .index("by_node_status_started", ["nodeId", "status", "startedAt"])
    .index("by_attention_updated", ["attention", "updatedAt"]),

  // The agents of an orchestration's live teams by liveness (absent when none reports it), kept by
  // team sync (model/teams.ts refreshAgents) so no list reads teams; apart from the orchestration
  // row, so an agent's change re-runs only the small query of that row's counts
  // (orchestrations:orchestrationAgents), not the lists, the detail or Needs you.
  orchestrationAgents: defineTable({
    orchestrationId: v.id("orchestrations"),
    agents: v.optional(livenessCounts),
  }).index("by_orchestration", ["orchestrationId"]),

  // Each phase's board tasks (done / total) over an orchestration's live teams, kept by team sync
  // (model/teams.ts refreshProgress) so no list reads teams; apart from the orchestration row, so
  // a task's change re-runs only that row's small query (orchestrations:orchestrationProgress).
  orchestrationProgress: defineTable({
    orchestrationId: v.id("orchestrations"),
    phases: v.array(v.object({ phaseNumber: v.string(), done: v.number(), total: v.number() })),
  }).index("by_orchestration", ["orchestrationId"]),

  // The highest snapshot sequence applied to an orchestration (older snapshots are ignored): kept
  // apart from the orchestration row, which the lists and the detail read, so a snapshot that
  // changes nothing they show writes nothing they read.
  orchestrationSync: defineTable({
    orchestrationId: v.id("orchestrations"),
    lastSeq: v.number(),
  }).index("by_orchestration", ["orchestrationId"]),

  phases: defineTable({
    orchestrationId: v.id("orchestrations"),
    // Exactly what the daemon sends for a phase (model/validators.ts).
    ...phaseSnapshot.fields,
    // Its plan document as last synced, without the content (documents:syncDocument keeps it
    // current), so the detail view never reads plan texts.
    plan: v.optional(planSummary),
    updatedAt: v.number(),
  }).index("by_orchestration_phase", ["orchestrationId", "phaseNumber"]),

  // A Claude Code agent team (~/.claude/teams/<dirName>/config.json).
  teams: defineTable({
    nodeId: v.id("nodes"),
    // What the daemon sends for a team (model/validators.ts).
    ...teamSnapshot.fields,
    // The working directory most members share: links the team to a worktree.
    cwd: v.optional(v.string()),
    orchestrationId: v.optional(v.id("orchestrations")),
    phaseNumber: v.optional(v.string()),
    memberCount: v.number(),
    taskCounts: v.object({
      pending: v.number(),
      inProgress: v.number(),
      completed: v.number(),
      other: v.number(),
    }),
    // Members by liveness, when the daemon reports it (older daemons do not).
    liveness: v.optional(livenessCounts),
    // Rows of teamMessages kept for the team, as older versions kept it here; kept in
    // `teamMessageCounts` now (a team without a row there still has its count here).
    messageCount: v.optional(v.number()),
    removedAt: v.optional(v.number()),
    lastSeq: v.optional(v.number()),
    // The daemon's sequence number of the last delta or reconcile applied (teams:syncTeamDelta
    // applies a delta only against this base); unset while a paged reconcile is under way.
    revision: v.optional(v.number()),
    // Set while a paged reconcile (teams:reconcileTeam … teams:finishReconcile) is under way.
    reconcileEpoch: v.optional(v.number()),
    updatedAt: v.number(),
  })
    .index("by_node_dir", ["nodeId", "dirName"])
    // The laptop's live teams (`removedAt` unset), so removed ones are never read.
    .index("by_node_removed_dir", ["nodeId", "removedAt", "dirName"])
    .index("by_node_cwd", ["nodeId", "cwd"])
    // Live teams outside any orchestration: (node, no orchestration, not removed).
    .index("by_node_orchestration_removed", ["nodeId", "orchestrationId", "removedAt"])
    .index("by_orchestration_phase", ["orchestrationId", "phaseNumber"])
    // An orchestration's live teams (team sync sums their agents' liveness onto the orchestration).
    .index("by_orchestration_removed", ["orchestrationId", "removedAt"]),

  // How many rows of teamMessages a team keeps (at most 2,000): apart from the team row, which
  // the detail page reads, so recording messages re-runs only the team's conversation.
  teamMessageCounts: defineTable({
    teamId: v.id("teams"),
    count: v.number(),
  }).index("by_team", ["teamId"]),

  // What the agents of a team said to each other: their inbox entries, one row per (team, key).
  // Only `read` changes after insert; the oldest rows beyond 2,000 per team are deleted.
  teamMessages: defineTable({
    teamId: v.id("teams"),
    nodeId: v.id("nodes"),
    orchestrationId: v.optional(v.id("orchestrations")),
    // What the daemon sends for an inbox entry (model/validators.ts).
    ...inboxMessage.fields,
    recordedAt: v.number(),
  })
    .index("by_team_key", ["teamId", "key"])
    .index("by_team_time", ["teamId", "timestamp"]),

  // A phase's plan or the orchestration's design doc, as last read on the laptop.
  documents: defineTable({
    orchestrationId: v.id("orchestrations"),
    nodeId: v.id("nodes"),
    // What the daemon sends for a document (model/validators.ts).
    ...documentSnapshot.fields,
    // phaseNumber ?? "": the design doc has no phase.
    phaseKey: v.string(),
    syncedAt: v.number(),
  }).index("by_orchestration_kind_phase", ["orchestrationId", "kind", "phaseKey"]),

  teamMembers: defineTable({
    ...teamScope,
    // What the daemon sends for a member (model/validators.ts).
    ...memberSnapshot.fields,
    removedAt: v.optional(v.number()),
    updatedAt: v.number(),
  }).index("by_team_agent", ["teamId", "agentId"]),

  // Current state of every task: the dashboard reads this, never the event log.
  tasks: defineTable({
    ...teamScope,
    // What the daemon sends for a task, Claude Code's times renamed (model/validators.ts).
    ...storedTask,
    revision: v.number(),
    removedAt: v.optional(v.number()),
    // The reconcile epoch that last included this task: a reconcile's last step removes the
    // team's live tasks of an older epoch, in bounded pages.
    syncEpoch: v.optional(v.number()),
    // The seq of the observation the row last changed to: an earlier state sent again (a page
    // whose reply was lost) is not recorded twice (model/teams.ts, applyStates).
    seenSeq: v.optional(v.number()),
    updatedAt: v.number(),
  })
    .index("by_team_task", ["teamId", "taskId"])
    .index("by_team_removed_epoch", ["teamId", "removedAt", "syncEpoch"])
    // A team's live teammate trackers (`internal: true`): the detail page's member activity reads
    // these only, so a board task's change does not re-run it.
    .index("by_team_removed_internal", ["teamId", "removedAt", "internal"]),

  // Append-only: one row per real change of a task.
  taskEvents: defineTable({
    ...teamScope,
    taskId: v.string(),
    kind: taskEventKind,
    changes: v.array(v.string()),
    status: v.string(),
    previousStatus: v.optional(v.string()),
    subject: v.string(),
    owner: v.optional(v.string()),
    recordedAt: v.number(),
    // `<task row id>:<revision>`: unique, so a change is never recorded twice.
    idempotencyKey: v.string(),
  })
    .index("by_idempotency", ["idempotencyKey"])
    .index("by_orchestration_recorded", ["orchestrationId", "recordedAt"])
    .index("by_team_task_recorded", ["teamId", "taskId", "recordedAt"]),

  // Append-only: orchestration events from the worktree's events journal.
  orchestrationEvents: defineTable({
    orchestrationId: v.id("orchestrations"),
    nodeId: v.id("nodes"),
    // What the daemon sends for an event (model/validators.ts).
    ...orchestrationEventInput.fields,
  })
    .index("by_node_key", ["nodeId", "idempotencyKey"])
    .index("by_orchestration_recorded", ["orchestrationId", "recordedAt"]),

  // Usage (issue 22; model/usage.ts): what the laptops' transcripts say the agents used, added as
  // deltas by usage:recordUsage. The finest grain: one row per (laptop, orchestration or none,
  // phase, agent, model, UTC hour) with its sums; phase and agent absent when not known. Kept 90
  // days (usage:pruneUsage): no page reads them, the rollups below keep what pages show. In these
  // and the tables below, rows written before web searches were counted have no `webSearches`.
  usageBuckets: defineTable({
    nodeId: v.id("nodes"),
    orchestrationId: v.optional(v.id("orchestrations")),
    phaseNumber: v.optional(v.string()),
    agentName: v.optional(v.string()),
    model: v.string(),
    hour: v.number(),
    ...storedSums,
  })
    .index("by_node_key", ["nodeId", "orchestrationId", "phaseNumber", "agentName", "model", "hour"])
    // usage:pruneUsage: buckets past their retention, oldest first.
    .index("by_hour", ["hour"]),

  // A laptop's usage stream (its ledger, `usage:<stream>:<seq>` batch ids): the last batch number
  // applied, so a replay of it or of any earlier batch adds nothing, however late it comes. One row
  // per ledger the laptop ever had (a new one only when its usage state was lost).
  usageStreams: defineTable({
    nodeId: v.id("nodes"),
    stream: v.string(),
    seq: v.number(),
    updatedAt: v.number(),
  }).index("by_node_stream", ["nodeId", "stream"]),

  // Other batch ids (daemons from before streams), kept 7 days, so a replayed batch adds nothing.
  usageBatches: defineTable({
    nodeId: v.id("nodes"),
    batch: v.string(),
    rows: v.number(),
    appliedAt: v.number(),
  })
    .index("by_node_batch", ["nodeId", "batch"])
    .index("by_node_applied", ["nodeId", "appliedAt"])
    // usage:pruneUsage: expired ids of laptops that stopped sending.
    .index("by_applied", ["appliedAt"]),

  // An orchestration's usage in one row, so its card reads one document. Rewritten by every batch:
  // no list reads it (the budget item lives in `usageBudgetCrossings`).
  usageTotals: defineTable({
    orchestrationId: v.id("orchestrations"),
    nodeId: v.id("nodes"),
    ...storedSums,
    updatedAt: v.number(),
    // Its budget (usage:setBudget), when set, and when its spend reached it (the card shows it).
    budgetMicros: v.optional(v.number()),
    budgetSetAt: v.optional(v.number()),
    budgetCrossedAt: v.optional(v.number()),
    // The spend at the crossing, as older versions kept it here (now in `usageBudgetCrossings`);
    // never written, cleared when the budget changes.
    budgetCrossedCostMicros: v.optional(v.number()),
  })
    .index("by_orchestration", ["orchestrationId"])
    // usage:moveBudgetCrossings: the crossings older versions kept here, to copy them. Once it has
    // run on every deployment, this index may go (and `budgetCrossedCostMicros`, once no row has it).
    .index("by_budget_crossed", ["budgetCrossedAt"]),

  // The orchestrations whose spend reached their budget: the "needs you" items of kind budget
  // (model/needs.ts). Written only when a budget is crossed, set, raised or cleared, never by a
  // batch that crosses none, so usage arriving does not re-run needs:needsYou. The orchestration's
  // laptop and feature are copied here (they never change), so the list reads nothing else of it.
  usageBudgetCrossings: defineTable({
    orchestrationId: v.id("orchestrations"),
    nodeId: v.id("nodes"),
    featureName: v.string(),
    budgetMicros: v.number(),
    crossedAt: v.number(),
    // Its spend when it did.
    costMicros: v.number(),
  })
    .index("by_orchestration", ["orchestrationId"])
    // needs:needsYou: the newest crossings first.
    .index("by_crossed", ["crossedAt"]),

  // An orchestration's usage by phase, by (phase, agent), by model and by hour: one row per key of
  // its kind, the other key fields absent (the detail page's breakdown and chart).
  usageRollups: defineTable({
    orchestrationId: v.id("orchestrations"),
    kind: rollupKind,
    phaseNumber: v.optional(v.string()),
    agentName: v.optional(v.string()),
    model: v.optional(v.string()),
    hour: v.optional(v.number()),
    ...storedSums,
  }).index("by_orchestration_kind_key", ["orchestrationId", "kind", "phaseNumber", "agentName", "model", "hour"]),

  // Each laptop's usage per UTC day (00:00 UTC in ms), attributed or not: the fleet's spend.
  usageDaily: defineTable({
    day: v.number(),
    nodeId: v.id("nodes"),
    ...storedSums,
  }).index("by_day_node", ["day", "nodeId"]),

  // Each laptop's Claude accounts' quota (usage:recordQuota): the 5-hour and 7-day windows its
  // status line last reported and the last rate-limit stop its hooks saw. One row per laptop and
  // account (the Claude Code config dir, e.g. "~/.claude-work"; none when not known), at most 8.
  usageQuota: defineTable({
    nodeId: v.id("nodes"),
    account: v.optional(v.string()),
    // The account the config dir is logged in to, as a key (model/usage.ts): one across the
    // config dirs and laptops logged in to it.
    accountKey: v.optional(v.string()),
    observedAt: v.number(),
    fiveHour: v.optional(quotaWindow),
    sevenDay: v.optional(quotaWindow),
    limitedAt: v.optional(v.number()),
    limitedText: v.optional(v.string()),
    updatedAt: v.number(),
  }).index("by_node", ["nodeId"]),

  // Operator actions, from the dashboard to one laptop.
  inboundActions: defineTable({
    nodeId: v.id("nodes"),
    orchestrationId: v.optional(v.id("orchestrations")),
    teamId: v.optional(v.id("teams")),
    type: actionType,
    payload: actionPayload,
    status: actionStatus,
    idempotencyKey: v.string(),
    submittedBy: v.string(),
    submittedByName: v.optional(v.string()),
    createdAt: v.number(),
    expiresAt: v.number(),
    claimedAt: v.optional(v.number()),
    leaseOwner: v.optional(v.string()),
    leaseExpiresAt: v.optional(v.number()),
    startedAt: v.optional(v.number()),
    finishedAt: v.optional(v.number()),
    result: v.optional(actionResult),
  })
    .index("by_node_status_created", ["nodeId", "status", "createdAt"])
    .index("by_submitter_key", ["submittedBy", "idempotencyKey"])
    .index("by_orchestration_created", ["orchestrationId", "createdAt"])
    .index("by_status_expires", ["status", "expiresAt"])
    .index("by_status_lease", ["status", "leaseExpiresAt"])
    .index("by_status_finished", ["status", "finishedAt"]),

  // Permission prompts: Claude Code asks to use a tool; the dashboard answers (model/prompts.ts).
  prompts: defineTable({
    nodeId: v.id("nodes"),
    // What the daemon sends (model/validators.ts), `openedAt`/`expiresAt` on Convex's clock.
    ...promptOpen.fields,
    inputTruncated: v.boolean(),
    // Set when the prompt's session belongs to an orchestration on this laptop.
    orchestrationId: v.optional(v.id("orchestrations")),
    status: promptStatus,
    ...promptAnswer,
  })
    // (promptId, node): the daemon's own prompt; also a promptId alone (unique across laptops).
    .index("by_prompt_node", ["promptId", "nodeId"])
    .index("by_status_opened", ["status", "openedAt"])
    .index("by_node_status_opened", ["nodeId", "status", "openedAt"])
    // The expiry sweep: open (and answered, never settled) prompts past their deadline.
    .index("by_status_expires", ["status", "expiresAt"]),

  // "Needs you": what each laptop computed from its teams' files and Claude Code's hooks, one row
  // per item (model/needs.ts). needs:syncLaptop replaces a laptop's open set; an item it no longer
  // sends is resolved, and resolved rows are deleted a day later.
  needs: defineTable({
    nodeId: v.id("nodes"),
    // What the laptop sends (model/validators.ts).
    ...laptopNeed.fields,
    // From teamDir (the team's link) or else featureName (the laptop's newest such orchestration).
    orchestrationId: v.optional(v.id("orchestrations")),
    phaseNumber: v.optional(v.string()),
    openedAt: v.number(),
    // When a field last changed (the laptop sent something different).
    updatedAt: v.number(),
    resolvedAt: v.optional(v.number()),
  })
    // The laptop's open items by key (resolvedAt unset), and its resolved ones by age.
    .index("by_node_resolved_key", ["nodeId", "resolvedAt", "key"])
    .index("by_resolved_since", ["resolvedAt", "since"])
    // needs:needsYou: the open items of each kind, newest first.
    .index("by_resolved_kind_since", ["resolvedAt", "kind", "since"]),

  // The Claude Code sessions a laptop's hooks know about: its current set, replaced by needs:syncLaptop.
  claudeSessions: defineTable({
    nodeId: v.id("nodes"),
    // What the laptop sends (model/validators.ts).
    ...sessionSnapshot.fields,
    orchestrationId: v.optional(v.id("orchestrations")),
    updatedAt: v.number(),
  })
    .index("by_node_session", ["nodeId", "sessionId"])
    // needs:sessions without a laptop: the most recently active sessions.
    .index("by_last", ["lastAt"]),

  // A user's own triage of "Needs you": `until` unset hides the item while it keeps the same
  // `since` (dismissed); a number hides it until then (snoozed). Deleted after 30 days.
  needDismissals: defineTable({
    userId: v.id("users"),
    key: v.string(),
    since: v.number(),
    until: v.optional(v.number()),
    createdAt: v.number(),
  })
    .index("by_user_key", ["userId", "key"])
    .index("by_created", ["createdAt"]),

  // Notifications (issue 20; model/notify.ts). A user's Web Push subscriptions, one per device
  // (browser profile): at most 10 a user, unique by endpoint, removed when the push service
  // answers 404 or 410. The endpoint and keys are never returned to any client.
  pushSubscriptions: defineTable({
    userId: v.id("users"),
    endpoint: v.string(),
    // The browser's P-256 public key (65 bytes, uncompressed) and auth secret (16 bytes), base64url.
    p256dh: v.string(),
    auth: v.string(),
    label: v.string(),
    createdAt: v.number(),
    lastSuccessAt: v.optional(v.number()),
    // The last failure: a status code and a short reason, never the endpoint.
    lastError: v.optional(v.string()),
    lastErrorAt: v.optional(v.number()),
  })
    .index("by_endpoint", ["endpoint"])
    .index("by_user_created", ["userId", "createdAt"]),

  // What notifies a user and where (one row a user, created with their first channel).
  // `active`: the user has a channel (a device, ntfy or a webhook), so notify:evaluate reads them.
  notifySettings: defineTable({
    userId: v.id("users"),
    kinds: v.array(notifyKind),
    // The kinds the person chose among (absent: saved before this was kept, `KINDS_OFFERED_BEFORE`):
    // a kind added later is on for them until they choose again.
    kindsOffered: v.optional(v.array(notifyKind)),
    quietHours: v.optional(quietHours),
    ntfy: v.optional(v.object({ server: v.string(), topic: v.string() })),
    // A secret (Slack's and Discord's URLs carry their token): only its host is ever returned.
    webhookUrl: v.optional(v.string()),
    devices: v.number(),
    active: v.boolean(),
    // When the user last gained a channel: one-shot events older than this are not sent to them.
    activeSince: v.number(),
    // Answering from the notification (Allow once / Deny, Approve plan), turned on explicitly by
    // an operator or owner on the settings page (model/notifyAnswer.ts). Absent: off.
    answering: v.optional(v.boolean()),
    updatedAt: v.number(),
  })
    .index("by_user", ["userId"])
    .index("by_active_user", ["active", "userId"]),

  // What each user was last shown of each item (tag = the item's key): closed and deleted when
  // the item goes, shown again with the same tag when its title or body changes (`digest`).
  // `via`: shown as its own notification, or only counted in the burst summary (tag tina-summary).
  notifyState: defineTable({
    userId: v.id("users"),
    tag: v.string(),
    kind: notifyStateKind,
    digest: v.string(),
    via: v.union(v.literal("item"), v.literal("summary")),
    shownAt: v.number(),
  }).index("by_user_tag", ["userId", "tag"]),

  // Single-use capabilities that let a notification's action answer its item (model/notifyAnswer.ts):
  // only the SHA-256 of the random token the push payload carries; what it may decide, on what,
  // until when; `usedAt` once it answered. Deleted a day after they expire.
  notifyAnswers: defineTable({
    userId: v.id("users"),
    tokenHash: v.string(),
    tag: v.string(),
    decisions: v.array(answerDecision),
    target: answerTarget,
    createdAt: v.number(),
    expiresAt: v.number(),
    usedAt: v.optional(v.number()),
    decision: v.optional(answerDecision),
  })
    .index("by_token", ["tokenHash"])
    .index("by_user_expires", ["userId", "expiresAt"])
    .index("by_expires", ["expiresAt"]),

  // The one pending evaluation (a singleton, key "main"), so that many triggers coalesce into
  // one notify:evaluate. No row: nobody has a channel, and triggers cost one indexed read.
  notifyQueue: defineTable({
    key: v.literal("main"),
    pendingAt: v.optional(v.number()),
    jobId: v.optional(v.id("_scheduled_functions")),
  }).index("by_key", ["key"]),

  // One-shot notifications that are no open item: an orchestration that finished. Shown once to
  // each user who wants them, never closed; deleted after a day.
  notifyEvents: defineTable({
    kind: v.literal("orchestration_finished"),
    tag: v.string(),
    orchestrationId: v.id("orchestrations"),
    title: v.string(),
    body: v.string(),
    url: v.string(),
    at: v.number(),
  })
    .index("by_at", ["at"])
    .index("by_tag", ["tag"]),

  // What was sent to each user and how it went: the last 20 a user are kept.
  notifyDeliveries: defineTable({
    userId: v.id("users"),
    at: v.number(),
    ...deliveryOutcome,
    deviceLabel: v.optional(v.string()),
  }).index("by_user_at", ["userId", "at"]),
});
