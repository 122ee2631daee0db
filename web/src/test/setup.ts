// Component tests run in happy-dom. Its `navigator.locks` is null, which crashes Convex Auth's
// provider; a minimal in-process lock manager is enough for one tab.
import { cleanup } from "@testing-library/react";
import { afterEach, expect } from "vitest";

type LockCallback<T> = (lock: { name: string; mode: "exclusive" }) => T | Promise<T>;

if (typeof navigator !== "undefined" && (!("locks" in navigator) || (navigator as { locks?: unknown }).locks == null)) {
  const tails = new Map<string, Promise<unknown>>();
  const locks = {
    async request<T>(name: string, optionsOrCallback: unknown, maybeCallback?: LockCallback<T>): Promise<T> {
      const callback = (typeof optionsOrCallback === "function" ? optionsOrCallback : maybeCallback) as LockCallback<T>;
      const previous = tails.get(name) ?? Promise.resolve();
      const run = previous.then(() => callback({ name, mode: "exclusive" }));
      tails.set(name, run.catch(() => undefined));
      return await run;
    },
    async query() {
      return { held: [], pending: [] };
    },
  };
  Object.defineProperty(navigator, "locks", { value: locks, configurable: true });
}

afterEach(() => cleanup());

// The few DOM matchers the component tests use (instead of another dependency).
expect.extend({
  toBeDisabled(el: HTMLElement) {
    const pass = (el as HTMLButtonElement).disabled === true;
    return { pass, message: () => `expected ${el.outerHTML.slice(0, 120)} ${pass ? "not " : ""}to be disabled` };
  },
  toBeEnabled(el: HTMLElement) {
    const pass = (el as HTMLButtonElement).disabled !== true;
    return { pass, message: () => `expected ${el.outerHTML.slice(0, 120)} ${pass ? "not " : ""}to be enabled` };
  },
  toHaveTextContent(el: HTMLElement, text: string) {
    const actual = (el.textContent ?? "").replace(/\s+/g, " ");
    const pass = actual.includes(text);
    return { pass, message: () => `expected text ${JSON.stringify(actual)} ${pass ? "not " : ""}to contain ${JSON.stringify(text)}` };
  },
  toHaveAttribute(el: HTMLElement, name: string, value?: string) {
    const actual = el.getAttribute(name);
    const pass = value === undefined ? actual !== null : actual === value;
    return { pass, message: () => `expected [${name}] ${JSON.stringify(actual)} ${pass ? "not " : ""}to be ${JSON.stringify(value)}` };
  },
});

declare module "vitest" {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  interface Matchers<T = any> {
    toBeDisabled(): T;
    toBeEnabled(): T;
    toHaveTextContent(text: string): T;
    toHaveAttribute(name: string, value?: string): T;
  }
}
