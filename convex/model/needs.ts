// "Needs you" (issue 18): everything a person should look at, across all laptops, as one list.
//
// Convex derives some items itself: open permission prompts, phases awaiting plan approval or
// blocked, actions that failed, expired or were interrupted in the last 24 h, laptops gone quiet.
// Each laptop computes the rest from its teams' files and Claude Code's hooks and sends its
// current set (syncLaptop): a teammate asking its lead for a tool or a plan approval, an agent
// idle with open tasks, a session stopped on an API error, an agent that went silent.
//
// Each person may dismiss an item (hidden while it keeps the same `since`) or snooze it (hidden
// until a time); that is their own view and changes nothing for anyone else.
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import {
  AGENT_RE,
  checkCount,
  checkNumber,
  checkPattern,
  checkString,
  FEATURE_RE,
  TEAM_DIR_RE,
  utf8Bytes,
} from "./checks";
import { invalid } from "./errors";
import { NEED_KIND_ORDER } from "./needKinds";
import { isOnline } from "./nodes";
import { redactSecrets } from "./redact";
import type {
  ActionType,
  LaptopNeed,
  LaptopNeedKind,
  NeedItem,
  NeedKind,
  SessionSnapshot,
} from "./validators";

export const MAX_ITEMS = 200;
export const MAX_SESSIONS = 100;
export const KEY_MAX = 200;
export const TITLE_MAX = 200;
export const DETAIL_MAX = 4096;
export const TOOL_INPUT_MAX = 16_384;
export const PLAN_MAX = 65_536;
export const RETRY_HINT_MAX = 200;
export const REASON_MAX = 200;
export const CWD_MAX = 1024;
export const LAST_EVENT_MAX = 64;
const TOOL_NAME_MAX = 128;
const ERROR_KIND_MAX = 64;
const OPEN_TASKS_MAX = 100_000;
const EVENTS_MAX = 1e12;
/** A dismissal's key: one of needsYou's keys ("laptop:<nodeId>:<laptop key>" is the longest). */
export const DISMISS_KEY_MAX = 512;
export const SNOOZE_MAX_MS = 7 * 24 * 60 * 60_000;

// What a stored row may hold at most, whatever the characters: plan text and tool input are cut
// to these many bytes of UTF-8 (a 64 Ki-character plan in a script of 3-byte characters would be
// 192 KiB), and a laptop's items carry at most ITEMS_MAX_BYTES of text in all. So a row stays
// under ~100 KB, one syncLaptop writes at most a few MB, and needsYou reads at most ~12 MB.
export const PLAN_STORED_MAX_BYTES = 64 * 1024;
export const TOOL_INPUT_STORED_MAX_BYTES = 16 * 1024;
export const ITEMS_MAX_BYTES = 4 * 1024 * 1024;

/** Resolved items are deleted this long after they were resolved. */
export const RESOLVED_TTL_MS = 24 * 60 * 60_000;
/** Resolved rows deleted per syncLaptop (its own) and per sweep (any laptop's). */
const PRUNE_BATCH = 20;
const SWEEP_BATCH = 40;
/** Dismissals older than this are deleted (the item shows again if it is still there). */
export const DISMISSAL_TTL_MS = 30 * 24 * 60 * 60_000;

/** Each kind shows at most this many items (newest first). */
export const EACH_LIMIT = 50;
export const FAILED_WINDOW_MS = 24 * 60 * 60_000;
export const SESSIONS_LIMIT = 100;

/** The order of the list (model/needKinds.ts, shared with the dashboard). */
export const KIND_ORDER = NEED_KIND_ORDER;
const LAPTOP_KINDS: readonly LaptopNeedKind[] = ["teammate_permission", "agent_plan_approval", "idle_with_tasks", "stop_failure", "stalled"];

