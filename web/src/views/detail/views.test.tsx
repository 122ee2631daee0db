// Rendering of the detail page's parts from the data the queries return.
import { act, fireEvent, render, screen, within } from "@testing-library/react";
import { describe, expect, test, vi } from "vitest";
import type { BoardTaskRow, Id, PhaseDoc, TeamDetail } from "../../api";
import { ActionHistory, actionTarget } from "./ActionHistory";
import { PhaseTimeline } from "./PhaseTimeline";
import { TaskBoards, TeamBoard, TASK_PAGE, type PageStatus } from "./TaskBoard";
import { TeamRoster } from "./TeamRoster";

const submit = vi.fn();
const pages: { value: { results: BoardTaskRow[]; status: PageStatus; loadMore: (n: number) => void } } = {
  value: { results: [], status: "Exhausted", loadMore: () => {} },
};
const paginatedArgs = vi.fn();
vi.mock("convex/react", async (importOriginal) => ({
  ...(await importOriginal<typeof import("convex/react")>()),
  useMutation: () => submit,
  usePaginatedQuery: (...args: unknown[]) => {
    paginatedArgs(...args);
    return pages.value;
  },
}));

const ORCH = "o1" as Id<"orchestrations">;
const MIN = 60_000;

const phase = (phaseNumber: string, status: PhaseDoc["status"], extra: Partial<PhaseDoc> = {}): PhaseDoc => ({
  _id: `p${phaseNumber}` as Id<"phases">,
  _creationTime: 0,
  orchestrationId: ORCH,
  phaseNumber,
  status,
  updatedAt: 0,
  ...extra,
});

const base = { _creationTime: 0, teamId: "t1" as Id<"teams">, nodeId: "n1" as Id<"nodes">, updatedAt: 0 };
const TASKS: BoardTaskRow[] = [
  { ...base, _id: "k1" as Id<"tasks">, taskId: "1", subject: "Schema", hasDescription: false, status: "completed", owner: "executor-1", blocks: ["2"], blockedBy: [], revision: 1 },
  { ...base, _id: "k2" as Id<"tasks">, taskId: "2", subject: "Endpoint", hasDescription: true, status: "in_progress", owner: "executor-1", blocks: [], blockedBy: ["1"], revision: 1, activeForm: "Wiring it" },
  { ...base, _id: "k3" as Id<"tasks">, taskId: "3", subject: "Tests", hasDescription: false, status: "pending", blocks: [], blockedBy: ["2"], revision: 1 },
];

function teamDetail(over: { removedAt?: number; memberRemoved?: boolean } = {}): TeamDetail {
  const teamId = "t1" as Id<"teams">;
  return {
    team: {
      _id: teamId,
      _creationTime: 0,
      nodeId: "n1" as Id<"nodes">,
      dirName: "checkout-phase-2",
      teamName: "checkout-phase-2",
      phaseNumber: "2",
      memberCount: 2,
      taskCounts: { pending: 1, inProgress: 1, completed: 1, other: 0 },
      updatedAt: 0,
      ...(over.removedAt ? { removedAt: over.removedAt } : {}),
    },
    members: [
      { ...base, _id: "m1" as Id<"teamMembers">, agentId: "a1", agentName: "executor-1", agentType: "executor", model: "claude-sonnet-4-5", joinedAt: Date.now() - 5 * MIN },
      { ...base, _id: "m2" as Id<"teamMembers">, agentId: "a2", agentName: "reviewer", agentType: "reviewer", ...(over.memberRemoved ? { removedAt: 1 } : {}) },
    ],
    membersTruncated: false,
    activityPartial: false,
  };
}

