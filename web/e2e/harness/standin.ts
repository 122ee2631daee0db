// The stand-in laptop: plays the tina daemon over the node-facing Convex functions, until the
// real daemon runs in these tests. Its "disk" is in memory. It syncs a whole orchestration or
// team per write (as the daemon does), heartbeats, subscribes to its pending actions, and runs
// them with tina-session's rules (pause / resume / retry / approve / reject) and real tmux
// (send_message). What it cannot show: file watching, parsing, the outbox, the real CLI.
import { randomUUID } from "node:crypto";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import WebSocket from "ws";
import { api, type ActionDoc, type PhaseStatus, type OrchestrationStatus } from "../../src/api";
import type { HookResult, InboxEntry, JournalEvent, Laptop, OrchestrationFile, PhaseFile, TeamFiles, TranscriptWritten } from "./laptop";
import { Tmux } from "./tmux";

const PAUSABLE: readonly PhaseStatus[] = ["planning", "planned", "awaiting_approval", "executing", "reviewing"];
const VERSION = "0.0.0-standin";
const NO_FILES = "the stand-in laptop has no plan or inbox files and runs no hooks: run this test against the daemon laptop";
const NO_TRANSCRIPTS = "the stand-in laptop has no Claude Code transcripts or status line to read usage from: run this test against the daemon laptop";

export class TransitionRefused extends Error {}

/** An orchestration's status follows its current phase (tina-session keeps them together). */
export function orchestrationStatusFor(phase: PhaseStatus): OrchestrationStatus {
  switch (phase) {
    case "planning":
    case "planned":
    case "awaiting_approval":
      return "planning";
    default:
      return phase;
  }
}

type Outcome = { state: OrchestrationFile; event: JournalEvent; message: string };

/** tina-session's transitions for the phase actions, on the dashboard's statuses (pure). */
export function applyPhaseAction(
  state: OrchestrationFile,
  type: "pause" | "resume" | "retry" | "approve_plan" | "reject_plan",
  phaseKey: string,
  now: number,
  feedback?: string,
): Outcome {
  const phase = state.phases[phaseKey];
  if (phase === undefined) throw new TransitionRefused(`phase ${phaseKey} of ${state.feature} does not exist`);
  let next: PhaseFile;
  let event: JournalEvent;
  switch (type) {
    case "pause":
      if (!PAUSABLE.includes(phase.status)) throw new TransitionRefused(`cannot pause phase ${phaseKey}: it is ${phase.status}`);
      next = { ...phase, status: "paused", blockedReason: "paused by operator", pausedFrom: phase.status };
      event = { type: "paused", summary: `Phase ${phaseKey} paused by operator`, phase: phaseKey };
      break;
    case "resume": {
      if (phase.status !== "paused" || phase.pausedFrom === undefined) throw new TransitionRefused(`orchestration ${state.feature} is not paused`);
      const { blockedReason: _r, pausedFrom, ...rest } = phase;
      next = { ...rest, status: pausedFrom as PhaseStatus };
      event = { type: "resumed", summary: `Phase ${phaseKey} resumed`, phase: phaseKey };
      break;
    }
    case "retry": {
      if (phase.status !== "blocked" && phase.status !== "paused") throw new TransitionRefused(`cannot retry phase ${phaseKey}: it is ${phase.status}, not blocked`);
      const { blockedReason: _r, pausedFrom: _p, ...rest } = phase;
      if (rest.planPath === undefined) next = { ...rest, status: "planning", planningStartedAt: rest.planningStartedAt ?? now };
      else if (rest.gitRange !== undefined) next = { ...rest, status: "reviewing", reviewStartedAt: rest.reviewStartedAt ?? now };
      else next = { ...rest, status: "executing", executionStartedAt: rest.executionStartedAt ?? now };
      event = { type: "retry", summary: `Phase ${phaseKey} retry requested`, phase: phaseKey };
      break;
    }
    case "approve_plan":
      if (phase.status !== "awaiting_approval") throw new TransitionRefused(`cannot approve phase ${phaseKey}: it is not awaiting plan approval`);
      next = { ...phase, status: "executing", executionStartedAt: now };
      event = { type: "plan_approved", summary: `Phase ${phaseKey} plan approved`, phase: phaseKey };
      break;
    case "reject_plan": {
      if (phase.status !== "awaiting_approval") throw new TransitionRefused(`cannot reject phase ${phaseKey}: it is not awaiting plan approval`);
      if (!feedback?.trim()) throw new TransitionRefused("plan_rejected needs the operator's feedback");
      const { planPath: _plan, planningMins: _m, ...rest } = phase;
      next = { ...rest, status: "planning", feedback: feedback.trim(), planningStartedAt: now };
      event = { type: "plan_rejected", summary: `Phase ${phaseKey} plan rejected`, phase: phaseKey, detail: { feedback: feedback.trim() } };
      break;
    }
  }
  const status: OrchestrationStatus = orchestrationStatusFor(next.status);
  return { state: { ...state, status, phases: { ...state.phases, [phaseKey]: next } }, event, message: event.summary };
}

