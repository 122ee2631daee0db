// The audit log for people: one row per action with its outcome in words, filters, paging.
import { fireEvent, render, screen, within } from "@testing-library/react";
import { beforeEach, describe, expect, test, vi } from "vitest";
import type { Id } from "../api";
import type { AuditRow } from "../lib/audit";
import { AuditLog } from "./AccountView";

const paginated = vi.fn();
const loadMore = vi.fn();
let rows: AuditRow[] = [];
let status = "CanLoadMore";
vi.mock("convex/react", async (importOriginal) => ({
  ...(await importOriginal<typeof import("convex/react")>()),
  useQuery: () => ({
    people: [{ id: "u1", name: "ann@example.com" }],
    laptops: [{ id: "n1", name: "alpha" }],
  }),
  usePaginatedQuery: (_fn: unknown, args: unknown, opts: unknown) => {
    paginated(args, opts);
    return { results: rows, status, loadMore, isLoading: false };
  },
  useMutation: () => vi.fn(),
}));

const CHROME = "tina-web; Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36";

function row(id: string, over: Partial<AuditRow>): AuditRow {
  return { _id: id as Id<"auditLog">, at: Date.now() - 5_000, verb: "action.submitted", kind: "action", actorKind: "user", actorName: "ann@example.com", outcome: "done", ...over };
}

beforeEach(() => {
  paginated.mockReset();
  loadMore.mockReset();
  status = "CanLoadMore";
  rows = [
    row("a1", {
      client: CHROME,
      nodeName: "alpha",
      outcome: "failed",
      reason: "/tmp/x/home/.claude/teams/t/inboxes/tester.json is not an inbox as Claude Code writes it: expected a JSON array",
      action: { type: "send_message", agentName: "tester", feature: "checkout-flow", phase: "2", textLength: 14 },
    }),
    row("a2", { verb: "prompt.expired", kind: "prompt", actorKind: "node", actorName: "alpha", nodeName: "alpha", outcome: "expired", prompt: { toolName: "Bash" } }),
    row("a3", { verb: "user.invited", kind: "people", detail: "invited bob@example.com as viewer (code expires in 7 days)", client: CHROME }),
  ];
});

describe("the audit log", () => {
  test("one row per action: a failed message reads as failed with its reason, in words, with a short device and the laptop once", () => {
    render(<AuditLog />);
    const entries = screen.getAllByTestId("audit-entry");
    expect(entries).toHaveLength(3);
    const failed = entries[0]!;
    expect(failed).toHaveTextContent("Message to tester");
    expect(within(failed).getByTestId("audit-outcome")).toHaveTextContent("failed: tester.json is not an inbox as Claude Code writes it");
    expect(failed).toHaveAttribute("data-outcome", "failed");
    expect(failed).toHaveTextContent("ann@example.com · Chrome on Linux · on alpha · checkout-flow phase 2");
    expect(failed.textContent).not.toMatch(/send_message|action\.completed|Mozilla|\/tmp/);
    expect(entries[1]).toHaveTextContent("laptop alpha ·");
    expect(entries[1]!.textContent).not.toMatch(/alpha · alpha/);
    expect(within(entries[1]!).getByTestId("audit-outcome")).toHaveTextContent("expired: nobody answered in time");
    expect(entries[2]).toHaveTextContent("Invited bob@example.com as viewer");
    expect(entries[2]!.textContent).not.toMatch(/user\.invited/);
    // A person's or a laptop's entry that went through needs no "done" badge.
    expect(within(entries[2]!).queryByTestId("audit-outcome")).toBeNull();
  });

  test("filters by who, laptop, kind and outcome go to the server; Load more pages on", () => {
    render(<AuditLog />);
    expect(paginated).toHaveBeenLastCalledWith({}, { initialNumItems: 25 });
    fireEvent.change(screen.getByRole("combobox", { name: "Who" }), { target: { value: "u1" } });
    fireEvent.change(screen.getByRole("combobox", { name: "Laptop" }), { target: { value: "n1" } });
    fireEvent.change(screen.getByRole("combobox", { name: "Kind" }), { target: { value: "action" } });
    fireEvent.change(screen.getByRole("combobox", { name: "Outcome" }), { target: { value: "failed" } });
    expect(paginated).toHaveBeenLastCalledWith({ actorId: "u1", nodeId: "n1", kind: "action", outcome: "failed" }, { initialNumItems: 25 });
    fireEvent.change(screen.getByRole("combobox", { name: "Laptop" }), { target: { value: "" } });
    expect(paginated).toHaveBeenLastCalledWith({ actorId: "u1", kind: "action", outcome: "failed" }, { initialNumItems: 25 });
    fireEvent.click(screen.getByRole("button", { name: "Load more" }));
    expect(loadMore).toHaveBeenCalledWith(25);
  });

  test("nothing matching: says so, and offers older entries while there are some", () => {
    rows = [];
    render(<AuditLog />);
    expect(screen.getByText(/Nothing that matches in the newest entries/)).toBeTruthy();
    status = "Exhausted";
    fireEvent.change(screen.getByRole("combobox", { name: "Kind" }), { target: { value: "people" } });
    expect(screen.getByText("Nothing matches these filters.")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Load more" })).toBeNull();
  });
});
