// A team's inbox messages in words: what kind each is, and the one line that says what it
// carries. Pure; structured messages (JSON in `text`, canonical fields in `detail`) are read
// loosely, since Claude Code's shapes vary between versions.
import type { InboxKind, TeamMessageDoc } from "../api";

const KIND_LABELS: Record<Exclude<InboxKind, "unknown">, string> = {
  text: "message",
  idle_notification: "idle notification",
  task_assignment: "task assignment",
  shutdown_request: "shutdown request",
  shutdown_response: "shutdown response",
  plan_approval_request: "plan approval request",
  plan_approval_response: "plan approval response",
  permission_request: "permission request",
  permission_response: "permission response",
};

type Fields = Record<string, unknown>;

function parseObject(text: string | undefined): Fields | null {
  if (text === undefined || !text.trimStart().startsWith("{")) return null;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Fields) : null;
  } catch {
    return null;
  }
}

/** The first of `keys` that holds a non-empty string. */
function str(f: Fields | null, ...keys: string[]): string | undefined {
  if (f === null) return undefined;
  for (const k of keys) {
    const v = f[k];
    if (typeof v === "string" && v.trim() !== "") return v;
    if (typeof v === "number") return String(v);
  }
  return undefined;
}

export type InboxView = {
  /** The kind in words. */
  label: string;
  /** One line on what it carries (plain text), if anything. */
  line?: string;
  /** Text to show as Markdown: an ordinary message, or the plan of a plan approval request. */
  markdown?: string;
  /** The raw text, for a structured or unknown message (shown as text on request). */
  raw?: string;
};

type Msg = Pick<TeamMessageDoc, "kind" | "text" | "summary" | "detail" | "approved">;

/** How the conversation shows one inbox message. */
export function describeInbox(m: Msg): InboxView {
  if (m.kind === "text") return { label: KIND_LABELS.text, markdown: m.text };
  const f = parseObject(m.detail) ?? parseObject(m.text);
  const raw = m.text;
  switch (m.kind) {
    case "idle_notification": {
      const reason = str(f, "idleReason", "idle_reason");
      const summary = m.summary ?? str(f, "summary");
      const line = [reason && reason !== "available" ? reason : undefined, summary].filter(Boolean).join(": ");
      return { label: KIND_LABELS.idle_notification, ...(line ? { line } : {}), raw };
    }
    case "task_assignment": {
      const id = str(f, "taskId", "task_id");
      const subject = str(f, "subject");
      const by = str(f, "assignedBy", "assigned_by");
      const line = [id ? `task #${id}` : undefined, subject].filter(Boolean).join(": ") + (by ? ` (assigned by ${by})` : "");
      return { label: KIND_LABELS.task_assignment, ...(line.trim() ? { line: line.trim() } : {}), raw };
    }
    case "shutdown_request": {
      const reason = str(f, "reason", "content");
      return { label: KIND_LABELS.shutdown_request, ...(reason ? { line: reason } : {}), raw };
    }
    case "shutdown_response":
      return { label: KIND_LABELS.shutdown_response, line: answer(m.approved, "approved", "refused", str(f, "content", "reason")), raw };
    case "plan_approval_request": {
      const plan = str(f, "planContent", "plan_content", "plan");
      return { label: KIND_LABELS.plan_approval_request, ...(plan ? { markdown: plan } : {}), raw };
    }
    case "plan_approval_response":
      return { label: KIND_LABELS.plan_approval_response, line: answer(m.approved, "approved", "rejected", str(f, "content", "feedback")), raw };
    case "permission_request": {
      const tool = str(f, "tool_name", "toolName");
      const what = str(f, "description");
      const line = [tool ? `to use ${tool}` : undefined, what].filter(Boolean).join(": ");
      return { label: KIND_LABELS.permission_request, ...(line ? { line } : {}), raw };
    }
    case "permission_response":
      return { label: KIND_LABELS.permission_response, line: answer(m.approved, "granted", "denied", str(f, "error")), raw };
    case "unknown": {
      // Claude Code added a kind tina does not know: say its own name for it.
      const type = str(parseObject(m.text), "type");
      return { label: type ? type.replace(/[_-]+/g, " ") : "message of an unknown kind", raw };
    }
  }
}

function answer(approved: boolean | undefined, yes: string, no: string, extra: string | undefined): string {
  const word = approved === undefined ? "answered" : approved ? yes : no;
  return extra ? `${word}: ${extra}` : word;
}