export type StandInOptions = {
  url: string;
  enrollmentSecret: string;
  name: string;
  heartbeatMs?: number;
};

export class StandInLaptop implements Laptop {
  readonly kind = "stand-in" as const;
  readonly name: string;
  /** When each action's handler started (ms since the epoch), for the latency benchmark. */
  readonly handlerStarts = new Map<string, number>();
  private readonly http: ConvexHttpClient;
  private ws: ConvexClient | null = null;
  private token = "";
  private seq = 0;
  private eventSeq = 0;
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private readonly startedAt = Date.now();
  private readonly leaseOwner = `standin-${randomUUID()}`;
  private readonly orchestrations = new Map<string, OrchestrationFile>();
  private readonly orchestrationIds = new Map<string, string>();
  private readonly teams = new Map<string, TeamFiles>();
  private readonly busy = new Set<string>();
  private lastSyncAt: number | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private tmux: Tmux | null = null;

  constructor(private readonly options: StandInOptions) {
    this.name = options.name;
    this.http = new ConvexHttpClient(options.url);
  }

  async start(): Promise<void> {
    const enrolled = await this.http.mutation(api.nodes.enrollNode, {
      enrollmentSecret: this.options.enrollmentSecret,
      name: this.name,
      os: "linux",
    });
    this.token = enrolled.credential;
    await this.http.mutation(api.nodes.registerNode, { nodeToken: this.token, os: "linux" });
    await this.http.mutation(api.actions.interruptStaleActions, { nodeToken: this.token, leaseOwner: this.leaseOwner });
    await this.heartbeat();
    this.timer = setInterval(() => void this.heartbeat().catch(() => undefined), this.options.heartbeatMs ?? 20_000);
    this.timer.unref();
    this.ws = new ConvexClient(this.options.url, { webSocketConstructor: WebSocket as unknown as typeof globalThis.WebSocket });
    this.unsubscribe = this.ws.onUpdate(api.actions.pendingActions, { nodeToken: this.token }, (pending) => {
      for (const action of pending) void this.run(action);
    });
  }

  private async heartbeat(): Promise<void> {
    await this.http.mutation(api.nodes.heartbeat, {
      nodeToken: this.token,
      health: {
        daemonVersion: VERSION,
        startedAt: this.startedAt,
        uptimeSecs: (Date.now() - this.startedAt) / 1000,
        outboxDepth: 0,
        ...(this.lastSyncAt !== undefined ? { lastSyncAt: this.lastSyncAt } : {}),
        connection: "connected",
        actors: [
          { id: "gateway", state: "running", restarts: 0 },
          { id: "syncer", state: "running", restarts: 0 },
          { id: "actions", state: "running", restarts: 0 },
        ],
      },
    });
  }

