// The laptop side of the end-to-end tests, as one swappable piece.
//
// A Laptop owns "its disk" (orchestration state files, team and task files) and whatever
// projects them into Convex and runs operator actions. Two implementations:
//   - StandInLaptop (standin.ts): plays the daemon itself over the node-facing Convex
//     functions; its "disk" is in memory; actions are applied the way tina-session does.
//   - DaemonLaptop (daemon.ts): real files in a sandbox home and real git worktrees, the real
//     `tina daemon run`, real tina-session and tmux.
// Tests only talk to this interface; `makeLaptop` (index.ts) picks one.
// A write resolves once it is on the laptop's "disk"; reaching Convex is the daemon's job, so
// tests wait for what the page (or the backend) shows, never for the write.
import type { PhaseStatus, OrchestrationStatus } from "../../src/api";

export type PhaseFile = {
  status: PhaseStatus;
  planPath?: string;
  gitRange?: string;
  planningStartedAt?: number;
  executionStartedAt?: number;
  reviewStartedAt?: number;
  completedAt?: number;
  planningMins?: number;
  executionMins?: number;
  reviewMins?: number;
  durationMins?: number;
  blockedReason?: string;
  pausedFrom?: string;
  feedback?: string;
};

/** What tina-session keeps in a worktree's supervisor-state.json, in the dashboard's words. */
export type OrchestrationFile = {
  feature: string;
  branch: string;
  worktreePath: string;
  specDocPath: string;
  totalPhases: number;
  currentPhase: number;
  status: OrchestrationStatus;
  startedAt: number;
  completedAt?: number;
  phases: Record<string, PhaseFile>;
};

export type MemberFile = {
  agentId: string;
  name: string;
  agentType?: string;
  model?: string;
  joinedAt?: number;
  tmuxPaneId?: string;
  cwd?: string;
  /** false while idle (Claude Code writes it on teammates). */
  isActive?: boolean;
  backendType?: string;
  color?: string;
};

/** How a `tina hook` run ended: Claude Code reads `stdout` as the decision. */
export type HookResult = { code: number; stdout: string; stderr: string };

/** One entry of an agent's inbox (~/.claude/teams/<dir>/inboxes/<agent>.json), as on disk. */
export type InboxEntry = {
  from: string;
  text: string;
  timestamp: string;
  read?: boolean;
  summary?: string;
  color?: string;
};

export type TaskFile = {
  id: string;
  subject: string;
  description?: string;
  status: string;
  owner?: string;
  blocks?: string[];
  blockedBy?: string[];
  activeForm?: string;
};

/** ~/.claude/teams/<dirName>/config.json plus ~/.claude/tasks/<dirName>/*.json. */
export type TeamFiles = {
  dirName: string;
  teamName: string;
  members: MemberFile[];
  tasks: TaskFile[];
  /** The lead's Claude Code session (its transcript's name); one is made up when absent. */
  leadSessionId?: string;
};

/** What an agent's appended transcript lines billed: assistant messages, their tokens and web
 * searches. */
export type TranscriptWritten = { messages: number; tokens: number; searches: number };

/** One line of a worktree's events journal. */
export type JournalEvent = { type: string; summary: string; phase?: string; detail?: Record<string, unknown> };

export interface Laptop {
  readonly name: string;
  /** Which implementation runs: reported in test names and the benchmark. */
  readonly kind: "stand-in" | "daemon";
  /** Enrolls, starts syncing and heartbeating; resolves once the laptop is online. */
  start(): Promise<void>;
  /** Writes (replaces) an orchestration's state file. */
  writeOrchestration(state: OrchestrationFile): Promise<void>;
  /** What the state file says now (after operator actions changed it). */
  readOrchestration(feature: string): Promise<OrchestrationFile>;
  /** Writes (replaces) a team's config and task files. */
  writeTeam(team: TeamFiles): Promise<void>;
  /** A terminal pane for an agent of `feature`'s orchestration, working in its worktree (on the
   * laptop's tmux server); returns its id ("%3"). The orchestration must have been written. */
  openPane(feature: string): Promise<string>;
  /** What the pane shows now. */
  capturePane(paneId: string): Promise<string>;
  /** Writes (replaces) the plan of `phase` in the orchestration's worktree, at the path its
   * planPath names (`docs/plans/<feature>-phase-<phase>.md`, as the scenarios write it). */
  writePlan(feature: string, phase: string, markdown: string): Promise<void>;
  /** The phase lead's tmux session, as `tina-session start` names it, running a program that
   * shows what is typed, in the worktree; returns its pane id. */
  openLeadSession(feature: string, phase: string): Promise<string>;
  /** An agent's inbox as on disk ([] when it has none). */
  readInbox(teamDir: string, agent: string): Promise<InboxEntry[]>;
  /** Appends to an agent's inbox as a teammate does (under Claude Code's lock). */
  appendInbox(teamDir: string, agent: string, entry: Omit<InboxEntry, "timestamp" | "read">): Promise<void>;
  /** Replaces an agent's inbox file with `content` as is (e.g. something that is not an inbox). */
  writeInboxFile(teamDir: string, agent: string, content: string): Promise<void>;
  /** Marks every message of an agent's inbox read, as Claude Code does when it picks them up. */
  markInboxRead(teamDir: string, agent: string): Promise<void>;
  /** Runs `tina hook` as Claude Code does for `event` (JSON on stdin, in the orchestration's
   * worktree, the decision wait `waitMs`); returns a handle while it runs. */
  startHook(feature: string, event: Record<string, unknown>, waitMs: number): Promise<number>;
  /** null while that hook runs; then its exit code and output. */
  hookResult(handle: number): Promise<HookResult | null>;
  /** Appends `messages` assistant messages of `agent` (a member of the team in `teamDir`, its
   * first member the lead) to that agent's Claude Code transcript, as Claude Code writes them
   * (realistic token figures, the member's model, a tool call written as two lines); the first
   * `searches` of them call WebSearch (one web search each). */
  appendTranscript(feature: string, teamDir: string, agent: string, messages: number, searches?: number): Promise<TranscriptWritten>;
  /** Claude Code runs the status line of the orchestration's worktree with the account's rate
   * limits: the 5-hour and 7-day windows used so far (%). */
  reportQuota(feature: string, fiveHourPct: number, sevenDayPct: number): Promise<void>;
  /** Appends a line to the orchestration's events journal (as tina-session does). */
  appendEvent(feature: string, event: JournalEvent): Promise<void>;
  /** Stops the daemon: no more heartbeats, syncing or actions; the laptop goes offline. */
  goOffline(): Promise<void>;
  /** The last lines of the daemon's log, for a failing test's report. */
  logTail(): Promise<string>;
  /** Stops everything and cleans up. */
  stop(): Promise<void>;
}
