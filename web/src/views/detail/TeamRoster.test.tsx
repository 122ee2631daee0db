// The roster from Claude Code's member fields: working or idle, activity, how each agent runs,
// its colour, plan approval, and whether tina can type a message to it (and why not).
import { act, fireEvent, render, screen, within } from "@testing-library/react";
import { beforeEach, describe, expect, test, vi } from "vitest";
import type { Id, ListedAction, MemberDetail, TeamDetail } from "../../api";
import { TeamRoster } from "./TeamRoster";

const submit = vi.fn();
vi.mock("convex/react", async (importOriginal) => ({
  ...(await importOriginal<typeof import("convex/react")>()),
  useMutation: () => submit,
}));

beforeEach(() => {
  submit.mockReset();
});

const ctx = { role: "operator" as const, laptopName: "alpha", laptopOnline: true, laptopMessaging: "operators" as const };
const teamId = "t1" as Id<"teams">;

function member(agentName: string, over: Partial<MemberDetail> = {}): MemberDetail {
  return {
    _id: `m-${agentName}` as Id<"teamMembers">,
    _creationTime: 0,
    teamId,
    nodeId: "n1" as Id<"nodes">,
    agentId: `${agentName}@t`,
    agentName,
    agentType: "executor",
    updatedAt: 0,
    ...over,
  };
}

function team(members: MemberDetail[], over: Partial<TeamDetail["team"]> = {}): TeamDetail {
  return {
    team: {
      _id: teamId,
      _creationTime: 0,
      nodeId: "n1" as Id<"nodes">,
      dirName: "checkout-phase-2",
      teamName: "checkout-phase-2",
      phaseNumber: "2",
      memberCount: members.length,
      taskCounts: { pending: 0, inProgress: 0, completed: 0, other: 0 },
      updatedAt: 0,
      ...over,
    },
    members,
    membersTruncated: false,
    activityPartial: false,
  };
}

const row = (name: string) => screen.getAllByTestId("member").find((el) => el.getAttribute("data-agent") === name)!;
const renderRoster = (...members: MemberDetail[]) => render(<TeamRoster teams={[team(members)]} ctx={ctx} actions={[]} />);

test("an older daemon's isActive still reads as working or idle", () => {
  renderRoster(member("busy", { isActive: true }), member("resting", { isActive: false }));
  expect(within(row("busy")).getByTestId("member-state")).toHaveTextContent("working");
  expect(within(row("resting")).getByTestId("member-state")).toHaveTextContent("idle");
  expect(within(row("busy")).queryByTestId("member-liveness-reason")).toBeNull();
});

describe("working or idle", () => {
  test("isActive true is working, false is idle, absent says nothing", () => {
    renderRoster(member("busy", { isActive: true }), member("resting", { isActive: false }), member("quiet"));
    expect(within(row("busy")).getByTestId("member-state")).toHaveTextContent("working");
    expect(within(row("resting")).getByTestId("member-state")).toHaveTextContent("idle");
    expect(within(row("quiet")).queryByTestId("member-state")).toBeNull();
    expect(row("quiet").textContent).not.toMatch(/working|idle/);
  });

  test("an agent that left shows no state, even if its last word was working", () => {
    renderRoster(
      member("gone", { isActive: true, removedAt: 1, activity: { taskId: "9", subject: "gone", status: "in_progress", activeForm: "Writing tests" } }),
    );
    expect(within(row("gone")).queryByTestId("member-state")).toBeNull();
    expect(within(row("gone")).queryByTestId("member-activity")).toBeNull();
    expect(row("gone")).toHaveTextContent("left");
  });
});

describe("activity", () => {
  test("the tracker's activeForm, else its subject; a subject that is only the agent's name adds nothing", () => {
    renderRoster(
      member("a", { activity: { taskId: "7", subject: "a", status: "in_progress", activeForm: "Wiring the login endpoint" } }),
      member("b", { activity: { taskId: "8", subject: "Review the auth flow", status: "in_progress" } }),
      member("c", { activity: { taskId: "9", subject: "c", status: "in_progress" } }),
      member("d"),
    );
    expect(within(row("a")).getByTestId("member-activity")).toHaveTextContent("Now: Wiring the login endpoint");
    expect(within(row("b")).getByTestId("member-activity")).toHaveTextContent("Now: Review the auth flow");
    expect(within(row("c")).queryByTestId("member-activity")).toBeNull();
    expect(within(row("d")).queryByTestId("member-activity")).toBeNull();
  });
});

