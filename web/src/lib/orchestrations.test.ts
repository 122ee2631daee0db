import { describe, expect, test } from "vitest";
import type { OrchestrationStatus } from "../api";
import {
  activityText,
  filtersToQuery,
  laptopState,
  listArgs,
  matchesSearch,
  needsRank,
  orderForList,
  parseFilters,
  progress,
  stageOf,
  stateChip,
  type LastActivity,
} from "./orchestrations";

type Row = { _id: string; featureName: string; status: OrchestrationStatus; attention?: string; startedAt: number; completedAt?: number };
const o = (id: string, startedAt: number, over: Partial<Row> = {}): Row => ({ _id: id, featureName: id, status: "executing", startedAt, ...over });

describe("list order", () => {
  test("newest: active newest first, then finished most recently finished first", () => {
    const out = orderForList(
      { active: [o("a", 1), o("b", 3), o("c", 2)], finished: [o("x", 1, { completedAt: 50 }), o("y", 9, { completedAt: 10 }), o("z", 2, { completedAt: 90 })] },
      "newest",
    );
    expect(out.active.map((x) => x._id)).toEqual(["b", "c", "a"]);
    expect(out.finished.map((x) => x._id)).toEqual(["z", "x", "y"]);
  });

  test("needs you first (the default): a plan to approve and a blocked one, then paused, then the rest, newest first within each", () => {
    const active = [
      o("running-new", 9),
      o("paused", 8, { status: "paused" }),
      o("approve", 2, { status: "planning", attention: "awaiting_approval" }),
      o("blocked", 5, { status: "blocked", attention: "blocked" }),
      o("running-old", 1),
    ];
    expect(orderForList({ active, finished: [] }).active.map((x) => x._id)).toEqual(["blocked", "approve", "paused", "running-new", "running-old"]);
  });

  test("by name, case and numbers as people read them", () => {
    const active = [o("beta", 1), o("Alpha-10", 2), o("alpha-9", 3)];
    const finished = [o("zeta", 1, { completedAt: 9 }), o("eta", 2, { completedAt: 1 })];
    const out = orderForList({ active, finished }, "name");
    expect(out.active.map((x) => x._id)).toEqual(["alpha-9", "Alpha-10", "beta"]);
    expect(out.finished.map((x) => x._id)).toEqual(["eta", "zeta"]);
  });
});

describe("state at a glance", () => {
  test("a plan awaiting approval is its own state, never Planning", () => {
    expect(stageOf({ status: "planning", attention: "awaiting_approval" })).toBe("awaiting approval");
    expect(stateChip({ status: "planning", attention: "awaiting_approval" })).toEqual({ label: "Awaiting approval", tone: "warning" });
    expect(stateChip({ status: "planning" })).toEqual({ label: "Planning", tone: "info" });
  });

  test("blocked (by the orchestration or one of its phases) and paused are distinct", () => {
    expect(stateChip({ status: "blocked", attention: "blocked" })).toEqual({ label: "Blocked", tone: "danger" });
    expect(stateChip({ status: "executing", attention: "blocked" }).label).toBe("Blocked");
    expect(stateChip({ status: "paused" })).toEqual({ label: "Paused", tone: "warning" });
    expect(stateChip({ status: "executing" }).label).toBe("Executing");
    expect(stateChip({ status: "complete" }).label).toBe("Complete");
  });

  test("what needs you ranks first", () => {
    expect(needsRank({ status: "planning", attention: "awaiting_approval" })).toBe(0);
    expect(needsRank({ status: "blocked", attention: "blocked" })).toBe(0);
    expect(needsRank({ status: "paused" })).toBe(1);
    expect(needsRank({ status: "reviewing" })).toBe(2);
  });

  test("the laptop's state in words", () => {
    expect(laptopState({ nodeName: "alpha", nodeOnline: true })).toBe("alpha · online");
    expect(laptopState({ nodeName: "bravo", nodeOnline: false })).toBe("bravo · offline");
  });
});

