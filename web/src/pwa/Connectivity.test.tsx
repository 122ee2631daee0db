// The live-data rule in the page, with a real Convex client that cannot connect (no backend):
// after the grace period the notice shows and the page behind it is dimmed and inert. The
// device going offline is tested in real Chromium (web/e2e/pwa.e2e.test.ts).
import { render, screen } from "@testing-library/react";
import type { ConvexReactClient } from "convex/react";
import { afterEach, expect, test } from "vitest";
import { offlineClient } from "../test/offlineClient";
import { LiveOnly, OfflineStart, useConnectivity } from "./Connectivity";

let client: ConvexReactClient | undefined;
afterEach(() => {
  // Not awaited: closing waits for a socket that never opened to say it closed.
  void client?.close();
  client = undefined;
});

function Status() {
  return <p data-testid="status">{useConnectivity().status}</p>;
}

test("a client that never connects: connecting, then offline with the notice; the page behind is inert", async () => {
  client = offlineClient();
  const started = Date.now();
  render(
    <LiveOnly client={client} graceMs={300} firstGraceMs={300}>
      <Status />
      <button>Approve</button>
    </LiveOnly>,
  );
  expect(screen.getByTestId("status")).toHaveTextContent("connecting");
  expect(screen.queryByTestId("offline")).toBeNull();
  const notice = await screen.findByTestId("offline", {}, { timeout: 3_000 });
  expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  expect(notice).toHaveTextContent("tina cannot reach its deployment");
  expect(notice).toHaveAttribute("role", "status");
  expect(screen.getByTestId("status")).toHaveTextContent("offline");
  const wrapper = screen.getByTestId("status").parentElement!;
  expect(wrapper).toHaveAttribute("data-connectivity", "offline");
  expect(wrapper.hasAttribute("inert")).toBe(true);
});

test("a start with no network says so, with the brand", () => {
  render(<OfflineStart />);
  expect(screen.getByTestId("offline")).toHaveTextContent("You are offline");
  expect(screen.getByRole("heading", { name: "You are offline" })).toBeTruthy();
});
