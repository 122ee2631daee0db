// One operator tap, from "confirm" to the server's answer. A pure reducer, so the rules are
// testable: a double tap sends once; a submission that never got an answer is retried with
// the same idempotency key (the server then returns the first action, never a second one).
export type Submission =
  | { state: "idle" }
  | { state: "sending"; key: string }
  | { state: "sent"; key: string; actionId: string; deduplicated: boolean }
  | { state: "refused"; message: string; code?: string }
  | { state: "unsent"; key: string; message: string };

export type SubmissionEvent =
  | { type: "tap"; newKey: () => string }
  | { type: "accepted"; actionId: string; deduplicated: boolean }
  | { type: "refused"; message: string; code?: string }
  | { type: "lost"; message: string }
  | { type: "reset" };

export const IDLE: Submission = { state: "idle" };

export function submissionReducer(s: Submission, e: SubmissionEvent): Submission {
  switch (e.type) {
    case "tap":
      if (s.state === "sending") return s; // a second tap while the first is in flight
      if (s.state === "unsent") return { state: "sending", key: s.key };
      return { state: "sending", key: e.newKey() };
    case "accepted":
      return s.state === "sending" ? { state: "sent", key: s.key, actionId: e.actionId, deduplicated: e.deduplicated } : s;
    case "refused":
      return s.state === "sending" ? { state: "refused", message: e.message, ...(e.code !== undefined ? { code: e.code } : {}) } : s;
    case "lost":
      return s.state === "sending" ? { state: "unsent", key: s.key, message: e.message } : s;
    case "reset":
      return IDLE;
  }
}

/** The key sent with the submission that is in flight, if any. */
export function keyInFlight(s: Submission): string | undefined {
  return s.state === "sending" ? s.key : undefined;
}

/** A fresh idempotency key: a UUID where the browser allows it (secure contexts), else 128 random bits. */
export function newIdempotencyKey(c: Pick<Crypto, "getRandomValues"> & { randomUUID?: () => string } = crypto): string {
  if (typeof c.randomUUID === "function") {
    try {
      return c.randomUUID();
    } catch {
      // Not a secure context (plain http on a LAN address): fall through.
    }
  }
  const bytes = c.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
