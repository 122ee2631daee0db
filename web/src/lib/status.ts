// Words and colours for every status the dashboard shows. Pure; used by badges and filters.
import type { ActionStatus, ActionType, OrchestrationStatus, PhaseStatus } from "../api";

/** The colour family of a badge: one meaning each, in both themes. */
export type Tone = "neutral" | "info" | "progress" | "success" | "warning" | "danger" | "muted";

export const PHASE_STATUSES: readonly PhaseStatus[] = [
  "planning",
  "planned",
  "awaiting_approval",
  "executing",
  "reviewing",
  "complete",
  "blocked",
  "paused",
];

export const ORCHESTRATION_STATUSES: readonly OrchestrationStatus[] = [
  "planning",
  "executing",
  "reviewing",
  "blocked",
  "paused",
  "complete",
];

const PHASE_LABELS: Record<PhaseStatus, string> = {
  planning: "Planning",
  planned: "Planned",
  awaiting_approval: "Awaiting approval",
  executing: "Executing",
  reviewing: "Reviewing",
  complete: "Complete",
  blocked: "Blocked",
  paused: "Paused",
};

const PHASE_TONES: Record<PhaseStatus, Tone> = {
  planning: "info",
  planned: "info",
  awaiting_approval: "warning",
  executing: "progress",
  reviewing: "progress",
  complete: "success",
  blocked: "danger",
  paused: "warning",
};

export function phaseStatusLabel(status: PhaseStatus): string {
  return PHASE_LABELS[status];
}

export function phaseStatusTone(status: PhaseStatus): Tone {
  return PHASE_TONES[status];
}

export function orchestrationStatusLabel(status: OrchestrationStatus): string {
  return PHASE_LABELS[status];
}

export function orchestrationStatusTone(status: OrchestrationStatus): Tone {
  return PHASE_TONES[status];
}

const ACTION_LABELS: Record<ActionStatus, string> = {
  pending: "queued",
  claimed: "claimed",
  running: "running",
  completed: "done",
  failed: "failed",
  expired: "expired",
  cancelled: "cancelled",
  interrupted: "interrupted",
};

const ACTION_TONES: Record<ActionStatus, Tone> = {
  pending: "neutral",
  claimed: "info",
  running: "progress",
  completed: "success",
  failed: "danger",
  expired: "danger",
  cancelled: "muted",
  interrupted: "danger",
};

export function actionStatusLabel(status: ActionStatus): string {
  return ACTION_LABELS[status];
}

export function actionStatusTone(status: ActionStatus): Tone {
  return ACTION_TONES[status];
}

/** The action has reached a status it will never leave. */
export function isFinalActionStatus(status: ActionStatus): boolean {
  return status !== "pending" && status !== "claimed" && status !== "running";
}

/** Where an action is on its way: queued → claimed → running → outcome (0..3). */
export function actionStep(status: ActionStatus): number {
  switch (status) {
    case "pending":
      return 0;
    case "claimed":
      return 1;
    case "running":
      return 2;
    default:
      return 3;
  }
}

const ACTION_TYPE_LABELS: Record<ActionType, string> = {
  approve_plan: "Approve plan",
  reject_plan: "Reject plan",
  pause: "Pause",
  resume: "Resume",
  retry: "Retry",
  send_message: "Message",
};

export function actionTypeLabel(type: ActionType): string {
  return ACTION_TYPE_LABELS[type];
}

/** Claude Code task statuses are raw strings: unknown ones are shown as they are. */
export function taskStatusLabel(status: string): string {
  switch (status) {
    case "pending":
      return "Pending";
    case "in_progress":
      return "In progress";
    case "completed":
      return "Completed";
    default:
      return status.replace(/_/g, " ");
  }
}
