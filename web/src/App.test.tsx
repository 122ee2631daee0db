// The real Convex Auth provider around the app: with no stored session, the sign-in form.
import { ConvexAuthProvider } from "@convex-dev/auth/react";
import { act, fireEvent, render, screen } from "@testing-library/react";
import type { ConvexReactClient } from "convex/react";
import { afterEach, expect, test } from "vitest";
import { offlineClient } from "./test/offlineClient";
import { App } from "./App";
import { applyTheme, nextTheme, useTheme } from "./hooks/useTheme";

let client: ConvexReactClient | undefined;
afterEach(async () => {
  await client?.close();
  localStorage.clear();
});

test("signed out, the dashboard asks to sign in (and the provider runs in this DOM)", async () => {
  client = offlineClient();
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
