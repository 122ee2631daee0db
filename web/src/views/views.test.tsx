// The list and fleet views and the sign-in form, from the data they receive.
import { act, fireEvent, render, screen } from "@testing-library/react";
import { beforeEach, describe, expect, test, vi } from "vitest";
import type { Id, NodeView, OrchestrationSummary } from "../api";
import { orchestrationSummary } from "./testFixtures";
import { NodeCard } from "./FleetView";
import { OrchestrationRow } from "./OrchestrationsView";
import { SignIn, signInFormProblem } from "./SignIn";

const signIn = vi.fn();
vi.mock("@convex-dev/auth/react", async (importOriginal) => ({
  ...(await importOriginal<typeof import("@convex-dev/auth/react")>()),
  useAuthActions: () => ({ signIn, signOut: vi.fn() }),
}));
const mutate = vi.fn();
vi.mock("convex/react", async (importOriginal) => ({
  ...(await importOriginal<typeof import("convex/react")>()),
  useQuery: () => [],
  useMutation: () => mutate,
}));

const MIN = 60_000;

const summary = (over: Partial<OrchestrationSummary> = {}): OrchestrationSummary => orchestrationSummary(over);

describe("orchestration row", () => {
  test("feature, laptop, branch, status, phase of total, elapsed; links to the detail", () => {
    render(<OrchestrationRow o={summary()} />);
    const row = screen.getByTestId("orchestration-row");
    expect(row).toHaveTextContent("checkout-flow");
    expect(row).toHaveTextContent("alpha");
    expect(row).toHaveTextContent("alpha · online");
    expect(row).toHaveTextContent("tina/checkout-flow");
    expect(row).toHaveTextContent("phase 2 of 4");
    expect(row).toHaveTextContent("1 h 05 min");
    expect(row).toHaveTextContent("Executing");
    expect(row).toHaveAttribute("href", "#/o/o1");
    expect(screen.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "25");
  });

  test("its agents' liveness counted in words", () => {
    render(<OrchestrationRow o={summary()} extra={{ agents: { working: 2, idle: 0, waiting: 1, shutDown: 0, gone: 0 }, phases: [] }} />);
    expect(screen.getByTestId("agent-counts")).toHaveTextContent("Agents: 2 working · 1 waiting for permission");
  });

  test("no counts from a daemon that does not report liveness", () => {
    render(<OrchestrationRow o={summary()} />);
    expect(screen.queryByTestId("agent-counts")).toBeNull();
  });

  test("why it needs attention, and how long a finished one took", () => {
    render(<OrchestrationRow o={summary({ status: "blocked", attention: "blocked", attentionPhase: "2", attentionReason: "tests failed", nodeOnline: false })} />);
    expect(screen.getByTestId("orchestration-row")).toHaveTextContent("Phase 2: tests failed");
    expect(screen.getByTestId("orchestration-row")).toHaveTextContent("alpha · offline");
  });

  test("a finished orchestration shows how long it took", () => {
    const startedAt = Date.now() - 3 * 60 * MIN;
    render(<OrchestrationRow o={summary({ status: "complete", startedAt, completedAt: startedAt + 90 * MIN, phasesCompleted: 4 })} />);
    expect(screen.getByTestId("orchestration-row")).toHaveTextContent("took 1 h 30 min");
    expect(screen.getByTestId("orchestration-row")).toHaveTextContent("4 of 4 phases");
  });
});