// Claude Code session ids are UUIDs; anything id-like is accepted (as for prompts).
const SESSION_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
// Claude Code's request ids in team inboxes ("perm-1733...-ab12", UUIDs).
const REQUEST_RE = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
// C0 (but tab and newline), DEL and C1.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
// One line: no control characters at all.
// eslint-disable-next-line no-control-regex
const LINE_CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function checkText(field: string, value: string, max: number, opts: { line?: boolean; allowEmpty?: boolean } = {}): string {
  checkString(field, value, max, { allowEmpty: opts.allowEmpty ?? false });
  if ((opts.line ? LINE_CONTROL : CONTROL).test(value)) invalid(field, opts.line ? "one line of text without control characters" : "text without control characters");
  return value;
}

/**
 * Words for people (titles, error text, reasons): only the size is refused. Control characters
 * (an API error's ANSI colours, a NUL) are replaced when stored (`clean`), so one odd message
 * never stops a laptop's whole sync.
 */
function checkWords(field: string, value: string, max: number, opts: { allowEmpty?: boolean } = {}): string {
  if (value.length > max) invalid(field, `at most ${max} characters`, `${value.length}`);
  if (!opts.allowEmpty && value.trim() === "") invalid(field, "words, not an empty string");
  return value;
}

function clean(value: string, line: boolean): string {
  return value.replace(new RegExp((line ? LINE_CONTROL : CONTROL).source, "g"), " ");
}

function cleanOptional(value: string | undefined, line: boolean): string | undefined {
  return value === undefined ? undefined : clean(value, line);
}

// ms since the epoch, up to 2200-01-01; 0 when the laptop does not know (an inbox entry without a time).
const TIME_MAX = 7_258_118_400_000;
function checkTime(field: string, value: number): number {
  return checkNumber(field, value, { min: 0, max: TIME_MAX });
}

function checkOptional<T>(value: T | undefined, check: (value: T) => unknown): void {
  if (value !== undefined) check(value);
}

/** Every field of a laptop's item, checked before anything is read or written. */
export function checkNeed(at: string, n: LaptopNeed): void {
  checkText(`${at}.key`, n.key, KEY_MAX, { line: true });
  checkTime(`${at}.since`, n.since);
  checkWords(`${at}.title`, n.title, TITLE_MAX);
  checkOptional(n.detail, (x) => checkWords(`${at}.detail`, x, DETAIL_MAX, { allowEmpty: true }));
  checkOptional(n.teamDir, (x) => checkPattern(`${at}.teamDir`, x, TEAM_DIR_RE, "a team directory name"));
  checkOptional(n.agentName, (x) => checkPattern(`${at}.agentName`, x, AGENT_RE, "an agent name"));
  checkOptional(n.sessionId, (x) => checkPattern(`${at}.sessionId`, x, SESSION_RE, "a Claude Code session id"));
  checkOptional(n.featureName, (x) => checkPattern(`${at}.featureName`, x, FEATURE_RE, "a feature name"));
  checkOptional(n.requestId, (x) => checkPattern(`${at}.requestId`, x, REQUEST_RE, "a request id"));
  checkOptional(n.toolName, (x) => checkWords(`${at}.toolName`, x, TOOL_NAME_MAX));
  checkOptional(n.toolInput, (x) => checkString(`${at}.toolInput`, x, TOOL_INPUT_MAX, { allowEmpty: true }));
  checkOptional(n.planContent, (x) => checkString(`${at}.planContent`, x, PLAN_MAX, { allowEmpty: true }));
  checkOptional(n.errorKind, (x) => checkWords(`${at}.errorKind`, x, ERROR_KIND_MAX));
  checkOptional(n.retryHint, (x) => checkWords(`${at}.retryHint`, x, RETRY_HINT_MAX, { allowEmpty: true }));
  checkOptional(n.retryAt, (x) => checkTime(`${at}.retryAt`, x));
  checkOptional(n.openTasks, (x) => checkNumber(`${at}.openTasks`, x, { min: 0, max: OPEN_TASKS_MAX, integer: true }));
}

/** `text` cut to at most `maxBytes` bytes of UTF-8, at a character boundary. */
export function cutBytes(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes) return text;
  let bytes = 0;
  let end = 0;
  for (const ch of text) {
    const size = utf8Bytes(ch);
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += ch.length;
  }
  return text.slice(0, end);
}

