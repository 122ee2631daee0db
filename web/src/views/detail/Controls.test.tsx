import { act, fireEvent, render, screen, within } from "@testing-library/react";
import { beforeEach, describe, expect, test, vi } from "vitest";
import type { ActionDoc, DocumentView, Id, PhaseDoc } from "../../api";
import type { ActContext } from "../../lib/controls";
import { Controls } from "./Controls";

const submit = vi.fn();
// The plan documents:getDocument returns (undefined: still loading).
const served: { plan: DocumentView | null | undefined; asked: unknown[] } = { plan: undefined, asked: [] };
vi.mock("convex/react", async (importOriginal) => ({
  ...(await importOriginal<typeof import("convex/react")>()),
  useMutation: () => submit,
  useQuery: (_fn: unknown, args: unknown) => {
    if (args === "skip") return undefined;
    served.asked.push(args);
    return served.plan;
  },
}));

const HASH_A = "a".repeat(12) + "0".repeat(52);
const HASH_B = "b".repeat(12) + "1".repeat(52);
const MIN = 60_000;

function planDoc(over: Partial<DocumentView> = {}): DocumentView {
  return {
    path: "/w/docs/plans/phase-2.md",
    content: "# Phase 2\n\n1. Add the <script>alert(1)</script> endpoint",
    hash: HASH_A,
    size: 14_540,
    truncated: false,
    modifiedAt: Date.now() - 12 * MIN,
    syncedAt: Date.now() - 11 * MIN,
    missing: false,
    ...over,
  };
}

const ORCH = "o1" as Id<"orchestrations">;

function phase(phaseNumber: string, status: PhaseDoc["status"], extra: Partial<PhaseDoc> = {}): PhaseDoc {
  return { _id: `p${phaseNumber}` as Id<"phases">, _creationTime: 0, orchestrationId: ORCH, phaseNumber, status, updatedAt: 0, ...extra };
}

function actionDoc(id: string, status: ActionDoc["status"], extra: Partial<ActionDoc> = {}): ActionDoc {
  return {
    _id: id as Id<"inboundActions">,
    _creationTime: 0,
    nodeId: "n1" as Id<"nodes">,
    orchestrationId: ORCH,
    type: "pause",
    payload: { feature: "f", phase: "2" },
    status,
    idempotencyKey: "k".repeat(10),
    submittedBy: "u",
    createdAt: Date.now(),
    expiresAt: Date.now() + 60_000,
    ...extra,
  };
}

/** The text a screen reader reads after a control's name (its aria-describedby). */
function description(el: HTMLElement): string {
  return (el.getAttribute("aria-describedby") ?? "")
    .split(/\s+/)
    .map((id) => document.getElementById(id)?.textContent ?? "")
    .join(" ");
}

const ctx = (over: Partial<ActContext> = {}): ActContext => ({ role: "operator", laptopName: "alpha", laptopOnline: true, laptopMessaging: "owners", actions: [], ...over });

function renderControls(phases: PhaseDoc[], c: ActContext = ctx(), actions: ActionDoc[] = []) {
  return render(<Controls orchestrationId={ORCH} phases={phases} attentionPhase={undefined} ctx={c} actions={actions} />);
}

beforeEach(() => {
  submit.mockReset();
  served.plan = planDoc();
  served.asked = [];
});

