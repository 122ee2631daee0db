// Turning what Convex throws into one sentence for the operator.
import { ConvexError } from "convex/values";

export type ErrorInfo = {
  /** The server refused on purpose (a ConvexError with a code): retrying the same request won't help. */
  refused: boolean;
  code: string | undefined;
  message: string;
};

function isErrorData(data: unknown): data is { code: string; message: string } {
  return (
    typeof data === "object" &&
    data !== null &&
    typeof (data as { code?: unknown }).code === "string" &&
    typeof (data as { message?: unknown }).message === "string"
  );
}

/** The readable part of an error from a query, mutation or sign-in. */
export function describeError(error: unknown): ErrorInfo {
  if (error instanceof ConvexError) {
    const data: unknown = error.data;
    if (isErrorData(data)) return { refused: true, code: data.code, message: data.message };
    if (typeof data === "string") return { refused: true, code: undefined, message: data };
    return { refused: true, code: undefined, message: "the server refused the request" };
  }
  if (error instanceof Error) {
    // Server errors arrive as "[Request ID: …] Server Error\nUncaught Error: reason\n    at …".
    const uncaught = /Uncaught (?:\w*Error: )?(.+)/.exec(error.message);
    const message = uncaught?.[1] ?? error.message.replace(/^\[Request ID: [^\]]+\]\s*/, "").split("\n")[0] ?? "";
    return { refused: false, code: undefined, message: message || "something went wrong" };
  }
  return { refused: false, code: undefined, message: String(error) };
}

/** Convex Auth's password errors, said plainly. */
export function signInErrorMessage(error: unknown, flow: "signIn" | "signUp"): string {
  const { message, code } = describeError(error);
  if (code !== undefined) return message;
  if (/InvalidSecret|InvalidAccountId|Invalid credentials/i.test(message)) {
    return "Wrong email or password.";
  }
  if (/already exists/i.test(message)) return "An account with this email already exists: sign in instead.";
  if (/invite/i.test(message)) return message;
  if (/password/i.test(message) && flow === "signUp") return message;
  if (/Could not find public function/i.test(message)) {
    return "This deployment has no sign-in configured (convex/auth.ts is missing).";
  }
  return flow === "signIn" ? `Could not sign in: ${message}` : `Could not create the account: ${message}`;
}
