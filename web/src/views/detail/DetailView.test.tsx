// The detail page as a whole: the header, a finished orchestration, an address naming nothing.
import { fireEvent, render, screen } from "@testing-library/react";
import { getFunctionName } from "convex/server";
import { beforeEach, describe, expect, test, vi } from "vitest";
import type { Id, OrchestrationDetail } from "../../api";
import { DetailView } from "./DetailView";

const MIN = 60_000;
const ORCH = "o1" as Id<"orchestrations">;
// What each query returns, by function name (undefined: loading); the arguments each was asked with.
const served: { detail: OrchestrationDetail | null | undefined; asked: { name: string; args: unknown }[] } = { detail: undefined, asked: [] };
vi.mock("convex/react", async (importOriginal) => ({
  ...(await importOriginal<typeof import("convex/react")>()),
  useMutation: () => vi.fn(),
  useQuery: (fn: Parameters<typeof getFunctionName>[0], args: unknown) => {
    const name = getFunctionName(fn);
    served.asked.push({ name, args });
    if (args === "skip") return undefined;
    return name === "orchestrations:getOrchestrationDetail" ? served.detail : undefined;
  },
  usePaginatedQuery: () => ({ results: [], status: "Exhausted", loadMore: () => {} }),
}));

function detail(over: Partial<OrchestrationDetail["orchestration"]> = {}, phases: OrchestrationDetail["phases"] = []): OrchestrationDetail {
  const now = Date.now();
  return {
    orchestration: {
      _id: ORCH,
      _creationTime: 0,
      nodeId: "n1" as Id<"nodes">,
      featureName: "checkout-flow",
      specDocPath: "docs/specs/checkout-flow.md",
      branch: "tina/checkout-flow",
      worktreePath: "/home/alex/src/shop/.worktrees/checkout-flow",
      totalPhases: 3,
      currentPhase: 2,
      status: "executing",
      startedAt: now - 95 * MIN,
      active: true,
      phasesCompleted: 1,
      updatedAt: now,
      ...over,
    },
    nodeName: "alpha",
    nodeOnline: true,
    nodeMessaging: "owners",
    phases,
    teams: [],
    recentActions: [],
  };
}

const phase = (phaseNumber: string, status: OrchestrationDetail["phases"][number]["status"]): OrchestrationDetail["phases"][number] => ({
  _id: `p${phaseNumber}` as Id<"phases">,
  _creationTime: 0,
  orchestrationId: ORCH,
  phaseNumber,
  status,
  updatedAt: 0,
});

beforeEach(() => {
  served.detail = undefined;
  served.asked = [];
});

describe("detail page", () => {
  test("an address naming no orchestration: 'Orchestration not found' with the way back, nothing else asked", () => {
    served.detail = null;
    render(<DetailView orchestrationId="not-an-id" />);
    expect(screen.getByRole("heading", { name: "Orchestration not found" })).toBeTruthy();
    expect(screen.getByRole("link", { name: "Back to all orchestrations" }).getAttribute("href")).toBe("#/");
    expect(document.body.textContent).not.toMatch(/Validator|connection/i);
    // Only the detail is asked, with the address's text as it is; the rest waits for a real id.
    expect(served.asked.filter((q) => q.args !== "skip").map((q) => q.name)).toEqual(["orchestrations:getOrchestrationDetail"]);
    expect(served.asked[0]!.args).toEqual({ orchestrationId: "not-an-id" });
  });

  test("the header: repository and branch; the worktree path one tap away", () => {
    served.detail = detail({ repoRoot: "/home/alex/src/shop" }, [phase("2", "executing")]);
    render(<DetailView orchestrationId={ORCH} />);
    expect(screen.getByTestId("detail-repo").textContent).toBe("repository shop · branch tina/checkout-flow");
    const worktree = screen.getByTestId("detail-worktree") as HTMLDetailsElement;
    expect(worktree.open).toBe(false);
    fireEvent.click(screen.getByText("Worktree path"));
    expect(worktree.open).toBe(true);
    expect(worktree.textContent).toContain("/home/alex/src/shop/.worktrees/checkout-flow");
  });

  test("a running orchestration has its controls", () => {
    served.detail = detail({}, [phase("2", "executing")]);
    render(<DetailView orchestrationId={ORCH} />);
    expect(screen.getByTestId("control-pause")).toBeTruthy();
    expect(screen.queryByTestId("detail-finished")).toBeNull();
  });

  test("a finished orchestration shows no controls, and when it finished", () => {
    // Both times from one clock reading: read twice, a millisecond between them made it 1 h 31 min.
    const now = Date.now();
    served.detail = detail({ status: "complete", startedAt: now - 95 * MIN, completedAt: now - 3 * MIN, active: false, phasesCompleted: 3 }, [phase("3", "complete")]);
    render(<DetailView orchestrationId={ORCH} />);
    expect(screen.queryByRole("region", { name: "Controls" })).toBeNull();
    expect(screen.queryByTestId("control-pause")).toBeNull();
    expect(screen.getByTestId("detail-finished").textContent).toBe("checkout-flow is complete: nothing is left to approve, pause or retry.");
    expect(screen.getByTestId("feature-name").closest("header")!.textContent).toMatch(/finished 3 min ago · took 1 h 32 min/);
  });
});
