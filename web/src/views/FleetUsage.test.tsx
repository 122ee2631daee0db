// The fleet page's spend (per day and per laptop, 7 or 30 days) and each laptop's quota windows
// (used, resets, a warning from 80 %, a reset window said as reset, "limit reached") (issue 22).
import { fireEvent, render, screen, within } from "@testing-library/react";
import axe from "axe-core";
import { getFunctionName } from "convex/server";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { FleetQuota, FleetSpend } from "./FleetUsage";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 11, 4, 12, 0, 0);
const D0 = T0 - (T0 % DAY);
const ZERO = { messages: 0, input: 0, output: 0, cacheWrite: 0, cacheRead: 0, webSearches: 0, costMicros: 0, unpricedTokens: 0 };

const served: Record<string, unknown> = {};
const asked: { name: string; args: unknown }[] = [];
// As convex's, a result keeps its identity from render to render until it changes.
const results = new Map<string, unknown>();
vi.mock("convex/react", async (importOriginal) => ({
  ...(await importOriginal<typeof import("convex/react")>()),
  useQuery: (fn: Parameters<typeof getFunctionName>[0], args: unknown) => {
    const name = getFunctionName(fn);
    asked.push({ name, args });
    const value = served[name];
    if (typeof value !== "function") return value;
    const key = `${name}:${JSON.stringify(args)}`;
    if (!results.has(key)) results.set(key, (value as (a: unknown) => unknown)(args));
    return results.get(key);
  },
}));

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(T0);
  served["nodes:listNodes"] = [
    { _id: "na", name: "alpha" },
    { _id: "nb", name: "bravo" },
  ];
});

afterEach(() => {
  vi.useRealTimers();
  for (const k of Object.keys(served)) delete served[k];
  results.clear();
  asked.length = 0;
});

const cells = (table: HTMLElement) =>
  within(table)
    .getAllByRole("row")
    .slice(1)
    .map((r) => [...r.querySelectorAll("th, td")].map((c) => c.textContent));

type DayRow = typeof ZERO & { day: number; nodeId: string };

/** usage:fleetSpend over `rows`: `days` days up to `until` (today when absent), as Convex answers. */
const spendOf =
  (rows: DayRow[]) =>
  ({ days, until = D0 }: { days: number; until?: number }) => {
    const from = until - (days - 1) * DAY;
    return { from, rows: rows.filter((r) => r.day >= from && r.day <= until), truncated: false };
  };