describe("phase timeline", () => {
  test("durations per stage, remediation, block and pause reasons, feedback", () => {
    render(
      <PhaseTimeline
        totalPhases={3}
        phases={[
          phase("1", "complete", { planningMins: 13, executionMins: 32, reviewMins: 8, durationMins: 53, completedAt: Date.now() - MIN }),
          phase("1.5", "blocked", { blockedReason: "tests failed twice" }),
          phase("2", "paused", { pausedFrom: "executing", blockedReason: "paused by operator", planningMins: 4 }),
          phase("3", "planning", { feedback: "split the migration" }),
        ]}
      />,
    );
    const items = screen.getAllByTestId("phase");
    expect(items.map((i) => i.getAttribute("data-phase"))).toEqual(["1", "1.5", "2", "3"]);
    expect(items[0]).toHaveTextContent("Planning13 min");
    expect(items[0]).toHaveTextContent("Execution32 min");
    expect(items[0]).toHaveTextContent("53 min");
    expect(items[1]).toHaveTextContent("remediation of 1");
    expect(within(items[1]!).getByTestId("phase-stop")).toHaveTextContent("Blocked: tests failed twice");
    expect(within(items[2]!).getByTestId("phase-stop")).toHaveTextContent("Paused: paused by operator (was executing)");
    expect(within(items[3]!).getByTestId("phase-feedback")).toHaveTextContent("split the migration");
    expect(screen.getByRole("heading", { name: "Phases (3 of 3)" })).toBeTruthy();
  });

  test("waiting for approval apart from planning; a stopped phase shows its time until it stopped (issue 21)", () => {
    const now = Date.now();
    render(
      <PhaseTimeline
        totalPhases={3}
        worktreePath="/w/shop/.worktrees/checkout"
        phases={[
          phase("1", "blocked", { blockedReason: "tests failed", planningStartedAt: now - 40 * MIN, planningMins: 5, executionStartedAt: now - 30 * MIN, updatedAt: now - 10 * MIN, planPath: "/w/shop/.worktrees/checkout/docs/plans/p1.md" }),
          phase("2", "awaiting_approval", { planningStartedAt: now - 30 * MIN, planningMins: 12 }),
        ]}
      />,
    );
    const [blocked, waiting] = screen.getAllByTestId("phase");
    const stage = (item: HTMLElement, name: string) => item.querySelector(`[data-stage="${name}"]`)!.textContent;
    expect(stage(blocked!, "execution")).toBe("Execution20 min, then blocked");
    expect(blocked).toHaveTextContent("plan docs/plans/p1.md");
    expect(stage(waiting!, "planning")).toBe("Planning12 min");
    expect(stage(waiting!, "approval")).toBe("Waiting for approval18 min …");
    expect(within(waiting!).getByTestId("phase-awaiting")).toHaveTextContent("The plan is ready: waiting since 18 min ago for an operator to approve or reject it.");
    expect(within(waiting!).getByRole("button", { name: /18 min ago/ })).toBeTruthy(); // the exact time on a tap
  });

  test("before phase 1 it says what is going on", () => {
    render(<PhaseTimeline totalPhases={3} phases={[]} />);
    expect(screen.getByRole("status")).toHaveTextContent("No phase has started yet.");
  });
});

