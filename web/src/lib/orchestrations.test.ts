import { describe, expect, test } from "vitest";
import { filtersToQuery, listArgs, orderForList, parseFilters, progress } from "./orchestrations";

describe("list order", () => {
  test("active newest first, then finished most recently finished first", () => {
    const o = (id: string, startedAt: number, completedAt?: number) => ({ _id: id, startedAt, ...(completedAt ? { completedAt } : {}) });
    const out = orderForList({ active: [o("a", 1), o("b", 3), o("c", 2)], finished: [o("x", 1, 50), o("y", 9, 10), o("z", 2, 90)] });
    expect(out.active.map((x) => x._id)).toEqual(["b", "c", "a"]);
    expect(out.finished.map((x) => x._id)).toEqual(["z", "x", "y"]);
  });
});

describe("progress", () => {
  test("phase out of total and the completed fraction", () => {
    expect(progress({ currentPhase: 2, totalPhases: 4, phasesCompleted: 1, status: "executing" })).toEqual({ label: "phase 2 of 4", fraction: 0.25 });
  });
  test("complete is full", () => {
    expect(progress({ currentPhase: 4, totalPhases: 4, phasesCompleted: 3, status: "complete" })).toEqual({ label: "4 of 4 phases", fraction: 1 });
  });
  test("before phase 1: validating", () => {
    expect(progress({ currentPhase: 0, totalPhases: 3, phasesCompleted: 0, status: "planning" }).label).toBe("validating");
  });
  test("odd numbers are clamped", () => {
    expect(progress({ currentPhase: 7, totalPhases: 3, phasesCompleted: 9, status: "executing" })).toEqual({ label: "phase 3 of 3", fraction: 1 });
  });
});

describe("filters in the address", () => {
  test("round trip", () => {
    const f = parseFilters(new URLSearchParams("laptop=n123&status=blocked"));
    expect(f).toEqual({ nodeId: "n123", status: "blocked" });
    expect(filtersToQuery(f).toString()).toBe("laptop=n123&status=blocked");
  });
  test("an unknown status is ignored", () => {
    expect(parseFilters(new URLSearchParams("status=exploded"))).toEqual({});
  });
  test("query arguments never carry undefined values", () => {
    expect(listArgs({})).toEqual({});
    expect(Object.keys(listArgs({ status: "paused" }))).toEqual(["status"]);
  });
});