describe("fleet", () => {
  const node = (over: Partial<NodeView> = {}): NodeView => ({
    _id: "n1" as Id<"nodes">,
    name: "alpha",
    os: "darwin",
    online: true,
    lastHeartbeat: Date.now() - 12_000,
    enrolledAt: 0,
    revoked: false,
    messaging: "owners",
    health: {
      daemonVersion: "0.4.1",
      startedAt: Date.now() - 7_260_000,
      uptimeSecs: 60,
      outboxDepth: 2,
      lastSyncAt: Date.now() - 14_500,
      connection: "connected",
      actors: [{ id: "syncer", state: "running", restarts: 1 }],
    },
    ...over,
  });

  test("a laptop card: presence, last seen, version, uptime from its start, its backlog", () => {
    render(<NodeCard node={node()} />);
    const card = screen.getByTestId("node-card");
    expect(card).toHaveTextContent("online");
    expect(card).toHaveTextContent("Last seennow");
    expect(card).toHaveTextContent("Daemonv0.4.1");
    // Counted from the daemon's start, not the uptime it last reported (heartbeats do not store it).
    expect(card).toHaveTextContent("Uptime2 h 01 min");
    // A daemon without `oldestUnsyncedAt`: the count and its last sync (FleetView.test.tsx: the backlog).
    expect(card).toHaveTextContent("Sync2 observations waiting (last sync 14 s ago)");
    expect(card).toHaveTextContent("Not synced: 2 observations waiting");
    expect(card).toHaveTextContent("1 actors, 1 restarts");
  });

  test("each laptop shows who may message its agents; only the owner can change it", () => {
    render(<NodeCard node={node({ messaging: "operators" })} />);
    expect(screen.getByTestId("node-messaging")).toHaveTextContent("Owners and operators");
    expect(screen.queryByRole("combobox")).toBeNull();
  });

  test("the owner changes the rule: sent once with the laptop and the client; a refusal is shown", async () => {
    mutate.mockReset();
    mutate.mockResolvedValue({ changed: true });
    const view = render(<NodeCard node={node()} canSetMessaging />);
    const select = screen.getByRole("combobox", { name: "Who may message agents on alpha" });
    expect((select as HTMLSelectElement).value).toBe("owners");
    expect([...(select as HTMLSelectElement).options].map((o) => o.textContent)).toEqual(["Owners only", "Owners and operators", "Nobody"]);
    await act(async () => fireEvent.change(select, { target: { value: "operators" } }));
    expect(mutate).toHaveBeenCalledTimes(1);
    expect(mutate.mock.calls[0]![0]).toMatchObject({ nodeId: "n1", messaging: "operators", client: expect.stringMatching(/^tina-web/) });
    const { ConvexError } = await import("convex/values");
    mutate.mockImplementation(async () => {
      throw new ConvexError({ code: "forbidden", message: "this needs the owner role; you are a operator" });
    });
    view.rerender(<NodeCard node={node({ messaging: "operators" })} canSetMessaging />);
    await act(async () => fireEvent.change(screen.getByRole("combobox"), { target: { value: "nobody" } }));
    expect(screen.getByRole("alert")).toHaveTextContent("this needs the owner role");
  });

  test("offline and never-connected laptops", () => {
    render(<NodeCard node={node({ online: false })} />);
    expect(screen.getByTestId("node-card")).toHaveTextContent("offline");
    expect(screen.getByTestId("node-card")).toHaveTextContent("Last seen12 s ago");
    expect(screen.getByTestId("node-card")).toHaveTextContent("Uptime–");
    render(<NodeCard node={node({ _id: "n2" as Id<"nodes">, name: "new", online: false, lastHeartbeat: 0, health: undefined })} />);
    expect(screen.getAllByTestId("node-card")[1]).toHaveTextContent("never connected");
    expect(screen.getAllByTestId("node-card")[1]).toHaveTextContent("Last seennever");
  });
});

describe("sign-in", () => {
  beforeEach(() => {
    signIn.mockReset();
  });

  test("form problems before anything is sent", () => {
    expect(signInFormProblem("signIn", "nope", "x")).toBe("Enter your email address.");
    expect(signInFormProblem("signUp", "a@b.co", "short")).toBe("Choose a password of at least 10 characters.");
    expect(signInFormProblem("signIn", "a@b.co", "")).toBe("Enter your password.");
    expect(signInFormProblem("signIn", "a@b.co", "short")).toBeNull();
  });

  test("creating an account sends the invite code, and a refusal is shown", async () => {
    signIn.mockImplementation(async () => {
      throw new Error("[Request ID: 1] Server Error\nUncaught Error: InvalidSecret");
    });
    render(<SignIn />);
    fireEvent.click(screen.getByRole("button", { name: "New here? Create an account" }));
    fireEvent.change(screen.getByLabelText("Email"), { target: { value: " Ada@Example.com " } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "a long enough password" } });
    fireEvent.change(screen.getByLabelText(/Invite code/), { target: { value: "ABCD-EFGH" } });
    await act(async () => fireEvent.submit(screen.getByRole("form")));
    expect(signIn).toHaveBeenCalledWith("password", { email: "Ada@Example.com", password: "a long enough password", flow: "signUp", inviteCode: "ABCD-EFGH" });
    expect(screen.getByRole("alert")).toHaveTextContent("Wrong email or password.");
  });

  test("a bad form is not sent", async () => {
    render(<SignIn />);
    await act(async () => fireEvent.submit(screen.getByRole("form")));
    expect(signIn).not.toHaveBeenCalled();
    expect(screen.getByRole("alert")).toHaveTextContent("Enter your email address.");
  });
});
