import { describe, expect, test } from "vitest";
import type { TeamMessageDoc } from "../api";
import { describeInbox } from "./conversation";

const m = (kind: TeamMessageDoc["kind"], over: Partial<TeamMessageDoc> = {}) => ({ kind, text: "", ...over });
const json = (o: object) => JSON.stringify(o);

describe("inbox messages in words", () => {
  test("plain text is Markdown", () => {
    expect(describeInbox(m("text", { text: "**done** with #3" }))).toEqual({ label: "message", markdown: "**done** with #3" });
  });

  test("each structured kind is named and says what it carries", () => {
    expect(describeInbox(m("idle_notification", { text: json({ type: "idle_notification", idleReason: "available" }) }))).toMatchObject({
      label: "idle notification",
    });
    expect(
      describeInbox(m("idle_notification", { summary: "finished the schema", text: json({ type: "idle_notification", idleReason: "interrupted" }) })).line,
    ).toBe("interrupted: finished the schema");
    expect(describeInbox(m("task_assignment", { detail: json({ taskId: "4", subject: "Write tests", assignedBy: "team-lead" }) })).line).toBe(
      "task #4: Write tests (assigned by team-lead)",
    );
    expect(describeInbox(m("shutdown_request", { text: json({ type: "shutdown_request", reason: "work is done" }) }))).toMatchObject({
      label: "shutdown request",
      line: "work is done",
    });
    expect(describeInbox(m("shutdown_response", { approved: true })).line).toBe("approved");
    expect(describeInbox(m("shutdown_response", { approved: false, detail: json({ content: "still busy" }) })).line).toBe("refused: still busy");
    expect(describeInbox(m("plan_approval_request", { text: json({ type: "plan_approval_request", planContent: "# Plan\n\n1. do it" }) }))).toMatchObject({
      label: "plan approval request",
      markdown: "# Plan\n\n1. do it",
    });
    expect(describeInbox(m("plan_approval_response", { approved: false, detail: json({ content: "split it" }) })).line).toBe("rejected: split it");
    expect(describeInbox(m("permission_request", { detail: json({ tool_name: "Bash", description: "run the tests" }) })).line).toBe(
      "to use Bash: run the tests",
    );
    expect(describeInbox(m("permission_request", { text: json({ type: "permission_request", toolName: "Edit" }) })).line).toBe("to use Edit");
    expect(describeInbox(m("permission_response", { approved: true })).line).toBe("granted");
    expect(describeInbox(m("permission_response", { approved: false, detail: json({ error: "not allowed" }) })).line).toBe("denied: not allowed");
  });

  test("an unknown kind is named by its own type, else said to be unknown; its text stays available", () => {
    expect(describeInbox(m("unknown", { text: json({ type: "mode_change_request", mode: "plan" }) }))).toMatchObject({ label: "mode change request" });
    expect(describeInbox(m("unknown", { text: "{not json" }))).toEqual({ label: "message of an unknown kind", raw: "{not json" });
  });

  test("odd shapes never throw", () => {
    for (const text of ["", "[]", "null", "{}", json({ type: 3 }), "{".repeat(10)]) {
      for (const kind of ["idle_notification", "task_assignment", "permission_request", "unknown"] as const) {
        expect(() => describeInbox(m(kind, { text, detail: text }))).not.toThrow();
      }
    }
  });
});
