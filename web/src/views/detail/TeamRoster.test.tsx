// The roster from Claude Code's member fields: working or idle, activity, how each agent runs,
// its colour, plan approval, and whether tina can type a message to it (and why not).
import { fireEvent, render, screen, within } from "@testing-library/react";
import { describe, expect, test, vi } from "vitest";
import type { Id, MemberDetail, TeamDetail } from "../../api";
import { TeamRoster } from "./TeamRoster";

vi.mock("convex/react", async (importOriginal) => ({
  ...(await importOriginal<typeof import("convex/react")>()),
  useMutation: () => vi.fn(),
}));

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

function team(members: MemberDetail[]): TeamDetail {
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
    },
    members,
    tasks: [],
    tasksTruncated: false,
  };
}

const row = (name: string) => screen.getAllByTestId("member").find((el) => el.getAttribute("data-agent") === name)!;
const renderRoster = (...members: MemberDetail[]) => render(<TeamRoster teams={[team(members)]} ctx={ctx} actions={[]} />);

describe("working or idle", () => {
  test("isActive true is working, false is idle, absent says nothing", () => {
    renderRoster(member("busy", { isActive: true }), member("resting", { isActive: false }), member("quiet"));
    expect(within(row("busy")).getByTestId("member-state")).toHaveTextContent("working");
    expect(within(row("resting")).getByTestId("member-state")).toHaveTextContent("idle");
    expect(within(row("quiet")).queryByTestId("member-state")).toBeNull();
    expect(row("quiet").textContent).not.toMatch(/working|idle/);
  });

  test("an agent that left shows no state, even if its last word was working", () => {
    renderRoster(member("gone", { isActive: true, removedAt: 1, activity: { taskId: "9", subject: "gone", status: "in_progress", activeForm: "Writing tests" } }));
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
  test("its own pane: said in words, and the message control opens the dialog", () => {
    renderRoster(member("paned", { reach: "pane" }));
    expect(within(row("paned")).getByTestId("member-runs")).toHaveTextContent("runs in its own tmux pane");
    const button = screen.getByRole("button", { name: "Message paned" });
    expect(button).toBeEnabled();
    expect(within(row("paned")).queryByTestId("message-why")).toBeNull();
    fireEvent.click(button);
    expect(screen.getByRole("dialog")).toHaveTextContent("Message paned");
  });

  const refused: [NonNullable<MemberDetail["reach"]>, string, string | null][] = [
    ["in_process", "runs inside the lead's process: message the lead", "runs in-process, inside the lead"],
    ["lead", "the lead has no pane tina can type into yet", "the lead itself"],
    ["none", "no known way to reach this agent", null],
  ];
  test.each(refused)("%s: the control is off and says why in words", (reach, reason, runs) => {
    renderRoster(member("x", { reach }));
    const button = screen.getByRole("button", { name: "Message x" });
    expect(button).toBeDisabled();
    expect(button).toHaveAttribute("title", reason);
    const why = within(row("x")).getByTestId("message-why");
    expect(why).toHaveTextContent(`Can't message: ${reason}`);
    expect(button).toHaveAttribute("aria-describedby", why.id);
    if (runs === null) expect(within(row("x")).queryByTestId("member-runs")).toBeNull();
    else expect(within(row("x")).getByTestId("member-runs")).toHaveTextContent(runs);
    fireEvent.click(button);
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  test("an older daemon that does not say: messaging as before, and no claim about how it runs", () => {
    renderRoster(member("old"));
    expect(screen.getByRole("button", { name: "Message old" })).toBeEnabled();
    expect(within(row("old")).queryByTestId("message-why")).toBeNull();
    expect(within(row("old")).queryByTestId("member-runs")).toBeNull();
  });

  test("an agent that left is refused because it left, not for its reach", () => {
    renderRoster(member("gone", { reach: "in_process", removedAt: 1 }));
    expect(screen.getByRole("button", { name: "Message gone" })).toHaveAttribute("title", "gone has left the team");
    expect(within(row("gone")).queryByTestId("message-why")).toBeNull();
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
