// Turning what Convex throws into words for the operator: what happened and what to do.
//
// Our own refusals are ConvexErrors whose messages are written for people; they are shown as
// "The server refused: …". Anything else (a validator error, "Server Error", a dropped
// connection, a function the deployment does not have) is described in a sentence of our own and
// its raw text never reaches the screen; it goes to the console instead.
import { ConvexError } from "convex/values";

/**
 * - refused: the server refused on purpose (our ConvexError); `message` is its own words.
 * - offline: the connection to the server is down (the device is offline, or the request could
 *   not reach the server).
 * - invalid: the server could not read the request (a validator error: a malformed id or value).
 * - outdated: the deployment does not have the function the page called.
 * - server: the server failed while handling it.
 */
export type ErrorKind = "refused" | "offline" | "invalid" | "outdated" | "server";

export type ErrorInfo = {
  /** The server refused on purpose (a ConvexError with a code): retrying the same request won't help. */
  refused: boolean;
  code: string | undefined;
  kind: ErrorKind;
  /** What happened, in words: the server's own message for a refusal, a sentence of ours otherwise. */
  message: string;
  /** What to do about it. */
  hint: string;
};

function isErrorData(data: unknown): data is { code: string; message: string } {
  return (
    typeof data === "object" &&
    data !== null &&
    typeof (data as { code?: unknown }).code === "string" &&
    typeof (data as { message?: unknown }).message === "string"
  );
}

const REFUSAL_HINTS: Record<string, string> = {
  unauthenticated: "Sign in again to continue.",
  forbidden: "Ask an owner of this deployment for access.",
  revoked: "Sign in again, or ask an owner to let this device back in.",
  invalid_argument: "Change what you entered and try again.",
  not_found: "It may have been removed: go back to the list and pick it again.",
  conflict: "What you saw changed meanwhile: look again, then retry.",
};

const OFFLINE: Omit<ErrorInfo, "code"> = {
  refused: false,
  kind: "offline",
  message: "the connection to the server is down",
  hint: "Check your connection; tina reconnects by itself and you can try again then.",
};

/** Network failures as browsers and the Convex client word them. */
const NETWORK = /Failed to fetch|NetworkError|Network request failed|Load failed|network error|Connection lost|WebSocket|ERR_INTERNET_DISCONNECTED|ERR_NETWORK|timed? ?out/i;
/** Convex's argument and return validation. */
const VALIDATOR = /ArgumentValidationError|ReturnsValidationError|Validator error|does not match validator|Expected ID for table|Found ID .* from table/i;
const MISSING_FUNCTION = /Could not find public function|Could not find function|is not a function exported/i;

const logged = new WeakSet<object>();

/** The raw error goes to the console (once per error object), never to the screen. */
function logRaw(error: unknown): void {
  if (typeof error === "object" && error !== null) {
    if (logged.has(error)) return;
    logged.add(error);
  }
  console.warn("tina: error shown in words; the raw error was:", error);
}

function deviceOffline(): boolean {
  return typeof navigator !== "undefined" && navigator.onLine === false;
}

/** What happened and what to do, for an error from a query, mutation, action or sign-in. */
export function describeError(error: unknown): ErrorInfo {
  if (error instanceof ConvexError) {
    const data: unknown = error.data;
    if (isErrorData(data)) {
      return { refused: true, code: data.code, kind: "refused", message: data.message, hint: REFUSAL_HINTS[data.code] ?? "Change the request, or ask an owner." };
    }
    if (typeof data === "string" && data.trim() !== "") {
      return { refused: true, code: undefined, kind: "refused", message: data, hint: "Change the request, or ask an owner." };
    }
    return { refused: true, code: undefined, kind: "refused", message: "it gave no reason", hint: "Ask an owner of this deployment." };
  }
  logRaw(error);
  const raw = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  if (deviceOffline() || NETWORK.test(raw)) return { ...OFFLINE, code: undefined };
  if (VALIDATOR.test(raw)) {
    return {
      refused: false,
      code: undefined,
      kind: "invalid",
      message: "the server could not read this request: something in it (often an id in the address) is malformed or points nowhere",
      hint: "Go back and open it again from the list.",
    };
  }
  if (MISSING_FUNCTION.test(raw)) {
    return {
      refused: false,
      code: undefined,
      kind: "outdated",
      message: "the server does not know this request: the deployment runs a different version of tina than this page",
      hint: "Reload the page; if it persists, deploy the current version of tina's backend.",
    };
  }
  return {
    refused: false,
    code: undefined,
    kind: "server",
    message: "the server hit an unexpected error while handling this",
    hint: "Try again in a moment; if it keeps happening, the deployment's logs say why.",
  };
}

function sentence(text: string): string {
  const t = text.trim();
  const capital = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/** What happened, as a sentence: "The server refused: …." for a refusal. */
export function errorSummary(info: ErrorInfo): string {
  return info.kind === "refused" ? `The server refused: ${sentence(info.message)}` : sentence(info.message);
}

/** One line for the screen: what happened, then what to do. */
export function errorText(error: unknown): string {
  const info = describeError(error);
  return `${errorSummary(info)} ${info.hint}`;
}

/** Convex Auth's password errors, said plainly (its raw messages never reach the screen). */
export function signInErrorMessage(error: unknown, flow: "signIn" | "signUp"): string {
  if (error instanceof ConvexError) {
    const info = describeError(error);
    return info.code === "invalid_argument" || info.code === "forbidden" ? sentence(info.message) : errorText(error);
  }
  const raw = error instanceof Error ? error.message : String(error);
  if (/InvalidSecret|InvalidAccountId|Invalid credentials/i.test(raw)) return "Wrong email or password.";
  if (/already exists/i.test(raw)) return "An account with this email already exists: sign in instead.";
  if (/TooManyFailedAttempts|rate limit/i.test(raw)) return "Too many attempts: wait a few minutes, then try again.";
  if (/invite/i.test(raw) && flow === "signUp") return "Signing up needs a valid invite code for this email: ask an owner for one.";
  if (/password/i.test(raw) && flow === "signUp") return "This password is not accepted: choose a longer one.";
  if (MISSING_FUNCTION.test(raw)) return "This deployment has no sign-in set up yet: its owner needs to deploy tina's backend with auth.";
  const info = describeError(error);
  const what = flow === "signIn" ? "Could not sign in" : "Could not create the account";
  return `${what}: ${info.message}. ${info.hint}`;
}