describe("task board", () => {
  test("columns with owner and open blockers", () => {
    pages.value = { results: TASKS, status: "Exhausted", loadMore: () => {} };
    render(<TaskBoards teams={[teamDetail()]} />);
    // Each team's tasks come from their own paginated query, a first page of TASK_PAGE.
    expect(paginatedArgs).toHaveBeenCalledWith(expect.anything(), { teamId: "t1" }, { initialNumItems: TASK_PAGE });
    const board = screen.getByTestId("task-board");
    const col = (c: string) => board.querySelector(`[data-column="${c}"]`) as HTMLElement;
    expect(col("pending")).toHaveTextContent("Pending (1)");
    expect(col("pending")).toHaveTextContent("blocked by #2");
    expect(col("in_progress")).toHaveTextContent("owner executor-1");
    expect(col("in_progress")).toHaveTextContent("Wiring it");
    // Its blocker is done: not shown as blocked.
    expect(col("in_progress").textContent).not.toContain("blocked by");
    expect(col("completed")).toHaveTextContent("Schema");
    expect(board.querySelector('[data-column="other"]')).toBeNull();
  });

  test("more pages: the board says how many it shows and loads the next page on demand", () => {
    const loadMore = vi.fn();
    const { team } = teamDetail();
    const many = { ...team, taskCounts: { pending: 250, inProgress: 40, completed: 10, other: 0 } };
    const view = render(<TeamBoard team={many} tasks={TASKS} status="CanLoadMore" onMore={() => loadMore(TASK_PAGE)} />);
    const more = screen.getByTestId("tasks-more");
    expect(more).toHaveTextContent("Showing 3 of 300 tasks: load more");
    fireEvent.click(within(more).getByRole("button"));
    expect(loadMore).toHaveBeenCalledWith(TASK_PAGE);
    view.rerender(<TeamBoard team={many} tasks={TASKS} status="LoadingMore" onMore={() => loadMore(TASK_PAGE)} />);
    expect(within(screen.getByTestId("tasks-more")).getByRole("button")).toBeDisabled();
    view.rerender(<TeamBoard team={many} tasks={TASKS} status="Exhausted" onMore={() => loadMore(TASK_PAGE)} />);
    expect(screen.queryByTestId("tasks-more")).toBeNull();
  });

  test("a task with a description has a toggle; its text is loaded only when opened", () => {
    const { team } = teamDetail();
    render(<TeamBoard team={team} tasks={TASKS} status="Exhausted" onMore={() => {}} />);
    const cards = screen.getAllByTestId("task");
    const endpoint = cards.find((c) => c.getAttribute("data-task") === "2")!;
    expect(within(endpoint).getByText("description")).toBeTruthy();
    expect(cards.find((c) => c.getAttribute("data-task") === "1")!.textContent).not.toContain("description");
  });

  test("no teams yet", () => {
    render(<TaskBoards teams={[]} />);
    expect(screen.getByRole("status")).toHaveTextContent("No agent team has joined yet.");
  });
});

describe("team roster", () => {
  const ctx = { role: "operator" as const, laptopName: "alpha", laptopOnline: true, laptopMessaging: "operators" as const };

  test("agents with type, model and joined; a departed agent cannot be messaged", () => {
    render(<TeamRoster teams={[teamDetail({ memberRemoved: true })]} ctx={ctx} actions={[]} />);
    const [exec, reviewer] = screen.getAllByTestId("member");
    expect(exec).toHaveTextContent("executor · claude-sonnet-4-5 · joined 5 min ago");
    expect(within(exec!).getByTestId("message-open")).toBeEnabled();
    expect(within(reviewer!).getByTestId("message-open")).toHaveAttribute("title", "reviewer has left the team");
    expect(screen.getByRole("heading", { name: "Team (1)" })).toBeTruthy();
  });

  test("a message goes to the chosen agent of that team", async () => {
    submit.mockReset();
    submit.mockResolvedValue({ actionId: "a9", deduplicated: false });
    render(<TeamRoster teams={[teamDetail()]} ctx={ctx} actions={[]} />);
    fireEvent.click(within(screen.getAllByTestId("member")[0]!).getByTestId("message-open"));
    expect(screen.getByTestId("message-send")).toBeDisabled();
    fireEvent.change(screen.getByTestId("message-text"), { target: { value: "cover the expired-token path" } });
    await act(async () => screen.getByTestId("message-send").click());
    expect(submit.mock.calls[0]![0].action).toEqual({ type: "send_message", teamId: "t1", agentName: "executor-1", text: "cover the expired-token path", via: "inbox" });
    expect(screen.getByTestId("action-tracker")).toHaveTextContent("queued");
  });

  test("the laptop's messaging rule: the message control is off with the reason when this user may not send", () => {
    const buttons = () => screen.getAllByTestId("message-open");
    const view = render(<TeamRoster teams={[teamDetail()]} ctx={{ ...ctx, laptopMessaging: "owners" }} actions={[]} />);
    expect(buttons()[0]).toBeDisabled();
    expect(buttons()[0]).toHaveAttribute("title", "only owners may message agents on alpha; an owner can allow operators on the Fleet page");
    expect(screen.getByTestId("message-rule")).toHaveTextContent("Only owners may message agents on alpha");
    fireEvent.click(buttons()[0]!);
    expect(screen.queryByRole("dialog")).toBeNull();
    view.rerender(<TeamRoster teams={[teamDetail()]} ctx={{ ...ctx, role: "owner", laptopMessaging: "owners" }} actions={[]} />);
    expect(buttons()[0]).toBeEnabled();
    expect(screen.queryByTestId("message-rule")).toBeNull();
    view.rerender(<TeamRoster teams={[teamDetail()]} ctx={{ ...ctx, role: "owner", laptopMessaging: "nobody" }} actions={[]} />);
    expect(buttons()[0]).toHaveAttribute("title", "messages to agents on alpha are turned off; an owner can turn them on on the Fleet page");
  });

  test("an offline laptop: messages are off with the reason", () => {
    render(<TeamRoster teams={[teamDetail()]} ctx={{ ...ctx, laptopOnline: false }} actions={[]} />);
    expect(screen.getAllByTestId("message-open")[0]).toHaveAttribute("title", "alpha is offline; actions would wait and expire");
  });
});

