// The navigation's "Needs you" badge and the tab title: the items this viewer has not dismissed
// or snoozed, counted on this device's clock.
import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, test, vi } from "vitest";
import { Shell } from "./Shell";

const served: { value: unknown } = { value: undefined };
vi.mock("convex/react", async (importOriginal) => ({
  ...(await importOriginal<typeof import("convex/react")>()),
  useQuery: () => served.value,
  useConvexConnectionState: () => ({ isWebSocketConnected: true, hasEverConnected: true }),
}));

const item = (key: string, over: object = {}) => ({ key, kind: "blocked_phase", title: key, since: 0, dismissed: false, ...over });

describe("the Needs you badge", () => {
  test("the nav says Needs you; the count leaves out dismissed and snoozed items, on both navigations", () => {
    served.value = {
      items: [item("a"), item("b"), item("c", { kind: "permission_prompt" }), item("d", { dismissed: true }), item("e", { snoozedUntil: Date.now() + 60_000 })],
      count: 3,
    };
    render(
      <Shell route={{ name: "attention" }} account={null}>
        <p>page</p>
      </Shell>,
    );
    expect(screen.getAllByRole("link", { name: /^Needs you/ })).toHaveLength(2);
    const badges = screen.getAllByTestId("attention-count");
    expect(badges).toHaveLength(2);
    for (const b of badges) {
      expect(b).toHaveTextContent("3");
      expect(b.getAttribute("aria-label")).toBe("3 need you");
    }
  });

  test("the page title carries the count, and drops it at zero", () => {
    served.value = { items: [item("a")], count: 1 };
    const view = render(
      <Shell route={{ name: "attention" }} account={null}>
        <p>page</p>
      </Shell>,
    );
    expect(document.title).toBe("(1) tina");
    served.value = { items: [item("a", { dismissed: true })], count: 0 };
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

describe("keyboard", () => {
  test("the first control skips the header: it moves focus to the page's main area", () => {
    served.value = { items: [], count: 0 };
    render(
      <Shell route={{ name: "attention" }} account={null}>
        <p>page</p>
      </Shell>,
    );
    const skip = screen.getByRole("button", { name: "Skip to content" });
    const first = document.querySelector<HTMLElement>("a[href], button");
    expect(first).toBe(skip);
    fireEvent.click(skip);
    expect(document.activeElement).toBe(screen.getByRole("main"));
  });

  test("the theme button says what it is and what a press makes it", () => {
    served.value = { items: [], count: 0 };
    localStorage.removeItem("tina.theme");
    render(
      <Shell route={{ name: "fleet" }} account={null}>
        <p>page</p>
      </Shell>,
    );
    const button = screen.getByRole("button", { name: "Theme: system; press for light" });
    fireEvent.click(button);
    expect(button.getAttribute("aria-label")).toBe("Theme: light; press for dark");
    localStorage.removeItem("tina.theme");
    delete document.documentElement.dataset.theme;
  });

  test("the current page is marked for screen readers, not by colour alone", () => {
    served.value = { items: [], count: 0 };
    render(
      <Shell route={{ name: "fleet" }} account={null}>
        <p>page</p>
      </Shell>,
    );
    const current = screen.getAllByRole("link", { current: "page" });
    expect(current.map((a) => a.textContent)).toEqual(["Fleet", "Fleet"]);
  });
});