describe("Controls", () => {
  test("a plan awaiting approval: approve, reject and pause, each saying what it does; resume and retry are not shown", () => {
    renderControls([phase("1", "complete"), phase("2", "awaiting_approval")]);
    expect(screen.getByTestId("control-approve_plan")).toBeEnabled();
    expect(screen.getByTestId("control-reject_plan")).toBeEnabled();
    expect(screen.getByTestId("control-pause")).toBeEnabled();
    expect(screen.queryByTestId("control-resume")).toBeNull();
    expect(screen.queryByTestId("control-retry")).toBeNull();
    expect(screen.getByTestId("help-approve_plan")).toHaveTextContent("Starts executing phase 2 with the plan shown above.");
    expect(screen.getByTestId("help-reject_plan")).toHaveTextContent("back to planning with your feedback");
    // What it does is read with the button, by screen readers too.
    expect(description(screen.getByRole("button", { name: "Pause" }))).toMatch(/Stops phase 2 at its next step/);
  });

  test("a paused phase offers resume and retry, and says how they differ", () => {
    renderControls([phase("2", "paused", { pausedFrom: "executing", blockedReason: "paused by operator" })]);
    expect(screen.getAllByRole("listitem").map((li) => li.getAttribute("data-control"))).toEqual(["resume", "retry"]);
    expect(screen.getByTestId("help-resume")).toHaveTextContent("Continues phase 2 where it stopped (execution), keeping the work done so far.");
    expect(screen.getByTestId("help-retry")).toHaveTextContent("Instead of continuing, starts execution of phase 2 again from its beginning with a fresh agent.");
  });

  test("a blocked phase offers retry only; an executing one pause only", () => {
    const { unmount } = renderControls([phase("2", "blocked", { blockedReason: "tests failed" })]);
    expect(screen.getAllByRole("listitem").map((li) => li.getAttribute("data-control"))).toEqual(["retry"]);
    expect(screen.getByTestId("help-retry")).toHaveTextContent("blocked step again with a fresh agent");
    unmount();
    renderControls([phase("2", "executing")]);
    expect(screen.getAllByRole("listitem").map((li) => li.getAttribute("data-control"))).toEqual(["pause"]);
  });

  test("a control that applies but cannot be used now is disabled, with the reason as visible text", () => {
    renderControls([phase("2", "executing")], ctx({ role: "viewer" }));
    const pause = screen.getByTestId("control-pause");
    expect(pause).toBeDisabled();
    expect(screen.getByTestId("why-pause")).toHaveTextContent("Not now: viewers can look but not act");
    expect(screen.getByTestId("why-pause").closest("[hidden], .visually-hidden")).toBeNull();
    expect(description(pause)).toMatch(/viewers can look but not act/);
  });

  test("a complete phase has nothing to do, and says so", () => {
    renderControls([phase("1", "complete")]);
    expect(screen.queryAllByRole("button")).toEqual([]);
    expect(screen.getByTestId("controls-none")).toHaveTextContent("Nothing to do on phase 1 now: it is complete.");
  });

  test("pause asks first, then sends one action with an idempotency key", async () => {
    submit.mockResolvedValue({ actionId: "a1", deduplicated: false });
    renderControls([phase("2", "executing")]);
    fireEvent.click(screen.getByTestId("control-pause"));
    expect(submit).not.toHaveBeenCalled();
    expect(screen.getByRole("dialog")).toHaveTextContent("Phase 2 stops at the next step on alpha");
    await act(async () => {
      const confirm = screen.getByTestId("confirm");
      confirm.click();
      confirm.click(); // a double tap in the same frame
    });
    expect(submit).toHaveBeenCalledTimes(1);
    const args = submit.mock.calls[0]![0];
    expect(args.action).toEqual({ type: "pause", orchestrationId: ORCH, phase: "2" });
    expect(args.idempotencyKey).toMatch(/^[A-Za-z0-9._:-]{8,128}$/);
    expect(args.client).toMatch(/^tina-web/);
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  test("each new tap gets a new key", async () => {
    submit.mockResolvedValue({ actionId: "a1", deduplicated: false });
    renderControls([phase("2", "executing")]);
    for (let i = 0; i < 2; i++) {
      fireEvent.click(screen.getByTestId("control-pause"));
      await act(async () => screen.getByTestId("confirm").click());
    }
    expect(submit).toHaveBeenCalledTimes(2);
    expect(submit.mock.calls[0]![0].idempotencyKey).not.toBe(submit.mock.calls[1]![0].idempotencyKey);
  });

  test("reject feedback: a counter with the 4,000 limit; longer text is kept, not cut, and Reject says why it is off", () => {
    renderControls([phase("2", "awaiting_approval")]);
    fireEvent.click(screen.getByTestId("control-reject_plan"));
    const box = screen.getByTestId("reject-feedback");
    expect(box).not.toHaveAttribute("maxLength");
    fireEvent.change(box, { target: { value: "x".repeat(4001) } });
    expect((box as HTMLTextAreaElement).value).toBe("x".repeat(4001));
    expect(screen.getByTestId("feedback-count")).toHaveTextContent("4,001 / 4,000 characters");
    expect(screen.getByTestId("confirm")).toBeDisabled();
    expect(screen.getByRole("dialog")).toHaveTextContent("at most 4000 characters (4001 now)");
  });

  test("reject needs feedback, and sends it trimmed", async () => {
    submit.mockResolvedValue({ actionId: "a1", deduplicated: false });
    renderControls([phase("2", "awaiting_approval")]);
    fireEvent.click(screen.getByTestId("control-reject_plan"));
    expect(screen.getByTestId("confirm")).toBeDisabled();
    fireEvent.change(screen.getByTestId("reject-feedback"), { target: { value: "  split the migration  " } });
    expect(screen.getByTestId("confirm")).toBeEnabled();
    await act(async () => screen.getByTestId("confirm").click());
    expect(submit.mock.calls[0]![0].action).toEqual({ type: "reject_plan", orchestrationId: ORCH, phase: "2", feedback: "split the migration", planHash: HASH_A });
  });

  test("resume goes without confirmation", async () => {
    submit.mockResolvedValue({ actionId: "a1", deduplicated: false });
    renderControls([phase("2", "paused", { pausedFrom: "executing", blockedReason: "paused by operator" })]);
    await act(async () => screen.getByTestId("control-resume").click());
    expect(submit.mock.calls[0]![0].action.type).toBe("resume");
  });

  test("the sent action's live status and result follow the subscription", async () => {
    submit.mockResolvedValue({ actionId: "a1", deduplicated: false });
    const phases = [phase("2", "blocked", { blockedReason: "tests failed" })];
    const view = renderControls(phases);
    fireEvent.click(screen.getByTestId("control-retry"));
    await act(async () => screen.getByTestId("confirm").click());
    // Not in the list yet: queued.
    expect(screen.getByTestId("action-tracker")).toHaveAttribute("data-status", "pending");
    expect(screen.getByTestId("action-tracker")).toHaveTextContent("queued");
    view.rerender(<Controls orchestrationId={ORCH} phases={phases} attentionPhase={undefined} ctx={ctx()} actions={[actionDoc("a1", "running", { type: "retry" })]} />);
    expect(screen.getByTestId("action-tracker")).toHaveAttribute("data-status", "running");
    view.rerender(
      <Controls
        orchestrationId={ORCH}
        phases={phases}
        attentionPhase={undefined}
        ctx={ctx()}
        actions={[actionDoc("a1", "failed", { type: "retry", result: { ok: false, code: "cli_exit_non_zero", message: "phase 2 is not blocked any more" } })]}
      />,
    );
    expect(screen.getByTestId("action-tracker")).toHaveTextContent("failed");
    expect(screen.getByTestId("action-result")).toHaveTextContent("phase 2 is not blocked any more");
  });

  test("a refusal from the server is shown, not swallowed", async () => {
    const { ConvexError } = await import("convex/values");
    submit.mockImplementation(async () => {
      throw new ConvexError({ code: "forbidden", message: "this needs the operator role; you are a viewer" });
    });
    renderControls([phase("2", "executing")]);
    fireEvent.click(screen.getByTestId("control-pause"));
    await act(async () => screen.getByTestId("confirm").click());
    expect(screen.getByRole("alert")).toHaveTextContent("not accepted");
    expect(screen.getByRole("alert")).toHaveTextContent("you are a viewer");
  });

  test("an offline laptop disables everything with the reason", () => {
    renderControls([phase("2", "blocked")], ctx({ laptopOnline: false }));
    expect(screen.getByTestId("control-retry")).toBeDisabled();
    expect(screen.getByTestId("why-retry")).toHaveTextContent("alpha is offline");
  });

  test("the operator can pick another open phase; complete ones are not offered", () => {
    renderControls([phase("1", "complete"), phase("1.5", "blocked"), phase("2", "planning")]);
    expect(screen.getByTestId("control-retry")).toBeEnabled(); // phase 1.5 is stopped: the default
    expect(screen.getAllByRole("option").map((o) => o.textContent)).toEqual(["Phase 1.5 · remediation of 1 (blocked)", "Phase 2 (planning)"]);
    fireEvent.change(screen.getByLabelText("Acting on"), { target: { value: "2" } });
    expect(screen.queryByTestId("control-retry")).toBeNull();
    expect(screen.getByTestId("control-pause")).toBeEnabled();
  });
});

describe("the plan on the approval screen", () => {
  test("shown as Markdown with its age, size and revision; raw HTML stays text", () => {
    renderControls([phase("2", "awaiting_approval")]);
    expect(served.asked).toContainEqual({ orchestrationId: ORCH, kind: "plan", phase: "2" });
    const box = screen.getByTestId("approval-plan");
    expect(within(box).getByRole("heading", { name: "Phase 2" })).toBeTruthy();
    expect(within(box).getByTestId("document-facts")).toHaveTextContent("plan written 12 min ago · 14.2 KB · revision aaaaaaaaaaaa");
    expect(box.querySelector("script")).toBeNull();
    expect(box).toHaveTextContent("<script>alert(1)</script>");
    expect(within(box).queryByTestId("document-truncated")).toBeNull();
  });

  test("a truncated plan says so and where the rest is", () => {
    served.plan = planDoc({ truncated: true, size: 400_000 });
    renderControls([phase("2", "awaiting_approval")]);
    expect(screen.getByTestId("document-truncated")).toHaveTextContent("Truncated: only the first");
    expect(screen.getByTestId("document-truncated")).toHaveTextContent("of 390.6 KB reached the dashboard");
    expect(screen.getByTestId("document-truncated")).toHaveTextContent("/w/docs/plans/phase-2.md");
  });

  test("approve names the revision read, in the question and in what it sends", async () => {
    submit.mockResolvedValue({ actionId: "a1", deduplicated: false });
    renderControls([phase("2", "awaiting_approval")]);
    fireEvent.click(screen.getByTestId("control-approve_plan"));
    expect(screen.getByTestId("confirm-revision")).toHaveTextContent("You read revision aaaaaaaaaaaa, written 12 min ago.");
    await act(async () => screen.getByTestId("confirm").click());
    expect(submit.mock.calls[0]![0].action).toEqual({ type: "approve_plan", orchestrationId: ORCH, phase: "2", planHash: HASH_A });
  });

  test.each([
    [undefined, "loading the plan…"],
    [null, "the plan has not reached the dashboard yet"],
  ])("no plan content (%s): approve says why it is off; reject still works", (plan, reason) => {
    served.plan = plan;
    renderControls([phase("2", "awaiting_approval")]);
    expect(screen.getByTestId("control-approve_plan")).toBeDisabled();
    expect(screen.getByTestId("why-approve_plan")).toHaveTextContent(reason);
    expect(screen.getByTestId("control-reject_plan")).toBeEnabled();
  });

  test("a plan file gone from the laptop cannot be approved", () => {
    served.plan = planDoc({ missing: true, content: "", hash: undefined });
    renderControls([phase("2", "awaiting_approval")]);
    expect(screen.getByTestId("document-missing")).toHaveTextContent("gone from the laptop");
    expect(screen.getByTestId("why-approve_plan")).toHaveTextContent("the plan of phase 2 is gone from the laptop");
  });

  test("a newer revision while reading: the text stays, the operator is told and chooses to see it", () => {
    const phases = [phase("2", "awaiting_approval")];
    const view = renderControls(phases);
    served.plan = planDoc({ hash: HASH_B, content: "# Phase 2, second try" });
    view.rerender(<Controls orchestrationId={ORCH} phases={phases} attentionPhase={undefined} ctx={ctx()} actions={[]} />);
    expect(screen.getByTestId("approval-plan")).toHaveTextContent("<script>alert(1)</script>");
    expect(screen.getByTestId("plan-changed")).toHaveTextContent("The plan changed on the laptop since you opened it.");
    fireEvent.click(screen.getByTestId("show-new-plan"));
    expect(screen.getByTestId("approval-plan")).toHaveTextContent("second try");
    expect(screen.queryByTestId("plan-changed")).toBeNull();
    expect(screen.getByTestId("document-revision")).toHaveTextContent("bbbbbbbbbbbb");
  });

  test("a new plan after a rejection is shown as it is, not as a change to the rejected one", () => {
    const view = renderControls([phase("2", "awaiting_approval")]);
    expect(screen.getByTestId("document-revision")).toHaveTextContent("aaaaaaaaaaaa");
    // Rejected: the phase plans again, then a new plan waits for approval.
    view.rerender(<Controls orchestrationId={ORCH} phases={[phase("2", "planning")]} attentionPhase={undefined} ctx={ctx()} actions={[]} />);
    served.plan = planDoc({ hash: HASH_B, content: "# Phase 2, second try" });
    view.rerender(<Controls orchestrationId={ORCH} phases={[phase("2", "awaiting_approval")]} attentionPhase={undefined} ctx={ctx()} actions={[]} />);
    expect(screen.getByTestId("approval-plan")).toHaveTextContent("second try");
    expect(screen.queryByTestId("plan-changed")).toBeNull();
    expect(screen.getByTestId("document-revision")).toHaveTextContent("bbbbbbbbbbbb");
  });

  test("a rejected revision still on the dashboard gives way to the new plan when it arrives", () => {
    const rejected = actionDoc("r1", "completed", { type: "reject_plan", payload: { feature: "f", phase: "2", feedback: "split it", planHash: HASH_A } });
    const phases = [phase("2", "awaiting_approval")];
    const view = render(<Controls orchestrationId={ORCH} phases={phases} attentionPhase={undefined} ctx={ctx()} actions={[rejected]} />);
    // The laptop has not sent the new plan yet: the rejected one is what there is.
    expect(screen.getByTestId("document-revision")).toHaveTextContent("aaaaaaaaaaaa");
    served.plan = planDoc({ hash: HASH_B, content: "# Phase 2, after the feedback" });
    view.rerender(<Controls orchestrationId={ORCH} phases={phases} attentionPhase={undefined} ctx={ctx()} actions={[rejected]} />);
    expect(screen.queryByTestId("plan-changed")).toBeNull();
    expect(screen.getByTestId("approval-plan")).toHaveTextContent("after the feedback");
  });

  test("the server's 'plan changed' refusal is said in words, with a way to read the new plan", async () => {
    const { ConvexError } = await import("convex/values");
    const message =
      "the plan of phase 2 changed on the laptop since you opened it (you read revision aaaaaaaaaaaa, it is now bbbbbbbbbbbb); read it again before approving";
    submit.mockRejectedValue(new ConvexError({ code: "conflict", message, field: "planHash" }));
    const phases = [phase("2", "awaiting_approval")];
    const view = renderControls(phases);
    fireEvent.click(screen.getByTestId("control-approve_plan"));
    await act(async () => screen.getByTestId("confirm").click());
    expect(screen.getByRole("alert")).toHaveTextContent(message);
    expect(screen.getByTestId("plan-changed")).toBeTruthy();
    served.plan = planDoc({ hash: HASH_B, content: "new text" });
    view.rerender(<Controls orchestrationId={ORCH} phases={phases} attentionPhase={undefined} ctx={ctx()} actions={[]} />);
    fireEvent.click(screen.getByTestId("show-new-plan"));
    expect(screen.queryByRole("alert")).toBeNull();
    expect(screen.getByTestId("approval-plan")).toHaveTextContent("new text");
    submit.mockResolvedValue({ actionId: "a2", deduplicated: false });
    fireEvent.click(screen.getByTestId("control-approve_plan"));
    await act(async () => screen.getByTestId("confirm").click());
    expect(submit.mock.calls[1]![0].action.planHash).toBe(HASH_B);
  });

  test("the laptop's own 'plan changed' answer offers the same", async () => {
    submit.mockResolvedValue({ actionId: "a1", deduplicated: false });
    const phases = [phase("2", "awaiting_approval")];
    const view = renderControls(phases);
    fireEvent.click(screen.getByTestId("control-approve_plan"));
    await act(async () => screen.getByTestId("confirm").click());
    const failed = actionDoc("a1", "failed", {
      type: "approve_plan",
      result: { ok: false, code: "plan_changed", message: "the plan of phase 2 changed on the laptop since it was shown" },
    });
    view.rerender(<Controls orchestrationId={ORCH} phases={phases} attentionPhase={undefined} ctx={ctx()} actions={[failed]} />);
    expect(screen.getByTestId("action-result")).toHaveTextContent("changed on the laptop since it was shown");
    expect(screen.getByTestId("show-new-plan")).toBeTruthy();
  });

  test("no plan is asked for when no phase waits for approval", () => {
    renderControls([phase("2", "executing")]);
    expect(served.asked).toEqual([]);
    expect(screen.queryByTestId("approval-plan")).toBeNull();
  });
});