/**
 * An item as stored: control characters replaced, secrets masked (as for permission prompts),
 * the large texts cut to their bytes. A plan is kept only on agent_plan_approval items and a tool
 * input only on teammate_permission ones, which keeps needsYou's reads bounded.
 */
function storedNeed(n: LaptopNeed): LaptopNeed {
  const { toolInput: rawInput, toolInputTruncated: _truncated, planContent: rawPlan, ...rest } = n;
  const toolInput = rawInput === undefined || n.kind !== "teammate_permission" ? undefined : cutBytes(redactSecrets(rawInput), TOOL_INPUT_STORED_MAX_BYTES);
  const planContent = rawPlan === undefined || n.kind !== "agent_plan_approval" ? undefined : cutBytes(rawPlan, PLAN_STORED_MAX_BYTES);
  return defined({
    ...rest,
    title: clean(n.title, true),
    detail: n.detail === undefined ? undefined : redactSecrets(clean(n.detail, false)),
    toolName: cleanOptional(n.toolName, true),
    errorKind: cleanOptional(n.errorKind, true),
    retryHint: cleanOptional(n.retryHint, true),
    toolInput,
    toolInputTruncated: toolInput === undefined ? undefined : n.toolInputTruncated === true || toolInput.length < rawInput!.length,
    planContent,
  });
}

function storedSession(s: SessionSnapshot): SessionSnapshot {
  return defined({ ...s, reason: cleanOptional(s.reason, true), cwd: cleanOptional(s.cwd, true), lastEvent: clean(s.lastEvent, true) });
}

/** UTF-8 bytes of an item's strings. */
function itemBytes(n: LaptopNeed): number {
  let sum = 0;
  for (const value of Object.values(n)) if (typeof value === "string") sum += value.length * 3 <= 256 ? value.length * 3 : utf8Bytes(value);
  return sum;
}

export function checkSession(at: string, s: SessionSnapshot): void {
  checkPattern(`${at}.sessionId`, s.sessionId, SESSION_RE, "a Claude Code session id");
  checkOptional(s.reason, (x) => checkWords(`${at}.reason`, x, REASON_MAX, { allowEmpty: true }));
  checkOptional(s.cwd, (x) => checkWords(`${at}.cwd`, x, CWD_MAX));
  checkOptional(s.teamDir, (x) => checkPattern(`${at}.teamDir`, x, TEAM_DIR_RE, "a team directory name"));
  checkOptional(s.agentName, (x) => checkPattern(`${at}.agentName`, x, AGENT_RE, "an agent name"));
  checkOptional(s.featureName, (x) => checkPattern(`${at}.featureName`, x, FEATURE_RE, "a feature name"));
  checkTime(`${at}.firstAt`, s.firstAt);
  checkTime(`${at}.lastAt`, s.lastAt);
  checkWords(`${at}.lastEvent`, s.lastEvent, LAST_EVENT_MAX);
  checkNumber(`${at}.events`, s.events, { min: 0, max: EVENTS_MAX, integer: true });
}

function checkUnique(field: string, values: string[], what: string): void {
  const seen = new Set<string>();
  values.forEach((value, i) => {
    if (seen.has(value)) invalid(`${field}[${i}]`, `a ${what} not already sent`, JSON.stringify(value.slice(0, 60)));
    seen.add(value);
  });
}

type Link = { orchestrationId?: Id<"orchestrations">; phaseNumber?: string };