describe("progress", () => {
  const base = { currentPhase: 2, totalPhases: 4, phasesCompleted: 1, status: "executing" as const };

  test("phase out of total, the stage, and the completed fraction", () => {
    expect(progress(base)).toEqual({ label: "phase 2 of 4", stage: "executing", tasks: null, fraction: 0.25 });
  });

  test("within the phase: its tasks done of all move the bar, counted from the current phase's teams", () => {
    const p = progress(base, [
      { phaseNumber: "1", done: 5, total: 5 },
      { phaseNumber: "2", done: 2, total: 4 },
    ]);
    expect(p.tasks).toBe("2 of 4 tasks done");
    expect(p.fraction).toBeCloseTo((1 + 0.5) / 4);
  });

  test("phase 1 moves too: the bar is not stuck at 0 for the whole first phase", () => {
    expect(progress({ ...base, currentPhase: 1, phasesCompleted: 0 }, [{ phaseNumber: "1", done: 1, total: 4 }]).fraction).toBeCloseTo(1 / 16);
  });

  test("a phase without tasks says nothing of tasks; a phase already counted complete is not counted twice", () => {
    expect(progress(base, [{ phaseNumber: "2", done: 0, total: 0 }]).tasks).toBeNull();
    expect(progress({ ...base, phasesCompleted: 2 }, [{ phaseNumber: "2", done: 4, total: 4 }]).fraction).toBe(0.5);
  });

  test("awaiting approval is the stage while a plan waits", () => {
    expect(progress({ ...base, status: "planning", attention: "awaiting_approval" }).stage).toBe("awaiting approval");
  });

  test("complete is full", () => {
    expect(progress({ currentPhase: 4, totalPhases: 4, phasesCompleted: 3, status: "complete" })).toEqual({ label: "4 of 4 phases", stage: "complete", tasks: null, fraction: 1 });
  });

  test("before phase 1: validating", () => {
    expect(progress({ currentPhase: 0, totalPhases: 3, phasesCompleted: 0, status: "planning" })).toMatchObject({ label: "validating", stage: "validating" });
  });

  test("odd numbers are clamped", () => {
    expect(progress({ currentPhase: 7, totalPhases: 3, phasesCompleted: 9, status: "executing" })).toMatchObject({ label: "phase 3 of 3", fraction: 1 });
  });
});

describe("last activity in words", () => {
  const taskChange = (over: Partial<Extract<LastActivity, { source: "task" }>>): LastActivity => ({
    source: "task",
    at: 1,
    kind: "updated",
    status: "completed",
    previousStatus: "in_progress",
    subject: "Wire the login endpoint",
    ...over,
  });

  test("a journal event says its summary", () => {
    expect(activityText({ source: "event", at: 1, eventType: "execute_started", summary: "Phase 2 execution started" })).toBe("Phase 2 execution started");
  });

  test("a task's change says who did what to which task", () => {
    expect(activityText(taskChange({ owner: "executor-1" }))).toBe("executor-1 completed “Wire the login endpoint”");
    expect(activityText(taskChange({}))).toBe("Task done: “Wire the login endpoint”");
    expect(activityText(taskChange({ status: "in_progress", previousStatus: "pending", owner: "executor-1" }))).toBe("executor-1 started “Wire the login endpoint”");
    expect(activityText(taskChange({ kind: "created", status: "pending", previousStatus: undefined }))).toBe("Task added: “Wire the login endpoint”");
    expect(activityText(taskChange({ kind: "removed" }))).toBe("Task removed: “Wire the login endpoint”");
    expect(activityText(taskChange({ status: "in_progress", previousStatus: "in_progress" }))).toBe("Task updated: “Wire the login endpoint”");
    expect(activityText(taskChange({ status: "needs_review", subject: " " }))).toBe("Task needs review: a task");
  });
});

describe("search", () => {
  const row = { featureName: "checkout-flow", branch: "tina/checkout-flow", nodeName: "alpha" };
  test("every word in the feature, branch or laptop, case ignored", () => {
    expect(matchesSearch(row, "CHECKOUT")).toBe(true);
    expect(matchesSearch(row, "tina/ alpha")).toBe(true);
    expect(matchesSearch(row, "checkout bravo")).toBe(false);
    expect(matchesSearch(row, "  ")).toBe(true);
    expect(matchesSearch(row, undefined)).toBe(true);
  });
});

describe("filters, search and sort in the address", () => {
  test("round trip", () => {
    const f = parseFilters(new URLSearchParams("laptop=n123&status=blocked&q=check+out&sort=name"));
    expect(f).toEqual({ nodeId: "n123", status: "blocked", search: "check out", sort: "name" });
    expect(filtersToQuery(f).toString()).toBe("laptop=n123&status=blocked&q=check+out&sort=name");
  });
  test("the default sort and an empty search stay out of the address", () => {
    expect(filtersToQuery({ sort: "needs", search: " " }).toString()).toBe("");
    expect(parseFilters(new URLSearchParams("sort=needs&q="))).toEqual({});
  });
  test("an unknown status or sort is ignored", () => {
    expect(parseFilters(new URLSearchParams("status=exploded&sort=random"))).toEqual({});
  });
  test("query arguments never carry undefined values, nor the search or sort (both are the page's)", () => {
    expect(listArgs({})).toEqual({});
    expect(Object.keys(listArgs({ status: "paused", search: "x", sort: "name" }))).toEqual(["status"]);
  });
});
