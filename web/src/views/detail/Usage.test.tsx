// The detail page's usage section (issue 22): the cost so far, the breakdown by phase and by agent
// (tokens by kind, web searches when there were any, cost), the hourly chart with its figures in
// words, and the budget an operator sets, changes or clears (a viewer only reads it).
import { act, cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import axe from "axe-core";
import { ConvexError } from "convex/values";
import { getFunctionName } from "convex/server";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import type { Id } from "../../api";
import type { Role } from "../../lib/controls";
import { MeProvider } from "../../session";
import { UsageSection } from "./Usage";

const ORCH = "o1" as Id<"orchestrations">;
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 11, 4, 12, 0, 0);
const ZERO = { messages: 0, input: 0, output: 0, cacheWrite: 0, cacheRead: 0, webSearches: 0, costMicros: 0, unpricedTokens: 0 };

const served: Record<string, unknown> = {};
const setBudget = vi.fn();
vi.mock("convex/react", async (importOriginal) => ({
  ...(await importOriginal<typeof import("convex/react")>()),
  useQuery: (fn: Parameters<typeof getFunctionName>[0]) => served[getFunctionName(fn)],
  useMutation: (fn: Parameters<typeof getFunctionName>[0]) => (getFunctionName(fn) === "usage:setBudget" ? setBudget : vi.fn()),
}));

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(T0);
  setBudget.mockReset();
  setBudget.mockResolvedValue(null);
});

afterEach(() => {
  vi.useRealTimers();
  for (const k of Object.keys(served)) delete served[k];
});

function show(role: Role = "operator") {
  return render(
    <MeProvider value={{ name: "Olivia", role }}>
      <UsageSection orchestrationId={ORCH} />
    </MeProvider>,
  );
}

const totals = (over: Record<string, unknown> = {}) => ({
  ...ZERO,
  messages: 12,
  input: 1_200,
  output: 34_000,
  cacheWrite: 50_000,
  cacheRead: 1_250_000,
  costMicros: 4_500_000,
  updatedAt: T0,
  ...over,
});

function breakdown() {
  return {
    byPhase: [
      { ...ZERO, phaseNumber: "1", messages: 8, input: 1_000, output: 30_000, cacheWrite: 40_000, cacheRead: 1_000_000, costMicros: 4_000_000 },
      { ...ZERO, messages: 4, input: 200, output: 4_000, cacheWrite: 10_000, cacheRead: 250_000, costMicros: 500_000, unpricedTokens: 12_000 },
    ],
    byAgent: [
      { ...ZERO, phaseNumber: "1", agentName: "executor-1", messages: 5, input: 600, output: 20_000, cacheWrite: 20_000, cacheRead: 600_000, costMicros: 2_500_000 },
      { ...ZERO, phaseNumber: "1", agentName: "team-lead", messages: 3, input: 400, output: 10_000, cacheWrite: 20_000, cacheRead: 400_000, costMicros: 1_500_000 },
      { ...ZERO, messages: 4, input: 200, output: 4_000, cacheWrite: 10_000, cacheRead: 250_000, costMicros: 500_000, unpricedTokens: 12_000 },
    ],
    byModel: [],
    byHour: [
      { ...ZERO, hour: T0 - 3 * HOUR, messages: 4, input: 100, output: 1_000, cacheRead: 10_000, costMicros: 1_000_000 },
      { ...ZERO, hour: T0 - HOUR, messages: 8, input: 1_100, output: 33_000, cacheWrite: 50_000, cacheRead: 1_240_000, costMicros: 3_500_000 },
    ],
    truncated: { phases: false, agents: false, models: false, hours: false },
  };
}

/** The breakdown with web searches: 12 in phase 1, all by executor-1. */
function withSearches() {
  const b = breakdown();
  b.byPhase[0]!.webSearches = 12;
  b.byAgent[0]!.webSearches = 12;
  return b;
}

const headersOf = (testId: string) =>
  within(screen.getByTestId(testId))
    .getAllByRole("columnheader")
    .map((h) => h.textContent);

const rowsOf = (testId: string) =>
  within(screen.getByTestId(testId))
    .getAllByRole("row")
    .slice(1)
    .map((r) => [...r.querySelectorAll("th, td")].map((c) => c.textContent));