/** Finds what an item or session belongs to: its team's link, else the laptop's newest orchestration of its feature. */
function linker(ctx: MutationCtx, nodeId: Id<"nodes">) {
  const byDir = new Map<string, Link | undefined>();
  const byFeature = new Map<string, Id<"orchestrations"> | undefined>();
  return async (teamDir: string | undefined, featureName: string | undefined): Promise<Link> => {
    if (teamDir !== undefined) {
      if (!byDir.has(teamDir)) {
        const t = await ctx.db
          .query("teams")
          .withIndex("by_node_dir", (q) => q.eq("nodeId", nodeId).eq("dirName", teamDir))
          .first();
        byDir.set(teamDir, t?.orchestrationId === undefined ? undefined : { orchestrationId: t.orchestrationId, phaseNumber: t.phaseNumber });
      }
      const link = byDir.get(teamDir);
      if (link !== undefined) return link;
    }
    if (featureName !== undefined) {
      if (!byFeature.has(featureName)) {
        const o = await ctx.db
          .query("orchestrations")
          .withIndex("by_node_feature_started", (q) => q.eq("nodeId", nodeId).eq("featureName", featureName))
          .order("desc")
          .first();
        byFeature.set(featureName, o?._id);
      }
      const orchestrationId = byFeature.get(featureName);
      if (orchestrationId !== undefined) return { orchestrationId };
    }
    return {};
  };
}

/** Only the fields that are set, so stored rows and comparisons never carry `undefined`. */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, value]) => value !== undefined)) as T;
}

/**
 * The link a stored row already has, when the item or session still names the same team and
 * feature: a repeated sync reads no team or orchestration for it (a row without a link is looked
 * up again, in case its team or orchestration has appeared since).
 */
function keptLink(
  row: { teamDir?: string; featureName?: string; orchestrationId?: Id<"orchestrations">; phaseNumber?: string } | undefined,
  sent: { teamDir?: string; featureName?: string },
): Link | undefined {
  if (row?.orchestrationId === undefined || row.teamDir !== sent.teamDir || row.featureName !== sent.featureName) return undefined;
  return { orchestrationId: row.orchestrationId, phaseNumber: row.phaseNumber };
}

/** `next`'s fields differ from `row`'s (each in `fields`; absent equals absent). */
function differs(row: Record<string, unknown>, next: Record<string, unknown>, fields: readonly string[]): boolean {
  return fields.some((f) => row[f] !== next[f]);
}

const NEED_FIELDS = [
  "key", "kind", "since", "title", "detail", "teamDir", "agentName", "sessionId", "featureName", "requestId", "toolName",
  "toolInput", "toolInputTruncated", "planContent", "cause", "errorKind", "retryHint", "retryAt", "openTasks",
  "orchestrationId", "phaseNumber",
] as const;
const SESSION_FIELDS = [
  "sessionId", "liveness", "reason", "cwd", "teamDir", "agentName", "featureName", "firstAt", "lastAt", "lastEvent", "events",
  "orchestrationId",
] as const;

/** The patch that makes a stored row equal `next`: absent fields are cleared. */
function replacing(fields: readonly string[], next: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(fields.map((f) => [f, next[f]]));
}

export type SyncResult = { opened: number; updated: number; resolved: number };

/**
 * Makes `node`'s open items exactly `items` and its sessions exactly `sessions`. A row is written
 * only when something in it changed, so the same call twice writes nothing the second time.
 */
