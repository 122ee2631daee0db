// The new parts of the detail page pass axe-core's checks (colour contrast aside: happy-dom
// computes no styles). Each part is rendered with realistic data, dialogs open.
import { act, fireEvent, render, screen } from "@testing-library/react";
import axe from "axe-core";
import { beforeEach, describe, expect, test, vi } from "vitest";
import type { DocumentView, Id, MemberDetail, TeamDetail, TeamMessageDoc } from "../../api";
import { Markdown } from "../../components/Markdown";
import { Controls } from "./Controls";
import { Conversations } from "./Conversation";
import { TeamRoster } from "./TeamRoster";

const submit = vi.fn();
const served: { value: unknown } = { value: undefined };
vi.mock("convex/react", async (importOriginal) => ({
  ...(await importOriginal<typeof import("convex/react")>()),
  useMutation: () => submit,
  useQuery: (_fn: unknown, args: unknown) => (args === "skip" ? undefined : served.value),
}));

async function violations(root: Element = document.body): Promise<string[]> {
  const out = await axe.run(root, { rules: { "color-contrast": { enabled: false } } });
  return out.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
}

const ORCH = "o1" as Id<"orchestrations">;
const teamId = "t1" as Id<"teams">;
const ctx = { role: "operator" as const, laptopName: "alpha", laptopOnline: true, laptopMessaging: "operators" as const, actions: [] };

const member = (agentName: string, over: Partial<MemberDetail> = {}): MemberDetail => ({
  _id: `m-${agentName}` as Id<"teamMembers">,
  _creationTime: 0,
  teamId,
  nodeId: "n1" as Id<"nodes">,
  agentId: `${agentName}@t`,
  agentName,
  updatedAt: 0,
  ...over,
});

const team = (members: MemberDetail[]): TeamDetail => ({
  team: {
    _id: teamId,
    _creationTime: 0,
    nodeId: "n1" as Id<"nodes">,
    dirName: "d",
    teamName: "checkout-phase-2",
    phaseNumber: "2",
    orchestrationId: ORCH,
    leadAgentId: "team-lead@t",
    memberCount: members.length,
    taskCounts: { pending: 0, inProgress: 0, completed: 0, other: 0 },
    updatedAt: 0,
  },
  members,
  membersTruncated: false,
  activityPartial: false,
});

beforeEach(() => {
  served.value = undefined;
  submit.mockReset();
});

describe("accessibility (axe-core)", () => {
  test("Markdown with links, an image, a table and a confirmation open", async () => {
    render(
      <main>
        <Markdown
          text={"# Plan\n\nSee [docs](https://example.com) and ![diagram](https://example.com/d.png).\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n<b>raw</b>"}
        />
      </main>,
    );
    expect(await violations()).toEqual([]);
    fireEvent.click(screen.getAllByTestId("md-link")[0]!);
    expect(await violations()).toEqual([]);
  });

  test("the approval screen with its plan", async () => {
    const plan: DocumentView = {
      path: "p.md",
      content: "# Phase 2\n\n1. one\n2. two",
      hash: "a".repeat(64),
      size: 30,
      truncated: true,
      modifiedAt: Date.now() - 60_000,
      syncedAt: Date.now(),
      missing: false,
    };
    served.value = plan;
    const phase = { _id: "p2" as Id<"phases">, _creationTime: 0, orchestrationId: ORCH, phaseNumber: "2", status: "awaiting_approval" as const, updatedAt: 0 };
    render(
      <main>
        <Controls orchestrationId={ORCH} phases={[phase]} attentionPhase={undefined} ctx={ctx} actions={[]} />
      </main>,
    );
    expect(await violations()).toEqual([]);
    fireEvent.click(screen.getByTestId("control-approve_plan"));
    expect(await violations()).toEqual([]);
  });

  test("the roster with every liveness, and the composer", async () => {
    submit.mockResolvedValue({ actionId: "a1", deduplicated: false });
    render(
      <main>
        <TeamRoster
          teams={[
            team([
              member("team-lead", { reach: "lead", liveness: "working" }),
              member("worker", { reach: "pane", liveness: "waiting", livenessReason: "waiting for permission to use Bash", color: "blue" }),
              member("helper", { reach: "in_process", liveness: "idle" }),
              member("done", { liveness: "shut_down" }),
              member("lost", { reach: "pane", liveness: "gone", livenessReason: "its tmux pane %4 is gone" }),
            ]),
          ]}
          ctx={ctx}
          actions={[]}
        />
      </main>,
    );
    expect(await violations()).toEqual([]);
    fireEvent.click(screen.getByRole("button", { name: "Message worker" }));
    fireEvent.change(screen.getByTestId("message-text"), { target: { value: "hello" } });
    expect(await violations()).toEqual([]);
    await act(async () => screen.getByTestId("message-send").click());
    expect(await violations()).toEqual([]);
  });

  test("the conversation", async () => {
    const m = (kind: TeamMessageDoc["kind"], text: string, i: number): TeamMessageDoc => ({
      _id: `x${i}` as Id<"teamMessages">,
      _creationTime: 0,
      teamId,
      nodeId: "n1" as Id<"nodes">,
      key: String(i).padStart(64, "0"),
      recipient: "team-lead",
      sender: "worker",
      kind,
      text,
      truncated: i === 2,
      timestamp: Date.now() - i * 60_000,
      read: i % 2 === 0,
      recordedAt: 0,
    });
    served.value = {
      more: true,
      messages: [
        m("text", "**hi** [x](https://example.com)", 1),
        m("permission_request", JSON.stringify({ type: "permission_request", tool_name: "Bash" }), 2),
        m("unknown", "{}", 3),
      ],
    };
    render(
      <main>
        <Conversations teams={[team([])]} />
      </main>,
    );
    expect(await violations()).toEqual([]);
  });
});