describe("the usage section", () => {
  test("the cost so far, and tokens by kind and cost by phase and by agent; what is not known said so", () => {
    served["usage:orchestrationTotals"] = totals();
    served["usage:orchestrationBreakdown"] = breakdown();
    show();
    expect(screen.getByTestId("usage-total")).toHaveTextContent("$4.50");
    expect(screen.getByTestId("usage-total")).toHaveTextContent("1.3M tokens in 12 messages");
    expect(rowsOf("usage-by-phase")).toEqual([
      ["1", "$4.00", "1k", "30k", "40k", "1M"],
      ["not known", "$0.50 + 12k tokens price unknown", "200", "4k", "10k", "250k"],
    ]);
    expect(rowsOf("usage-by-agent")).toEqual([
      ["executor-1 · phase 1", "$2.50", "600", "20k", "20k", "600k"],
      ["team-lead · phase 1", "$1.50", "400", "10k", "20k", "400k"],
      ["not known · phase not known", "$0.50 + 12k tokens price unknown", "200", "4k", "10k", "250k"],
    ]);
    // Wide tables scroll on their own and take focus for the keyboard.
    expect(within(screen.getByTestId("usage-by-agent")).getByRole("region", { name: "Usage by agent" })).toHaveAttribute("tabindex", "0");
    // No web searches: no column of zeros, nor a word of them.
    expect(headersOf("usage-by-phase")).toEqual(["Phase", "Cost", "Input", "Output", "Cache write", "Cache read"]);
    expect(headersOf("usage-by-agent")).toEqual(["Agent, phase", "Cost", "Input", "Output", "Cache write", "Cache read"]);
    expect(screen.getByTestId("usage-section")).not.toHaveTextContent("web search");
    expect(screen.queryByTestId("usage-searches-note")).toBeNull();
  });

  test("web searches: a column after Cache read in both tables when any row has some, the count in the total, and the cost said to include them", () => {
    served["usage:orchestrationTotals"] = totals({ webSearches: 12 });
    served["usage:orchestrationBreakdown"] = withSearches();
    show();
    expect(screen.getByTestId("usage-total")).toHaveTextContent("1.3M tokens in 12 messages, 12 web searches");
    expect(headersOf("usage-by-phase")).toEqual(["Phase", "Cost", "Input", "Output", "Cache write", "Cache read", "Web searches"]);
    expect(rowsOf("usage-by-phase")).toEqual([
      ["1", "$4.00", "1k", "30k", "40k", "1M", "12"],
      ["not known", "$0.50 + 12k tokens price unknown", "200", "4k", "10k", "250k", "0"],
    ]);
    expect(headersOf("usage-by-agent")).toEqual(["Agent, phase", "Cost", "Input", "Output", "Cache write", "Cache read", "Web searches"]);
    expect(rowsOf("usage-by-agent").map((r) => [r[0], r[6]])).toEqual([
      ["executor-1 · phase 1", "12"],
      ["team-lead · phase 1", "0"],
      ["not known · phase not known", "0"],
    ]);
    for (const h of within(screen.getByTestId("usage-by-phase")).getAllByRole("columnheader")) expect(h).toHaveAttribute("scope", "col");
    // No price is quoted: the laptop's price table decides it.
    expect(screen.getByTestId("usage-searches-note")).toHaveTextContent("Cost includes web searches, priced per search.");
    // One search is one.
    cleanup();
    served["usage:orchestrationTotals"] = totals({ webSearches: 1 });
    show();
    expect(screen.getByTestId("usage-total")).toHaveTextContent("12 messages, 1 web search");
  });

  test("the hourly chart: an image whose name carries the figures, and the same figures as a table", () => {
    served["usage:orchestrationTotals"] = totals();
    served["usage:orchestrationBreakdown"] = breakdown();
    show();
    const chart = screen.getByTestId("usage-chart");
    const img = within(chart).getByRole("img");
    const name = img.getAttribute("aria-label")!;
    expect(name).toMatch(/^Cost per hour, 3 hours: \$4\.50 in all, the most \$3\.50 in the hour from /);
    expect(img.querySelector("title")?.textContent).toBe(name);
    // Three hours, the empty one at zero height.
    expect([...img.querySelectorAll("rect")].map((r) => Number(r.getAttribute("height")) > 0)).toEqual([true, false, true]);
    const table = within(chart).getByRole("table");
    expect(within(table).getAllByRole("row").slice(1).map((r) => within(r).getAllByRole("cell").slice(1).map((c) => c.textContent))).toEqual([
      ["11.1k", "$1.00"],
      ["1.3M", "$3.50"],
    ]);
  });

  test("the hourly chart with no known price: tokens, and each hour's cost said unknown, never $0.00", () => {
    served["usage:orchestrationTotals"] = totals({ costMicros: 0, unpricedTokens: 1_285_200 });
    const b = breakdown();
    b.byHour = [
      { ...ZERO, hour: T0 - 2 * HOUR, messages: 2, output: 12_000, unpricedTokens: 12_000 },
      { ...ZERO, hour: T0 - HOUR, messages: 3, output: 3_000, unpricedTokens: 3_000 },
    ];
    served["usage:orchestrationBreakdown"] = b;
    show();
    const chart = screen.getByTestId("usage-chart");
    expect(within(chart).getByRole("img").getAttribute("aria-label")).toMatch(/^Tokens per hour, 2 hours: 15k tokens in all/);
    expect(rowsOf("usage-chart").map((r) => r.slice(1))).toEqual([
      ["12k", "12k tokens price unknown"],
      ["3k", "3k tokens price unknown"],
    ]);
    expect(chart.textContent).not.toContain("$0.00");
  });

  test("the hourly chart, partly priced: an hour used only by a model with no known price is listed, and its tokens said", () => {
    served["usage:orchestrationTotals"] = totals();
    const b = breakdown();
    b.byHour = [
      { ...ZERO, hour: T0 - 3 * HOUR, messages: 2, input: 100, output: 1_000, costMicros: 50_000 },
      { ...ZERO, hour: T0 - 2 * HOUR, messages: 2, output: 12_000, unpricedTokens: 12_000 },
      { ...ZERO, hour: T0 - HOUR, messages: 2, input: 200, output: 800, costMicros: 20_000, unpricedTokens: 800 },
    ];
    served["usage:orchestrationBreakdown"] = b;
    show();
    const chart = screen.getByTestId("usage-chart");
    expect(within(chart).getByRole("img").getAttribute("aria-label")).toMatch(/^Cost per hour, 3 hours: \$0\.07 in all \+ 12\.8k tokens price unknown, the most \$0\.05 /);
    expect(rowsOf("usage-chart").map((r) => r.slice(1))).toEqual([
      ["1.1k", "$0.05"],
      ["12k", "12k tokens price unknown"],
      ["1k", "$0.02 + 800 tokens price unknown"],
    ]);
    // The bars are cost only; the tokens they leave out are said beside them.
    expect(screen.getByTestId("usage-chart-unpriced")).toHaveTextContent("The bars count priced cost only: 12.8k tokens price unknown are not in them.");
  });

  test("before any usage: said in words, and the budget can be set already", () => {
    served["usage:orchestrationTotals"] = null;
    served["usage:orchestrationBreakdown"] = { byPhase: [], byAgent: [], byModel: [], byHour: [], truncated: { phases: false, agents: false, models: false, hours: false } };
    show();
    expect(screen.getByTestId("usage-section")).toHaveTextContent("No usage recorded yet.");
    expect(screen.queryByTestId("usage-chart")).toBeNull();
    expect(screen.getByTestId("budget-status")).toHaveTextContent("none set");
    expect(within(screen.getByTestId("budget-form")).getByRole("button", { name: "Set budget" })).toBeEnabled();
  });

  test("axe-core finds nothing to fix, with the chart's table open and web searches shown (colour contrast aside: happy-dom has no layout)", async () => {
    served["usage:orchestrationTotals"] = totals({ budgetMicros: 4_000_000, budgetCrossedAt: T0 - 60_000, webSearches: 12 });
    served["usage:orchestrationBreakdown"] = withSearches();
    show();
    fireEvent.click(within(screen.getByTestId("usage-chart")).getByText("The figures, as a table"));
    vi.useRealTimers();
    const out = await axe.run(screen.getByTestId("usage-section"), { rules: { "color-contrast": { enabled: false } } });
    expect(out.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`)).toEqual([]);
  });

  test("while loading: placeholders, no figures", () => {
    show();
    expect(screen.getByTestId("usage-section")).not.toHaveTextContent("$");
    expect(screen.queryByTestId("budget-form")).toBeNull();
  });
});

describe("the budget", () => {
  test("the spend against it, and when it was reached", () => {
    served["usage:orchestrationTotals"] = totals({ budgetMicros: 4_000_000, budgetCrossedAt: T0 - 5 * 60_000 });
    show("viewer");
    expect(screen.getByTestId("budget-status")).toHaveTextContent("$4.50 of $4.00 (112%) · reached 5 min ago");
    // A viewer reads it, and is told who can change it.
    expect(within(screen.getByTestId("budget-form")).queryByRole("textbox")).toBeNull();
    expect(screen.getByTestId("budget-form")).toHaveTextContent("An operator or owner can set a budget.");
  });

  test("tokens with no known price: said plainly not to count against it", () => {
    served["usage:orchestrationTotals"] = totals({ costMicros: 0, unpricedTokens: 2_000_000, budgetMicros: 10_000_000 });
    show("viewer");
    expect(screen.getByTestId("budget-status")).toHaveTextContent("$0.00 of $10.00 (0%)");
    expect(screen.getByTestId("budget-unpriced")).toHaveTextContent("2M tokens have no known price and are not counted against the budget.");
    cleanup();
    served["usage:orchestrationTotals"] = totals({ budgetMicros: 10_000_000 });
    show("viewer");
    expect(screen.queryByTestId("budget-unpriced")).toBeNull();
  });

  test("a comma decimal, as a phone in many locales types it, is a decimal point", async () => {
    served["usage:orchestrationTotals"] = totals();
    show();
    const form = screen.getByTestId("budget-form");
    fireEvent.change(within(form).getByRole("textbox", { name: "Set a budget, in US dollars" }), { target: { value: "12,50" } });
    await act(async () => {
      fireEvent.submit(form);
    });
    expect(setBudget).toHaveBeenCalledWith(expect.objectContaining({ orchestrationId: ORCH, budgetMicros: 12_500_000 }));
  });

  test("an operator sets it in dollars; a typo is said before anything is sent", async () => {
    served["usage:orchestrationTotals"] = totals();
    show();
    const form = screen.getByTestId("budget-form");
    const input = within(form).getByRole("textbox", { name: "Set a budget, in US dollars" });
    fireEvent.change(input, { target: { value: "12.5.0" } });
    fireEvent.submit(form);
    expect(within(form).getByRole("alert")).toHaveTextContent("Type an amount in dollars");
    expect(setBudget).not.toHaveBeenCalled();
    fireEvent.change(input, { target: { value: "$25.50" } });
    await act(async () => {
      fireEvent.submit(form);
    });
    expect(setBudget).toHaveBeenCalledWith(expect.objectContaining({ orchestrationId: ORCH, budgetMicros: 25_500_000 }));
    expect(within(form).queryByRole("alert")).toBeNull();
  });

  test("an operator changes or clears it; a refusal is said in words, never the raw error", async () => {
    served["usage:orchestrationTotals"] = totals({ budgetMicros: 10_000_000 });
    show();
    const form = screen.getByTestId("budget-form");
    expect(screen.getByTestId("budget-status")).toHaveTextContent("$4.50 of $10.00 (45%)");
    await act(async () => {
      fireEvent.click(within(form).getByRole("button", { name: "Clear budget" }));
    });
    expect(setBudget).toHaveBeenCalledWith(expect.objectContaining({ orchestrationId: ORCH, budgetMicros: null }));
    setBudget.mockRejectedValueOnce(new ConvexError({ code: "forbidden", message: "operator role required" }));
    fireEvent.change(within(form).getByRole("textbox", { name: "Change the budget, in US dollars" }), { target: { value: "20" } });
    await act(async () => {
      fireEvent.submit(form);
    });
    expect(within(form).getByRole("alert")).toHaveTextContent("The budget was not changed. operator role required");
  });
});