export async function syncLaptop(ctx: MutationCtx, node: Doc<"nodes">, items: LaptopNeed[], sessions: SessionSnapshot[]): Promise<SyncResult> {
  checkCount("items", items, MAX_ITEMS);
  checkCount("sessions", sessions, MAX_SESSIONS);
  items.forEach((n, i) => checkNeed(`items[${i}]`, n));
  sessions.forEach((s, i) => checkSession(`sessions[${i}]`, s));
  checkUnique("items", items.map((n) => n.key), "key");
  checkUnique("sessions", sessions.map((s) => s.sessionId), "sessionId");
  const cleaned = items.map(storedNeed);
  const bytes = cleaned.reduce((sum, n) => sum + itemBytes(n), 0);
  if (bytes > ITEMS_MAX_BYTES) invalid("items", `at most ${ITEMS_MAX_BYTES} bytes of text in all`, `${bytes}`);

  const now = Date.now();
  const link = linker(ctx, node._id);
  const result: SyncResult = { opened: 0, updated: 0, resolved: 0 };

  // Items. A laptop keeps at most MAX_ITEMS open; twice that covers rows from a larger limit.
  const open = await ctx.db
    .query("needs")
    .withIndex("by_node_resolved_key", (q) => q.eq("nodeId", node._id).eq("resolvedAt", undefined))
    .take(2 * MAX_ITEMS);
  const openByKey = new Map(open.map((r) => [r.key, r]));
  for (const n of cleaned) {
    const row = openByKey.get(n.key);
    openByKey.delete(n.key);
    const next = defined({ ...n, ...(keptLink(row, n) ?? (await link(n.teamDir, n.featureName))) });
    if (row === undefined) {
      await ctx.db.insert("needs", { ...next, nodeId: node._id, openedAt: now, updatedAt: now });
      result.opened++;
    } else if (differs(row, next, NEED_FIELDS)) {
      await ctx.db.patch("needs", row._id, { ...replacing(NEED_FIELDS, next), updatedAt: now });
      result.updated++;
    }
  }
  for (const row of openByKey.values()) {
    await ctx.db.patch("needs", row._id, { resolvedAt: now });
    result.resolved++;
  }
  await pruneResolved(ctx, node._id, now);

  // Sessions: the current set; one the laptop no longer sends is deleted.
  const stored = await ctx.db
    .query("claudeSessions")
    .withIndex("by_node_session", (q) => q.eq("nodeId", node._id))
    .take(2 * MAX_SESSIONS);
  const storedById = new Map(stored.map((r) => [r.sessionId, r]));
  for (const s of sessions.map(storedSession)) {
    const row = storedById.get(s.sessionId);
    storedById.delete(s.sessionId);
    const { orchestrationId } = keptLink(row, s) ?? (await link(s.teamDir, s.featureName));
    const next = defined({ ...s, orchestrationId });
    if (row === undefined) await ctx.db.insert("claudeSessions", { ...next, nodeId: node._id, updatedAt: now });
    else if (differs(row, next, SESSION_FIELDS)) await ctx.db.patch("claudeSessions", row._id, { ...replacing(SESSION_FIELDS, next), updatedAt: now });
  }
  for (const row of storedById.values()) await ctx.db.delete("claudeSessions", row._id);
  return result;
}

/** Deletes up to PRUNE_BATCH of `nodeId`'s items resolved more than RESOLVED_TTL_MS ago. */
async function pruneResolved(ctx: MutationCtx, nodeId: Id<"nodes">, now: number): Promise<void> {
  const old = await ctx.db
    .query("needs")
    .withIndex("by_node_resolved_key", (q) => q.eq("nodeId", nodeId).gt("resolvedAt", 0).lt("resolvedAt", now - RESOLVED_TTL_MS))
    .take(PRUNE_BATCH);
  for (const r of old) await ctx.db.delete("needs", r._id);
}

/**
 * Cron: items resolved more than a day ago (of laptops that stopped syncing too), the items and
 * sessions of recently revoked laptops, dismissals older than DISMISSAL_TTL_MS. At most
 * SWEEP_BATCH items per run, so a run stays small whatever the rows hold.
 */
export async function sweep(ctx: MutationCtx, now: number): Promise<{ deleted: number }> {
  const resolved = await ctx.db
    .query("needs")
    .withIndex("by_resolved_since", (q) => q.gt("resolvedAt", 0).lt("resolvedAt", now - RESOLVED_TTL_MS))
    .take(SWEEP_BATCH);
  for (const r of resolved) await ctx.db.delete("needs", r._id);
  let deleted = resolved.length;
  // Newest revocations first: older ones were swept by earlier runs.
  const revoked = await ctx.db
    .query("nodes")
    .withIndex("by_status_revoked_heartbeat", (q) => q.eq("status", "offline").gt("revokedAt", 0))
    .order("desc")
    .take(20);
  for (const n of revoked) {
    if (deleted >= SWEEP_BATCH) break;
    const needs = await ctx.db
      .query("needs")
      .withIndex("by_node_resolved_key", (q) => q.eq("nodeId", n._id))
      .take(SWEEP_BATCH - deleted);
    const sessions = await ctx.db.query("claudeSessions").withIndex("by_node_session", (q) => q.eq("nodeId", n._id)).take(MAX_SESSIONS);
    for (const r of needs) await ctx.db.delete("needs", r._id);
    for (const r of sessions) await ctx.db.delete("claudeSessions", r._id);
    deleted += needs.length + sessions.length;
  }
  const dismissals = await ctx.db
    .query("needDismissals")
    .withIndex("by_created", (q) => q.lt("createdAt", now - DISMISSAL_TTL_MS))
    .take(5 * SWEEP_BATCH);
  for (const d of dismissals) await ctx.db.delete("needDismissals", d._id);
  return { deleted: deleted + dismissals.length };
}

