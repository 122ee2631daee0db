// The "Needs you" inbox: what each item is, in words; the order it is read in; which items this
// viewer sees now (dismissed and snoozed ones aside, snoozes ending on the client's clock); where
// each one leads. Pure: the views render what these functions decide, and the tests pin the words.
import { NEED_KIND_ORDER } from "../../../convex/model/needKinds";
import type { Id } from "../api";
import { orchestrationHref } from "./routing";
import { formatAbsolute, formatDuration, formatRelative } from "./time";
import type { Tone } from "./status";

/** What a laptop finds on its own (Claude Code's files and hooks). */
export type LaptopNeedKind = "teammate_permission" | "agent_plan_approval" | "idle_with_tasks" | "stop_failure" | "stalled";
export type NeedKind = "permission_prompt" | "plan_approval" | "blocked_phase" | "failed_action" | "budget" | "offline_laptop" | LaptopNeedKind;
export type StallCause = "waiting_for_human" | "long_tool" | "api_error" | "silent";
/** A Claude Code session as its hooks tell it. */
export type SessionLiveness = "working" | "idle" | "waiting" | "rate_limited" | "failed" | "ended";

/** An item as needs:needsYou gives it (ids as plain strings, so the generated type fits). */
export type NeedLike = {
  key: string;
  kind: NeedKind;
  title: string;
  detail?: string;
  since: number;
  nodeId?: string;
  nodeName?: string;
  nodeOnline?: boolean;
  orchestrationId?: string;
  featureName?: string;
  phaseNumber?: string;
  actionType?: string;
  actionStatus?: string;
  actionError?: string;
  agentName?: string;
  requestId?: string;
  toolName?: string;
  toolInput?: string;
  toolInputTruncated?: boolean;
  planContent?: string;
  cause?: StallCause;
  errorKind?: string;
  retryHint?: string;
  retryAt?: number;
  openTasks?: number;
  dismissed: boolean;
  snoozedUntil?: number;
};

/** The order the inbox is read in: Convex's own (convex/model/needKinds.ts, pure). */
export const NEED_KINDS = NEED_KIND_ORDER;

/** Each kind in words, for the badge on an item. */
export const NEED_KIND_LABELS: Record<NeedKind, string> = {
  permission_prompt: "permission prompt",
  teammate_permission: "teammate asks permission",
  plan_approval: "plan to approve",
  agent_plan_approval: "agent's plan to approve",
  stop_failure: "stopped on an error",
  stalled: "stalled",
  blocked_phase: "blocked phase",
  idle_with_tasks: "idle with open tasks",
  failed_action: "failed action",
  budget: "over budget",
  offline_laptop: "laptop offline",
};

/** Each kind's group heading. */
export const NEED_GROUP_TITLES: Record<NeedKind, string> = {
  permission_prompt: "Permission prompts",
  teammate_permission: "Teammates asking permission",
  plan_approval: "Plans awaiting approval",
  agent_plan_approval: "Agents' plans awaiting approval",
  stop_failure: "Stopped on an error",
  stalled: "Stalled agents",
  blocked_phase: "Blocked phases",
  idle_with_tasks: "Idle with open tasks",
  failed_action: "Failed actions",
  budget: "Over budget",
  offline_laptop: "Offline laptops",
};

export const NEED_KIND_TONES: Record<NeedKind, Tone> = {
  permission_prompt: "warning",
  teammate_permission: "warning",
  plan_approval: "warning",
  agent_plan_approval: "warning",
  stop_failure: "danger",
  stalled: "danger",
  blocked_phase: "danger",
  idle_with_tasks: "info",
  failed_action: "danger",
  budget: "warning",
  offline_laptop: "danger",
};

const RANK = new Map(NEED_KINDS.map((k, i) => [k, i]));

