// The dashboard says it is watched (presence:watch) at once and every 20 s while visible and
// signed in with a role; never while hidden, signed out, or after it is gone.
import { act, render, renderHook, screen } from "@testing-library/react";
import { getFunctionName, type FunctionReference } from "convex/server";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { App } from "../App";
import { LiveOnly } from "../pwa/Connectivity";
import { usePresence, WATCH_EVERY_MS } from "./usePresence";

const watch = vi.fn();
const auth = { isLoading: false, isAuthenticated: true };
let me: unknown = undefined;
vi.mock("convex/react", async (importOriginal) => ({
  ...(await importOriginal<typeof import("convex/react")>()),
  useConvexAuth: () => auth,
  useConvexConnectionState: () => ({ isWebSocketConnected: true, hasEverConnected: true }),
  useQuery: (fn: FunctionReference<"query">) => (getFunctionName(fn) === "users:me" ? me : undefined),
  useMutation: (fn: FunctionReference<"mutation">) => (getFunctionName(fn) === "presence:watch" ? watch : vi.fn()),
}));
vi.mock("@convex-dev/auth/react", async (importOriginal) => ({
  ...(await importOriginal<typeof import("@convex-dev/auth/react")>()),
  useAuthActions: () => ({ signIn: vi.fn(), signOut: vi.fn() }),
}));

let visibility: DocumentVisibilityState = "visible";
function setVisibility(state: DocumentVisibilityState) {
  visibility = state;
  act(() => void document.dispatchEvent(new Event("visibilitychange")));
}

beforeEach(() => {
  vi.useFakeTimers();
  watch.mockReset();
  watch.mockResolvedValue(null);
  visibility = "visible";
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => visibility });
  auth.isAuthenticated = true;
  me = undefined;
});

afterEach(() => {
  vi.useRealTimers();
  delete (document as { visibilityState?: unknown }).visibilityState;
});

const advance = (ms: number) => act(() => void vi.advanceTimersByTime(ms));

describe("usePresence", () => {
  test("calls at mount, then every 20 s", () => {
    renderHook(() => usePresence(true));
    expect(watch).toHaveBeenCalledTimes(1);
    expect(watch).toHaveBeenCalledWith({});
    advance(WATCH_EVERY_MS - 1);
    expect(watch).toHaveBeenCalledTimes(1);
    advance(1);
    expect(watch).toHaveBeenCalledTimes(2);
    advance(WATCH_EVERY_MS);
    expect(watch).toHaveBeenCalledTimes(3);
  });

  test("not while the page is hidden; at once when it is visible again", () => {
    renderHook(() => usePresence(true));
    expect(watch).toHaveBeenCalledTimes(1);
    setVisibility("hidden");
    advance(60_000);
    expect(watch).toHaveBeenCalledTimes(1);
    setVisibility("visible");
    expect(watch).toHaveBeenCalledTimes(2);
    advance(WATCH_EVERY_MS);
    expect(watch).toHaveBeenCalledTimes(3);
  });

  test("a page opened hidden calls only once it shows", () => {
    visibility = "hidden";
    renderHook(() => usePresence(true));
    advance(60_000);
    expect(watch).not.toHaveBeenCalled();
    setVisibility("visible");
    expect(watch).toHaveBeenCalledTimes(1);
  });

  test("not while the connection is down (a call would queue and replay late); at once when live again", () => {
    let state = { isWebSocketConnected: true, hasEverConnected: true };
    const listeners = new Set<(s: typeof state) => void>();
    const client = {
      connectionState: () => state,
      subscribeToConnectionState: (cb: (s: typeof state) => void) => {
        listeners.add(cb);
        return () => void listeners.delete(cb);
      },
    };
    const connect = (up: boolean) => {
      state = { isWebSocketConnected: up, hasEverConnected: true };
      act(() => listeners.forEach((cb) => cb(state)));
    };
    renderHook(() => usePresence(true), { wrapper: ({ children }) => <LiveOnly client={client as never}>{children}</LiveOnly> });
    expect(watch).toHaveBeenCalledTimes(1);
    connect(false);
    advance(60_000);
    expect(watch).toHaveBeenCalledTimes(1);
    connect(true);
    expect(watch).toHaveBeenCalledTimes(2);
  });

  test("no call after unmount", () => {
    const { unmount } = renderHook(() => usePresence(true));
    unmount();
    advance(60_000);
    expect(watch).toHaveBeenCalledTimes(1);
  });

  test("nothing while not enabled; at once when it becomes so", () => {
    const { rerender } = renderHook(({ enabled }) => usePresence(enabled), { initialProps: { enabled: false } });
    advance(60_000);
    expect(watch).not.toHaveBeenCalled();
    rerender({ enabled: true });
    expect(watch).toHaveBeenCalledTimes(1);
  });

  test("a refused call is ignored: no throw, and the next one still goes", async () => {
    const debug = vi.spyOn(console, "debug").mockImplementation(() => {});
    watch.mockRejectedValueOnce(new Error("forbidden"));
    renderHook(() => usePresence(true));
    await act(async () => {
      await Promise.resolve();
    });
    expect(debug).toHaveBeenCalledTimes(1);
    advance(WATCH_EVERY_MS);
    expect(watch).toHaveBeenCalledTimes(2);
    debug.mockRestore();
  });
});

describe("the app", () => {
  test("signed out: the sign-in form, and no call", () => {
    auth.isAuthenticated = false;
    render(<App />);
    expect(screen.getByRole("form", { name: "Sign in" })).toBeTruthy();
    advance(60_000);
    expect(watch).not.toHaveBeenCalled();
  });

  test("signed in with a role: calls once at mount, then every 20 s", () => {
    me = { name: "Victor Viewer", role: "viewer" };
    render(<App />);
    expect(screen.getByTestId("whoami")).toHaveTextContent("Victor Viewer · viewer");
    expect(watch).toHaveBeenCalledTimes(1);
    advance(WATCH_EVERY_MS);
    expect(watch).toHaveBeenCalledTimes(2);
  });

  test("signed in without a role, or while the account loads: no call", () => {
    render(<App />);
    advance(WATCH_EVERY_MS);
    expect(watch).not.toHaveBeenCalled();
    me = { name: "Mallory", role: null };
    render(<App />);
    expect(screen.getByRole("alert")).toHaveTextContent("No access yet");
    advance(60_000);
    expect(watch).not.toHaveBeenCalled();
  });
});