  /** One writer, in order, like the daemon's syncer. */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async syncOrchestration(state: OrchestrationFile): Promise<void> {
    const keys = Object.keys(state.phases);
    const out = await this.http.mutation(api.orchestrations.syncOrchestration, {
      nodeToken: this.token,
      seq: ++this.seq,
      orchestration: {
        featureName: state.feature,
        specDocPath: state.specDocPath,
        branch: state.branch,
        worktreePath: state.worktreePath,
        totalPhases: state.totalPhases,
        currentPhase: state.currentPhase,
        status: state.status,
        startedAt: state.startedAt,
        ...(state.completedAt !== undefined ? { completedAt: state.completedAt } : {}),
      },
      phases: keys.map((phaseNumber) => ({ phaseNumber, ...state.phases[phaseNumber]! })),
    });
    this.orchestrationIds.set(state.feature, out.orchestrationId);
    this.lastSyncAt = Date.now();
  }

  async writeOrchestration(state: OrchestrationFile): Promise<void> {
    this.orchestrations.set(state.feature, structuredClone(state));
    await this.serial(() => this.syncOrchestration(state));
  }

  async readOrchestration(feature: string): Promise<OrchestrationFile> {
    const state = this.orchestrations.get(feature);
    if (state === undefined) throw new Error(`no orchestration ${feature} on ${this.name}`);
    return structuredClone(state);
  }

  async writeTeam(team: TeamFiles): Promise<void> {
    this.teams.set(team.dirName, structuredClone(team));
    await this.serial(async () => {
      await this.http.mutation(api.teams.syncTeam, {
        nodeToken: this.token,
        seq: ++this.seq,
        team: { dirName: team.dirName, teamName: team.teamName },
        members: team.members.map((m) => ({
          agentId: m.agentId,
          agentName: m.name,
          ...(m.agentType ? { agentType: m.agentType } : {}),
          ...(m.model ? { model: m.model } : {}),
          ...(m.joinedAt ? { joinedAt: m.joinedAt } : {}),
          ...(m.tmuxPaneId ? { tmuxPaneId: m.tmuxPaneId } : {}),
          ...(m.cwd ? { cwd: m.cwd } : {}),
        })),
        tasks: team.tasks.map((t) => ({
          taskId: t.id,
          subject: t.subject,
          description: t.description ?? "",
          status: t.status,
          ...(t.owner ? { owner: t.owner } : {}),
          ...(t.activeForm ? { activeForm: t.activeForm } : {}),
          blocks: t.blocks ?? [],
          blockedBy: t.blockedBy ?? [],
        })),
      });
      this.lastSyncAt = Date.now();
    });
  }

  async appendEvent(feature: string, event: JournalEvent): Promise<void> {
    await this.serial(async () => {
      const orchestrationId = this.orchestrationIds.get(feature);
      if (orchestrationId === undefined) throw new Error(`write orchestration ${feature} before its events`);
      await this.http.mutation(api.events.recordEvents, {
        nodeToken: this.token,
        orchestrationId: orchestrationId as never,
        events: [
          {
            idempotencyKey: `${this.leaseOwner}:${++this.eventSeq}`,
            eventType: event.type,
            source: "tina-session",
            summary: event.summary,
            ...(event.phase ? { phaseNumber: event.phase } : {}),
            ...(event.detail ? { detail: JSON.stringify(event.detail) } : {}),
            recordedAt: Date.now(),
          },
        ],
      });
    });
  }

  /** Claim → running → handler → complete, exactly like the daemon's dispatcher. */
  private async run(action: ActionDoc): Promise<void> {
    const ws = this.ws;
    if (this.busy.has(action._id) || ws === null) return;
    this.busy.add(action._id);
    // Over the same WebSocket as the subscription, as the daemon does.
    const claim = await ws.mutation(api.actions.claimAction, { nodeToken: this.token, actionId: action._id, leaseOwner: this.leaseOwner });
    if (!claim.ok) return;
    await ws.mutation(api.actions.markActionRunning, { nodeToken: this.token, actionId: action._id, leaseOwner: this.leaseOwner });
    this.handlerStarts.set(action._id, Date.now());
    const started = Date.now();
    let result: { ok: boolean; code: string; message: string };
    try {
      result = { ok: true, code: "ok", message: await this.handle(action) };
    } catch (error) {
      const refused = error instanceof TransitionRefused;
      result = { ok: false, code: refused ? "cli_exit_non_zero" : "handler_error", message: (error as Error).message };
    }
    await this.http.mutation(api.actions.completeAction, {
      nodeToken: this.token,
      actionId: action._id,
      leaseOwner: this.leaseOwner,
      result: { ...result, durationMs: Date.now() - started, ...(result.ok ? { exitCode: 0 } : { exitCode: 1 }) },
    });
  }

