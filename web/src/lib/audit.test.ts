import { expect, test } from "vitest";
import type { Id } from "../api";
import { auditTitle, metaParts, outcomeText, reasonInWords, shortDevice, type AuditRow } from "./audit";

const CHROME_LINUX = "tina-web; Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const SAFARI_IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1";

function row(over: Partial<AuditRow> = {}): AuditRow {
  return {
    _id: "a1" as Id<"auditLog">,
    at: 1,
    verb: "action.submitted",
    kind: "action",
    actorKind: "user",
    actorName: "ann@example.com",
    outcome: "done",
    ...over,
  };
}

const message = { type: "send_message" as const, agentName: "tester", feature: "checkout-flow", phase: "2", textLength: 14 };

test("an action's row is titled in words, never by its raw type", () => {
  expect(auditTitle(row({ action: message }))).toBe("Message to tester");
  expect(auditTitle(row({ action: { type: "approve_plan" } }))).toBe("Approve the plan");
  expect(auditTitle(row({ verb: "user.invited", kind: "people", detail: "invited bob@example.com as viewer (code expires in 7 days)" }))).toBe(
    "Invited bob@example.com as viewer (code expires in 7 days)",
  );
  expect(auditTitle(row({ verb: "prompt.answered", kind: "prompt", prompt: { toolName: "Bash", decision: "allow_once", agentName: "executor-1" } }))).toBe(
    "Allowed Bash once for executor-1",
  );
  expect(auditTitle(row({ verb: "node.revoked", kind: "laptop" }))).toBe("Laptop revoked");
  expect(auditTitle(row({ verb: "node.enrolled", kind: "laptop", nodeName: "charlie", detail: "enrolled with the deployment's enrollment secret" }))).toBe(
    'Laptop "charlie" enrolled with the deployment\'s enrollment secret',
  );
  expect(auditTitle(row({ verb: "user.joined", kind: "people", detail: "ann@example.com accepted an invite as viewer" }))).toBe("ann@example.com accepted an invite as viewer");
});

test("a failed action reads as failed, with its reason in words; never as done", () => {
  const reason =
    "/tmp/tina-e2e-alpha-sTUR4b/home/.claude/teams/checkout-flow-phase-2/inboxes/tester.json is not an inbox as Claude Code writes it: expected a JSON array";
  const text = outcomeText(row({ action: message, outcome: "failed", reason }));
  expect(text).toBe("failed: tester.json is not an inbox as Claude Code writes it");
  expect(text).not.toMatch(/done|completed|\/tmp/);
  expect(outcomeText(row({ outcome: "expired" }))).toBe("expired: the laptop did not pick it up in time");
  expect(outcomeText(row({ outcome: "waiting" }))).toBe("waiting for the laptop");
  expect(outcomeText(row({ outcome: "done" }))).toBe("done");
  expect(reasonInWords("x".repeat(300))).toHaveLength(140);
});

test("the device in a short form; the laptop named once", () => {
  expect(shortDevice(CHROME_LINUX)).toBe("Chrome on Linux");
  expect(shortDevice(SAFARI_IPHONE)).toBe("Safari on iPhone");
  expect(shortDevice("vitest")).toBe("vitest");
  expect(shortDevice(undefined)).toBeUndefined();
  expect(metaParts(row({ client: CHROME_LINUX, nodeName: "alpha", action: message }))).toEqual([
    "ann@example.com",
    "Chrome on Linux",
    "on alpha",
    "checkout-flow phase 2",
  ]);
  // A laptop's own entry: its name once, not "alpha · alpha".
  expect(metaParts(row({ actorKind: "node", actorName: "alpha", nodeName: "alpha", verb: "prompt.expired", kind: "prompt" }))).toEqual(["laptop alpha"]);
});
