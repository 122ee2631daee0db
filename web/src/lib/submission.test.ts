import { describe, expect, test } from "vitest";
import { IDLE, keyInFlight, newIdempotencyKey, submissionReducer, type Submission, type SubmissionEvent } from "./submission";

const keys = () => {
  let n = 0;
  return () => `key-${++n}-abcdefgh`;
};

function run(events: SubmissionEvent[], from: Submission = IDLE): Submission {
  return events.reduce(submissionReducer, from);
}

describe("one operator tap", () => {
  test("a tap sends with a fresh key and the answer is kept", () => {
    const newKey = keys();
    const s = run([{ type: "tap", newKey }, { type: "accepted", actionId: "a1", deduplicated: false }]);
    expect(s).toEqual({ state: "sent", key: "key-1-abcdefgh", actionId: "a1", deduplicated: false });
  });

  test("a second tap while the first is in flight changes nothing", () => {
    const newKey = keys();
    const first = run([{ type: "tap", newKey }]);
    const second = submissionReducer(first, { type: "tap", newKey });
    expect(second).toBe(first);
    expect(keyInFlight(second)).toBe("key-1-abcdefgh");
  });

  test("a submission that got no answer is retried with the same key", () => {
    const newKey = keys();
    const s = run([{ type: "tap", newKey }, { type: "lost", message: "connection lost" }, { type: "tap", newKey }]);
    expect(s).toEqual({ state: "sending", key: "key-1-abcdefgh" });
  });

  test("after a refusal or a success the next tap is a new action", () => {
    const newKey = keys();
    expect(run([{ type: "tap", newKey }, { type: "refused", message: "no" }, { type: "tap", newKey }])).toEqual({ state: "sending", key: "key-2-abcdefgh" });
    expect(run([{ type: "tap", newKey }, { type: "accepted", actionId: "a", deduplicated: false }, { type: "tap", newKey }])).toEqual({ state: "sending", key: "key-4-abcdefgh" });
  });

  test("late answers for nothing in flight are ignored", () => {
    expect(submissionReducer(IDLE, { type: "accepted", actionId: "x", deduplicated: false })).toBe(IDLE);
    expect(submissionReducer(IDLE, { type: "refused", message: "x" })).toBe(IDLE);
  });
});

describe("idempotency keys", () => {
  const pattern = /^[A-Za-z0-9._:-]{8,128}$/; // what actions:submitAction accepts

  test("a UUID where the browser has one", () => {
    const key = newIdempotencyKey(crypto);
    expect(key).toMatch(pattern);
    expect(key).not.toBe(newIdempotencyKey(crypto));
  });

  test("128 random bits without randomUUID (plain http on a LAN address)", () => {
    const c = { getRandomValues: <T extends ArrayBufferView | null>(a: T) => crypto.getRandomValues(a as Uint8Array) as unknown as T };
    const key = newIdempotencyKey(c);
    expect(key).toMatch(/^[0-9a-f]{32}$/);
    expect(key).toMatch(pattern);
  });
});

test("a refusal keeps the server's code, so a view can answer it (e.g. a plan that changed)", () => {
  const sending = submissionReducer(IDLE, { type: "tap", newKey: () => "k1" });
  expect(submissionReducer(sending, { type: "refused", message: "the plan changed", code: "conflict" })).toEqual({
    state: "refused",
    message: "the plan changed",
    code: "conflict",
  });
  expect(submissionReducer(sending, { type: "refused", message: "no" })).toEqual({ state: "refused", message: "no" });
});
