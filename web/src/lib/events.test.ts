import { expect, test } from "vitest";
import { eventTone, formatDetail, newestFirst, shouldAutoLoad } from "./events";

test("follows live while small, hands over to a button beyond the cap", () => {
  expect(shouldAutoLoad("CanLoadMore", 100, 1000)).toBe(true);
  expect(shouldAutoLoad("CanLoadMore", 1000, 1000)).toBe(false);
  expect(shouldAutoLoad("Exhausted", 10, 1000)).toBe(false);
  expect(shouldAutoLoad("LoadingMore", 10, 1000)).toBe(false);
});

test("newest first, stable for equal times", () => {
  const e = [
    { id: "a", recordedAt: 1 },
    { id: "b", recordedAt: 3 },
    { id: "c", recordedAt: 3 },
    { id: "d", recordedAt: 2 },
  ];
  expect(newestFirst(e).map((x) => x.id)).toEqual(["c", "b", "d", "a"]);
});

test("detail is pretty JSON, raw text when not JSON, hidden when empty", () => {
  expect(formatDetail('{"b":1}')).toBe('{\n  "b": 1\n}');
  expect(formatDetail("not json")).toBe("not json");
  expect(formatDetail("{}")).toBeUndefined();
  expect(formatDetail(undefined)).toBeUndefined();
});

test("event tones", () => {
  expect(eventTone("error")).toBe("danger");
  expect(eventTone("plan_rejected")).toBe("danger");
  expect(eventTone("paused")).toBe("warning");
  expect(eventTone("review_pass")).toBe("success");
  expect(eventTone("execute_started")).toBe("progress");
  expect(eventTone("note")).toBe("neutral");
});
