// The phase timeline: stage durations (finished or still running), remediation phases,
// pauses and blocks. Pure; `now` comes from the shared clock.
import type { PhaseStatus } from "../api";

const MINUTE = 60_000;

export type Stage = "planning" | "approval" | "execution" | "review";

export type StageTiming = {
  stage: Stage;
  /** Duration in ms; undefined when the stage has not started or cannot be known. */
  ms: number | undefined;
  /** The stage is running now: its duration grows with the clock. */
  live: boolean;
  /** The phase stopped (blocked or paused) in this stage: `ms` is its time until it stopped. */
  stopped?: boolean;
};

export type PhaseTimes = {
  status: PhaseStatus;
  planningStartedAt?: number;
  executionStartedAt?: number;
  reviewStartedAt?: number;
  completedAt?: number;
  planningMins?: number;
  executionMins?: number;
  reviewMins?: number;
  durationMins?: number;
  /** The status it was paused from (a pause looks like a block in the local files). */
  pausedFrom?: string;
  /** When the phase's own fields last changed: for a stopped phase, when it stopped. */
  updatedAt?: number;
  /** Its plan document as last synced (when the plan file was written). */
  plan?: { modifiedAt?: number };
};

const LIVE_STAGE: Partial<Record<PhaseStatus, Stage>> = {
  planning: "planning",
  awaiting_approval: "approval",
  executing: "execution",
  reviewing: "review",
};

const STAGE_OF_STATUS: Record<string, Stage> = {
  planning: "planning",
  planned: "approval",
  awaiting_approval: "approval",
  executing: "execution",
  reviewing: "review",
};

function timing(
  stage: Stage,
  mins: number | undefined,
  start: number | undefined,
  end: number | undefined,
  now: number,
  state: { live: boolean; stoppedAt: number | undefined },
): StageTiming {
  if (state.live && start !== undefined) return { stage, ms: Math.max(0, now - start), live: true };
  if (state.stoppedAt !== undefined && start !== undefined) return { stage, ms: Math.max(0, state.stoppedAt - start), live: false, stopped: true };
  const measured = start !== undefined && end !== undefined ? Math.max(0, end - start) : undefined;
  // Recorded minutes are whole: under a minute they say 0, the timestamps say more.
  if (mins !== undefined && !(mins === 0 && measured !== undefined)) return { stage, ms: mins * MINUTE, live: false };
  return { stage, ms: measured, live: false };
}

/**
 * When the plan was ready (planning ended and, with the approval gate, the wait for an operator
 * began). tina-session records planning in whole minutes (truncated), so the end lies within
 * the minute after start + minutes; the plan file, written just before, narrows it down.
 */
export function planReadyAt(p: PhaseTimes): number | undefined {
  const written = p.plan?.modifiedAt;
  if (p.planningStartedAt === undefined || p.planningMins === undefined) {
    return p.status === "awaiting_approval" ? written : undefined;
  }
  const earliest = p.planningStartedAt + p.planningMins * MINUTE;
  if (written !== undefined && written >= earliest && written < earliest + MINUTE) return written;
  // Execution began within that minute: planning ran up to it (no wait worth showing).
  if (p.executionStartedAt !== undefined && p.executionStartedAt < earliest + MINUTE) return Math.max(earliest, p.executionStartedAt);
  return earliest;
}

/** The stage a blocked or paused phase stopped in: the one it was paused from, else the last one started. */
export function stoppedStage(p: PhaseTimes): Stage | undefined {
  if (p.status !== "blocked" && p.status !== "paused") return undefined;
  if (p.pausedFrom !== undefined && STAGE_OF_STATUS[p.pausedFrom] !== undefined) return STAGE_OF_STATUS[p.pausedFrom];
  if (p.reviewStartedAt !== undefined) return "review";
  if (p.executionStartedAt !== undefined) return "execution";
  if (p.planningStartedAt !== undefined) return "planning";
  return undefined;
}

/**
 * Planning, waiting for approval (when there is or was such a wait), execution and review of one
 * phase. The stage running now grows with the clock; the stage a blocked or paused phase stopped
 * in shows its time until it stopped (not "–", and not counting on).
 */
export function stageTimings(p: PhaseTimes, now: number): StageTiming[] {
  const live = LIVE_STAGE[p.status];
  const stopped = stoppedStage(p);
  // The phase's last change is when it stopped; without it, the time so far.
  const stoppedAt = stopped === undefined ? undefined : Math.min(now, p.updatedAt ?? now);
  const at = (stage: Stage) => ({ live: live === stage, stoppedAt: stopped === stage ? stoppedAt : undefined });
  const ready = planReadyAt(p);
  const planning = timing("planning", p.planningMins, p.planningStartedAt, ready ?? p.executionStartedAt, now, at("planning"));
  const approval = timing("approval", undefined, ready, p.executionStartedAt, now, at("approval"));
  const stages = [planning];
  // A wait for approval is shown while it lasts, where the phase stopped in it, and afterwards
  // when it took a minute or more (without the gate the executor starts within seconds).
  if (live === "approval" || stopped === "approval" || (approval.ms !== undefined && approval.ms >= MINUTE)) stages.push(approval);
  stages.push(
    timing("execution", p.executionMins, p.executionStartedAt, p.reviewStartedAt ?? p.completedAt, now, at("execution")),
    timing("review", p.reviewMins, p.reviewStartedAt, p.completedAt, now, at("review")),
  );
  return stages;
}

/** The phase's whole duration: its recorded total, else the sum of what is known. */
export function phaseDuration(p: PhaseTimes, now: number): { ms: number | undefined; live: boolean } {
  if (p.status === "complete") {
    if (p.durationMins !== undefined && p.durationMins > 0) return { ms: p.durationMins * MINUTE, live: false };
    if (p.planningStartedAt !== undefined && p.completedAt !== undefined) return { ms: Math.max(0, p.completedAt - p.planningStartedAt), live: false };
    if (p.durationMins !== undefined) return { ms: 0, live: false };
  }
  const stages = stageTimings(p, now);
  const known = stages.filter((s) => s.ms !== undefined);
  if (known.length === 0) return { ms: undefined, live: false };
  return { ms: known.reduce((sum, s) => sum + (s.ms ?? 0), 0), live: stages.some((s) => s.live) };
}

/** "1.5" is the remediation of phase 1, "1.5.5" the remediation of that. */
export function remediationDepth(phaseNumber: string): number {
  return phaseNumber.split(".").length - 1;
}

export function remediationOf(phaseNumber: string): string | undefined {
  const parts = phaseNumber.split(".");
  return parts.length > 1 ? parts.slice(0, -1).join(".") : undefined;
}

export function phaseTitle(phaseNumber: string): string {
  const parent = remediationOf(phaseNumber);
  return parent === undefined ? `Phase ${phaseNumber}` : `Phase ${phaseNumber} · remediation of ${parent}`;
}

/** A pause looks like a block in the local files; `pausedFrom` tells them apart. */
export function stopKind(p: { status: PhaseStatus; pausedFrom?: string }): "paused" | "blocked" | null {
  if (p.status === "paused" || (p.status === "blocked" && p.pausedFrom !== undefined)) return "paused";
  if (p.status === "blocked") return "blocked";
  return null;
}

/** Sort phase numbers the way tina does: 1 < 1.5 < 1.5.5 < 2 < 10. */
export function comparePhaseNumbers(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x !== y) return x - y;
  }
  return 0;
}