// ---------------------------------------------------------------------------------------
// The list.

/** Micro-USD as dollars and cents ("$12.34"). */
function dollars(micros: number): string {
  return micros > 0 && micros < 10_000 ? "<$0.01" : `$${(micros / 1e6).toFixed(2)}`;
}

type NodeView = { name: string; online: boolean; revoked: boolean };

function nodeCache(ctx: QueryCtx) {
  const cache = new Map<Id<"nodes">, NodeView>();
  return async (id: Id<"nodes">): Promise<NodeView> => {
    let view = cache.get(id);
    if (view === undefined) {
      const n = await ctx.db.get("nodes", id);
      view = {
        name: n?.name ?? "(removed laptop)",
        online: isOnline(n),
        revoked: n === null || n.revokedAt !== undefined,
      };
      cache.set(id, view);
    }
    return view;
  };
}

function featureCache(ctx: QueryCtx) {
  const cache = new Map<Id<"orchestrations">, string | undefined>();
  return async (id: Id<"orchestrations"> | undefined): Promise<string | undefined> => {
    if (id === undefined) return undefined;
    if (!cache.has(id)) cache.set(id, (await ctx.db.get("orchestrations", id))?.featureName);
    return cache.get(id);
  };
}

type Draft = Omit<NeedItem, "dismissed" | "snoozedUntil">;

const ACTION_LABEL: Record<ActionType, string> = {
  approve_plan: "Approving the plan",
  reject_plan: "Rejecting the plan",
  pause: "Pausing",
  resume: "Resuming",
  retry: "Retrying",
  send_message: "A message",
};
const ACTION_OUTCOME: Record<string, string> = { failed: "failed", expired: "expired before the laptop ran it", interrupted: "was interrupted" };

export function actionTitle(a: Doc<"inboundActions">): string {
  const p = a.payload;
  const target =
    a.type === "send_message"
      ? p.agentName === undefined ? "" : ` to ${p.agentName}`
      : p.feature === undefined ? "" : ` of ${p.feature}${p.phase === undefined ? "" : ` phase ${p.phase}`}`;
  return `${ACTION_LABEL[a.type]}${target} ${ACTION_OUTCOME[a.status] ?? a.status}`;
}