describe("how it runs, and the message control", () => {
  test("its own pane: said in words, and the message control opens the composer", () => {
    renderRoster(member("paned", { reach: "pane" }));
    expect(within(row("paned")).getByTestId("member-runs")).toHaveTextContent("runs in its own tmux pane");
    const button = screen.getByRole("button", { name: "Message paned" });
    expect(button).toBeEnabled();
    expect(within(row("paned")).queryByTestId("message-why")).toBeNull();
    fireEvent.click(button);
    expect(screen.getByRole("dialog")).toHaveTextContent("Message paned");
  });

  const inboxOnly: [NonNullable<MemberDetail["reach"]> | undefined, string | null][] = [
    ["in_process", "runs in-process, inside the lead"],
    ["none", null],
    [undefined, null],
  ];
  test.each(inboxOnly)("%s: reachable through its inbox", (reach, runs) => {
    renderRoster(member("x", reach === undefined ? {} : { reach }));
    const button = screen.getByRole("button", { name: "Message x" });
    expect(button).toBeEnabled();
    expect(within(row("x")).queryByTestId("message-why")).toBeNull();
    if (runs === null) expect(within(row("x")).queryByTestId("member-runs")).toBeNull();
    else expect(within(row("x")).getByTestId("member-runs")).toHaveTextContent(runs);
    fireEvent.click(button);
    expect(
      within(screen.getByRole("dialog"))
        .getAllByRole("radio")
        .map((r) => r.getAttribute("value")),
    ).toEqual(["inbox"]);
  });

  test.each([
    ["shut_down" as const, undefined, "x has shut down"],
    ["gone" as const, "its tmux pane %4 is gone", "x is gone: its tmux pane %4 is gone"],
  ])("%s: the control is off and says why in words", (liveness, livenessReason, reason) => {
    renderRoster(member("x", { reach: "pane", liveness, ...(livenessReason ? { livenessReason } : {}) }));
    const button = screen.getByRole("button", { name: "Message x" });
    expect(button).toBeDisabled();
    expect(button).toHaveAttribute("title", reason);
    const why = within(row("x")).getByTestId("message-why");
    expect(why).toHaveTextContent(`Can't message: ${reason}`);
    expect(button).toHaveAttribute("aria-describedby", why.id);
    fireEvent.click(button);
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  test("an agent that left is refused because it left", () => {
    renderRoster(member("gone", { reach: "in_process", removedAt: 1, liveness: "gone" }));
    expect(screen.getByRole("button", { name: "Message gone" })).toHaveAttribute("title", "gone has left the team");
    expect(within(row("gone")).queryByTestId("message-why")).toBeNull();
  });
});

describe("liveness in words", () => {
  test.each([
    ["working" as const, "working"],
    ["idle" as const, "idle"],
    ["waiting" as const, "waiting for permission"],
    ["shut_down" as const, "shut down"],
    ["gone" as const, "gone"],
  ])("%s", (liveness, words) => {
    renderRoster(member("a", { liveness, livenessReason: "because", isActive: true }));
    expect(within(row("a")).getByTestId("member-state")).toHaveTextContent(words);
    expect(within(row("a")).getByTestId("member-liveness-reason")).toHaveTextContent("because");
    expect(row("a")).toHaveAttribute("data-liveness", liveness);
  });

  test("waiting for permission names the tool", () => {
    renderRoster(member("w", { liveness: "waiting", livenessReason: "waiting for permission to use Bash" }));
    expect(row("w")).toHaveTextContent("waiting for permission");
    expect(within(row("w")).getByTestId("member-liveness-reason")).toHaveTextContent("waiting for permission to use Bash");
  });
});

describe("colour and plan approval", () => {
  test("a known colour is a decorative swatch beside the readable name; the state is still in words", () => {
    renderRoster(member("blue-one", { color: "blue", isActive: false }), member("odd", { color: "url(x)" }));
    const swatch = within(row("blue-one")).getByTestId("member-color");
    expect(swatch).toHaveAttribute("aria-hidden", "true");
    expect(swatch).toHaveAttribute("data-color", "blue");
    expect(swatch.textContent).toBe("");
    expect(within(row("blue-one")).getByText("blue-one").tagName).toBe("STRONG");
    expect(within(row("blue-one")).getByTestId("member-state")).toHaveTextContent("idle");
    // An unknown value is not handed to CSS.
    expect(within(row("odd")).queryByTestId("member-color")).toBeNull();
  });

  test("plan approval required only when Claude Code says so", () => {
    renderRoster(member("careful", { planModeRequired: true }), member("free", { planModeRequired: false }), member("unsaid"));
    expect(within(row("careful")).getByTestId("member-plan")).toHaveTextContent("plan approval required");
    expect(within(row("free")).queryByTestId("member-plan")).toBeNull();
    expect(within(row("unsaid")).queryByTestId("member-plan")).toBeNull();
  });
});

describe("the composer", () => {
  const phaseTeam = (members: MemberDetail[]) => team(members, { orchestrationId: "o1" as Id<"orchestrations">, leadAgentId: "team-lead@t" });
  const open = (name: string) => fireEvent.click(screen.getByRole("button", { name: `Message ${name}` }));
  const type = (text: string) => fireEvent.change(screen.getByTestId("message-text"), { target: { value: text } });
  const sent = (status: ListedAction["status"], over: Partial<ListedAction> = {}): ListedAction => ({
    _id: "a1" as Id<"inboundActions">,
    _creationTime: 0,
    nodeId: "n1" as Id<"nodes">,
    teamId,
    type: "send_message",
    payload: { feature: "f", agentName: "worker", text: "hello", via: "inbox" },
    status,
    idempotencyKey: "k".repeat(12),
    submittedBy: "u",
    createdAt: 0,
    expiresAt: 1,
    ...over,
  });

  test("offers each agent only its routes, default first, each with one line on what it does", () => {
    render(
      <TeamRoster
        teams={[phaseTeam([member("team-lead", { agentId: "team-lead@t", reach: "lead" }), member("worker", { reach: "pane" })])]}
        ctx={ctx}
        actions={[]}
      />,
    );
    open("team-lead");
    let routes = within(screen.getByTestId("message-routes"));
    expect(routes.getAllByRole("radio").map((r) => r.getAttribute("value"))).toEqual(["lead_session", "inbox"]);
    expect((routes.getByTestId("route-lead_session") as HTMLInputElement).checked).toBe(true);
    expect(screen.getByTestId("message-routes")).toHaveTextContent("Tmux session");
    expect(screen.getByTestId("message-routes")).toHaveTextContent("Typed into the phase's tmux session, where team-lead runs");
    expect(screen.getByTestId("message-routes")).toHaveTextContent("Written to team-lead's team inbox");
    fireEvent.click(screen.getByText("Cancel"));
    open("worker");
    routes = within(screen.getByTestId("message-routes"));
    expect(routes.getAllByRole("radio").map((r) => r.getAttribute("value"))).toEqual(["pane", "inbox"]);
    expect(screen.getByTestId("message-routes")).toHaveTextContent("Its pane");
    expect(screen.getByTestId("message-routes")).toHaveTextContent("Typed into worker's own tmux pane");
  });

  test("sends through the chosen route", async () => {
    submit.mockResolvedValue({ actionId: "a1", deduplicated: false });
    render(<TeamRoster teams={[phaseTeam([member("worker", { reach: "pane" })])]} ctx={ctx} actions={[]} />);
    open("worker");
    type("please rebase");
    fireEvent.click(screen.getByTestId("route-inbox"));
    await act(async () => screen.getByTestId("message-send").click());
    expect(submit.mock.calls[0]![0].action).toEqual({ type: "send_message", teamId, agentName: "worker", text: "please rebase", via: "inbox" });
  });

  test("a character counter with the 4,000 limit; over it, Send says why", () => {
    renderRoster(member("worker"));
    open("worker");
    expect(screen.getByTestId("message-count")).toHaveTextContent("0 / 4,000 characters");
    type("hello");
    expect(screen.getByTestId("message-count")).toHaveTextContent("5 / 4,000 characters");
    expect(screen.getByTestId("message-text")).toHaveAttribute("aria-describedby", screen.getByTestId("message-count").id);
    type("x".repeat(4001));
    expect(screen.getByTestId("message-count")).toHaveTextContent("4,001 / 4,000 characters");
    expect(screen.getByTestId("message-send")).toBeDisabled();
    expect(screen.getByTestId("message-send")).toHaveAttribute("title", "at most 4000 characters (4001 now)");
  });

  test("the delivery state follows the action: queued, sending, delivered, read by the agent", async () => {
    submit.mockResolvedValue({ actionId: "a1", deduplicated: false });
    const teams = [phaseTeam([member("worker")])];
    const view = render(<TeamRoster teams={teams} ctx={ctx} actions={[]} />);
    open("worker");
    type("hello");
    await act(async () => screen.getByTestId("message-send").click());
    const state = () => screen.getByTestId("action-tracker");
    expect(state()).toHaveTextContent("Message to worker: queued");
    expect(screen.queryByTestId("message-text")).toBeNull();
    view.rerender(<TeamRoster teams={teams} ctx={ctx} actions={[sent("running")]} />);
    expect(state()).toHaveTextContent("sending");
    const ok = { ok: true, code: "ok", message: "written to worker's inbox", via: "inbox" as const, messageKey: "k".repeat(64) };
    view.rerender(<TeamRoster teams={teams} ctx={ctx} actions={[sent("completed", { result: ok })]} />);
    expect(state()).toHaveTextContent("delivered: written to the inbox");
    view.rerender(<TeamRoster teams={teams} ctx={ctx} actions={[{ ...sent("completed", { result: ok }), read: true }]} />);
    expect(state()).toHaveTextContent("read by worker");
    expect(state()).toHaveAttribute("data-step", "read");
  });

  test("after a failure the text stays and Retry sends it again", async () => {
    submit.mockResolvedValueOnce({ actionId: "a1", deduplicated: false }).mockResolvedValueOnce({ actionId: "a2", deduplicated: false });
    const teams = [phaseTeam([member("worker")])];
    const view = render(<TeamRoster teams={teams} ctx={ctx} actions={[]} />);
    open("worker");
    type("hello");
    await act(async () => screen.getByTestId("message-send").click());
    const failed = sent("failed", { result: { ok: false, code: "inbox_locked", message: "worker's inbox stayed locked for 3 s" } });
    view.rerender(<TeamRoster teams={teams} ctx={ctx} actions={[failed]} />);
    expect(screen.getByTestId("action-tracker")).toHaveTextContent("failed: worker's inbox stayed locked for 3 s");
    expect(screen.getByRole("alert")).toHaveTextContent("failed");
    expect((screen.getByTestId("message-text") as HTMLTextAreaElement).value).toBe("hello");
    expect(screen.getByTestId("message-send")).toHaveTextContent("Retry");
    await act(async () => screen.getByTestId("message-send").click());
    expect(submit).toHaveBeenCalledTimes(2);
    expect(submit.mock.calls[1]![0].action.text).toBe("hello");
    expect(submit.mock.calls[1]![0].idempotencyKey).not.toBe(submit.mock.calls[0]![0].idempotencyKey);
  });

  test("what was typed survives closing the composer, after a failure too; a delivered message's text does not (issue 21)", async () => {
    submit.mockResolvedValueOnce({ actionId: "a1", deduplicated: false });
    const teams = [phaseTeam([member("worker")])];
    const view = render(<TeamRoster teams={teams} ctx={ctx} actions={[]} />);
    open("worker");
    type("a long thought");
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(screen.queryByRole("dialog")).toBeNull();
    open("worker");
    expect((screen.getByTestId("message-text") as HTMLTextAreaElement).value).toBe("a long thought");
    await act(async () => screen.getByTestId("message-send").click());
    view.rerender(<TeamRoster teams={teams} ctx={ctx} actions={[sent("failed", { result: { ok: false, code: "inbox_locked", message: "locked" } })]} />);
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    open("worker");
    expect((screen.getByTestId("message-text") as HTMLTextAreaElement).value).toBe("a long thought");
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    // Delivered, then closed: the next message starts empty.
    submit.mockResolvedValueOnce({ actionId: "a1", deduplicated: false });
    open("worker");
    await act(async () => screen.getByTestId("message-send").click());
    view.rerender(<TeamRoster teams={teams} ctx={ctx} actions={[sent("completed", { result: { ok: true, code: "ok", message: "written", via: "inbox" as const, messageKey: "k".repeat(64) } })]} />);
    fireEvent.click(screen.getByRole("button", { name: "Close" }));
    open("worker");
    expect((screen.getByTestId("message-text") as HTMLTextAreaElement).value).toBe("");
  });

  test("a server refusal is shown in words and the text stays", async () => {
    const { ConvexError } = await import("convex/values");
    submit.mockRejectedValue(
      new ConvexError({ code: "invalid_argument", message: "worker cannot be reached through pane: it has no tmux pane tina knows of" }),
    );
    renderRoster(member("worker"));
    open("worker");
    type("hello");
    await act(async () => screen.getByTestId("message-send").click());
    expect(screen.getByRole("alert")).toHaveTextContent("worker cannot be reached through pane");
    expect((screen.getByTestId("message-text") as HTMLTextAreaElement).value).toBe("hello");
  });

  test("a member that shuts down while the composer is open says so, and Send is off", () => {
    const view = render(<TeamRoster teams={[phaseTeam([member("worker")])]} ctx={ctx} actions={[]} />);
    open("worker");
    type("hello");
    view.rerender(<TeamRoster teams={[phaseTeam([member("worker", { liveness: "shut_down" })])]} ctx={ctx} actions={[]} />);
    expect(screen.getByTestId("message-no-route")).toHaveTextContent("Can't message: worker has shut down");
    expect(screen.getByTestId("message-send")).toBeDisabled();
  });
});