describe("action history", () => {
  test("status as the operator reads it, with the result", () => {
    const a = {
      _id: "a1" as Id<"inboundActions">,
      _creationTime: 0,
      nodeId: "n1" as Id<"nodes">,
      type: "reject_plan" as const,
      payload: { phase: "2", feedback: "smaller steps" },
      status: "completed" as const,
      idempotencyKey: "x".repeat(12),
      submittedBy: "u1",
      submittedByName: "Ada",
      createdAt: Date.now(),
      expiresAt: Date.now() + MIN,
      result: { ok: true, code: "ok", message: "Phase 2 plan rejected", durationMs: 1200 },
    };
    render(<ActionHistory actions={[a, { ...a, _id: "a2" as Id<"inboundActions">, status: "pending", result: undefined }]} canAct />);
    const [done, queued] = screen.getAllByTestId("action");
    expect(done).toHaveTextContent("Reject plan phase 2");
    expect(done).toHaveTextContent("done");
    expect(done).toHaveTextContent("feedback: smaller steps");
    expect(done).toHaveTextContent("Phase 2 plan rejected");
    expect(done).toHaveTextContent("ran 1 s");
    expect(queued).toHaveTextContent("queued");
    expect(within(queued!).getByRole("button", { name: "Cancel" })).toBeTruthy();
    expect(within(done!).queryByRole("button", { name: "Cancel" })).toBeNull();
  });

  test("a message shows the text that was sent, and its outcome once (issue 21)", () => {
    const base = {
      _creationTime: 0,
      nodeId: "n1" as Id<"nodes">,
      type: "send_message" as const,
      status: "failed" as const,
      idempotencyKey: "x".repeat(12),
      submittedBy: "u1",
      createdAt: Date.now(),
      expiresAt: Date.now() + MIN,
      result: { ok: false, code: "not_an_inbox", message: "the inbox file is not an inbox" },
    };
    const long = `${"line one\n"}${"y".repeat(4000)}`;
    render(
      <ActionHistory
        actions={[
          { ...base, _id: "a1" as Id<"inboundActions">, payload: { agentName: "tester", text: "are you  there?\nsecond line", via: "inbox" } },
          { ...base, _id: "a2" as Id<"inboundActions">, status: "completed", result: undefined, payload: { agentName: "tester", text: long, via: "inbox" } },
        ]}
        canAct
      />,
    );
    const [failed, sentLong] = screen.getAllByTestId("action");
    expect(within(failed!).getByTestId("action-text").textContent).toBe("are you  there?\nsecond line");
    expect(failed!.textContent!.split("the inbox file is not an inbox").length - 1).toBe(1);
    expect(within(failed!).queryByTestId("action-result")).toBeNull();
    const text = within(sentLong!).getByTestId("action-text") as HTMLDetailsElement;
    expect(text.open).toBe(false);
    expect(text).toHaveTextContent("Show the whole message (4,009 characters)");
    fireEvent.click(text.querySelector("summary")!);
    expect(text.open).toBe(true);
    expect(text.textContent).toContain(long);
  });

  test("targets", () => {
    expect(actionTarget({ type: "send_message", payload: { agentName: "executor-1" } })).toBe("to executor-1");
    expect(actionTarget({ type: "send_message", payload: { agentName: "executor-1", via: "lead_session" } })).toBe("to executor-1 (tmux session)");
    expect(actionTarget({ type: "pause", payload: { phase: "1.5" } })).toBe("phase 1.5");
  });
});
