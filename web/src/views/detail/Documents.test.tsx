// Plans in the phase timeline and the design doc: loaded only when opened, shown safely.
import { fireEvent, render, screen, within } from "@testing-library/react";
import { beforeEach, describe, expect, test, vi } from "vitest";
import type { DocumentView, Id, PhaseDetail } from "../../api";
import { DesignDoc } from "./Documents";
import { PhaseTimeline } from "./PhaseTimeline";

const served: { docs: Record<string, DocumentView | null>; asked: unknown[] } = { docs: {}, asked: [] };
vi.mock("convex/react", async (importOriginal) => ({
  ...(await importOriginal<typeof import("convex/react")>()),
  useMutation: () => vi.fn(),
  useQuery: (_fn: unknown, args: "skip" | { kind: string; phase?: string }) => {
    if (args === "skip") return undefined;
    served.asked.push(args);
    return served.docs[`${args.kind}:${args.phase ?? ""}`];
  },
}));

const ORCH = "o1" as Id<"orchestrations">;
const MIN = 60_000;
const HASH = "0123456789ab" + "c".repeat(52);

const doc = (content: string, over: Partial<DocumentView> = {}): DocumentView => ({
  path: "/w/docs/plan.md",
  content,
  hash: HASH,
  size: new TextEncoder().encode(content).length,
  truncated: false,
  modifiedAt: Date.now() - 3 * MIN,
  syncedAt: Date.now() - 2 * MIN,
  missing: false,
  ...over,
});

const phase = (phaseNumber: string, over: Partial<PhaseDetail> = {}): PhaseDetail => ({
  _id: `p${phaseNumber}` as Id<"phases">,
  _creationTime: 0,
  orchestrationId: ORCH,
  phaseNumber,
  status: "executing",
  updatedAt: 0,
  ...over,
});

beforeEach(() => {
  served.docs = {};
  served.asked = [];
});

describe("a phase's plan in the timeline", () => {
  test("a phase with a plan can expand to read it; nothing loads until then", () => {
    served.docs["plan:2"] = doc("# Phase 2\n\n- [link](javascript:alert(1))\n- <img src=x onerror=alert(1)>");
    const summary = { hash: HASH, size: 14_540, syncedAt: 0, missing: false, truncated: false };
    render(<PhaseTimeline orchestrationId={ORCH} totalPhases={2} phases={[phase("1", { status: "complete" }), phase("2", { plan: summary })]} />);
    const [one, two] = screen.getAllByTestId("phase");
    expect(within(one!).queryByTestId("plan-toggle")).toBeNull();
    const toggle = within(two!).getByTestId("plan-toggle");
    expect(toggle).toHaveTextContent("Read the plan (14.2 KB · 0123456789ab)");
    expect(toggle).toHaveAttribute("aria-expanded", "false");
    expect(served.asked).toEqual([]);
    fireEvent.click(toggle);
    expect(toggle).toHaveAttribute("aria-expanded", "true");
    expect(served.asked).toContainEqual({ orchestrationId: ORCH, kind: "plan", phase: "2" });
    expect(within(two!).getByTestId("document-facts")).toHaveTextContent("plan written 3 min ago");
    expect(within(two!).getByRole("region", { name: "Plan of phase 2" })).toBeTruthy();
    expect(two!.querySelector("img, a[href]")).toBeNull();
    expect(two!).toHaveTextContent("<img src=x onerror=alert(1)>");
    fireEvent.click(toggle);
    expect(within(two!).queryByTestId("document")).toBeNull();
  });

  test("an older daemon's plan path alone still offers the plan, which says it has not arrived", () => {
    served.docs["plan:1"] = null;
    render(<PhaseTimeline orchestrationId={ORCH} totalPhases={1} phases={[phase("1", { planPath: "docs/plans/p1.md" })]} />);
    fireEvent.click(screen.getByTestId("plan-toggle"));
    expect(screen.getByTestId("document-absent")).toHaveTextContent("The plan has not reached the dashboard yet.");
  });

  test("without the orchestration (elsewhere), no plan control", () => {
    render(<PhaseTimeline totalPhases={1} phases={[phase("1", { planPath: "p.md" })]} />);
    expect(screen.queryByTestId("plan-toggle")).toBeNull();
  });
});

describe("the design doc", () => {
  test("read on request, as Markdown with its facts", () => {
    served.docs["design:"] = doc("# Checkout\n\nWe build **this**.", { modifiedAt: undefined });
    render(<DesignDoc orchestrationId={ORCH} />);
    expect(served.asked).toEqual([]);
    fireEvent.click(screen.getByTestId("design-toggle"));
    expect(served.asked).toContainEqual({ orchestrationId: ORCH, kind: "design" });
    expect(screen.getByTestId("document-facts")).toHaveTextContent("design doc read 2 min ago");
    expect(screen.getByTestId("document-revision")).toHaveTextContent("0123456789ab");
    expect(screen.getByRole("heading", { name: "Checkout" })).toBeTruthy();
  });

  test("a design doc that is gone says so", () => {
    served.docs["design:"] = doc("", { missing: true, hash: undefined, path: "/w/docs/design.md" });
    render(<DesignDoc orchestrationId={ORCH} />);
    fireEvent.click(screen.getByTestId("design-toggle"));
    expect(screen.getByTestId("document-missing")).toHaveTextContent("The design doc file is gone from the laptop (/w/docs/design.md).");
  });
});
