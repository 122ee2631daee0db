// The audit log for people: each row's title, outcome and device in words. Pure.
import type { FunctionArgs, FunctionReturnType } from "convex/server";
import type { api } from "../api";
import type { Tone } from "./status";

export type AuditRow = FunctionReturnType<typeof api.audit.feed>["page"][number];
export type AuditFilters = Omit<FunctionArgs<typeof api.audit.feed>, "paginationOpts">;
export type AuditKind = AuditRow["kind"];
export type AuditOutcome = AuditRow["outcome"];
export type AuditOutcomeFilter = NonNullable<AuditFilters["outcome"]>;

export const KIND_LABELS: Record<AuditKind, string> = {
  action: "Actions",
  prompt: "Permission prompts",
  laptop: "Laptops",
  people: "People",
};

export const OUTCOME_FILTER_LABELS: Record<AuditOutcomeFilter, string> = {
  done: "Done",
  failed: "Failed",
  expired: "Expired or cancelled",
  pending: "Still going",
};

const ACTION_TITLES: Record<NonNullable<AuditRow["action"]>["type"], string> = {
  approve_plan: "Approve the plan",
  reject_plan: "Reject the plan",
  pause: "Pause",
  resume: "Resume",
  retry: "Retry",
  send_message: "Message",
};

const VERB_TITLES: Record<AuditRow["verb"], string> = {
  "action.submitted": "Action",
  "action.cancelled": "Action withdrawn",
  "action.claimed": "Action picked up",
  "action.completed": "Action finished",
  "action.expired": "Action expired",
  "action.interrupted": "Action interrupted",
  "node.enrolled": "Laptop enrolled",
  "node.rekeyed": "Laptop re-keyed",
  "node.revoked": "Laptop revoked",
  "node.enrollment_code_created": "Enrollment code created",
  "node.messaging_changed": "Who may message agents changed",
  "orchestration.budget_changed": "Budget changed",
  "user.joined": "Joined",
  "user.invited": "Invited someone",
  "user.invite_revoked": "Invite withdrawn",
  "user.role_changed": "Role changed",
  "user.removed": "Removed someone",
  "user.notification_answering_changed": "Answering from notifications changed",
  "prompt.answered": "Answered a permission prompt",
  "prompt.applied": "Permission answer handed over",
  "prompt.too_late": "Permission answer too late",
  "prompt.expired": "Permission prompt expired",
};

const DECISIONS: Record<NonNullable<NonNullable<AuditRow["prompt"]>["decision"]>, string> = {
  allow_once: "Allowed {tool} once",
  allow_always: "Allowed {tool} from now on",
  deny: "Denied {tool}",
};

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Where an action or prompt applies: "checkout-flow phase 2". */
export function where(row: AuditRow): string | undefined {
  const a = row.action;
  if (a?.feature === undefined) return undefined;
  return a.phase === undefined ? a.feature : `${a.feature} phase ${a.phase}`;
}

/** The row's headline: what was done, in words ("Message to tester", "Invited ann@… as viewer"). */
export function auditTitle(row: AuditRow): string {
  const a = row.action;
  if (a !== undefined) {
    if (a.type === "send_message") return `Message to ${a.agentName ?? "an agent"}`;
    return ACTION_TITLES[a.type];
  }
  const p = row.prompt;
  if (row.verb === "prompt.answered" && p?.decision !== undefined) {
    return DECISIONS[p.decision].replace("{tool}", p.toolName) + (p.agentName ? ` for ${p.agentName}` : "");
  }
  if (row.verb === "prompt.expired" && p !== undefined) return `Nobody answered: ${p.toolName}${p.agentName ? ` for ${p.agentName}` : ""}`;
  if (row.verb === "prompt.too_late" && p !== undefined) return `Answered at the laptop: ${p.toolName}`;
  // People's and laptops' entries carry a sentence written for people.
  const d = row.detail;
  if (d) {
    const laptop = row.nodeName ? `Laptop "${row.nodeName}" ` : "Laptop ";
    switch (row.verb) {
      case "node.enrolled":
      case "node.rekeyed":
        return laptop + d;
      case "node.enrollment_code_created":
        return `Created a ${d}`;
      case "user.joined":
        return d;
      case "user.role_changed":
        return `Role of ${d}`;
      default:
        if (row.kind === "people" || row.kind === "laptop") return capitalized(d);
    }
  }
  return VERB_TITLES[row.verb];
}

/** Whether the row needs its outcome shown: actions and prompts always, anything else when it failed. */
export function showsOutcome(row: AuditRow): boolean {
  return row.kind === "action" || row.kind === "prompt" || row.outcome !== "done";
}