/** Kind order, then newest first within a kind (ties by key, so the order never jitters). */
export function orderNeeds<T extends Pick<NeedLike, "kind" | "since" | "key">>(items: readonly T[]): T[] {
  return [...items].sort(
    (a, b) => (RANK.get(a.kind) ?? 99) - (RANK.get(b.kind) ?? 99) || b.since - a.since || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
  );
}

/** The items grouped by kind, in reading order; kinds with nothing are left out. */
export function groupNeeds<T extends Pick<NeedLike, "kind" | "since" | "key">>(items: readonly T[]): { kind: NeedKind; title: string; items: T[] }[] {
  const groups: { kind: NeedKind; title: string; items: T[] }[] = [];
  for (const item of orderNeeds(items)) {
    const last = groups[groups.length - 1];
    if (last !== undefined && last.kind === item.kind) last.items.push(item);
    else groups.push({ kind: item.kind, title: NEED_GROUP_TITLES[item.kind] ?? item.kind, items: [item] });
  }
  return groups;
}

export type NeedState = "open" | "dismissed" | "snoozed";

/** Whether this viewer sees the item now: dismissed, snoozed until later, or open (a snooze that ran out is open). */
export function needState(item: Pick<NeedLike, "dismissed" | "snoozedUntil">, now: number): NeedState {
  if (item.dismissed) return "dismissed";
  if (item.snoozedUntil !== undefined && item.snoozedUntil > now) return "snoozed";
  return "open";
}

/** How many items need this viewer now: the badge and the tab title. */
export function visibleCount(items: readonly Pick<NeedLike, "dismissed" | "snoozedUntil">[], now: number): number {
  return items.filter((i) => needState(i, now) === "open").length;
}

/**
 * The items the page lists: the open ones, or all with Show dismissed; an item opened by its link
 * is listed whatever its state (the link asks for it), and `linked` says whether it is there at all.
 */
export function shownNeeds<T extends Pick<NeedLike, "key" | "dismissed" | "snoozedUntil">>(
  items: readonly T[],
  now: number,
  { showAll, linkedKey }: { showAll: boolean; linkedKey?: string | undefined },
): { shown: T[]; linked: "none" | "found" | "gone" } {
  const shown = items.filter((i) => showAll || needState(i, now) === "open" || i.key === linkedKey);
  if (linkedKey === undefined) return { shown, linked: "none" };
  return { shown, linked: items.some((i) => i.key === linkedKey) ? "found" : "gone" };
}

/** The next moment a snoozed item comes back, for the client's timer; undefined when none will. */
export function nextWake(items: readonly Pick<NeedLike, "dismissed" | "snoozedUntil">[], now: number): number | undefined {
  let next: number | undefined;
  for (const i of items) {
    if (i.dismissed || i.snoozedUntil === undefined || i.snoozedUntil <= now) continue;
    if (next === undefined || i.snoozedUntil < next) next = i.snoozedUntil;
  }
  return next;
}

/**
 * The items with one item's triage changed (dismissed, snoozed until a time, or neither), as the
 * page shows it at once while the server confirms: the optimistic update of dismiss and restore.
 */
export function withTriage<T extends Pick<NeedLike, "key" | "dismissed" | "snoozedUntil">>(
  items: readonly T[],
  key: string,
  triage: { dismissed: boolean; snoozedUntil?: number },
): T[] {
  return items.map((i) => {
    if (i.key !== key) return i;
    const { snoozedUntil: _old, ...rest } = i;
    return { ...rest, dismissed: triage.dismissed, ...(triage.snoozedUntil !== undefined ? { snoozedUntil: triage.snoozedUntil } : {}) } as T;
  });
}

/** The badge text: "99+" past 99. */
export function countText(n: number): string {
  return n > 99 ? "99+" : String(n);
}

/** The browser tab's title: "(3) tina", plain "tina" at zero. */
export function documentTitle(n: number): string {
  return n > 0 ? `(${countText(n)}) tina` : "tina";
}

// ---------------------------------------------------------------------------------------
// Snoozing.

