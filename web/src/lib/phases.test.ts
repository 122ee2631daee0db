import { describe, expect, test } from "vitest";
import { comparePhaseNumbers, phaseDuration, phaseTitle, planReadyAt, remediationDepth, remediationOf, stageTimings, stopKind, stoppedStage } from "./phases";

const MIN = 60_000;
const NOW = 1_800_000_000_000;

describe("stage timings", () => {
  test("recorded minutes are used for finished stages", () => {
    const t = stageTimings({ status: "complete", planningMins: 13, executionMins: 32, reviewMins: 8, planningStartedAt: NOW - 60 * MIN }, NOW);
    expect(t.map((s) => [s.stage, s.ms, s.live])).toEqual([
      ["planning", 13 * MIN, false],
      ["execution", 32 * MIN, false],
      ["review", 8 * MIN, false],
    ]);
  });

  test("the running stage grows with the clock, later ones are unknown", () => {
    const t = stageTimings({ status: "executing", planningMins: 12, planningStartedAt: NOW - 27 * MIN, executionStartedAt: NOW - 15 * MIN }, NOW);
    expect(t[0]).toEqual({ stage: "planning", ms: 12 * MIN, live: false });
    expect(t[1]).toEqual({ stage: "execution", ms: 15 * MIN, live: true });
    expect(t[2]).toEqual({ stage: "review", ms: undefined, live: false });
  });

  test("without recorded minutes, a finished stage is measured between its timestamps", () => {
    const t = stageTimings({ status: "reviewing", planningStartedAt: NOW - 30 * MIN, executionStartedAt: NOW - 20 * MIN, reviewStartedAt: NOW - 5 * MIN }, NOW);
    expect(t.map((s) => s.ms)).toEqual([10 * MIN, 15 * MIN, 5 * MIN]);
    expect(t[2]!.live).toBe(true);
  });

  test("under a minute, timestamps say more than the whole minutes recorded", () => {
    const t = stageTimings({ status: "complete", planningMins: 0, planningStartedAt: NOW - 50_000, executionStartedAt: NOW - 8_000, executionMins: 0 }, NOW);
    expect(t[0]!.ms).toBe(42_000);
    expect(t[1]!.ms).toBe(0); // no end known: the recorded 0 stands
    expect(phaseDuration({ status: "complete", durationMins: 0, planningStartedAt: NOW - 50_000, completedAt: NOW - 5_000 }, NOW)).toEqual({ ms: 45_000, live: false });
  });

  test("a paused phase does not keep counting", () => {
    const t = stageTimings({ status: "paused", planningMins: 5, executionStartedAt: NOW - 10 * MIN }, NOW);
    expect(t.some((s) => s.live)).toBe(false);
  });

  test("phase total: recorded when complete, else the sum so far", () => {
    expect(phaseDuration({ status: "complete", durationMins: 53, planningMins: 1 }, NOW)).toEqual({ ms: 53 * MIN, live: false });
    expect(phaseDuration({ status: "executing", planningMins: 12, executionStartedAt: NOW - 15 * MIN }, NOW)).toEqual({ ms: 27 * MIN, live: true });
    expect(phaseDuration({ status: "planning" }, NOW)).toEqual({ ms: undefined, live: false });
  });
});

describe("remediation phases", () => {
  test("depth, parent and title", () => {
    expect(remediationDepth("2")).toBe(0);
    expect(remediationDepth("2.5.5")).toBe(2);
    expect(remediationOf("2.5.5")).toBe("2.5");
    expect(remediationOf("2")).toBeUndefined();
    expect(phaseTitle("1.5")).toBe("Phase 1.5 · remediation of 1");
    expect(phaseTitle("3")).toBe("Phase 3");
  });

  test("phases sort like tina sorts them", () => {
    expect(["10", "2", "1.5", "1", "1.5.5", "2.5"].sort(comparePhaseNumbers)).toEqual(["1", "1.5", "1.5.5", "2", "2.5", "10"]);
  });
});

test("a pause is told apart from a block", () => {
  expect(stopKind({ status: "paused", pausedFrom: "executing" })).toBe("paused");
  expect(stopKind({ status: "blocked", pausedFrom: "executing" })).toBe("paused");
  expect(stopKind({ status: "blocked" })).toBe("blocked");
  expect(stopKind({ status: "executing" })).toBeNull();
});

describe("waiting for approval, and stopped phases (issue 21)", () => {
  test("a plan awaiting approval: planning ended when the plan was ready; the wait since then grows apart from it", () => {
    const p = { status: "awaiting_approval" as const, planningStartedAt: NOW - 30 * MIN, planningMins: 12, plan: { modifiedAt: NOW - 30 * MIN + 12 * MIN + 20_000 } };
    expect(planReadyAt(p)).toBe(NOW - 18 * MIN + 20_000);
    const t = stageTimings(p, NOW);
    expect(t.map((s) => s.stage)).toEqual(["planning", "approval", "execution", "review"]);
    expect(t[0]).toEqual({ stage: "planning", ms: 12 * MIN, live: false });
    expect(t[1]).toEqual({ stage: "approval", ms: 18 * MIN - 20_000, live: true });
    expect(t[2]!.ms).toBeUndefined();
  });

  test("a plan file rewritten during the wait does not move the start of the wait", () => {
    const p = { status: "awaiting_approval" as const, planningStartedAt: NOW - 30 * MIN, planningMins: 12, plan: { modifiedAt: NOW - 2 * MIN } };
    expect(planReadyAt(p)).toBe(NOW - 18 * MIN);
  });

  test("after approval, a wait of a minute or more stays a stage of its own, not planning time", () => {
    const t = stageTimings({ status: "executing", planningStartedAt: NOW - 60 * MIN, planningMins: 10, executionStartedAt: NOW - 20 * MIN }, NOW);
    expect(t.map((s) => [s.stage, s.ms])).toEqual([
      ["planning", 10 * MIN],
      ["approval", 30 * MIN],
      ["execution", 20 * MIN],
      ["review", undefined],
    ]);
  });

  test("without a wait (no approval gate), no approval stage", () => {
    const t = stageTimings({ status: "executing", planningStartedAt: NOW - 20 * MIN, planningMins: 5, executionStartedAt: NOW - 15 * MIN + 10_000 }, NOW);
    expect(t.map((s) => s.stage)).toEqual(["planning", "execution", "review"]);
  });

  test("a phase blocked during execution shows its execution time until it stopped, not '–'", () => {
    const p = { status: "blocked" as const, planningMins: 5, planningStartedAt: NOW - 40 * MIN, executionStartedAt: NOW - 30 * MIN, updatedAt: NOW - 10 * MIN };
    expect(stoppedStage(p)).toBe("execution");
    const execution = stageTimings(p, NOW).find((s) => s.stage === "execution")!;
    expect(execution).toEqual({ stage: "execution", ms: 20 * MIN, live: false, stopped: true });
  });

  test("a paused phase: the stage it was paused from, its time until the pause", () => {
    const p = { status: "paused" as const, pausedFrom: "reviewing", executionStartedAt: NOW - 30 * MIN, executionMins: 20, reviewStartedAt: NOW - 10 * MIN, updatedAt: NOW - 4 * MIN };
    expect(stoppedStage(p)).toBe("review");
    const t = stageTimings(p, NOW);
    expect(t.find((s) => s.stage === "execution")!.ms).toBe(20 * MIN);
    expect(t.find((s) => s.stage === "review")).toEqual({ stage: "review", ms: 6 * MIN, live: false, stopped: true });
    expect(stoppedStage({ status: "executing" })).toBeUndefined();
  });
});
