import { describe, expect, test } from "vitest";
import {
  accountQuotas,
  budgetText,
  CHART_HOURS,
  costText,
  formatCost,
  formatPct,
  formatTokens,
  HOUR_MS,
  hourlyBars,
  limitView,
  parseBudget,
  unpricedBudgetText,
  spendTotals,
  windowView,
  type UsageSums,
} from "./usage";

const ZERO: UsageSums = { messages: 0, input: 0, output: 0, cacheWrite: 0, cacheRead: 0, webSearches: 0, costMicros: 0, unpricedTokens: 0 };
const NOW = Date.UTC(2026, 11, 4, 12, 0, 0);

test("tokens: short, never a trailing .0", () => {
  expect([0, 7, 950, 999, 1000, 1234, 12_345, 99_949, 123_456, 999_499, 999_500, 1_234_567, 12_000_000, 2.5e9, -5, NaN].map(formatTokens)).toEqual([
    "0", "7", "950", "999", "1k", "1.2k", "12.3k", "99.9k", "123k", "999k", "1M", "1.2M", "12M", "2.5B", "0", "0",
  ]);
});

test("costs: dollars and cents, under a cent said as such", () => {
  expect([0, 1, 4_000, 9_999, 10_000, 1_234_567, 12_340_000, 1_234_500_000, -1].map(formatCost)).toEqual([
    "$0.00", "<$0.01", "<$0.01", "<$0.01", "$0.01", "$1.23", "$12.34", "$1,234.50", "$0.00",
  ]);
});

test("the card's cost: nothing when nothing was used; unknown prices beside the cost, never guessed", () => {
  expect(costText(undefined)).toBeNull();
  expect(costText(null)).toBeNull();
  expect(costText({ costMicros: 0, unpricedTokens: 0 })).toBeNull();
  expect(costText({ costMicros: 1_234_567, unpricedTokens: 0 })).toBe("$1.23");
  expect(costText({ costMicros: 1_234_567, unpricedTokens: 12_000 })).toBe("$1.23 + 12k tokens price unknown");
  expect(costText({ costMicros: 0, unpricedTokens: 1_500_000 })).toBe("1.5M tokens price unknown");
  expect(costText({ costMicros: 4_000, unpricedTokens: 0 })).toBe("<$0.01");
});

test("a budget typed in dollars, or what is wrong with it", () => {
  expect(parseBudget("25")).toEqual({ micros: 25_000_000 });
  expect(parseBudget(" $12.50 ")).toEqual({ micros: 12_500_000 });
  expect(parseBudget("1,000")).toEqual({ micros: 1_000_000_000 });
  expect(parseBudget(".5")).toEqual({ micros: 500_000 });
  expect(parseBudget("0.01")).toEqual({ micros: 10_000 });
  for (const bad of ["", "  ", "abc", "-5", "1e3", "12.5.0", "0", "0.001", "2000000"]) expect(parseBudget(bad)).toHaveProperty("problem");
  expect(budgetText(4_500_000, 10_000_000)).toBe("$4.50 of $10.00 (45%)");
  expect(budgetText(12_000_000, 10_000_000)).toBe("$12.00 of $10.00 (120%)");
});

test("a budget typed with commas: thousands in groups of three, or a decimal comma; anything else said", () => {
  expect(parseBudget("12,50")).toEqual({ micros: 12_500_000 });
  expect(parseBudget("1,5")).toEqual({ micros: 1_500_000 });
  expect(parseBudget("$0,75")).toEqual({ micros: 750_000 });
  expect(parseBudget("1,234")).toEqual({ micros: 1_234_000_000 });
  expect(parseBudget("1,234.50")).toEqual({ micros: 1_234_500_000 });
  expect(parseBudget("12,505")).toEqual({ micros: 12_505_000_000 }); // three digits after it: thousands
  expect(parseBudget("12,345,678")).toHaveProperty("problem"); // well formed, but over the most
  for (const bad of ["1,2,3", "12,5.0", "1,23,456", "1,2345", ",", "1,"]) {
    expect(parseBudget(bad)).toEqual({ problem: expect.stringContaining("comma") });
  }
});

test("tokens with no known price are said not to count against the budget", () => {
  expect(unpricedBudgetText(0)).toBeNull();
  expect(unpricedBudgetText(2_000_000)).toBe("2M tokens have no known price and are not counted against the budget.");
  expect(unpricedBudgetText(1)).toBe("1 token has no known price and is not counted against the budget.");
});

