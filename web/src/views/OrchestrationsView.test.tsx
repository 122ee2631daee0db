// The orchestration list wired to its queries: each card's state at a glance (a distinct chip for
// a plan awaiting approval, blocked and paused; labelled times; the phase's tasks; the last
// activity; the laptop's state in words), what needs you first, and search and sort kept in the
// address.
import { act, fireEvent, render, screen, within } from "@testing-library/react";
import { getFunctionName } from "convex/server";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import type { Id, OrchestrationSummary } from "../api";
import { orchestrationSummary } from "./testFixtures";
import type { RowProgress } from "../lib/orchestrations";
import { OrchestrationRow, OrchestrationsView } from "./OrchestrationsView";

const T0 = new Date(2026, 11, 3, 10, 0, 0).getTime();
const MIN = 60_000;

const served: Record<string, unknown> = {};
const progressOf: Record<string, RowProgress> = {};
const usageOf: Record<string, unknown> = {};
vi.mock("convex/react", async (importOriginal) => ({
  ...(await importOriginal<typeof import("convex/react")>()),
  useQuery: (fn: Parameters<typeof getFunctionName>[0], args?: { orchestrationId?: string }) => {
    const name = getFunctionName(fn);
    if (name === "orchestrations:orchestrationProgress") return progressOf[args!.orchestrationId!];
    if (name === "usage:orchestrationTotals") return usageOf[args!.orchestrationId!];
    return served[name];
  },
  useMutation: () => vi.fn(),
  useConvexConnectionState: () => ({ isWebSocketConnected: true, hasEverConnected: true }),
}));
// The aside's summaries have their own tests.
vi.mock("./NeedsYou", () => ({ NeedsSummary: () => null }));
vi.mock("./FleetView", () => ({ FleetSummary: () => null }));

const summary = (over: Partial<OrchestrationSummary> = {}): OrchestrationSummary => orchestrationSummary(over, T0, T0 - 10 * MIN);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(T0);
  window.location.hash = "";
});

afterEach(() => {
  vi.useRealTimers();
  for (const k of Object.keys(served)) delete served[k];
  for (const k of Object.keys(progressOf)) delete progressOf[k];
  for (const k of Object.keys(usageOf)) delete usageOf[k];
});

describe("a card tells the state at a glance", () => {
  test("a plan awaiting approval has its own chip, never Planning, and says why it needs you", () => {
    render(<OrchestrationRow o={summary({ status: "planning", attention: "awaiting_approval", attentionPhase: "2", attentionReason: "plan awaiting approval" })} />);
    const row = screen.getByTestId("orchestration-row");
    expect(within(row).getByText("Awaiting approval")).toBeTruthy();
    expect(within(row).queryByText("Planning")).toBeNull();
    expect(screen.getByTestId("progress")).toHaveTextContent("phase 2 of 4 · awaiting approval");
    expect(row).toHaveTextContent("Phase 2: plan awaiting approval");
  });

  test("blocked and paused each have their own chip", () => {
    const { unmount } = render(<OrchestrationRow o={summary({ status: "blocked", attention: "blocked", attentionPhase: "2", attentionReason: "tests failed" })} />);
    expect(within(screen.getByTestId("orchestration-row")).getByText("Blocked")).toBeTruthy();
    unmount();
    render(<OrchestrationRow o={summary({ status: "paused" })} />);
    expect(within(screen.getByTestId("orchestration-row")).getByText("Paused")).toBeTruthy();
    expect(screen.getByTestId("progress")).toHaveTextContent("phase 2 of 4 · paused");
  });

  test("labelled times, each relative with its exact time for hover and screen readers", () => {
    render(<OrchestrationRow o={summary()} />);
    const times = screen.getByTestId("times");
    expect(times).toHaveTextContent("running 1 h 05 min");
    expect(times).toHaveTextContent("started 1 h ago");
    const started = within(times).getByTestId("time");
    expect(started).toHaveAttribute("title", "3 Dec 2026, 08:55:00");
    expect(started).toHaveTextContent("3 Dec 2026, 08:55:00");
    // Inside a link: text, never a button.
    expect(within(screen.getByTestId("orchestration-row")).queryByRole("button")).toBeNull();
  });

  test("a finished one says how long it took and when it finished", () => {
    render(<OrchestrationRow o={summary({ status: "complete", startedAt: T0 - 180 * MIN, completedAt: T0 - 90 * MIN, phasesCompleted: 4 })} />);
    const times = screen.getByTestId("times");
    expect(times).toHaveTextContent("took 1 h 30 min");
    expect(times).toHaveTextContent("finished 1 h ago");
    expect(screen.getByTestId("progress")).toHaveTextContent("4 of 4 phases");
  });

  test("the current phase's tasks done of all, in words and on the bar", () => {
    const extra: RowProgress = { phases: [{ phaseNumber: "1", done: 3, total: 3 }, { phaseNumber: "2", done: 2, total: 4 }] };
    render(<OrchestrationRow o={summary()} extra={extra} />);
    expect(screen.getByTestId("progress")).toHaveTextContent("phase 2 of 4 · executing · 2 of 4 tasks done");
    // (1 phase done + half of phase 2) of 4.
    expect(screen.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "38");
  });

  test("the last activity: what happened and when; the last update when nothing is recorded", () => {
    const extra: RowProgress = {
      phases: [],
      lastActivity: { source: "task", at: T0 - 2 * MIN, kind: "updated", status: "completed", previousStatus: "in_progress", subject: "Add the session table", owner: "executor-1" },
    };
    const { unmount } = render(<OrchestrationRow o={summary()} extra={extra} />);
    expect(screen.getByTestId("last-activity")).toHaveTextContent("Last activity 2 min ago, 3 Dec 2026, 09:58:00: executor-1 completed “Add the session table”");
    unmount();
    render(<OrchestrationRow o={summary()} />);
    expect(screen.getByTestId("last-activity")).toHaveTextContent("Updated 10 min ago");
  });

  test("each card's cost so far from its own subscription: dollars, unknown prices beside them, nothing when nothing was used (issue 22)", () => {
    const sums = { messages: 3, input: 10, output: 10, cacheWrite: 0, cacheRead: 100, webSearches: 0, updatedAt: T0 };
    served["orchestrations:listOrchestrations"] = {
      active: [
        summary({ _id: "o1" as Id<"orchestrations">, featureName: "priced" }),
        summary({ _id: "o2" as Id<"orchestrations">, featureName: "mixed" }),
        summary({ _id: "o3" as Id<"orchestrations">, featureName: "unused" }),
        summary({ _id: "o4" as Id<"orchestrations">, featureName: "loading" }),
      ],
      finished: [],
    };
    usageOf.o1 = { ...sums, costMicros: 1_234_567, unpricedTokens: 0 };
    usageOf.o2 = { ...sums, costMicros: 1_230_000, unpricedTokens: 12_345 };
    usageOf.o3 = { ...sums, messages: 0, input: 0, output: 0, cacheRead: 0, costMicros: 0, unpricedTokens: 0, budgetMicros: 5_000_000 };
    render(<OrchestrationsView query={new URLSearchParams()} />);
    const cost = (feature: string) => {
      const row = screen.getAllByTestId("orchestration-row").find((r) => r.dataset.feature === feature)!;
      return within(row).queryByTestId("card-cost")?.textContent ?? null;
    };
    expect(cost("priced")).toBe("cost so far: $1.23");
    expect(cost("mixed")).toBe("cost so far: $1.23 + 12.3k tokens price unknown");
    expect(cost("unused")).toBeNull();
    expect(cost("loading")).toBeNull();
  });

  test("the laptop's state in words, not only a dot", () => {
    render(<OrchestrationRow o={summary({ nodeName: "bravo", nodeOnline: false })} />);
    expect(screen.getByTestId("laptop-state")).toHaveTextContent("bravo · offline");
  });
});