describe("the fleet's spend", () => {
  test("per laptop and per day over the last 7 days, every day listed; 30 days on request", () => {
    served["usage:fleetSpend"] = spendOf([
      { ...ZERO, day: D0 - DAY, nodeId: "na", costMicros: 1_500_000, input: 1_000, cacheRead: 200_000 },
      { ...ZERO, day: D0 - DAY, nodeId: "nb", costMicros: 250_000, output: 500, unpricedTokens: 12_000, cacheRead: 11_500 },
      { ...ZERO, day: D0, nodeId: "na", costMicros: 3_000_000, output: 4_000 },
      { ...ZERO, day: D0 - 20 * DAY, nodeId: "nc", costMicros: 10_000_000, output: 1 },
    ]);
    render(<FleetSpend />);
    const spend = screen.getByTestId("fleet-spend");
    expect(screen.getByTestId("fleet-spend-total")).toHaveTextContent("$4.75");
    expect(spend).toHaveTextContent("217k tokens over the last 7 days, 12k of them price unknown");
    expect(cells(screen.getByTestId("fleet-spend-laptops"))).toEqual([
      ["alpha", "205k", "$4.50"],
      ["bravo", "12k", "$0.25 + 12k tokens price unknown"],
    ]);
    const days = cells(screen.getByTestId("fleet-spend-days"));
    expect(days).toHaveLength(7);
    expect(days.slice(-2)).toEqual([
      ["Thu 3 Dec", "213k", "$1.75 + 12k tokens price unknown"],
      ["Fri 4 Dec", "4k", "$3.00"],
    ]);
    expect(days[0]).toEqual(["Sat 28 Nov", "0", "$0.00"]);

    fireEvent.change(within(spend).getByRole("combobox", { name: "Spend over the last" }), { target: { value: "30" } });
    // Today apart from the days before it: a batch, which changes today's rows, re-runs the small query only.
    expect(asked.filter((a) => a.name === "usage:fleetSpend").slice(-2).map((a) => a.args)).toEqual([
      { days: 29, until: D0 - DAY },
      { days: 1, until: D0 },
    ]);
    expect(cells(screen.getByTestId("fleet-spend-days"))).toHaveLength(30);
    // A laptop no longer listed (removed) is still counted, said as such.
    expect(cells(screen.getByTestId("fleet-spend-laptops"))[0]).toEqual(["a removed laptop", "1", "$10.00"]);
  });

  test("a laptop used only with models of no known price: its tokens said in words, never $0.00", () => {
    served["usage:fleetSpend"] = spendOf([{ ...ZERO, day: D0, nodeId: "nb", output: 12_000, unpricedTokens: 12_000 }]);
    render(<FleetSpend />);
    expect(screen.getByTestId("fleet-spend-total")).toHaveTextContent("12k tokens price unknown");
    expect(cells(screen.getByTestId("fleet-spend-laptops"))).toEqual([["bravo", "12k", "12k tokens price unknown"]]);
    expect(cells(screen.getByTestId("fleet-spend-days")).at(-1)).toEqual(["Fri 4 Dec", "12k", "12k tokens price unknown"]);
    // Only a day with nothing used costs "$0.00".
    expect(screen.getByTestId("fleet-spend-total").textContent).not.toContain("$0.00");
    expect(within(screen.getByTestId("fleet-spend-laptops")).queryByText(/\$0\.00/)).toBeNull();
  });

  test("another range: the last result stays, marked as updating, until the new one arrives", () => {
    const rows = [{ ...ZERO, day: D0, nodeId: "na", costMicros: 3_000_000, output: 4_000 }];
    let loaded = false;
    const answer = spendOf(rows);
    served["usage:fleetSpend"] = (args: { days: number; until?: number }) => (args.days === 29 && !loaded ? undefined : answer(args));
    const { rerender } = render(<FleetSpend />);
    const spend = screen.getByTestId("fleet-spend");
    fireEvent.change(within(spend).getByRole("combobox", { name: "Spend over the last" }), { target: { value: "30" } });
    // Still the 7 days, said as such, and busy for assistive tech.
    expect(screen.getByTestId("fleet-spend-total")).toHaveTextContent("$3.00");
    expect(cells(screen.getByTestId("fleet-spend-days"))).toHaveLength(7);
    expect(spend).toHaveTextContent("4k tokens over the last 7 days");
    expect(screen.getByTestId("fleet-spend-body")).toHaveAttribute("aria-busy", "true");
    expect(screen.getByTestId("fleet-spend-updating")).toHaveTextContent("Showing the last 7 days while the last 30 load.");
    loaded = true;
    results.clear();
    rerender(<FleetSpend />);
    expect(cells(screen.getByTestId("fleet-spend-days"))).toHaveLength(30);
    expect(screen.getByTestId("fleet-spend-body")).toHaveAttribute("aria-busy", "false");
    expect(screen.queryByTestId("fleet-spend-updating")).toBeNull();
  });

  test("while the laptops' names load, no laptop is called removed", () => {
    delete served["nodes:listNodes"];
    served["usage:fleetSpend"] = spendOf([{ ...ZERO, day: D0, nodeId: "na", costMicros: 3_000_000, output: 4_000 }]);
    render(<FleetSpend />);
    expect(screen.getByTestId("fleet-spend-laptops")).not.toHaveTextContent("removed");
    expect(cells(screen.getByTestId("fleet-spend-laptops"))).toEqual([["a laptop (name loading)", "4k", "$3.00"]]);
  });

  test("nothing spent: said in words; loading: a placeholder", () => {
    const { unmount } = render(<FleetSpend />);
    expect(screen.getByTestId("fleet-spend").textContent).not.toMatch(/\$/);
    unmount();
    served["usage:fleetSpend"] = spendOf([]);
    render(<FleetSpend />);
    expect(screen.getByTestId("fleet-spend")).toHaveTextContent("Nothing spent in the last 7 days.");
  });
});

