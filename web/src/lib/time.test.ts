import { describe, expect, test } from "vitest";
import { elapsed, formatAbsolute, formatDuration, formatRelative, tickInterval } from "./time";

const NOW = Date.UTC(2026, 10, 21, 14, 3, 9);

describe("relative times", () => {
  test.each([
    [0, "just now"],
    [4_999, "just now"],
    [5_000, "5 s ago"],
    [59_999, "59 s ago"],
    [60_000, "1 min ago"],
    [59 * 60_000, "59 min ago"],
    [3_600_000, "1 h ago"],
    [25 * 3_600_000, "1 d ago"],
  ])("%i ms ago is %s", (ago, text) => {
    expect(formatRelative(NOW - ago, NOW)).toBe(text);
  });

  test("the future reads forward; seconds ahead are clock skew", () => {
    expect(formatRelative(NOW + 120_000, NOW)).toBe("in 2 min");
    expect(formatRelative(NOW + 20_000, NOW)).toBe("just now");
  });

  test("hours ahead keep their minutes: a quota that resets in 4 h 59 min does not read 4 h", () => {
    expect(formatRelative(NOW + (4 * 60 + 59) * 60_000, NOW)).toBe("in 4 h 59 min");
    expect(formatRelative(NOW + 65 * 60_000, NOW)).toBe("in 1 h 05 min");
    expect(formatRelative(NOW + 2 * 3_600_000, NOW)).toBe("in 2 h");
    expect(formatRelative(NOW - (4 * 60 + 59) * 60_000, NOW)).toBe("4 h ago");
  });

  test("a time expected ahead counts its last minute down, not 'just now'", () => {
    expect(formatRelative(NOW + 40_000, NOW, { ahead: true })).toBe("in 40 s");
    expect(formatRelative(NOW + 1_500, NOW, { ahead: true })).toBe("in 2 s");
    expect(formatRelative(NOW + 400, NOW, { ahead: true })).toBe("just now");
    expect(formatRelative(NOW + 90_000, NOW, { ahead: true })).toBe("in 1 min");
    expect(formatRelative(NOW - 20_000, NOW, { ahead: true })).toBe("20 s ago"); // passed
  });
});

test("absolute times are unambiguous (24 h clock, seconds, year)", () => {
  expect(formatAbsolute(NOW, "en-GB", "UTC")).toBe("21 Nov 2026, 14:03:09");
});

test.each([
  [0, "0 s"],
  [59_000, "59 s"],
  [61_000, "1 min"],
  [3_900_000, "1 h 05 min"],
  [2 * 86_400_000 + 3 * 3_600_000, "2 d 3 h"],
  [-1, "–"],
  [Number.NaN, "–"],
])("duration %i ms is %s", (ms, text) => {
  expect(formatDuration(ms)).toBe(text);
});

test("elapsed uses the end when there is one, the clock otherwise", () => {
  expect(elapsed(1000, 5000, 9000)).toBe(4000);
  expect(elapsed(1000, undefined, 9000)).toBe(8000);
  expect(elapsed(9000, undefined, 1000)).toBe(0);
});

test("labels tick fast only while seconds matter", () => {
  expect(tickInterval(NOW - 10_000, NOW)).toBe(1000);
  expect(tickInterval(NOW - 10 * 60_000, NOW)).toBe(15_000);
  expect(tickInterval(NOW - 3 * 3_600_000, NOW)).toBe(60_000);
});
