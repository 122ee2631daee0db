// A team's conversation: oldest first, sender → recipient, kinds in words, times, read markers.
import { act, fireEvent, render, screen, within } from "@testing-library/react";
import { beforeEach, describe, expect, test, vi } from "vitest";
import type { Id, TeamDetail, TeamMessageDoc } from "../../api";
import { Conversations, PAGE } from "./Conversation";

type Page = { messages: TeamMessageDoc[]; more: boolean } | undefined;
const served: { pages: Record<number, Page>; asked: { teamId: string; limit: number }[] } = { pages: {}, asked: [] };
vi.mock("convex/react", async (importOriginal) => ({
  ...(await importOriginal<typeof import("convex/react")>()),
  useQuery: (_fn: unknown, args: { teamId: string; limit: number }) => {
    served.asked.push(args);
    return served.pages[args.limit];
  },
}));

const teamId = "t1" as Id<"teams">;
const MIN = 60_000;
let n = 0;

function msg(kind: TeamMessageDoc["kind"], over: Partial<TeamMessageDoc> = {}): TeamMessageDoc {
  n += 1;
  return {
    _id: `msg${n}` as Id<"teamMessages">,
    _creationTime: 0,
    teamId,
    nodeId: "n1" as Id<"nodes">,
    key: String(n).padStart(64, "0"),
    recipient: "team-lead",
    sender: "worker",
    kind,
    text: "",
    truncated: false,
    timestamp: Date.now() - 10 * MIN,
    read: true,
    recordedAt: 0,
    ...over,
  };
}

const team = (): TeamDetail => ({
  team: {
    _id: teamId,
    _creationTime: 0,
    nodeId: "n1" as Id<"nodes">,
    dirName: "checkout-phase-2",
    teamName: "checkout-phase-2",
    phaseNumber: "2",
    memberCount: 2,
    taskCounts: { pending: 0, inProgress: 0, completed: 0, other: 0 },
    updatedAt: 0,
  },
  members: [],
  membersTruncated: false,
  activityPartial: false,
});

beforeEach(() => {
  served.pages = {};
  served.asked = [];
});

describe("the team's conversation", () => {
  test("oldest first, sender → recipient, the kind in words, read or unread", () => {
    served.pages[PAGE] = {
      more: false,
      messages: [
        msg("task_assignment", { sender: "team-lead", recipient: "worker", detail: JSON.stringify({ taskId: "3", subject: "Write the endpoint" }) }),
        msg("text", { text: "Done: **endpoint** is in. <script>alert(1)</script>", read: false }),
        msg("permission_request", { detail: JSON.stringify({ tool_name: "Bash", description: "npm test" }) }),
        msg("idle_notification", { text: JSON.stringify({ type: "idle_notification", idleReason: "available" }) }),
        msg("shutdown_request", { sender: "team-lead", recipient: "worker" }),
        msg("shutdown_response", { approved: true }),
        msg("plan_approval_request", { text: JSON.stringify({ type: "plan_approval_request", planContent: "## My plan\n\n1. step" }) }),
        msg("plan_approval_response", { sender: "team-lead", recipient: "worker", approved: true }),
        msg("permission_response", { sender: "team-lead", recipient: "worker", approved: false }),
        msg("unknown", { text: JSON.stringify({ type: "mode_change", to: "plan" }) }),
      ],
    };
    render(<Conversations teams={[team()]} />);
    const items = screen.getAllByTestId("team-message");
    expect(items.map((i) => i.getAttribute("data-kind"))).toEqual([
      "task_assignment",
      "text",
      "permission_request",
      "idle_notification",
      "shutdown_request",
      "shutdown_response",
      "plan_approval_request",
      "plan_approval_response",
      "permission_response",
      "unknown",
    ]);
    expect(items[0]).toHaveTextContent("team-lead → worker");
    expect(items[0]).toHaveTextContent("task assignment");
    expect(items[0]).toHaveTextContent("task #3: Write the endpoint");
    expect(items[1]!.querySelector("strong")).toHaveTextContent("worker");
    expect(within(items[1]!).getByTestId("markdown").querySelector("strong")).toHaveTextContent("endpoint");
    expect(items[1]!.querySelector("script")).toBeNull();
    expect(items[1]).toHaveTextContent("<script>alert(1)</script>");
    expect(within(items[1]!).getByTestId("message-read")).toHaveTextContent("unread");
    expect(within(items[0]!).getByTestId("message-read")).toHaveTextContent("read");
    expect(items[2]).toHaveTextContent("permission request");
    expect(items[2]).toHaveTextContent("to use Bash: npm test");
    expect(items[3]).toHaveTextContent("idle notification");
    expect(items[4]).toHaveTextContent("shutdown request");
    expect(items[5]).toHaveTextContent("shutdown response");
    expect(items[5]).toHaveTextContent("approved");
    expect(items[6]).toHaveTextContent("plan approval request");
    expect(within(items[6]!).getByRole("heading", { name: "My plan" })).toBeTruthy();
    expect(items[7]).toHaveTextContent("plan approval response");
    expect(items[8]).toHaveTextContent("permission response");
    expect(items[8]).toHaveTextContent("denied");
    expect(items[9]).toHaveTextContent("mode change");
    expect(items[9]).toHaveTextContent('{"type":"mode_change","to":"plan"}');
  });

  test("times are relative; a tap shows the exact time", () => {
    const at = Date.UTC(2026, 10, 21, 14, 3, 9);
    vi.useFakeTimers({ now: at + 5 * MIN, toFake: ["Date"] });
    try {
      served.pages[PAGE] = { more: false, messages: [msg("text", { text: "hi", timestamp: at })] };
      render(<Conversations teams={[team()]} />);
      const time = screen.getByTestId("message-time");
      expect(time).toHaveTextContent("5 min ago");
      fireEvent.click(time);
      expect(time).toHaveTextContent("21 Nov 2026");
      expect(time.textContent).toMatch(/\d\d:03:09/);
      fireEvent.click(time);
      expect(time).toHaveTextContent("5 min ago");
    } finally {
      vi.useRealTimers();
    }
  });

  test("'show earlier' when there is more; the shown page stays while the longer one loads", async () => {
    const first = { more: true, messages: [msg("text", { text: "newest fifty" })] };
    served.pages[PAGE] = first;
    const view = render(<Conversations teams={[team()]} />);
    expect(served.asked.at(-1)).toEqual({ teamId, limit: PAGE });
    await act(async () => screen.getByTestId("show-earlier").click());
    expect(served.asked.at(-1)).toEqual({ teamId, limit: 2 * PAGE });
    expect(screen.getByText("newest fifty")).toBeTruthy();
    expect(screen.getByTestId("show-earlier")).toBeDisabled();
    served.pages[2 * PAGE] = { more: false, messages: [msg("text", { text: "older one" }), ...first.messages] };
    view.rerender(<Conversations teams={[team()]} />);
    expect(screen.getAllByTestId("team-message")).toHaveLength(2);
    expect(screen.queryByTestId("show-earlier")).toBeNull();
  });

  test("no messages yet; loading", () => {
    served.pages[PAGE] = { more: false, messages: [] };
    render(<Conversations teams={[team()]} />);
    expect(screen.getByRole("status")).toHaveTextContent("No messages between these agents yet.");
  });
});