describe("the list: what needs you first, search and sort in the address", () => {
  const list = () => ({
    active: [
      summary({ _id: "o1" as Id<"orchestrations">, featureName: "checkout-flow", startedAt: T0 - 5 * MIN }),
      summary({ _id: "o2" as Id<"orchestrations">, featureName: "search-index", branch: "tina/search-index", nodeName: "bravo", status: "blocked", attention: "blocked", startedAt: T0 - 50 * MIN }),
      summary({ _id: "o3" as Id<"orchestrations">, featureName: "billing-export", branch: "tina/billing", startedAt: T0 - 20 * MIN, status: "planning", attention: "awaiting_approval" }),
    ],
    finished: [],
  });
  const features = () => screen.getAllByTestId("orchestration-row").map((r) => r.dataset.feature);

  test("by default what needs you comes first, then the newest", () => {
    served["orchestrations:listOrchestrations"] = list();
    render(<OrchestrationsView query={new URLSearchParams()} />);
    expect(features()).toEqual(["billing-export", "search-index", "checkout-flow"]);
  });

  test("sorting by name goes into the address", () => {
    served["orchestrations:listOrchestrations"] = list();
    const { rerender } = render(<OrchestrationsView query={new URLSearchParams()} />);
    fireEvent.change(screen.getByLabelText("Sort"), { target: { value: "name" } });
    expect(window.location.hash).toBe("#/?sort=name");
    rerender(<OrchestrationsView query={new URLSearchParams("sort=name")} />);
    expect(features()).toEqual(["billing-export", "checkout-flow", "search-index"]);
    fireEvent.change(screen.getByLabelText("Sort"), { target: { value: "newest" } });
    expect(window.location.hash).toBe("#/?sort=newest");
  });

  test("search by feature, branch or laptop, as typed, kept in the address; nothing found says so and clears", () => {
    served["orchestrations:listOrchestrations"] = list();
    render(<OrchestrationsView query={new URLSearchParams("sort=name")} />);
    const box = screen.getByLabelText("Search");
    fireEvent.change(box, { target: { value: "bravo" } });
    expect(features()).toEqual(["search-index"]);
    expect(window.location.hash).toBe("#/?q=bravo&sort=name");
    fireEvent.change(box, { target: { value: "tina/billing" } });
    expect(features()).toEqual(["billing-export"]);
    fireEvent.change(box, { target: { value: "nothing-like-it" } });
    expect(screen.queryAllByTestId("orchestration-row")).toEqual([]);
    expect(screen.getByText("Nothing matches “nothing-like-it”.")).toBeTruthy();
    act(() => fireEvent.click(screen.getByRole("button", { name: "Clear search" })));
    expect(features()).toHaveLength(3);
    expect(window.location.hash).toBe("#/?sort=name");
  });

  test("a search in the address is applied on arrival", () => {
    served["orchestrations:listOrchestrations"] = list();
    render(<OrchestrationsView query={new URLSearchParams("q=checkout")} />);
    expect((screen.getByLabelText("Search") as HTMLInputElement).value).toBe("checkout");
    expect(features()).toEqual(["checkout-flow"]);
  });
});