  private async handle(action: ActionDoc): Promise<string> {
    const p = action.payload;
    if (action.type === "send_message") {
      const team = p.teamDir ? this.teams.get(p.teamDir) : undefined;
      const member = team?.members.find((m) => m.name === p.agentName);
      if (!member?.tmuxPaneId || this.tmux === null || !(await this.tmux.hasPane(member.tmuxPaneId))) {
        throw new Error(`no tmux pane for ${p.agentName ?? "?"}`);
      }
      await this.tmux.type(member.tmuxPaneId, p.text ?? "");
      return `delivered to ${p.agentName} (${member.tmuxPaneId})`;
    }
    const state = this.orchestrations.get(p.feature ?? "");
    if (state === undefined || p.phase === undefined) throw new TransitionRefused(`no orchestration ${p.feature ?? "?"} on this laptop`);
    const out = applyPhaseAction(state, action.type, p.phase, Date.now(), p.feedback);
    await this.writeOrchestration(out.state);
    await this.appendEvent(state.feature, out.event);
    return out.message;
  }

  // Plans and inboxes live in files only the real daemon reads: the tests that need them run
  // against the daemon laptop (TINA_E2E_LAPTOP=daemon, the default).
  async writePlan(_feature: string, _phase: string, _markdown: string): Promise<void> {
    throw new Error(NO_FILES);
  }

  async openLeadSession(_feature: string, _phase: string): Promise<string> {
    throw new Error(NO_FILES);
  }

  async readInbox(_teamDir: string, _agent: string): Promise<InboxEntry[]> {
    throw new Error(NO_FILES);
  }

  async appendInbox(_teamDir: string, _agent: string, _entry: Omit<InboxEntry, "timestamp" | "read">): Promise<void> {
    throw new Error(NO_FILES);
  }

  async writeInboxFile(_teamDir: string, _agent: string, _content: string): Promise<void> {
    throw new Error(NO_FILES);
  }

  async markInboxRead(_teamDir: string, _agent: string): Promise<void> {
    throw new Error(NO_FILES);
  }

  async appendTranscript(_feature: string, _teamDir: string, _agent: string, _messages: number, _searches?: number): Promise<TranscriptWritten> {
    throw new Error(NO_TRANSCRIPTS);
  }

  async reportQuota(_feature: string, _fiveHourPct: number, _sevenDayPct: number): Promise<void> {
    throw new Error(NO_TRANSCRIPTS);
  }

  async startHook(_feature: string, _event: Record<string, unknown>, _waitMs: number): Promise<number> {
    throw new Error(NO_FILES);
  }

  async hookResult(_handle: number): Promise<HookResult | null> {
    throw new Error(NO_FILES);
  }

  async openPane(_feature: string): Promise<string> {
    this.tmux ??= await Tmux.start();
    return await this.tmux.newPane();
  }

  async capturePane(paneId: string): Promise<string> {
    if (this.tmux === null) throw new Error("no pane was opened on this laptop");
    return await this.tmux.capture(paneId);
  }

  async logTail(): Promise<string> {
    return `(stand-in ${this.name}: no log)`;
  }

  async goOffline(): Promise<void> {
    const wasOnline = this.timer !== null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
    await this.ws?.close();
    this.ws = null;
    // As the daemon does at a clean stop: offline at once, not a threshold later.
    if (wasOnline && this.token !== "") await this.http.mutation(api.nodes.signOff, { nodeToken: this.token }).catch(() => undefined);
  }

  async stop(): Promise<void> {
    await this.goOffline();
    await this.tmux?.stop();
    this.tmux = null;
  }
}
