import { expect, test } from "vitest";
import { buildBoard, columnOf, compareTaskIds, taskTiming, visibleColumns, type BoardTask } from "./tasks";

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

test("Claude Code's creation times order a column; tasks without one follow, by id", () => {
  const board = buildBoard([
    task("b", "pending", [], { claudeCreatedAt: 3_000 }),
    task("a", "pending", [], { claudeCreatedAt: 5_000 }),
    task("c", "pending", [], { claudeCreatedAt: 1_000 }),
  ]);
  expect(board.pending.map((c) => c.task.taskId)).toEqual(["c", "b", "a"]);
  const mixed = buildBoard([task("2", "pending"), task("1", "pending", [], { claudeCreatedAt: 9_000 })]);
  expect(mixed.pending.map((c) => c.task.taskId)).toEqual(["1", "2"]);
});

test("durations from Claude Code's own times: waiting, working, done in", () => {
  const MIN = 60_000;
  const now = 100 * MIN;
  expect(taskTiming(task("1", "pending", [], { claudeCreatedAt: now - 7 * MIN }), now)).toBe("waiting 7 min");
  expect(taskTiming(task("1", "in_progress", [], { claudeCreatedAt: now - 30 * MIN, claudeUpdatedAt: now - 12 * MIN }), now)).toBe("working 12 min");
  expect(taskTiming(task("1", "completed", [], { claudeCreatedAt: now - 50 * MIN, claudeUpdatedAt: now - 6 * MIN }), now)).toBe("done in 44 min");
  // Without the file's times there is nothing to say (never the row's own sync times).
  expect(taskTiming(task("1", "in_progress"), now)).toBeNull();
  expect(taskTiming(task("1", "completed", [], { claudeUpdatedAt: now }), now)).toBeNull();
});
