// Every refusal is a ConvexError with a stable code, a readable message and,
// for bad input, the offending field: clients show `message`, code on `code`.
import { ConvexError } from "convex/values";

export type ErrorCode =
  | "unauthenticated"
  | "forbidden"
  | "revoked"
  | "invalid_argument"
  | "not_found"
  | "conflict";

export type ErrorData = { code: ErrorCode; message: string; field?: string };

export function fail(code: ErrorCode, message: string, field?: string): never {
  const data: ErrorData = field === undefined ? { code, message } : { code, message, field };
  throw new ConvexError(data);
}

export function invalid(field: string, expected: string, got?: string): never {
  const tail = got === undefined ? "" : ` (got ${got})`;
  fail("invalid_argument", `${field}: expected ${expected}${tail}`, field);
}
