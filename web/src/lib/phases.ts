// The phase timeline: stage durations (finished or still running), remediation phases,
// pauses and blocks. Pure; `now` comes from the shared clock.
import type { PhaseStatus } from "../api";

const MINUTE = 60_000;

export type Stage = "planning" | "execution" | "review";

export type StageTiming = {
  stage: Stage;
  /** Duration in ms; undefined when the stage has not started or cannot be known. */
  ms: number | undefined;
  /** The stage is running now: its duration grows with the clock. */
  live: boolean;
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
};

const LIVE_STAGE: Partial<Record<PhaseStatus, Stage>> = {
  planning: "planning",
  executing: "execution",
  reviewing: "review",
};

function timing(
  stage: Stage,
  mins: number | undefined,
  start: number | undefined,
  end: number | undefined,
  live: boolean,
  now: number,
): StageTiming {
  if (live && start !== undefined) return { stage, ms: Math.max(0, now - start), live: true };
  const measured = start !== undefined && end !== undefined ? Math.max(0, end - start) : undefined;
  // Recorded minutes are whole: under a minute they say 0, the timestamps say more.
  if (mins !== undefined && !(mins === 0 && measured !== undefined)) return { stage, ms: mins * MINUTE, live: false };
  return { stage, ms: measured, live: false };
}

/** Planning, execution and review durations of one phase. */
export function stageTimings(p: PhaseTimes, now: number): StageTiming[] {
  const live = LIVE_STAGE[p.status];
  return [
    timing("planning", p.planningMins, p.planningStartedAt, p.executionStartedAt, live === "planning", now),
    timing("execution", p.executionMins, p.executionStartedAt, p.reviewStartedAt ?? p.completedAt, live === "execution", now),
    timing("review", p.reviewMins, p.reviewStartedAt, p.completedAt, live === "review", now),
  ];
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
