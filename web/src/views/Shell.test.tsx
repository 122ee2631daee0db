// The navigation's attention badge: the server's count, which includes open permission prompts.
import { render, screen } from "@testing-library/react";
import { describe, expect, test, vi } from "vitest";
import { Shell } from "./Shell";

const served: { value: unknown } = { value: undefined };
vi.mock("convex/react", async (importOriginal) => ({
  ...(await importOriginal<typeof import("convex/react")>()),
  useQuery: () => served.value,
  useConvexConnectionState: () => ({ isWebSocketConnected: true, hasEverConnected: true }),
}));

describe("the attention badge", () => {
  test("counts what the server counts, open permission prompts included, on both navigations", () => {
    served.value = { permissionPrompts: [{}, {}], blocked: [{}], awaitingApproval: [], failedActions: [], offlineNodes: [], count: 3 };
    render(
      <Shell route={{ name: "attention" }} account={null}>
        <p>page</p>
      </Shell>,
    );
    const badges = screen.getAllByTestId("attention-count");
    expect(badges).toHaveLength(2);
    for (const b of badges) {
      expect(b).toHaveTextContent("3");
      expect(b.getAttribute("aria-label")).toBe("3 need attention");
    }
  });

  test("the page title carries the count, and drops it at zero", () => {
    served.value = { permissionPrompts: [{}], blocked: [], awaitingApproval: [], failedActions: [], offlineNodes: [], count: 1 };
    const view = render(
      <Shell route={{ name: "attention" }} account={null}>
        <p>page</p>
      </Shell>,
    );
    expect(document.title).toBe("(1) tina");
    served.value = { permissionPrompts: [], blocked: [], awaitingApproval: [], failedActions: [], offlineNodes: [], count: 0 };
    view.rerender(
      <Shell route={{ name: "attention" }} account={null}>
        <p>page</p>
      </Shell>,
    );
    expect(document.title).toBe("tina");
  });

  test("zero while loading", () => {
    served.value = undefined;
    render(
      <Shell route={{ name: "attention" }} account={null}>
        <p>page</p>
      </Shell>,
    );
    expect(screen.getAllByTestId("attention-count")[0]).toHaveTextContent("0");
  });
});
