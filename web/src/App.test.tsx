// The real Convex Auth provider around the app: with no stored session, the sign-in form.
import { ConvexAuthProvider } from "@convex-dev/auth/react";
import { act, fireEvent, render, screen } from "@testing-library/react";
import { ConvexReactClient } from "convex/react";
import { afterEach, expect, test } from "vitest";
import { App } from "./App";
import { applyTheme, nextTheme, useTheme } from "./hooks/useTheme";

/** A socket that never connects: this test needs no backend. */
class SilentSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readyState = 0;
  onopen: (() => void) | null = null;
  onclose: (() => void) | null = null;
  onmessage: (() => void) | null = null;
  onerror: (() => void) | null = null;
  send() {}
  close() {
    this.readyState = 3;
  }
}

let client: ConvexReactClient | undefined;
afterEach(async () => {
  await client?.close();
  localStorage.clear();
});

test("signed out, the dashboard asks to sign in (and the provider runs in this DOM)", async () => {
  client = new ConvexReactClient("http://127.0.0.1:9", {
    webSocketConstructor: SilentSocket as unknown as typeof WebSocket,
    unsavedChangesWarning: false,
  });
  await act(async () => {
    render(
      <ConvexAuthProvider client={client!}>
        <App />
      </ConvexAuthProvider>,
    );
  });
  expect(await screen.findByRole("form", { name: "Sign in" })).toBeTruthy();
  fireEvent.click(screen.getByRole("button", { name: "New here? Create an account" }));
  expect(screen.getByRole("form", { name: "Create an account" })).toHaveTextContent("The first account of a deployment becomes its owner");
});

test("theme: system → light → dark, remembered on this device", () => {
  expect(nextTheme("system")).toBe("light");
  expect(nextTheme("light")).toBe("dark");
  expect(nextTheme("dark")).toBe("system");
  function Toggle() {
    const { theme, cycle } = useTheme();
    return <button onClick={cycle}>{theme}</button>;
  }
  render(<Toggle />);
  const button = screen.getByRole("button");
  fireEvent.click(button);
  expect(document.documentElement.dataset.theme).toBe("light");
  expect(localStorage.getItem("tina.theme")).toBe("light");
  fireEvent.click(button);
  expect(document.documentElement.dataset.theme).toBe("dark");
  fireEvent.click(button);
  expect(document.documentElement.dataset.theme).toBeUndefined();
  expect(localStorage.getItem("tina.theme")).toBeNull();
  applyTheme("dark");
  expect(document.documentElement.dataset.theme).toBe("dark");
  applyTheme("system");
});