/** Every item for `userId`, in KIND_ORDER, newest first within a kind, and how many are not hidden now. */
export async function needsYou(
  ctx: QueryCtx,
  userId: Id<"users">,
  now: number,
  openPrompts: (ctx: QueryCtx) => Promise<NonNullable<NeedItem["prompt"]>[]>,
): Promise<{ items: NeedItem[]; count: number }> {
  const node = nodeCache(ctx);
  const feature = featureCache(ctx);
  const drafts: Draft[] = [];
  const onNode = async (nodeId: Id<"nodes">) => {
    const n = await node(nodeId);
    return { nodeId, nodeName: n.name, nodeOnline: n.online };
  };

  for (const p of await openPrompts(ctx)) {
    drafts.push({
      key: `prompt:${p.promptId}`,
      kind: "permission_prompt",
      title: `${p.agentName ?? "Claude Code"} asks to use ${p.toolName}`,
      detail: p.description,
      since: p.openedAt,
      ...(await onNode(p.nodeId)),
      orchestrationId: p.orchestrationId,
      featureName: p.featureName,
      prompt: p,
      agentName: p.agentName,
      toolName: p.toolName,
    });
  }

  for (const [attention, kind] of [["awaiting_approval", "plan_approval"], ["blocked", "blocked_phase"]] as const) {
    const rows = await ctx.db
      .query("orchestrations")
      .withIndex("by_attention_updated", (q) => q.eq("attention", attention))
      .order("desc")
      .take(EACH_LIMIT);
    for (const o of rows) {
      const phase = o.attentionPhase ?? String(o.currentPhase);
      drafts.push({
        key: `${kind === "plan_approval" ? "approval" : "blocked"}:${o._id}:${phase}`,
        kind,
        title: kind === "plan_approval" ? `The plan of ${o.featureName} phase ${phase} awaits approval` : `${o.featureName} is blocked in phase ${phase}`,
        detail: o.attentionReason,
        since: o.updatedAt,
        ...(await onNode(o.nodeId)),
        orchestrationId: o._id,
        featureName: o.featureName,
        phaseNumber: phase,
      });
    }
  }

  const actions: Doc<"inboundActions">[] = [];
  for (const status of ["failed", "expired", "interrupted"] as const) {
    actions.push(
      ...(await ctx.db
        .query("inboundActions")
        .withIndex("by_status_finished", (q) => q.eq("status", status).gt("finishedAt", now - FAILED_WINDOW_MS))
        .order("desc")
        .take(EACH_LIMIT)),
    );
  }
  for (const a of actions) {
    drafts.push({
      key: `action:${a._id}`,
      kind: "failed_action",
      title: actionTitle(a),
      detail: a.result?.message,
      since: a.finishedAt ?? a.createdAt,
      ...(await onNode(a.nodeId)),
      orchestrationId: a.orchestrationId,
      featureName: a.payload.feature,
      phaseNumber: a.payload.phase,
      actionId: a._id,
      actionType: a.type,
      actionStatus: a.status,
      actionError: a.result?.message,
      agentName: a.payload.agentName,
    });
  }

  // Orchestrations whose spend reached their budget (model/usage.ts): open until the budget is
  // raised above the spend or cleared; syncLaptop never touches them. Their own table, written
  // only then: the usage totals, which every batch rewrites, are not read.
  const overBudget = await ctx.db
    .query("usageBudgetCrossings")
    .withIndex("by_crossed")
    .order("desc")
    .take(EACH_LIMIT);
  for (const c of overBudget) {
    drafts.push({
      key: `budget:${c.orchestrationId}`,
      kind: "budget",
      title: `${c.featureName} reached its budget of ${dollars(c.budgetMicros)}`,
      detail: `${dollars(c.costMicros)} spent when it did. Raise or clear the budget on its page, or dismiss this.`,
      since: c.crossedAt,
      ...(await onNode(c.nodeId)),
      orchestrationId: c.orchestrationId,
      featureName: c.featureName,
    });
  }

  // Revoked laptops are not read at all, so they never crowd out one that went quiet.
  const offline = await ctx.db
    .query("nodes")
    .withIndex("by_status_revoked_heartbeat", (q) => q.eq("status", "offline").eq("revokedAt", undefined))
    .order("desc")
    .take(EACH_LIMIT);
  // The stored status is pushed on every transition (model/nodes.ts): no online laptop is stale.
  for (const n of offline) {
    drafts.push({
      key: `offline:${n._id}`,
      kind: "offline_laptop",
      title: `${n.name} is offline`,
      since: n.lastHeartbeat,
      nodeId: n._id,
      nodeName: n.name,
      nodeOnline: false,
    });
  }

  for (const kind of LAPTOP_KINDS) {
    const rows = await ctx.db
      .query("needs")
      .withIndex("by_resolved_kind_since", (q) => q.eq("resolvedAt", undefined).eq("kind", kind))
      .order("desc")
      .take(EACH_LIMIT);
    for (const r of rows) {
      const n = await node(r.nodeId);
      // A revoked laptop's items are stale by definition (the sweep deletes them).
      if (n.revoked) continue;
      drafts.push({
        key: `laptop:${r.nodeId}:${r.key}`,
        kind: r.kind,
        title: r.title,
        detail: r.detail,
        since: r.since,
        nodeId: r.nodeId,
        nodeName: n.name,
        nodeOnline: n.online,
        orchestrationId: r.orchestrationId,
        featureName: (await feature(r.orchestrationId)) ?? r.featureName,
        phaseNumber: r.phaseNumber,
        agentName: r.agentName,
        requestId: r.requestId,
        toolName: r.toolName,
        toolInput: r.toolInput,
        toolInputTruncated: r.toolInputTruncated,
        planContent: r.planContent,
        cause: r.cause,
        errorKind: r.errorKind,
        retryHint: r.retryHint,
        retryAt: r.retryAt,
        openTasks: r.openTasks,
      });
    }
  }

  const rank = new Map(KIND_ORDER.map((k, i) => [k, i]));
  drafts.sort((a, b) => rank.get(a.kind)! - rank.get(b.kind)! || b.since - a.since);
  const perKind = new Map<NeedKind, number>();
  const items: NeedItem[] = [];
  let count = 0;
  for (const d of drafts) {
    const seen = perKind.get(d.kind) ?? 0;
    if (seen >= EACH_LIMIT) continue;
    perKind.set(d.kind, seen + 1);
    const mine = await ctx.db
      .query("needDismissals")
      .withIndex("by_user_key", (q) => q.eq("userId", userId).eq("key", d.key))
      .first();
    const applies = mine !== null && mine.since === d.since;
    const item: NeedItem = defined({
      ...d,
      dismissed: applies && mine.until === undefined,
      snoozedUntil: applies ? mine.until : undefined,
    });
    if (!item.dismissed && (item.snoozedUntil === undefined || item.snoozedUntil <= now)) count++;
    items.push(item);
  }
  return { items, count };
}