const HOUR = 60 * 60 * 1000;

/** 8:00 local time on the day after `now`. */
export function tomorrowMorning(now: number): number {
  const d = new Date(now);
  d.setDate(d.getDate() + 1);
  d.setHours(8, 0, 0, 0);
  return d.getTime();
}

export type SnoozeChoice = { id: "hour" | "tomorrow"; label: string; until: number };

/** What "Snooze" offers: an hour from now, or tomorrow at 8:00 local time. */
export function snoozeChoices(now: number): SnoozeChoice[] {
  return [
    { id: "hour", label: "1 hour", until: now + HOUR },
    { id: "tomorrow", label: "until tomorrow 8:00", until: tomorrowMorning(now) },
  ];
}

/** "snoozed until 14:05" today, "snoozed until tomorrow 08:00", else the date. */
export function snoozedText(until: number, now: number): string {
  const time = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", hour12: false }).format(until);
  const day = (t: number) => new Date(t).toDateString();
  if (day(until) === day(now)) return `snoozed until ${time}`;
  if (day(until) === day(tomorrowMorning(now))) return `snoozed until tomorrow ${time}`;
  return `snoozed until ${formatAbsolute(until)}`;
}

// ---------------------------------------------------------------------------------------
// Time and place.

/** "5 min ago" and the exact local time, for an item's age (the exact one shown on tap). */
export function ageText(since: number, now: number): { relative: string; exact: string } {
  return { relative: formatRelative(since, now), exact: formatAbsolute(since) };
}

/** The laptop an item is on, in words, "offline" included. */
export function laptopText(item: Pick<NeedLike, "nodeName" | "nodeOnline" | "nodeId">): string | null {
  if (item.nodeName === undefined && item.nodeId === undefined) return null;
  const name = item.nodeName ?? "a laptop";
  return item.nodeOnline === false ? `${name} (offline)` : name;
}

/** The orchestration an item belongs to, in words: "checkout-flow, phase 2". */
export function orchestrationText(item: Pick<NeedLike, "featureName" | "phaseNumber" | "orchestrationId">): string | null {
  if (item.orchestrationId === undefined && item.featureName === undefined) return null;
  const name = item.featureName ?? "its orchestration";
  return item.phaseNumber !== undefined ? `${name}, phase ${item.phaseNumber}` : name;
}

/**
 * Where an item leads: its orchestration when it has one; else the Fleet page for something on a
 * laptop; a permission prompt with neither is answered right here (null).
 */
export function needHref(item: Pick<NeedLike, "kind" | "orchestrationId" | "nodeId">): string | null {
  if (item.orchestrationId !== undefined) return orchestrationHref(item.orchestrationId as Id<"orchestrations">);
  if (item.kind === "permission_prompt") return null;
  if (item.kind === "offline_laptop" || item.nodeId !== undefined) return "#/fleet";
  return null;
}

/** What the deep link says. */
export function needLinkText(item: Pick<NeedLike, "kind" | "orchestrationId" | "nodeId">): string {
  if (item.orchestrationId !== undefined) return "Open the orchestration";
  return "Open the fleet";
}

// ---------------------------------------------------------------------------------------
// What each kind says.

/** A teammate's question or an agent's plan is answered at the lead's terminal, not from here. */
export function waitingAtLeadText(item: Pick<NeedLike, "nodeName">): string {
  return `waiting at the lead's terminal on ${item.nodeName ?? "its laptop"}`;
}

const STALL_CAUSES: Record<StallCause, string> = {
  waiting_for_human: "it waits for someone to answer at its terminal",
  long_tool: "a tool has been running for a long time",
  api_error: "its last call to the API failed",
  silent: "no activity and no sign of why",
};

/** Why an agent stalled, in words. */
export function stallCauseText(cause: StallCause | undefined): string {
  return cause === undefined ? STALL_CAUSES.silent : (STALL_CAUSES[cause] ?? cause.replace(/_/g, " "));
}