/** The outcome as a word for its badge and the rest as a sentence: ["failed", "tester.json is …"]. */
export function outcomeParts(row: AuditRow): [string, string | undefined] {
  const text = outcomeText(row);
  const cut = text.indexOf(": ");
  return cut < 0 ? [text, undefined] : [text.slice(0, cut), text.slice(cut + 2)];
}

/** How it ended, in words; a failure names its reason. Never "done" for a failed action. */
export function outcomeText(row: AuditRow): string {
  switch (row.outcome) {
    case "done":
      return "done";
    case "failed":
      return row.reason ? `failed: ${reasonInWords(row.reason)}` : "failed";
    case "expired":
      return row.kind === "action" ? "expired: the laptop did not pick it up in time" : "expired: nobody answered in time";
    case "cancelled":
      return row.reason ? `cancelled: ${reasonInWords(row.reason)}` : "cancelled";
    case "interrupted":
      return "interrupted: the laptop's daemon restarted while it ran";
    case "waiting":
      return row.kind === "prompt" ? "waiting for an answer" : "waiting for the laptop";
    case "running":
      return row.kind === "prompt" ? "on its way to Claude Code" : "running";
    case "too_late":
      return "too late: answered at the laptop first";
  }
}

export const OUTCOME_TONE: Record<AuditOutcome, Tone> = {
  done: "success",
  failed: "danger",
  expired: "warning",
  cancelled: "muted",
  interrupted: "danger",
  waiting: "info",
  running: "info",
  too_late: "warning",
};

/**
 * A laptop's or the server's reason, short: file paths by their last part, the first clause,
 * at most 140 characters.
 */
export function reasonInWords(reason: string): string {
  let text = reason.replace(/(?:~|\.{0,2})?\/(?:[^\s/:'"]+\/)+([^\s/:'"]+)/g, "$1").trim();
  const cut = text.search(/: |\. |; /);
  if (cut >= 12) text = text.slice(0, cut);
  text = text.replace(/\.$/, "");
  return text.length > 140 ? `${text.slice(0, 139)}…` : text;
}

const BROWSERS: [RegExp, string][] = [
  [/\bEdg(?:e|A|iOS)?\//, "Edge"],
  [/\bOPR\//, "Opera"],
  [/\bFirefox\/|\bFxiOS\//, "Firefox"],
  [/\bCriOS\/|\bChrome\/|\bHeadlessChrome\//, "Chrome"],
  [/\bVersion\/[\d.]+.*Safari\//, "Safari"],
];
const SYSTEMS: [RegExp, string][] = [
  [/\biPhone\b/, "iPhone"],
  [/\biPad\b/, "iPad"],
  [/\bAndroid\b/, "Android"],
  [/\bCrOS\b/, "ChromeOS"],
  [/\bMac OS X\b|\bMacintosh\b/, "macOS"],
  [/\bWindows\b/, "Windows"],
  [/\bLinux\b/, "Linux"],
];

/** The device an entry came from, short: "Chrome on Linux", "Safari on iPhone"; else the client's own short name. */
export function shortDevice(client: string | undefined, userAgent?: string): string | undefined {
  const text = [client, userAgent].filter((x): x is string => Boolean(x)).join(" ");
  if (text === "") return undefined;
  const browser = BROWSERS.find(([re]) => re.test(text))?.[1];
  const system = SYSTEMS.find(([re]) => re.test(text))?.[1];
  if (browser && system) return `${browser} on ${system}`;
  if (browser || system) return browser ?? system;
  const first = (client ?? userAgent ?? "").split(/[;\s]/)[0] ?? "";
  return first.length > 24 ? `${first.slice(0, 23)}…` : first || undefined;
}

/** Who did it: a person by name, a laptop by its name (once), or tina itself. */
export function who(row: AuditRow): string {
  if (row.actorKind === "user") return row.actorName ?? "someone";
  if (row.actorKind === "node") return `laptop ${row.actorName ?? row.nodeName ?? ""}`.trim();
  return "tina (automatic)";
}

/** The row's second line: who, from which device, on which laptop (named once). */
export function metaParts(row: AuditRow): string[] {
  const parts = [who(row)];
  const device = row.actorKind === "user" ? shortDevice(row.client, row.userAgent) : undefined;
  if (device) parts.push(device);
  const laptopIsActor = row.actorKind === "node" && (row.actorName === undefined || row.actorName === row.nodeName);
  if (row.nodeName && !laptopIsActor) parts.push(`on ${row.nodeName}`);
  const place = where(row);
  if (place) parts.push(place);
  return parts;
}