describe("each laptop's quota", () => {
  const quota = () => [
    {
      nodeId: "na",
      nodeName: "alpha",
      observedAt: T0 - 60_000,
      fiveHour: { usedPct: 23.5, resetsAt: T0 + 2 * HOUR },
      sevenDay: { usedPct: 85, resetsAt: T0 + 3 * DAY },
    },
    {
      nodeId: "nb",
      nodeName: "bravo",
      observedAt: T0 - 10 * 60_000,
      fiveHour: { usedPct: 100, resetsAt: T0 + HOUR },
      sevenDay: { usedPct: 60, resetsAt: T0 - 1 },
      limitedAt: T0 - 5 * 60_000,
      limitedText: "Claude usage limit reached",
    },
    { nodeId: "na", nodeName: "alpha", account: "~/.claude", observedAt: T0 - 60_000, fiveHour: { usedPct: 10, resetsAt: T0 + 3 * HOUR } },
    { nodeId: "na", nodeName: "alpha", account: "~/.claude-work", observedAt: T0 - 60_000, fiveHour: { usedPct: 92, resetsAt: T0 + 4 * HOUR } },
  ];
  const laptop = (name: string, account?: string) => screen.getAllByTestId("quota-account").find((l) => l.dataset.node === name && l.dataset.account === account)!;
  const windowOf = (name: string, w: string) => within(laptop(name)).getAllByTestId("quota-window").find((e) => e.dataset.window === w)!;

  test("used and resets in; close to the limit from 80 %; a reset window says reset, not its old share", () => {
    served["usage:fleetQuotaRows"] = { rows: quota(), truncated: false };
    render(<FleetQuota />);
    expect(screen.getByTestId("fleet-quota")).toHaveTextContent("Per Claude account");
    expect(laptop("alpha")).toHaveTextContent("its config dir not reported");
    expect(windowOf("alpha", "fiveHour")).toHaveTextContent("5-hour window23.5% used");
    expect(windowOf("alpha", "fiveHour")).toHaveTextContent("resets in 2 h");
    expect(windowOf("alpha", "fiveHour").dataset.state).toBe("ok");
    expect(windowOf("alpha", "sevenDay")).toHaveTextContent("85% used, close to the limit");
    expect(windowOf("alpha", "sevenDay").dataset.state).toBe("warning");
    expect(within(windowOf("alpha", "sevenDay")).getByRole("progressbar")).toHaveAttribute("aria-label", "alpha: 7-day window, 85% used");
    expect(windowOf("bravo", "sevenDay").dataset.state).toBe("reset");
    expect(windowOf("bravo", "sevenDay")).toHaveTextContent("reset");
    expect(windowOf("bravo", "sevenDay").textContent).not.toContain("60%");
    expect(within(laptop("alpha")).queryByTestId("quota-limited")).toBeNull();
  });

  test("each account of a laptop (its Claude Code config dir) has a card of its own, named by it", () => {
    served["usage:fleetQuotaRows"] = { rows: quota(), truncated: false };
    render(<FleetQuota />);
    expect(screen.getAllByTestId("quota-account")).toHaveLength(4);
    const work = laptop("alpha", "~/.claude-work");
    expect(work).toHaveAttribute("aria-label", "Quota of alpha, ~/.claude-work");
    expect(work).toHaveTextContent("The Claude account of ~/.claude-work");
    expect(within(work).getByTestId("quota-window")).toHaveTextContent("92% used, close to the limit");
    expect(within(work).getByRole("progressbar")).toHaveAttribute("aria-label", "alpha, ~/.claude-work: 5-hour window, 92% used");
    expect(within(laptop("alpha", "~/.claude")).getByTestId("quota-window")).toHaveTextContent("10% used");
  });

  test("config dirs logged in to one account, on any laptop, are one card: each window as last seen, the latest stop", async () => {
    const key = "0123456789abcdef".repeat(2);
    served["usage:fleetQuotaRows"] = { truncated: false, rows: [
      { nodeId: "na", nodeName: "alpha", account: "~/.claude", accountKey: key, observedAt: T0 - 60_000, fiveHour: { usedPct: 10, resetsAt: T0 + 3 * HOUR } },
      { nodeId: "na", nodeName: "alpha", account: "~/.claude-work", accountKey: "f".repeat(32), observedAt: T0 - 60_000, fiveHour: { usedPct: 92, resetsAt: T0 + 4 * HOUR } },
      {
        nodeId: "nb",
        nodeName: "bravo",
        account: "~/.claude-me",
        accountKey: key,
        observedAt: T0 - 30_000,
        fiveHour: { usedPct: 12, resetsAt: T0 + 3 * HOUR },
        limitedAt: T0 - 40_000,
        limitedText: "limit reached",
      },
      { nodeId: "nb", nodeName: "bravo", account: "~/.claude", accountKey: key, observedAt: T0 - 20_000, sevenDay: { usedPct: 50, resetsAt: T0 + 3 * DAY } },
    ] };
    render(<FleetQuota />);
    const cards = screen.getAllByTestId("quota-account");
    expect(cards.map((c) => [c.dataset.node, c.dataset.account, c.dataset.seen])).toEqual([
      ["alpha", "~/.claude", "3"],
      ["alpha", "~/.claude-work", "1"],
    ]);
    const [shared] = cards;
    expect(shared).toHaveTextContent("alpha, bravo");
    expect(shared).toHaveTextContent("One Claude account, used from ~/.claude on alpha, ~/.claude-me on bravo, ~/.claude on bravo");
    expect(shared).toHaveAttribute("aria-label", "Quota of one account on alpha, ~/.claude; bravo, ~/.claude-me; bravo, ~/.claude");
    const windows = within(shared).getAllByTestId("quota-window");
    expect(windows.map((w) => [w.dataset.window, w.textContent])).toEqual([
      ["fiveHour", expect.stringContaining("12% used")], // bravo's, the newer reading
      ["sevenDay", expect.stringContaining("50% used")], // only bravo's ~/.claude had it
    ]);
    expect(within(shared).getByTestId("quota-limited")).toHaveTextContent("“limit reached”");
    expect(cards[1]).toHaveTextContent("The Claude account of ~/.claude-work");
    expect(within(cards[1]).queryByTestId("quota-limited")).toBeNull();
    vi.useRealTimers();
    const out = await axe.run(screen.getByTestId("fleet-quota"), { rules: { "color-contrast": { enabled: false } } });
    expect(out.violations.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
  });

  test("the warning follows the share as shown: what reads 80 % warns, what reads 100 % is at the limit", () => {
    served["usage:fleetQuotaRows"] = {
      truncated: false,
      rows: [{ nodeId: "na", nodeName: "alpha", observedAt: T0 - 60_000, fiveHour: { usedPct: 79.96, resetsAt: T0 + HOUR }, sevenDay: { usedPct: 99.96, resetsAt: T0 + DAY } }],
    };
    render(<FleetQuota />);
    expect(windowOf("alpha", "fiveHour")).toHaveTextContent("80% used, close to the limit");
    expect(windowOf("alpha", "sevenDay")).toHaveTextContent("100% used, at the limit");
  });

  test("more rows than one read holds: said under the cards", () => {
    served["usage:fleetQuotaRows"] = { rows: quota(), truncated: false };
    const { unmount } = render(<FleetQuota />);
    expect(screen.queryByTestId("fleet-quota-truncated")).toBeNull();
    unmount();
    served["usage:fleetQuotaRows"] = { rows: quota(), truncated: true };
    render(<FleetQuota />);
    expect(screen.getByTestId("fleet-quota-truncated")).toHaveTextContent("Some laptops' quota is not shown");
  });

  test("limit reached after a rate-limit stop, with when it resets and the API's words", () => {
    served["usage:fleetQuotaRows"] = { rows: quota(), truncated: false };
    render(<FleetQuota />);
    const limited = within(laptop("bravo")).getByTestId("quota-limited");
    expect(limited).toHaveTextContent("Limit reached 5 min ago");
    expect(limited).toHaveTextContent(", resets in 1 h");
    expect(limited).toHaveTextContent("“Claude usage limit reached”");
    expect(windowOf("bravo", "fiveHour")).toHaveTextContent("100% used, at the limit");
  });

  test("no laptop has reported: said in words; axe-core finds nothing to fix on the cards", async () => {
    served["usage:fleetQuotaRows"] = { rows: [], truncated: false };
    const { unmount } = render(<FleetQuota />);
    expect(screen.getByTestId("fleet-quota")).toHaveTextContent("No laptop has reported its quota yet.");
    unmount();
    served["usage:fleetQuotaRows"] = { rows: quota(), truncated: false };
    render(<FleetQuota />);
    vi.useRealTimers();
    const out = await axe.run(screen.getByTestId("fleet-quota"), { rules: { "color-contrast": { enabled: false } } });
    expect(out.violations.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
  });
});