describe("the hourly chart", () => {
  test("every hour from the first to the last, the empty ones at zero; cost when any is known", () => {
    const h0 = NOW - 3 * HOUR_MS;
    const { bars, unit, cut } = hourlyBars([
      { ...ZERO, hour: h0 + 3 * HOUR_MS, costMicros: 300, input: 3 },
      { ...ZERO, hour: h0, costMicros: 100, input: 1, cacheRead: 9 },
    ]);
    expect(unit).toBe("cost");
    expect(cut).toBe(false);
    expect(bars.map((b) => [b.hour - h0, b.value, b.tokens])).toEqual([
      [0, 100, 10],
      [HOUR_MS, 0, 0],
      [2 * HOUR_MS, 0, 0],
      [3 * HOUR_MS, 300, 3],
    ]);
  });

  test("tokens when no price is known; the newest week at most", () => {
    expect(hourlyBars([])).toEqual({ bars: [], unit: "cost", cut: false });
    const many = Array.from({ length: 200 }, (_, i) => ({ ...ZERO, hour: NOW - i * HOUR_MS, unpricedTokens: 5, output: 5 }));
    const { bars, unit, cut } = hourlyBars(many);
    expect(unit).toBe("tokens");
    expect(cut).toBe(true);
    expect(bars).toHaveLength(CHART_HOURS);
    expect(bars[bars.length - 1]).toEqual({ hour: NOW, value: 5, costMicros: 0, tokens: 5, unpricedTokens: 5 });
  });

  test("each bar carries its tokens with no known price, so an hour used only by such a model is not lost", () => {
    const { bars, unit } = hourlyBars([
      { ...ZERO, hour: NOW - HOUR_MS, costMicros: 50_000, input: 10 },
      { ...ZERO, hour: NOW, output: 12_000, unpricedTokens: 12_000 },
    ]);
    expect(unit).toBe("cost");
    expect(bars.map((b) => [b.value, b.tokens, b.unpricedTokens])).toEqual([
      [50_000, 10, 0],
      [0, 12_000, 12_000],
    ]);
  });
});

describe("quota", () => {
  test("a window: its share and reset; a reset one says reset, not its stale share; warns at 80%", () => {
    expect(windowView(undefined, NOW)).toEqual({ state: "unknown" });
    expect(windowView({ usedPct: 23.5, resetsAt: NOW + HOUR_MS }, NOW)).toEqual({ state: "used", pct: 23.5, resetsAt: NOW + HOUR_MS, tone: "ok" });
    expect(windowView({ usedPct: 80, resetsAt: NOW + HOUR_MS }, NOW)).toMatchObject({ tone: "warning" });
    expect(windowView({ usedPct: 100, resetsAt: NOW + HOUR_MS }, NOW)).toMatchObject({ tone: "full" });
    expect(windowView({ usedPct: 95, resetsAt: NOW }, NOW)).toEqual({ state: "reset", resetAt: NOW });
    // The tone follows the share as shown: what reads "80%" warns, what reads "100%" is at the limit.
    expect(windowView({ usedPct: 79.94, resetsAt: NOW + HOUR_MS }, NOW)).toMatchObject({ tone: "ok" });
    expect(windowView({ usedPct: 79.96, resetsAt: NOW + HOUR_MS }, NOW)).toMatchObject({ tone: "warning" });
    expect(windowView({ usedPct: 99.94, resetsAt: NOW + HOUR_MS }, NOW)).toMatchObject({ tone: "warning" });
    expect(windowView({ usedPct: 99.96, resetsAt: NOW + HOUR_MS }, NOW)).toMatchObject({ tone: "full" });
    expect([0, 23.5, 41.25, 80, 99.96, 100, 123.4].map(formatPct)).toEqual(["0%", "23.5%", "41.3%", "80%", "100%", "100%", "123%"]);
  });

  test("limit reached: a full window holds it until it resets; else until any window resets after the stop", () => {
    const fiveHour = { usedPct: 100, resetsAt: NOW + HOUR_MS };
    const sevenDay = { usedPct: 40, resetsAt: NOW + 3 * 24 * HOUR_MS };
    expect(limitView({ fiveHour, sevenDay }, NOW)).toEqual({ limited: false });
    expect(limitView({ fiveHour, sevenDay, limitedAt: NOW - 60_000 }, NOW)).toEqual({ limited: true, since: NOW - 60_000, resetsAt: fiveHour.resetsAt });
    // A stop before the current 5-hour window began is over.
    expect(limitView({ fiveHour, sevenDay, limitedAt: NOW - 5 * HOUR_MS }, NOW)).toEqual({ limited: false });
    // The 5-hour window has reset since the stop: over.
    expect(limitView({ fiveHour: { usedPct: 100, resetsAt: NOW - 1 }, limitedAt: NOW - 60_000 }, NOW)).toEqual({ limited: false });
    // No window full: the soonest reset.
    expect(limitView({ fiveHour: { usedPct: 70, resetsAt: NOW + HOUR_MS }, sevenDay, limitedAt: NOW - 1 }, NOW)).toMatchObject({ resetsAt: NOW + HOUR_MS });
    // The 7-day window reset since the stop, but the 5-hour one is still full: still limited.
    expect(limitView({ fiveHour, sevenDay: { usedPct: 60, resetsAt: NOW - 1 }, limitedAt: NOW - 60_000 }, NOW)).toEqual({ limited: true, since: NOW - 60_000, resetsAt: fiveHour.resetsAt });
    // No window known: a stop in the last 5 hours counts, without a reset time.
    expect(limitView({ limitedAt: NOW - HOUR_MS }, NOW)).toEqual({ limited: true, since: NOW - HOUR_MS });
    expect(limitView({ limitedAt: NOW - 6 * HOUR_MS }, NOW)).toEqual({ limited: false });
  });
});

