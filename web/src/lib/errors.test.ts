import { ConvexError } from "convex/values";
import { expect, test } from "vitest";
import { describeError, signInErrorMessage } from "./errors";

test("a ConvexError is a refusal with its code and message", () => {
  expect(describeError(new ConvexError({ code: "forbidden", message: "this needs the operator role; you are a viewer" }))).toEqual({
    refused: true,
    code: "forbidden",
    message: "this needs the operator role; you are a viewer",
  });
});

test("a server error is reduced to its reason", () => {
  const e = new Error("[Request ID: 5f3c] Server Error\nUncaught Error: boom happened\n    at handler (x.ts:1)");
  expect(describeError(e)).toEqual({ refused: false, code: undefined, message: "boom happened" });
  expect(describeError(new Error("[Request ID: 1] connection lost")).message).toBe("connection lost");
});

test("sign-in errors read plainly", () => {
  expect(signInErrorMessage(new Error("Uncaught Error: InvalidSecret"), "signIn")).toBe("Wrong email or password.");
  expect(signInErrorMessage(new ConvexError({ code: "forbidden", message: "signing up needs an invite code" }), "signUp")).toBe("signing up needs an invite code");
  expect(signInErrorMessage(new Error("Account owner@example.com already exists"), "signUp")).toMatch(/sign in instead/);
});