const ERROR_KINDS: Record<string, string> = {
  rate_limit: "rate limited",
  billing_error: "a billing problem",
  server_error: "a server error at the API",
  overloaded: "the API is overloaded",
  authentication_error: "an authentication problem",
  invalid_request: "an invalid request",
  timeout: "a timeout",
};

/** "rate limited", "a billing problem", ... (unknown kinds with their underscores turned to spaces). */
export function errorKindText(kind: string | undefined): string {
  if (kind === undefined || kind === "") return "an API error";
  return ERROR_KINDS[kind] ?? kind.replace(/_/g, " ");
}

/** When a stopped session can go on: the laptop's hint, and the time left when it is known. */
export function retryText(item: Pick<NeedLike, "retryHint" | "retryAt">, now: number): string | null {
  const parts: string[] = [];
  if (item.retryHint !== undefined && item.retryHint !== "") parts.push(item.retryHint);
  if (item.retryAt !== undefined) parts.push(item.retryAt <= now ? "it can retry now" : `retry in ${formatDuration(item.retryAt - now)}`);
  return parts.length === 0 ? null : parts.join(" · ");
}

/** "reviewer is idle with 3 open tasks". */
export function idleText(item: Pick<NeedLike, "agentName" | "openTasks">): string {
  const n = item.openTasks ?? 0;
  return `${item.agentName ?? "an agent"} is idle with ${n} open ${n === 1 ? "task" : "tasks"}`;
}

/** The one line under an item's title that says what is going on, per kind (null: the title says it). */
export function needSummary(item: NeedLike, now: number): string | null {
  switch (item.kind) {
    case "teammate_permission":
    case "agent_plan_approval":
      return waitingAtLeadText(item);
    case "stop_failure": {
      const retry = retryText(item, now);
      return `stopped: ${errorKindText(item.errorKind)}${retry !== null ? ` · ${retry}` : ""}`;
    }
    case "stalled":
      return `likely cause: ${stallCauseText(item.cause)}`;
    case "idle_with_tasks":
      return idleText(item);
    case "failed_action":
      return item.actionError ?? item.detail ?? null;
    case "blocked_phase":
    case "budget":
      return item.detail ?? null;
    case "offline_laptop":
      return item.detail ?? `${item.nodeName ?? "a laptop"} is offline`;
    default:
      return null;
  }
}

/** Plans are stored cut at 64 KiB of UTF-8 (laptops send at most 65,536 characters). */
const PLAN_MAX_BYTES = 64 * 1024;
const PLAN_MAX_CHARS = 65_536;

/** Whether an agent's plan may have been cut short on its way (it fills what is kept). */
export function planMayBeCut(text: string): boolean {
  if (text.length >= PLAN_MAX_CHARS) return true;
  return text.length * 3 >= PLAN_MAX_BYTES - 3 && new TextEncoder().encode(text).length >= PLAN_MAX_BYTES - 3;
}

/** Tool input as readable, indented JSON (input that is not JSON, e.g. cut short, as it came). Never HTML. */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

// ---------------------------------------------------------------------------------------
// Claude Code sessions on the Fleet page.

export const SESSION_LIVENESS_LABELS: Record<SessionLiveness, string> = {
  working: "working",
  idle: "idle",
  waiting: "waiting for an answer",
  rate_limited: "rate limited",
  failed: "stopped on an API error",
  ended: "ended",
};

export const SESSION_LIVENESS_TONES: Record<SessionLiveness, Tone> = {
  working: "progress",
  idle: "muted",
  waiting: "warning",
  rate_limited: "warning",
  failed: "danger",
  ended: "neutral",
};

/** A session's liveness in words; "not known yet" before its first hook says. */
export function sessionLivenessText(liveness: SessionLiveness | undefined): string {
  return liveness === undefined ? "not known yet" : (SESSION_LIVENESS_LABELS[liveness] ?? liveness.replace(/_/g, " "));
}
