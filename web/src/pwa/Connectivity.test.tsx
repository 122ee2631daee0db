// The live-data rule in the page, with a real Convex client that cannot connect (no backend):
// after the grace period the notice shows and the page behind it is dimmed and inert. The
// device going offline is tested in real Chromium (web/e2e/pwa.e2e.test.ts).
import { act, render, screen } from "@testing-library/react";
import type { ConvexReactClient } from "convex/react";
import { afterEach, expect, test, vi } from "vitest";
import { offlineClient } from "../test/offlineClient";
import { LiveOnly, OfflineStart, useConnectivity, useLiveConnectivity } from "./Connectivity";

let client: ConvexReactClient | undefined;
afterEach(() => {
  vi.useRealTimers();
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

test("a timer that fires a moment before the grace period ends still ends it", async () => {
  // Timers and the wall clock are different clocks: a timeout may run when Date.now() is still a
  // millisecond short of the time it was set for. The page must not stay "connecting" for good.
  vi.useFakeTimers();
  let t = 1_000_000;
  const never = {
    connectionState: () => ({ isWebSocketConnected: false, hasEverConnected: false }),
    subscribeToConnectionState: () => () => {},
  } as unknown as Parameters<typeof useLiveConnectivity>[0];
  function Shown() {
    return <p data-testid="status">{useLiveConnectivity(never, 300, 300, () => t).status}</p>;
  }
  render(<Shown />);
  expect(screen.getByTestId("status")).toHaveTextContent("connecting");
  t += 299; // when the 300 ms timer runs, the clock says 299
  await act(async () => {
    await vi.advanceTimersByTimeAsync(300);
  });
  expect(screen.getByTestId("status")).toHaveTextContent("offline");
});
