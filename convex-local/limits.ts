// Convex's per-call limits that convex-test does not check (it enforces the
// per-transaction ones itself with `transactionLimits: true`): arguments and
// return values of at most 16 MiB, arrays of at most 8,192 elements, documents
// of at most 1 MiB (docs.convex.dev/production/state/limits). The convex-test
// suites' wrapper (convex/test.setup.ts) uses these same checks, with limits a
// test may tighten.
import { getConvexSize, type Value } from "convex/values";

const MiB = 1 << 20;

export const CALL_LIMITS = {
  /** Arguments of one call, as Convex measures values (getConvexSize). */
  argumentsBytes: 16 * MiB,
  /** The value a call returns. */
  returnBytes: 16 * MiB,
  /** Elements of any one array in the arguments or in the value returned. */
  arrayElements: 8_192,
  /** One document as written (insert, patch, replace), as Convex measures it. */
  documentBytes: 1 * MiB,
};
export type CallLimits = typeof CALL_LIMITS;

/** A breached limit; its message names the function, what breached and the limit. */
export class LimitError extends Error {
  override name = "LimitError";
}

/** The longest array in `value` and where it is. */
function longestArray(value: unknown, path: string): { length: number; path: string } {
  let best = { length: -1, path };
  if (Array.isArray(value)) {
    best = { length: value.length, path: path === "" ? "(the value)" : path };
    value.forEach((x, i) => {
      const inner = longestArray(x, `${path}[${i}]`);
      if (inner.length > best.length) best = inner;
    });
  } else if (value !== null && typeof value === "object" && !(value instanceof ArrayBuffer)) {
    for (const [k, x] of Object.entries(value)) {
      const inner = longestArray(x, path === "" ? k : `${path}.${k}`);
      if (inner.length > best.length) best = inner;
    }
  }
  return best;
}

/** Throws LimitError when `value` (the arguments or the return value of `name`) breaches a call limit. */
export function checkCallValue(
  name: string,
  what: "arguments" | "return value",
  value: unknown,
  limits: CallLimits = CALL_LIMITS,
): void {
  const size = getConvexSize((value ?? null) as Value);
  const max = what === "arguments" ? limits.argumentsBytes : limits.returnBytes;
  if (size > max) {
    throw new LimitError(`Convex limit breached by ${name}: ${what} of ${size} bytes, over the limit of ${max} bytes`);
  }
  const longest = longestArray(value, "");
  if (longest.length > limits.arrayElements) {
    throw new LimitError(
      `Convex limit breached by ${name}: ${what} has an array of ${longest.length} elements at ${longest.path}, ` +
        `over the limit of ${limits.arrayElements} elements`,
    );
  }
}

/** Throws LimitError when a document written by `name` is over 1 MiB. */
export function checkDocumentSize(name: string, size: number): void {
  if (size > CALL_LIMITS.documentBytes) {
    throw new LimitError(
      `Convex limit breached by ${name}: a document of ${size} bytes, over the limit of ${CALL_LIMITS.documentBytes} bytes`,
    );
  }
}

/** Does this failure message come from a Convex limit (convex-test's or ours)? */
export function isLimitMessage(message: string): boolean {
  return message.includes("This is a Convex limit") || message.includes("Convex limit breached");
}
