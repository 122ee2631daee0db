// The task board: a team's current tasks in columns, with who blocks whom. Pure.
import type { TaskDoc } from "../api";

export type Column = "pending" | "in_progress" | "completed" | "other";

export const COLUMNS: readonly Column[] = ["pending", "in_progress", "completed", "other"];

export const COLUMN_LABELS: Record<Column, string> = {
  pending: "Pending",
  in_progress: "In progress",
  completed: "Completed",
  other: "Other",
};

export type BoardTask = Pick<TaskDoc, "taskId" | "subject" | "status" | "owner" | "blockedBy" | "activeForm"> & {
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

/** Groups a team's tasks into columns; removed tasks are left out. */
export function buildBoard<T extends BoardTask>(tasks: readonly T[]): Board<T> {
  const live = tasks.filter((t) => t.removedAt === undefined);
  const done = new Set(live.filter((t) => t.status === "completed").map((t) => t.taskId));
  const board: Board<T> = { pending: [], in_progress: [], completed: [], other: [] };
  for (const task of [...live].sort((a, b) => compareTaskIds(a.taskId, b.taskId))) {
    const openBlockers = task.status === "completed" ? [] : task.blockedBy.filter((id) => !done.has(id));
    board[columnOf(task.status)].push({ task, openBlockers });
  }
  return board;
}

/** The columns worth showing: the three main ones always, "other" only when it has tasks. */
export function visibleColumns<T extends BoardTask>(board: Board<T>): Column[] {
  return COLUMNS.filter((c) => c !== "other" || board.other.length > 0);
}