test("quota rows as accounts: one per key, each window its latest period's; a row without a key alone", () => {
  const w = (usedPct: number) => ({ usedPct, resetsAt: NOW + HOUR_MS });
  const rows = [
    { nodeId: "a", nodeName: "alpha", account: "~/.claude", accountKey: "k1", observedAt: 3, fiveHour: w(30) },
    { nodeId: "a", nodeName: "alpha", account: "~/.claude-x", observedAt: 9, fiveHour: w(90), limitedAt: 9, limitedText: "x" },
    { nodeId: "a", nodeName: "alpha", observedAt: 1, sevenDay: w(1) },
    { nodeId: "b", nodeName: "bravo", account: "~/.claude", accountKey: "k1", observedAt: 5, fiveHour: w(50), limitedAt: 2, limitedText: "older" },
    { nodeId: "b", nodeName: "bravo", account: "~/.claude-x", observedAt: 2, sevenDay: w(2) },
    { nodeId: "c", nodeName: "charlie", account: "~/c", accountKey: "k1", observedAt: 4, fiveHour: w(40), sevenDay: w(44), limitedAt: 4 },
  ];
  const out = accountQuotas(rows);
  expect(out.map((a) => a.seen.map((s) => `${s.nodeName}:${s.account ?? "-"}`))).toEqual([
    ["alpha:~/.claude", "bravo:~/.claude", "charlie:~/c"],
    ["alpha:~/.claude-x"],
    ["alpha:-"],
    ["bravo:~/.claude-x"], // the same dir's name on another laptop, no key: not the same account
  ]);
  expect(out[0]).toMatchObject({ observedAt: 5, fiveHour: w(50), sevenDay: w(44), limitedAt: 4 });
  expect(out[0].limitedText).toBeUndefined(); // the latest stop's (it had none), not an older one's
  expect(out[1]).toMatchObject({ observedAt: 9, fiveHour: w(90), limitedAt: 9, limitedText: "x" });
  expect(out[2]).toEqual({ key: "a\u0000", seen: [{ nodeId: "a", nodeName: "alpha" }], observedAt: 1, sevenDay: w(1) });
});

test("an account's window is its latest period's, as used most, whatever the laptops' clocks say", () => {
  const row = (nodeId: string, observedAt: number, fiveHour: { usedPct: number; resetsAt: number }) => ({ nodeId, nodeName: nodeId, accountKey: "k", observedAt, fiveHour });
  const old = { usedPct: 20, resetsAt: NOW - HOUR_MS }; // a period that has reset
  const current = { usedPct: 5, resetsAt: NOW + 4 * HOUR_MS };
  // alpha's clock runs an hour ahead: its old period looks observed later than bravo's new one.
  expect(accountQuotas([row("a", NOW + HOUR_MS, old), row("b", NOW, current)])[0]!.fiveHour).toEqual(current);
  expect(accountQuotas([row("b", NOW, current), row("a", NOW + HOUR_MS, old)])[0]!.fiveHour).toEqual(current);
  // One period seen by both (reset times a second apart): the one that has seen more of it used.
  const more = { usedPct: 60, resetsAt: current.resetsAt + 1_000 };
  expect(accountQuotas([row("a", NOW + HOUR_MS, current), row("b", NOW, more)])[0]!.fiveHour).toEqual(more);
});

test("the fleet's spend per day and per laptop", () => {
  const d0 = Date.UTC(2026, 11, 3);
  const d1 = d0 + 24 * HOUR_MS;
  const t = spendTotals([
    { ...ZERO, day: d1, nodeId: "a", costMicros: 100, input: 10 },
    { ...ZERO, day: d0, nodeId: "a", costMicros: 50, input: 5 },
    { ...ZERO, day: d0, nodeId: "b", costMicros: 500, output: 1, unpricedTokens: 7, cacheRead: 6 },
  ]);
  expect(t.byDay).toEqual([
    { day: d0, costMicros: 550, unpricedTokens: 7, tokens: 12 },
    { day: d1, costMicros: 100, unpricedTokens: 0, tokens: 10 },
  ]);
  expect(t.byNode.map((n) => [n.nodeId, n.costMicros])).toEqual([
    ["b", 500],
    ["a", 150],
  ]);
  expect(t.total).toEqual({ costMicros: 650, unpricedTokens: 7, tokens: 22 });
});