// ---------------------------------------------------------------------------------------
// A person's own triage.

export function checkDismissKey(key: string): string {
  return checkText("key", key, DISMISS_KEY_MAX, { line: true });
}

/** Hides `key` for `userId` while it keeps `since` (`until` unset) or until `until`. */
export async function dismiss(ctx: MutationCtx, userId: Id<"users">, key: string, since: number, until: number | undefined): Promise<void> {
  checkDismissKey(key);
  checkTime("since", since);
  const now = Date.now();
  if (until !== undefined) {
    checkNumber("until", until);
    if (until <= now) invalid("until", "a time in the future", new Date(until).toISOString());
    if (until > now + SNOOZE_MAX_MS) invalid("until", "at most 7 days from now", new Date(until).toISOString());
  }
  const mine = await ctx.db
    .query("needDismissals")
    .withIndex("by_user_key", (q) => q.eq("userId", userId).eq("key", key))
    .first();
  if (mine === null) {
    await ctx.db.insert("needDismissals", defined({ userId, key, since, until, createdAt: now }));
  } else if (mine.since !== since || mine.until !== until) {
    await ctx.db.patch("needDismissals", mine._id, { since, until, createdAt: now });
  }
}

/** Shows `key` again for `userId`. */
export async function restore(ctx: MutationCtx, userId: Id<"users">, key: string): Promise<void> {
  checkDismissKey(key);
  const mine = await ctx.db
    .query("needDismissals")
    .withIndex("by_user_key", (q) => q.eq("userId", userId).eq("key", key))
    .first();
  if (mine !== null) await ctx.db.delete("needDismissals", mine._id);
}

/** A laptop's sessions (or the most recently active across laptops), newest activity first, with the laptop's name. */
export async function sessions(ctx: QueryCtx, nodeId: Id<"nodes"> | undefined) {
  const rows =
    nodeId === undefined
      ? await ctx.db.query("claudeSessions").withIndex("by_last").order("desc").take(SESSIONS_LIMIT)
      : await ctx.db.query("claudeSessions").withIndex("by_node_session", (q) => q.eq("nodeId", nodeId)).take(SESSIONS_LIMIT);
  const node = nodeCache(ctx);
  const out = [];
  for (const r of rows) {
    const n = await node(r.nodeId);
    if (!n.revoked) out.push({ ...r, nodeName: n.name });
  }
  return out.sort((a, b) => b.lastAt - a.lastAt);
}
