import { expect, test } from "vitest";
import { buildBoard, columnOf, compareTaskIds, visibleColumns, type BoardTask } from "./tasks";

const task = (taskId: string, status: string, blockedBy: string[] = [], extra: Partial<BoardTask> = {}): BoardTask => ({
  taskId,
  subject: `task ${taskId}`,
  status,
  blockedBy,
  ...extra,
});

test("tasks land in their status column, sorted by id, removed ones left out", () => {
  const board = buildBoard([task("10", "pending"), task("2", "pending"), task("1", "completed"), task("3", "in_progress"), task("4", "pending", [], { removedAt: 5 })]);
  expect(board.pending.map((c) => c.task.taskId)).toEqual(["2", "10"]);
  expect(board.in_progress.map((c) => c.task.taskId)).toEqual(["3"]);
  expect(board.completed.map((c) => c.task.taskId)).toEqual(["1"]);
});

test("only blockers that are not completed are shown; unknown ids count as open", () => {
  const board = buildBoard([task("1", "completed"), task("2", "in_progress"), task("3", "pending", ["1", "2", "99"])]);
  expect(board.pending[0]!.openBlockers).toEqual(["2", "99"]);
});

test("a completed task has no open blockers", () => {
  const board = buildBoard([task("2", "pending"), task("3", "completed", ["2"])]);
  expect(board.completed[0]!.openBlockers).toEqual([]);
});

test("unknown statuses are kept in an extra column that only shows when used", () => {
  expect(columnOf("deleted_by_agent")).toBe("other");
  const plain = buildBoard([task("1", "pending")]);
  expect(visibleColumns(plain)).toEqual(["pending", "in_progress", "completed"]);
  const odd = buildBoard([task("1", "archived")]);
  expect(visibleColumns(odd)).toEqual(["pending", "in_progress", "completed", "other"]);
});

test("ids compare as numbers when they are numbers", () => {
  expect(["10", "9", "b", "a"].sort(compareTaskIds)).toEqual(["9", "10", "a", "b"]);
});
