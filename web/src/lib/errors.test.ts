// Errors in words: our own refusals keep their message; nothing else shows its raw text.
import { ConvexError } from "convex/values";
import { afterEach, beforeEach, expect, test, vi } from "vitest";
import { describeError, errorText, signInErrorMessage } from "./errors";

let warn: ReturnType<typeof vi.spyOn>;
beforeEach(() => {
  warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
});
afterEach(() => {
  warn.mockRestore();
  vi.unstubAllGlobals();
});

const RAW = [
  "[CONVEX Q(orchestrations:getOrchestrationDetail)] [Request ID: 5f3c] Server Error\nArgumentValidationError: Value does not match validator.\nPath: .orchestrationId\nValue: \"nope\"\nValidator: v.id(\"orchestrations\")",
  "Validator error: Expected ID for table \"orchestrations\", got `nope`",
  "[Request ID: 5f3c] Server Error\nUncaught Error: boom happened\n    at handler (x.ts:1)",
  "[Request ID: 9] Server Error",
  "Could not find public function for 'notify:answer'. Did you forget to run `npx convex dev`?",
];

test("a ConvexError is a refusal with its code, its own words and what to do", () => {
  const info = describeError(new ConvexError({ code: "forbidden", message: "this needs the operator role; you are a viewer" }));
  expect(info).toMatchObject({ refused: true, code: "forbidden", kind: "refused", message: "this needs the operator role; you are a viewer" });
  expect(info.hint).toMatch(/owner/);
  expect(errorText(new ConvexError({ code: "conflict", message: "the plan changed" }))).toMatch(/^The server refused: The plan changed\. /);
});

test.each(RAW)("no raw server text reaches the screen: %s", (raw) => {
  const info = describeError(new Error(raw));
  const text = errorText(new Error(raw));
  for (const bit of ["Validator", "Request ID", "Server Error", "Uncaught", "boom", "orchestrationId", "nope", "npx convex", "notify:answer"]) {
    expect(text).not.toContain(bit);
    expect(info.message).not.toContain(bit);
  }
  expect(info.refused).toBe(false);
  expect(text).not.toMatch(/connection/i); // the connection is up: not a network problem
  expect(warn).toHaveBeenCalled(); // the raw error goes to the console
});

test("each kind of failure is said in words, with what to do", () => {
  expect(describeError(new Error(RAW[0])).kind).toBe("invalid");
  expect(describeError(new Error(RAW[1])).kind).toBe("invalid");
  expect(describeError(new Error(RAW[2])).kind).toBe("server");
  expect(describeError(new Error(RAW[4])).kind).toBe("outdated");
  expect(errorText(new Error(RAW[1]))).toMatch(/^The server could not read this request.*Go back/);
});

test('"check your connection" only when the connection is down', () => {
  expect(describeError(new TypeError("Failed to fetch")).kind).toBe("offline");
  expect(describeError(new Error("Connection lost while action was in flight")).kind).toBe("offline");
  expect(errorText(new TypeError("Failed to fetch"))).toMatch(/Check your connection/);
  expect(errorText(new Error(RAW[3]))).not.toMatch(/connection/i);
  vi.stubGlobal("navigator", { onLine: false });
  expect(errorText(new Error(RAW[3]))).toMatch(/connection to the server is down.*Check your connection/);
});

test("a refusal never reads as a network problem, even offline", () => {
  vi.stubGlobal("navigator", { onLine: false });
  expect(describeError(new ConvexError({ code: "not_found", message: "no such orchestration" })).kind).toBe("refused");
});

test("sign-in errors read plainly, never raw", () => {
  expect(signInErrorMessage(new Error("[Request ID: 1] Server Error\nUncaught Error: InvalidSecret"), "signIn")).toBe("Wrong email or password.");
  expect(signInErrorMessage(new ConvexError({ code: "forbidden", message: "signing up needs an invite code" }), "signUp")).toBe("Signing up needs an invite code.");
  expect(signInErrorMessage(new Error("Account owner@example.com already exists"), "signUp")).toMatch(/sign in instead/);
  const other = signInErrorMessage(new Error("[Request ID: 1] Server Error\nUncaught Error: kaboom in authorize"), "signIn");
  expect(other).toMatch(/^Could not sign in: the server hit an unexpected error/);
  expect(other).not.toContain("kaboom");
  expect(signInErrorMessage(new TypeError("Failed to fetch"), "signIn")).toMatch(/Check your connection/);
});
