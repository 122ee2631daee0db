// The task board: a team's current tasks in columns, with who blocks whom. Pure.
import type { TaskDoc } from "../api";
import { formatDuration } from "./time";

export type Column = "pending" | "in_progress" | "completed" | "other";

export const COLUMNS: readonly Column[] = ["pending", "in_progress", "completed", "other"];

export const COLUMN_LABELS: Record<Column, string> = {
  pending: "Pending",
  in_progress: "In progress",
  completed: "Completed",
  other: "Other",
};

export type BoardTask = Pick<TaskDoc, "taskId" | "subject" | "status" | "owner" | "blockedBy" | "activeForm" | "claudeCreatedAt" | "claudeUpdatedAt"> & {
  removedAt?: number;
};

export type BoardCard<T extends BoardTask> = {
  task: T;
  /** Blockers that are not completed yet (ids that no longer exist count as open). */
  openBlockers: string[];
};

export type Board<T extends BoardTask> = Record<Column, BoardCard<T>[]>;

export function columnOf(status: string): Column {
  return status === "pending" || status === "in_progress" || status === "completed" ? status : "other";
}

/** Task ids sort numerically when they are numbers ("2" before "10"), else by text. */
export function compareTaskIds(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a.localeCompare(b);
}

/**
 * Board order: tasks whose file says when Claude Code created them, in that order (ties by id),
 * then the others by id (ids are allocated in order, so both agree when both are known).
 */
export function compareTasks(a: BoardTask, b: BoardTask): number {
  const ta = a.claudeCreatedAt;
  const tb = b.claudeCreatedAt;
  if (ta !== undefined && tb !== undefined && ta !== tb) return ta - tb;
  if (ta !== undefined && tb === undefined) return -1;
  if (ta === undefined && tb !== undefined) return 1;
  return compareTaskIds(a.taskId, b.taskId);
}

/**
 * How long, from Claude Code's own times (never the row's sync times): a pending task has been
 * waiting since it was created, one in progress working since its last update, a completed one
 * took from creation to its last update. Null when the file does not say.
 */
export function taskTiming(task: BoardTask, now: number): string | null {
  const created = task.claudeCreatedAt;
  const updated = task.claudeUpdatedAt;
  switch (task.status) {
    case "pending":
      return created === undefined ? null : `waiting ${formatDuration(now - created)}`;
    case "in_progress":
      return updated === undefined ? null : `working ${formatDuration(now - updated)}`;
    case "completed":
      return created === undefined || updated === undefined ? null : `done in ${formatDuration(updated - created)}`;
    default:
      return null;
  }
}

/** Groups a team's tasks into columns; removed tasks are left out. */
export function buildBoard<T extends BoardTask>(tasks: readonly T[]): Board<T> {
  const live = tasks.filter((t) => t.removedAt === undefined);
  const done = new Set(live.filter((t) => t.status === "completed").map((t) => t.taskId));
  const board: Board<T> = { pending: [], in_progress: [], completed: [], other: [] };
  for (const task of [...live].sort(compareTasks)) {
    const openBlockers = task.status === "completed" ? [] : task.blockedBy.filter((id) => !done.has(id));
    board[columnOf(task.status)].push({ task, openBlockers });
  }
  return board;
}

/** The columns worth showing: the three main ones always, "other" only when it has tasks. */
export function visibleColumns<T extends BoardTask>(board: Board<T>): Column[] {
  return COLUMNS.filter((c) => c !== "other" || board.other.length > 0);
}
