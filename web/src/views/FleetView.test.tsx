// A laptop's card in the fleet: its backlog in words, its orchestrations, a dangerous, confirmed Revoke.
import { act, fireEvent, render, screen, within } from "@testing-library/react";
import { beforeEach, describe, expect, test, vi } from "vitest";
import type { Id, NodeView } from "../api";
import { NodeCard } from "./FleetView";

const revoke = vi.fn();
const counts = { current: { active: 2, all: 14, cap: 100 } as unknown };
vi.mock("convex/react", async (importOriginal) => ({
  ...(await importOriginal<typeof import("convex/react")>()),
  useQuery: (fn: unknown) => {
    const name = String((fn as Record<symbol, unknown>)[Symbol.for("functionName")] ?? "");
    return name === "nodes:orchestrationCounts" ? counts.current : [];
  },
  useMutation: () => revoke,
}));

const node = (over: Partial<NodeView> = {}, health: Partial<NonNullable<NodeView["health"]>> = {}): NodeView => ({
  _id: "n1" as Id<"nodes">,
  name: "alpha",
  os: "linux",
  online: true,
  lastHeartbeat: Date.now() - 5_000,
  enrolledAt: 0,
  revoked: false,
  messaging: "owners",
  health: { daemonVersion: "0.4.1", startedAt: Date.now() - 60_000, uptimeSecs: 60, outboxDepth: 0, actors: [], ...health },
  ...over,
});

beforeEach(() => {
  revoke.mockReset();
  counts.current = { active: 2, all: 14, cap: 100 };
});

describe("a laptop's card", () => {
  test("an idle laptop whose last change was long ago is in sync: no lag, no warning", () => {
    render(<NodeCard node={node({}, { lastSyncAt: Date.now() - 5 * 60_000 })} />);
    expect(screen.getByTestId("node-backlog")).toHaveTextContent("in sync");
    expect(screen.getByTestId("node-card").textContent).not.toMatch(/lag|5 min/);
    expect(screen.queryByRole("list", { name: "Health warnings" })).toBeNull();
  });

  test("an offline laptop's backlog is what it reported when last seen", () => {
    render(<NodeCard node={node({ online: false })} />);
    expect(screen.getByTestId("node-backlog")).toHaveTextContent("in sync when last seen");
  });

  test("a real backlog: how many observations wait and for how long the oldest, with a warning past a minute", () => {
    render(<NodeCard node={node({}, { outboxDepth: 3, oldestUnsyncedAt: Date.now() - 3 * 60_000 - 500 })} />);
    expect(screen.getByTestId("node-backlog")).toHaveTextContent("3 observations waiting, the oldest for 3 min");
    expect(screen.getByRole("list", { name: "Health warnings" })).toHaveTextContent("Not synced: 3 observations waiting");
  });

  test("its orchestrations, active and in all, link to the list filtered by the laptop", () => {
    render(<NodeCard node={node()} />);
    const link = within(screen.getByTestId("node-orchestrations")).getByRole("link");
    expect(link).toHaveTextContent("2 active · 14 in all");
    expect(link).toHaveAttribute("href", "#/?laptop=n1");
    counts.current = { active: 0, all: 101, cap: 100 };
    render(<NodeCard node={node({ _id: "n2" as Id<"nodes">, name: "bravo" })} />);
    expect(screen.getAllByTestId("node-orchestrations")[1]).toHaveTextContent("0 active · 100+ in all");
  });

  test("Revoke looks dangerous and asks first, naming the laptop and what revoking does", async () => {
    revoke.mockResolvedValue({ revoked: true });
    render(<NodeCard node={node()} canRevoke />);
    const button = screen.getByRole("button", { name: "Revoke alpha" });
    expect(button.className).toMatch(/danger/);
    fireEvent.click(button);
    expect(revoke).not.toHaveBeenCalled();
    const dialog = screen.getByRole("dialog", { name: "Revoke alpha?" });
    expect(dialog).toHaveTextContent("credential stops working");
    expect(dialog).toHaveTextContent("actions queued for it are cancelled");
    fireEvent.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(revoke).not.toHaveBeenCalled();
    fireEvent.click(button);
    await act(async () => fireEvent.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Revoke alpha" })));
    expect(revoke).toHaveBeenCalledTimes(1);
    expect(revoke.mock.calls[0]![0]).toMatchObject({ nodeId: "n1", client: expect.stringMatching(/^tina-web/) });
  });

  test("a refused revoke says so in words, never the raw server text", async () => {
    revoke.mockRejectedValue(new Error("[CONVEX M(nodes:revokeNode)] Server Error Uncaught Error: boom"));
    render(<NodeCard node={node()} canRevoke />);
    fireEvent.click(screen.getByRole("button", { name: "Revoke alpha" }));
    await act(async () => fireEvent.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Revoke alpha" })));
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("alpha was not revoked.");
    expect(alert.textContent).not.toMatch(/CONVEX|Uncaught|boom/);
  });
});
