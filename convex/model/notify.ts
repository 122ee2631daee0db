// Notifications (issue 20): Web Push, ntfy and a webhook tell a person that something needs
// them, one notification per "Needs you" item, not per event.
//
// Any mutation that can open, change or resolve an item calls `requestNotify`: it schedules one
// `notify:evaluate` COALESCE_MS later unless one is already pending (a singleton row, so a burst
// of triggers costs one evaluation). `evaluate` computes the open items once (model/needs.ts
// needsYou), and for each user with a channel compares what they should see (their kinds, not
// dismissed, not snoozed) with what they were shown (notifyState):
//
//   new                 → show (more than BURST_MAX new at once: one summary, tag tina-summary)
//   title/body changed  → show again with the same tag (the notification is replaced)
//   gone or dismissed   → close (the item was resolved elsewhere, or the user answered it)
//
// During a user's quiet hours nothing is shown (closes still go); an evaluation at their end
// shows what is still open. An orchestration that finished is a one-shot event: shown once,
// never closed. The messages go to notifyNode:deliver (a Node action: web-push, ntfy, webhook),
// which reports back with notify:recordDeliveries.
import { v, type Infer } from "convex/values";
import { internal } from "../_generated/api";
import type { Doc, Id } from "../_generated/dataModel";
import { env, type MutationCtx, type QueryCtx } from "../_generated/server";
import { audit, type UserActor } from "./audit";
import { checkString, utf8Bytes } from "./checks";
import { fail, invalid } from "./errors";
import { needsYou } from "./needs";
import { answerableBy, answerableOf, type Answerable } from "./notifyAnswer";
import { KINDS_OFFERED_BEFORE, NOTIFY_KINDS as KINDS } from "./notifyKinds";
import type { NeedItem, NeedKind, Role } from "./validators";

// ---------------------------------------------------------------------------------------
// Vocabulary.

export const notifyKind = v.union(
  v.literal("plan_approval"),
  v.literal("permission_prompt"),
  v.literal("blocked_phase"),
  v.literal("stall"),
  v.literal("failed_action"),
  v.literal("offline_laptop"),
  v.literal("budget"),
  v.literal("orchestration_finished"),
);
export type NotifyKind = Infer<typeof notifyKind>;

/** Every kind, in the order the settings page lists them; all on by default (model/notifyKinds.ts). */
export const NOTIFY_KINDS: readonly NotifyKind[] = KINDS;

/**
 * The kinds that notify a person: those they chose, and those added since they chose (on by
 * default, like every kind, until they choose again).
 */
export function kindsEnabled(row: Pick<Doc<"notifySettings">, "kinds" | "kindsOffered"> | null): NotifyKind[] {
  if (row === null) return [...NOTIFY_KINDS];
  const offered = new Set<NotifyKind>(row.kindsOffered ?? KINDS_OFFERED_BEFORE);
  const chosen = new Set(row.kinds);
  return NOTIFY_KINDS.filter((k) => chosen.has(k) || !offered.has(k));
}

/** Which notify kind each "Needs you" kind belongs to (the contract's map). */
export const KIND_OF_NEED: Record<NeedKind, NotifyKind> = {
  plan_approval: "plan_approval",
  agent_plan_approval: "plan_approval",
  permission_prompt: "permission_prompt",
  teammate_permission: "permission_prompt",
  blocked_phase: "blocked_phase",
  stalled: "stall",
  stop_failure: "stall",
  idle_with_tasks: "stall",
  failed_action: "failed_action",
  offline_laptop: "offline_laptop",
  budget: "budget",
};

/** What a shown notification was: an item's kind, or the burst summary. */
export const notifyStateKind = v.union(notifyKind, v.literal("summary"));
/** A message's kind in its payload: also "test" (notify:sendTest). */
export const messageKind = v.union(notifyKind, v.literal("summary"), v.literal("test"));
export type MessageKind = Infer<typeof messageKind>;

export const quietHours = v.object({ start: v.string(), end: v.string(), timeZone: v.string() });
export type QuietHours = Infer<typeof quietHours>;

export const deliveryChannel = v.union(v.literal("push"), v.literal("ntfy"), v.literal("webhook"));
export type DeliveryChannel = Infer<typeof deliveryChannel>;
export const notifyOp = v.union(v.literal("show"), v.literal("close"));

/**
 * What a notification's actions may decide (model/notifyAnswer.ts): a permission prompt's
 * "allow" (once) and "deny", a plan's "approve".
 */
export const answerDecision = v.union(v.literal("allow"), v.literal("deny"), v.literal("approve"));
export type AnswerDecision = Infer<typeof answerDecision>;
/** What an answer acts on: a prompt (its 32-hex id), or a phase's plan at the revision the notification was made for. */
export const answerTarget = v.union(
  v.object({ kind: v.literal("prompt"), promptId: v.string() }),
  v.object({ kind: v.literal("plan"), orchestrationId: v.id("orchestrations"), phase: v.string(), planHash: v.string() }),
);
export type AnswerTarget = Infer<typeof answerTarget>;
/** A show that may carry actions: notifyNode:deliver issues the single-use token for it. */
export const answerSpec = v.object({ decisions: v.array(answerDecision), target: answerTarget, expiresAt: v.number() });
export type AnswerSpec = Infer<typeof answerSpec>;
/** The button titles the service worker shows (showNotification's `actions`). */
export const ANSWER_TITLES: Record<AnswerDecision, string> = { allow: "Allow once", deny: "Deny", approve: "Approve plan" };
/** Bytes kept free in a show's payload for its actions and answer capability (token and URL). */
export const ANSWER_RESERVE_BYTES = 700;
/** The longest answer URL a payload carries (longer: no actions). */
export const ANSWER_URL_MAX = 400;

/** One message to a user, as notify:evaluate hands it to notifyNode:deliver. */
export const showMessage = v.object({
  op: v.literal("show"),
  tag: v.string(),
  kind: messageKind,
  title: v.string(),
  body: v.string(),
  url: v.string(),
  at: v.number(),
  // Permission prompts and plan approvals: Urgency high (RFC 8030 §5.3).
  urgent: v.boolean(),
  // The user answers from the notification (their setting), and this item can be answered so.
  answer: v.optional(answerSpec),
});
// `urgent`: the item's own urgency, so that its withdrawal travels as fast as it did (not in the payload).
export const closeMessage = v.object({ op: v.literal("close"), tag: v.string(), urgent: v.optional(v.boolean()) });
export const notifyMessage = v.union(showMessage, closeMessage);
export type ShowMessage = Infer<typeof showMessage>;
export type CloseMessage = Infer<typeof closeMessage>;
export type NotifyMessage = Infer<typeof notifyMessage>;

/** How one message went on one channel: what a delivery row keeps and the deliveries list shows. */
export const deliveryOutcome = {
  channel: deliveryChannel,
  op: notifyOp,
  tag: v.string(),
  ok: v.boolean(),
  status: v.optional(v.number()),
  error: v.optional(v.string()),
};

/** What notifyNode:deliver reports per message and target. */
export const deliveryResult = v.object({
  ...deliveryOutcome,
  deviceId: v.optional(v.id("pushSubscriptions")),
  // The push service answered 404 or 410: the subscription is gone.
  gone: v.optional(v.boolean()),
});
export type DeliveryResult = Infer<typeof deliveryResult>;

export const SUMMARY_TAG = "tina-summary";
export const TEST_TAG = "tina-test";

// ---------------------------------------------------------------------------------------
// Bounds.

export const MAX_DEVICES = 10;
export const ENDPOINT_MAX = 1024;
export const LABEL_MAX = 100;
export const URL_MAX = 2048;
export const NTFY_TOPIC_RE = /^[A-Za-z0-9_-]{1,64}$/;
export const TIME_ZONE_MAX = 64;
/** Triggers within this many ms share one evaluation. */
export const COALESCE_MS = 250;
/** A pending evaluation this late has failed: the next trigger schedules a new one. */
const STUCK_MS = 60_000;
/** More new items than this for one user in one evaluation: one summary instead. */
export const BURST_MAX = 3;
/** Users with a channel evaluated in one run (the next ones in another run right after). */
export const MAX_USERS = 20;
/** A user's dismissals read in one range; more than this are looked up one item at a time. */
const DISMISSALS_READ = 300;
/** State rows a user can have: every item needsYou lists, one-shot events, the summary. */
const MAX_STATE = 400;
/** One-shot events are shown within this window and deleted after it. */
export const EVENT_TTL_MS = 24 * 60 * 60_000;
const EVENTS_READ = 20;
export const DELIVERIES_KEPT = 20;
/** The payload before encryption (the contract: at most 3,000 bytes). */
export const PAYLOAD_MAX_BYTES = 3000;
export const TITLE_MAX = 120;
export const BODY_MAX = 300;
const ERROR_MAX = 200;

// ---------------------------------------------------------------------------------------
// Edge checks. Errors name the field.

const LOOPBACK = new Set(["127.0.0.1", "[::1]", "localhost"]);

/** An absolute URL: https, or http for a loopback host (tests, receivers on the same machine). */
export function checkUrl(field: string, raw: string, max: number): URL {
  checkString(field, raw, max);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    invalid(field, "an absolute URL", JSON.stringify(raw.slice(0, 60)));
  }
  const loopback = LOOPBACK.has(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
    invalid(field, "an https URL (http only for 127.0.0.1, ::1 or localhost)", url.protocol);
  }
  if (url.username !== "" || url.password !== "") invalid(field, "a URL without a user name or password");
  return url;
}

const BASE64URL_RE = /^[A-Za-z0-9_-]+={0,2}$/;
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** Decodes base64url (padding optional; `+` and `/` are refused). */
export function decodeBase64Url(field: string, raw: string, maxChars = 200): Uint8Array {
  if (raw.length > maxChars || !BASE64URL_RE.test(raw)) invalid(field, "base64url (A-Z a-z 0-9 - _)");
  const text = raw.replace(/=+$/, "");
  if (text.length % 4 === 1) invalid(field, "base64url of whole bytes");
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let at = 0;
  for (const ch of text) {
    value = (value << 6) | B64.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (value >> bits) & 0xff;
    }
  }
  return out;
}

export function encodeBase64Url(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = [B64[(n >> 18) & 63], B64[(n >> 12) & 63], B64[(n >> 6) & 63], B64[n & 63]];
    out += chars.slice(0, Math.ceil(((Math.min(3, bytes.length - i)) * 8) / 6)).join("");
  }
  return out;
}

// NIST P-256 (SEC 2): y² = x³ - 3x + b over p.
const P256_P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const P256_B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;

function bigOf(bytes: Uint8Array): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

/** The subscription's p256dh: an uncompressed P-256 point (65 bytes, 0x04 || x || y) on the curve. */
export function checkP256(field: string, raw: string): void {
  const bytes = decodeBase64Url(field, raw);
  if (bytes.length !== 65 || bytes[0] !== 0x04) invalid(field, "an uncompressed P-256 public key (65 bytes starting with 0x04)", `${bytes.length} bytes`);
  const x = bigOf(bytes.subarray(1, 33));
  const y = bigOf(bytes.subarray(33, 65));
  const p = P256_P;
  if (x >= p || y >= p) invalid(field, "a point on the P-256 curve");
  const right = (((x * x) % p) * x - 3n * x + P256_B) % p;
  if ((y * y) % p !== (right + p) % p) invalid(field, "a point on the P-256 curve");
}

export function checkAuthSecret(field: string, raw: string): void {
  const bytes = decodeBase64Url(field, raw);
  if (bytes.length !== 16) invalid(field, "a 16-byte auth secret", `${bytes.length} bytes`);
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** One line of words: control characters replaced, trimmed, at most `max` characters. */
function line(field: string, raw: string, max: number): string {
  if (raw.length > max) invalid(field, `at most ${max} characters`, `${raw.length}`);
  const clean = raw.replace(CONTROL, " ").trim();
  if (clean === "") invalid(field, "words, not an empty string");
  return clean;
}

const HHMM_RE = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;

function minutesOf(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

export function checkQuietHours(q: QuietHours): QuietHours {
  if (!HHMM_RE.test(q.start)) invalid("quietHours.start", "a time as HH:MM (00:00 to 23:59)", JSON.stringify(q.start.slice(0, 20)));
  if (!HHMM_RE.test(q.end)) invalid("quietHours.end", "a time as HH:MM (00:00 to 23:59)", JSON.stringify(q.end.slice(0, 20)));
  if (q.start === q.end) invalid("quietHours.end", "a time other than the start");
  if (q.timeZone.length === 0 || q.timeZone.length > TIME_ZONE_MAX) invalid("quietHours.timeZone", "an IANA time zone such as Europe/Paris");
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: q.timeZone });
  } catch {
    invalid("quietHours.timeZone", "an IANA time zone such as Europe/Paris", JSON.stringify(q.timeZone));
  }
  return q;
}

/** The local wall-clock minute and the ms into it, in `timeZone`. */
function localClock(now: number, timeZone: string): { minute: number; intoMinuteMs: number } {
  const parts = new Intl.DateTimeFormat("en-US", { timeZone, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }).formatToParts(new Date(now));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? "0");
  return { minute: (get("hour") % 24) * 60 + get("minute"), intoMinuteMs: get("second") * 1000 + (now % 1000) };
}

/** Whether `now` is in the quiet hours, and when they end (the next end from now). */
export function quietState(q: QuietHours, now: number): { quiet: boolean; endsAt: number } {
  const start = minutesOf(q.start);
  const end = minutesOf(q.end);
  const { minute, intoMinuteMs } = localClock(now, q.timeZone);
  const quiet = start < end ? minute >= start && minute < end : minute >= start || minute < end;
  let endsAt = now + ((end - minute + 1440) % 1440) * 60_000 - intoMinuteMs;
  if (endsAt <= now) endsAt += 1440 * 60_000;
  return { quiet, endsAt };
}

// ---------------------------------------------------------------------------------------
// Messages.

/** `text` cut to `max` characters, with an ellipsis. */
function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1).trimEnd()}…`;
}

/**
 * The JSON the service worker receives (the contract's payload). With `capability` (a show whose
 * answer notifyNode:deliver issued): also `actions` for showNotification and `answer`, the
 * single-use token and the URL the worker posts `notify:answer` to.
 */
export function payloadOf(m: NotifyMessage, capability?: { token: string; url: string }): string {
  if (m.op === "close") return JSON.stringify({ v: 1, op: "close", tag: m.tag });
  const base = { v: 1, op: "show", tag: m.tag, title: m.title, body: m.body, url: m.url, kind: m.kind, at: m.at };
  if (capability === undefined || m.answer === undefined) return JSON.stringify(base);
  const actions = m.answer.decisions.map((d) => ({ action: d, title: ANSWER_TITLES[d] }));
  return JSON.stringify({ ...base, actions, answer: { token: capability.token, url: capability.url } });
}

/** `m` with its body, then title, then URL shortened until its payload fits PAYLOAD_MAX_BYTES (less the answer's room). */
export function fitted(m: ShowMessage): ShowMessage {
  let out = m;
  const max = m.answer === undefined ? PAYLOAD_MAX_BYTES : PAYLOAD_MAX_BYTES - ANSWER_RESERVE_BYTES;
  for (let i = 0; i < 12 && utf8Bytes(payloadOf(out)) > max; i++) {
    if (out.body.length > 20) out = { ...out, body: cut(out.body, Math.floor(out.body.length / 2)) };
    else if (out.title.length > 20) out = { ...out, title: cut(out.title, Math.floor(out.title.length / 2)) };
    else out = { ...out, url: "#/attention" };
  }
  return out;
}

export function itemUrl(key: string): string {
  return `#/attention?item=${encodeURIComponent(key)}`;
}

/** One item as a notification: what is needed (title), which orchestration and laptop, the detail. */
export function itemMessage(item: NeedItem, now: number): ShowMessage {
  const kind = KIND_OF_NEED[item.kind];
  const feature = item.featureName === undefined ? undefined : item.phaseNumber === undefined ? item.featureName : `${item.featureName} phase ${item.phaseNumber}`;
  const where = [feature, item.nodeName === undefined ? undefined : `on ${item.nodeName}`].filter((x) => x !== undefined).join(" · ");
  const detail = item.detail?.replace(CONTROL, " ").trim();
  const body = [where, detail].filter((x) => x !== undefined && x !== "").join("\n");
  return fitted({
    op: "show",
    tag: item.key,
    kind,
    title: cut(item.title.replace(CONTROL, " ").trim() || "tina needs you", TITLE_MAX),
    body: cut(body, BODY_MAX),
    url: itemUrl(item.key),
    at: item.since > 0 ? item.since : now,
    urgent: isUrgent(kind),
  });
}

function isUrgent(kind: MessageKind | Infer<typeof notifyStateKind>): boolean {
  return kind === "permission_prompt" || kind === "plan_approval";
}

function closeOf(row: Doc<"notifyState">): CloseMessage {
  return isUrgent(row.kind) ? { op: "close", tag: row.tag, urgent: true } : { op: "close", tag: row.tag };
}

function stateKind(kind: MessageKind): Infer<typeof notifyStateKind> {
  return kind === "test" ? "summary" : kind;
}

function eventMessage(e: Doc<"notifyEvents">): ShowMessage {
  return fitted({ op: "show", tag: e.tag, kind: e.kind, title: e.title, body: e.body, url: e.url, at: e.at, urgent: false });
}

function summaryMessage(titles: string[], count: number, urgent: boolean, now: number): ShowMessage {
  const shown = titles.slice(0, BURST_MAX).map((t) => `• ${t}`);
  if (count > shown.length) shown.push(`and ${count - shown.length} more`);
  return fitted({
    op: "show",
    tag: SUMMARY_TAG,
    kind: "summary",
    title: `tina: ${count} things need you`,
    body: cut(shown.join("\n"), BODY_MAX),
    url: "#/attention",
    at: now,
    urgent,
  });
}

export function testMessage(now: number): ShowMessage {
  return {
    op: "show",
    tag: TEST_TAG,
    kind: "test",
    title: "tina: test notification",
    body: "Notifications from tina reach you here.",
    url: "#/attention",
    at: now,
    urgent: false,
  };
}

/** A short digest of what a notification says (cyrb53: a change detector, not a secret). */
export function digestOf(m: ShowMessage): string {
  // With actions, what they act on too: a plan revised since is shown again with a fresh token.
  const answer = m.answer === undefined ? "" : `\n${m.answer.decisions.join(",")}\n${JSON.stringify(m.answer.target)}`;
  const text = `${m.title}\n${m.body}\n${m.url}${answer}`;
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

// ---------------------------------------------------------------------------------------
// The coalescing queue.

async function queueRow(ctx: QueryCtx): Promise<Doc<"notifyQueue"> | null> {
  return await ctx.db.query("notifyQueue").withIndex("by_key", (q) => q.eq("key", "main")).unique();
}

/** Creates the queue row (the first channel anyone sets up): from now on triggers schedule. */
async function ensureQueue(ctx: MutationCtx): Promise<void> {
  if ((await queueRow(ctx)) === null) await ctx.db.insert("notifyQueue", { key: "main" });
}

/**
 * Something that may change what needs someone happened: evaluate in COALESCE_MS unless an
 * evaluation is already due by then. One indexed read when nobody has a channel.
 */
export async function requestNotify(ctx: MutationCtx): Promise<void> {
  const q = await queueRow(ctx);
  if (q === null) return;
  const now = Date.now();
  const at = now + COALESCE_MS;
  if (q.pendingAt !== undefined && q.pendingAt <= at && q.pendingAt > now - STUCK_MS) return;
  await schedule(ctx, q, at);
}

async function schedule(ctx: MutationCtx, q: Doc<"notifyQueue">, at: number): Promise<void> {
  if (q.jobId !== undefined) {
    const job = await ctx.db.system.get("_scheduled_functions", q.jobId);
    if (job !== null && job.state.kind === "pending") await ctx.scheduler.cancel(q.jobId);
  }
  const jobId = await ctx.scheduler.runAt(at, internal.notify.evaluate, {});
  await ctx.db.patch("notifyQueue", q._id, { pendingAt: at, jobId });
}

// ---------------------------------------------------------------------------------------
// Settings and devices.

type Settings = Doc<"notifySettings">;

async function settingsRow(ctx: QueryCtx, userId: Id<"users">): Promise<Settings | null> {
  return await ctx.db.query("notifySettings").withIndex("by_user", (q) => q.eq("userId", userId)).unique();
}

/** Writes `patch` into the user's settings (created with the defaults), keeping `active` true to its channels. */
async function writeSettings(ctx: MutationCtx, userId: Id<"users">, patch: Partial<Omit<Settings, "_id" | "_creationTime" | "userId">>): Promise<void> {
  const now = Date.now();
  const row = await settingsRow(ctx, userId);
  const base = row ?? { kinds: [...NOTIFY_KINDS], kindsOffered: [...NOTIFY_KINDS], devices: 0, active: false, activeSince: now };
  const next = { ...base, ...patch };
  const active = next.devices > 0 || next.ntfy !== undefined || next.webhookUrl !== undefined;
  const activeSince = active && !base.active ? now : base.activeSince;
  if (row === null) {
    await ctx.db.insert("notifySettings", { ...defined(next), userId, active, activeSince, updatedAt: now } as Omit<Settings, "_id" | "_creationTime">);
  } else {
    await ctx.db.patch("notifySettings", row._id, { ...patch, active, activeSince, updatedAt: now });
  }
  if (active) await ensureQueue(ctx);
  // Without a channel nothing stays shown: a channel added later starts from what is open then.
  if (base.active && !active) {
    const state = await ctx.db.query("notifyState").withIndex("by_user_tag", (q) => q.eq("userId", userId)).take(MAX_STATE);
    for (const row of state) await ctx.db.delete("notifyState", row._id);
  }
}

function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, value]) => value !== undefined)) as T;
}

export function config(): { vapidPublicKey: string | null } {
  const key = env.TINA_VAPID_PUBLIC_KEY?.trim();
  return { vapidPublicKey: key ? key : null };
}

async function devicesOf(ctx: QueryCtx, userId: Id<"users">): Promise<Doc<"pushSubscriptions">[]> {
  return await ctx.db
    .query("pushSubscriptions")
    .withIndex("by_user_created", (q) => q.eq("userId", userId))
    .take(MAX_DEVICES * 2);
}

function hostOf(endpoint: string): string {
  try {
    return new URL(endpoint).host;
  } catch {
    return "";
  }
}

/** This user's devices, for the settings page: never the endpoint's URL or the keys. */
export async function devices(ctx: QueryCtx, userId: Id<"users">) {
  return (await devicesOf(ctx, userId)).map((d) =>
    defined({
      _id: d._id,
      label: d.label,
      endpointHost: hostOf(d.endpoint),
      createdAt: d.createdAt,
      lastSuccessAt: d.lastSuccessAt,
      lastError: d.lastError,
    }),
  );
}

export type SubscriptionInput = { endpoint: string; keys: { p256dh: string; auth: string } };

/** Adds (or refreshes, by endpoint) a device of `userId`. At most MAX_DEVICES a user. */
export async function subscribe(ctx: MutationCtx, userId: Id<"users">, sub: SubscriptionInput, rawLabel: string): Promise<Id<"pushSubscriptions">> {
  checkUrl("subscription.endpoint", sub.endpoint, ENDPOINT_MAX);
  checkP256("subscription.keys.p256dh", sub.keys.p256dh);
  checkAuthSecret("subscription.keys.auth", sub.keys.auth);
  const label = line("label", rawLabel, LABEL_MAX);
  const now = Date.now();
  const existing = await ctx.db.query("pushSubscriptions").withIndex("by_endpoint", (q) => q.eq("endpoint", sub.endpoint)).unique();
  if (existing !== null && existing.userId === userId) {
    await ctx.db.patch("pushSubscriptions", existing._id, { p256dh: sub.keys.p256dh, auth: sub.keys.auth, label, lastError: undefined, lastErrorAt: undefined });
    return existing._id;
  }
  const mine = await devicesOf(ctx, userId);
  if (mine.length >= MAX_DEVICES) fail("conflict", `at most ${MAX_DEVICES} devices a user: remove one first`, "subscription");
  // The browser now belongs to this user (another signed in on it before): it leaves them.
  if (existing !== null) await removeDevice(ctx, existing);
  const id = await ctx.db.insert("pushSubscriptions", { userId, endpoint: sub.endpoint, p256dh: sub.keys.p256dh, auth: sub.keys.auth, label, createdAt: now });
  await writeSettings(ctx, userId, { devices: mine.length + 1 });
  await requestNotify(ctx);
  return id;
}

async function removeDevice(ctx: MutationCtx, d: Doc<"pushSubscriptions">): Promise<void> {
  await ctx.db.delete("pushSubscriptions", d._id);
  const left = (await devicesOf(ctx, d.userId)).length;
  await writeSettings(ctx, d.userId, { devices: left });
}

export async function unsubscribe(ctx: MutationCtx, userId: Id<"users">, endpoint: string): Promise<void> {
  checkString("endpoint", endpoint, ENDPOINT_MAX);
  const row = await ctx.db.query("pushSubscriptions").withIndex("by_endpoint", (q) => q.eq("endpoint", endpoint)).unique();
  if (row !== null && row.userId === userId) await removeDevice(ctx, row);
}

export async function settings(ctx: QueryCtx, userId: Id<"users">) {
  const row = await settingsRow(ctx, userId);
  return {
    kinds: kindsEnabled(row),
    quietHours: row?.quietHours ?? null,
    ntfy: row?.ntfy ?? null,
    webhook: row?.webhookUrl === undefined ? null : { urlHost: hostOf(row.webhookUrl) },
    answering: row?.answering === true,
  };
}

/**
 * Turns answering from the notification on (operators and owners only: a viewer cannot act) or
 * off. Off: every answer token not used yet stops working at once. Either way the open items are
 * shown again, with or without their actions.
 */
export async function setAnswering(ctx: MutationCtx, actor: UserActor, userId: Id<"users">, role: Role, enabled: boolean): Promise<void> {
  if (enabled && role === "viewer") fail("forbidden", "answering from a notification is an action: it needs the operator or owner role; you are a viewer");
  const before = (await settingsRow(ctx, userId))?.answering === true;
  await writeSettings(ctx, userId, { answering: enabled ? true : undefined });
  if (before !== enabled) {
    // Who may act from a locked phone is a security setting: audited when it changes.
    await audit(ctx, actor, {
      verb: "user.notification_answering_changed",
      detail: `answering permission prompts and plans from notifications: ${enabled ? "on" : "off"}`,
    });
  }
  if (!enabled) {
    const open = await ctx.db
      .query("notifyAnswers")
      .withIndex("by_user_expires", (q) => q.eq("userId", userId).gt("expiresAt", Date.now()))
      .take(MAX_STATE);
    for (const row of open) await ctx.db.delete("notifyAnswers", row._id);
  }
  await requestNotify(ctx);
}

export type SettingsUpdate = {
  kinds?: NotifyKind[];
  quietHours?: QuietHours | null;
  ntfy?: { server: string; topic: string } | null;
  webhook?: { url: string } | null;
};

export async function updateSettings(ctx: MutationCtx, userId: Id<"users">, update: SettingsUpdate): Promise<void> {
  const patch: Partial<Settings> = {};
  if (update.kinds !== undefined) {
    const seen = new Set<NotifyKind>();
    update.kinds.forEach((k, i) => {
      if (seen.has(k)) invalid(`kinds[${i}]`, "a kind not already listed", k);
      seen.add(k);
    });
    patch.kinds = NOTIFY_KINDS.filter((k) => seen.has(k));
    patch.kindsOffered = [...NOTIFY_KINDS]; // chosen among all of today's kinds
  }
  if (update.quietHours !== undefined) patch.quietHours = update.quietHours === null ? undefined : checkQuietHours(update.quietHours);
  if (update.ntfy !== undefined) {
    if (update.ntfy === null) patch.ntfy = undefined;
    else {
      const server = checkUrl("ntfy.server", update.ntfy.server, URL_MAX);
      if (server.search !== "" || server.hash !== "") invalid("ntfy.server", "a server URL without query or fragment");
      if (!NTFY_TOPIC_RE.test(update.ntfy.topic)) invalid("ntfy.topic", "a topic of 1 to 64 letters, digits, '-' or '_'");
      patch.ntfy = { server: server.href.replace(/\/+$/, ""), topic: update.ntfy.topic };
    }
  }
  if (update.webhook !== undefined) {
    patch.webhookUrl = update.webhook === null ? undefined : checkUrl("webhook.url", update.webhook.url, URL_MAX).href;
  }
  await writeSettings(ctx, userId, patch);
  await requestNotify(ctx);
}

export async function recentDeliveries(ctx: QueryCtx, userId: Id<"users">) {
  const rows = await ctx.db
    .query("notifyDeliveries")
    .withIndex("by_user_at", (q) => q.eq("userId", userId))
    .order("desc")
    .take(DELIVERIES_KEPT);
  return rows.map((r) => defined({ at: r.at, channel: r.channel, op: r.op, tag: r.tag, ok: r.ok, status: r.status, error: r.error, deviceLabel: r.deviceLabel }));
}

/** One test message on `channel`; without that channel set up, a failed delivery says so. */
export async function sendTest(ctx: MutationCtx, userId: Id<"users">, channel: DeliveryChannel): Promise<void> {
  const now = Date.now();
  const row = await settingsRow(ctx, userId);
  const missing =
    channel === "push" ? (row?.devices ?? 0) === 0 ? "no device has notifications turned on" : undefined
    : channel === "ntfy" ? row?.ntfy === undefined ? "no ntfy topic is set" : undefined
    : row?.webhookUrl === undefined ? "no webhook is set" : undefined;
  if (missing !== undefined) {
    await record(ctx, userId, now, [{ channel, op: "show", tag: TEST_TAG, ok: false, error: missing }]);
    return;
  }
  await ctx.scheduler.runAfter(0, internal.notifyNode.deliver, { userId, messages: [testMessage(now)], channels: [channel] });
}

// ---------------------------------------------------------------------------------------
// Delivery: what the Node action needs, and what it reports.

export async function targets(ctx: QueryCtx, userId: Id<"users">) {
  const row = await settingsRow(ctx, userId);
  const devices = (await devicesOf(ctx, userId)).map((d) => ({ _id: d._id, endpoint: d.endpoint, p256dh: d.p256dh, auth: d.auth, label: d.label }));
  return { devices, ntfy: row?.ntfy ?? null, webhookUrl: row?.webhookUrl ?? null };
}

/** Keeps the last DELIVERIES_KEPT deliveries of the user, with `results` the newest. */
async function record(ctx: MutationCtx, userId: Id<"users">, at: number, results: (Omit<DeliveryResult, "deviceId" | "gone"> & { deviceLabel?: string })[]): Promise<void> {
  for (const r of results.slice(-DELIVERIES_KEPT)) {
    const error = r.error === undefined ? undefined : cut(r.error.replace(CONTROL, " "), ERROR_MAX);
    // A failure of the set-up itself (no VAPID keys, no channel), again: the one row says it, dated anew.
    if (!r.ok && r.deviceLabel === undefined && r.status === undefined) {
      const newest = await ctx.db.query("notifyDeliveries").withIndex("by_user_at", (q) => q.eq("userId", userId)).order("desc").first();
      if (newest !== null && !newest.ok && newest.channel === r.channel && newest.error === error && newest.status === undefined) {
        await ctx.db.patch("notifyDeliveries", newest._id, { at, op: r.op, tag: cut(r.tag, 512) });
        continue;
      }
    }
    await ctx.db.insert("notifyDeliveries", defined({
      userId,
      at,
      channel: r.channel,
      op: r.op,
      tag: cut(r.tag, 512),
      ok: r.ok,
      status: r.status,
      error,
      deviceLabel: r.deviceLabel,
    }));
  }
  const rows = await ctx.db
    .query("notifyDeliveries")
    .withIndex("by_user_at", (q) => q.eq("userId", userId))
    .order("desc")
    .take(DELIVERIES_KEPT * 3);
  for (const old of rows.slice(DELIVERIES_KEPT)) await ctx.db.delete("notifyDeliveries", old._id);
}

/** notifyNode:deliver's report: the log, each device's last outcome, gone devices removed. */
export async function recordDeliveries(ctx: MutationCtx, userId: Id<"users">, results: DeliveryResult[]): Promise<void> {
  const now = Date.now();
  const labels = new Map<Id<"pushSubscriptions">, string>();
  const seen = new Set<Id<"pushSubscriptions">>();
  for (const r of results) {
    if (r.deviceId === undefined || seen.has(r.deviceId)) continue;
    const device = await ctx.db.get("pushSubscriptions", r.deviceId);
    if (device === null || device.userId !== userId) continue;
    seen.add(r.deviceId);
    labels.set(device._id, device.label);
    const last = results.filter((x) => x.deviceId === r.deviceId).at(-1)!;
    if (results.some((x) => x.deviceId === r.deviceId && x.gone)) await removeDevice(ctx, device);
    else if (last.ok) await ctx.db.patch("pushSubscriptions", device._id, { lastSuccessAt: now, lastError: undefined, lastErrorAt: undefined });
    else await ctx.db.patch("pushSubscriptions", device._id, { lastError: cut(errorText(last), ERROR_MAX), lastErrorAt: now });
  }
  await record(ctx, userId, now, results.map(({ deviceId, gone: _gone, ...r }) => ({ ...r, deviceLabel: deviceId === undefined ? undefined : labels.get(deviceId) })));
}

function errorText(r: DeliveryResult): string {
  return [r.status === undefined ? undefined : `HTTP ${r.status}`, r.error].filter((x) => x !== undefined).join(": ") || "failed";
}

// ---------------------------------------------------------------------------------------
// One-shot events.

/** An orchestration became complete: one notification to each user who wants them. */
export async function orchestrationFinished(ctx: MutationCtx, o: { _id: Id<"orchestrations">; featureName: string; nodeId: Id<"nodes"> }): Promise<void> {
  if ((await queueRow(ctx)) === null) return;
  const tag = `done:${o._id}`;
  if ((await ctx.db.query("notifyEvents").withIndex("by_tag", (q) => q.eq("tag", tag)).first()) !== null) return;
  const node = await ctx.db.get("nodes", o.nodeId);
  await ctx.db.insert("notifyEvents", {
    kind: "orchestration_finished",
    tag,
    orchestrationId: o._id,
    title: cut(`${o.featureName} finished`, TITLE_MAX),
    body: node === null ? "" : `on ${node.name}`,
    url: `#/o/${o._id}`,
    at: Date.now(),
  });
  await requestNotify(ctx);
}

// ---------------------------------------------------------------------------------------
// The evaluation.

type OpenPrompts = Parameters<typeof needsYou>[3];
type Dismissal = { since: number; until?: number };

/** Whether `item` is hidden from the user now (dismissed with its `since`, or snoozed), and until when. */
function hiddenBy(d: Dismissal | undefined, item: NeedItem, now: number): { hidden: boolean; until?: number } {
  if (d === undefined || d.since !== item.since) return { hidden: false };
  if (d.until === undefined) return { hidden: true };
  return d.until > now ? { hidden: true, until: d.until } : { hidden: false };
}

/** The user's dismissals of `items`: one range read, or one lookup per item when they have very many. */
async function dismissalsOf(ctx: QueryCtx, userId: Id<"users">, items: NeedItem[]): Promise<Map<string, Dismissal>> {
  const rows = await ctx.db
    .query("needDismissals")
    .withIndex("by_user_key", (q) => q.eq("userId", userId))
    .take(DISMISSALS_READ + 1);
  if (rows.length <= DISMISSALS_READ) return new Map(rows.map((r) => [r.key, r]));
  const out = new Map<string, Dismissal>();
  for (const item of items) {
    const r = await ctx.db.query("needDismissals").withIndex("by_user_key", (q) => q.eq("userId", userId).eq("key", item.key)).first();
    if (r !== null) out.set(item.key, r);
  }
  return out;
}

export type Evaluation = { users: number; messages: number; wakeAt?: number };

/**
 * Diffs what each user with a channel should see with what they were shown, and schedules the
 * deliveries (see the top of this file). Schedules the next evaluation for the end of a quiet
 * period or a snooze that holds something back.
 */
export async function evaluate(ctx: MutationCtx, now: number, openPrompts: OpenPrompts, after?: Id<"users">): Promise<Evaluation> {
  const q = await queueRow(ctx);
  if (after === undefined && q !== null && q.pendingAt !== undefined) await ctx.db.patch("notifyQueue", q._id, { pendingAt: undefined, jobId: undefined });
  // MAX_USERS a run; the next ones in a run of their own, right after.
  const active = await ctx.db
    .query("notifySettings")
    .withIndex("by_active_user", (x) => (after === undefined ? x.eq("active", true) : x.eq("active", true).gt("userId", after)))
    .take(MAX_USERS);
  if (active.length === MAX_USERS) await ctx.scheduler.runAfter(0, internal.notify.evaluate, { after: active[active.length - 1]!.userId });
  const users: Settings[] = [];
  const roles = new Map<Id<"users">, Role>();
  for (const s of active) {
    const member = await ctx.db.query("members").withIndex("by_user", (x) => x.eq("userId", s.userId)).unique();
    if (member !== null) {
      users.push(s);
      roles.set(s.userId, member.role);
    }
  }
  // One-shot events past their day go (at most a few per evaluation).
  if (after === undefined) {
    for (const old of await ctx.db.query("notifyEvents").withIndex("by_at", (x) => x.lt("at", now - EVENT_TTL_MS)).take(EVENTS_READ)) {
      await ctx.db.delete("notifyEvents", old._id);
    }
    // Answer tokens a day past their expiry (a replay until then is told "expired").
    for (const old of await ctx.db.query("notifyAnswers").withIndex("by_expires", (x) => x.lt("expiresAt", now - EVENT_TTL_MS)).take(EVENTS_READ)) {
      await ctx.db.delete("notifyAnswers", old._id);
    }
  }
  if (users.length === 0) return { users: 0, messages: 0 };

  // The open items are the same for everyone; only dismissals and snoozes differ.
  const { items } = await needsYou(ctx, users[0]!.userId, now, openPrompts);
  const events = await ctx.db
    .query("notifyEvents")
    .withIndex("by_at", (x) => x.gte("at", now - EVENT_TTL_MS))
    .order("desc")
    .take(EVENTS_READ);
  const eventTags = new Set(events.map((e) => e.tag));
  let wakeAt: number | undefined;
  const wake = (at: number) => {
    wakeAt = wakeAt === undefined ? at : Math.min(wakeAt, at);
  };
  let messages = 0;
  // What each item's actions could answer, read once for all users (null: not answerable).
  const answerables = new Map<string, Answerable | null>();
  const answerFor = async (item: NeedItem, role: Role | undefined) => {
    if (!answerables.has(item.key)) answerables.set(item.key, await answerableOf(ctx, item, now));
    return answerableBy(answerables.get(item.key)!, role);
  };

  for (const [i, s] of users.entries()) {
    const enabled = new Set(kindsEnabled(s));
    const dismissals =
      i === 0
        ? new Map(items.flatMap((it) => (it.dismissed ? [[it.key, { since: it.since }]] : it.snoozedUntil !== undefined ? [[it.key, { since: it.since, until: it.snoozedUntil }]] : [])) as [string, Dismissal][])
        : await dismissalsOf(ctx, s.userId, items);
    const wanted = new Map<string, { show: ShowMessage; oneShot: boolean }>();
    for (const item of items) {
      if (!enabled.has(KIND_OF_NEED[item.kind]) || wanted.has(item.key)) continue;
      const h = hiddenBy(dismissals.get(item.key), item, now);
      if (h.until !== undefined) wake(h.until);
      if (h.hidden) continue;
      const answer = s.answering === true ? await answerFor(item, roles.get(s.userId)) : undefined;
      wanted.set(item.key, { show: answer === undefined ? itemMessage(item, now) : fitted({ ...itemMessage(item, now), answer }), oneShot: false });
    }
    if (enabled.has("orchestration_finished")) {
      for (const e of events) if (e.at >= s.activeSince && !wanted.has(e.tag)) wanted.set(e.tag, { show: eventMessage(e), oneShot: true });
    }

    const state = await ctx.db
      .query("notifyState")
      .withIndex("by_user_tag", (x) => x.eq("userId", s.userId))
      .take(MAX_STATE);
    const byTag = new Map(state.map((r) => [r.tag, r]));
    const freshItems: ShowMessage[] = [];
    const freshEvents: ShowMessage[] = [];
    const changed: { show: ShowMessage; row: Doc<"notifyState"> }[] = [];
    for (const [tag, w] of wanted) {
      const row = byTag.get(tag);
      if (row === undefined) (w.oneShot ? freshEvents : freshItems).push(w.show);
      else if (!w.oneShot && row.digest !== digestOf(w.show)) changed.push({ show: w.show, row });
    }
    const closes: CloseMessage[] = [];
    for (const row of state) {
      if (row.tag === SUMMARY_TAG || wanted.has(row.tag)) continue;
      // A one-shot notification is never closed; its row goes with its event.
      if (row.kind === "orchestration_finished") {
        if (!eventTags.has(row.tag)) await ctx.db.delete("notifyState", row._id);
        continue;
      }
      await ctx.db.delete("notifyState", row._id);
      if (row.via === "item") closes.push(closeOf(row));
    }

    const shows: ShowMessage[] = [];
    const quiet = s.quietHours === undefined ? undefined : quietState(s.quietHours, now);
    // Items counted only in the summary and still open (not shown on their own since).
    let summarized = state.filter((r) => r.via === "summary" && wanted.has(r.tag)).length;
    if (quiet?.quiet) {
      if (freshItems.length + freshEvents.length + changed.length > 0) wake(quiet.endsAt);
    } else {
      for (const c of changed) {
        if (c.row.via === "summary") summarized--;
        await ctx.db.patch("notifyState", c.row._id, { digest: digestOf(c.show), via: "item", shownAt: now });
        shows.push(c.show);
      }
      const burst = freshItems.length > BURST_MAX;
      for (const f of [...freshItems, ...freshEvents]) {
        const inSummary = burst && f.kind !== "orchestration_finished";
        await ctx.db.insert("notifyState", { userId: s.userId, tag: f.tag, kind: stateKind(f.kind), digest: digestOf(f), via: inSummary ? "summary" : "item", shownAt: now });
        if (!inSummary) shows.push(f);
      }
      if (burst) {
        summarized += freshItems.length;
        const summary = summaryMessage(freshItems.map((f) => f.title), summarized, freshItems.some((f) => f.urgent), now);
        const row = byTag.get(SUMMARY_TAG);
        if (row === undefined) await ctx.db.insert("notifyState", { userId: s.userId, tag: SUMMARY_TAG, kind: "summary", digest: digestOf(summary), via: "item", shownAt: now });
        else await ctx.db.patch("notifyState", row._id, { digest: digestOf(summary), shownAt: now });
        shows.push(summary);
      }
    }
    // The summary goes once nothing it counted is left.
    const summaryRow = byTag.get(SUMMARY_TAG);
    if (summaryRow !== undefined && summarized === 0) {
      await ctx.db.delete("notifyState", summaryRow._id);
      closes.push({ op: "close", tag: SUMMARY_TAG });
    }

    const out: NotifyMessage[] = [...closes, ...shows];
    if (out.length > 0) {
      await ctx.scheduler.runAfter(0, internal.notifyNode.deliver, { userId: s.userId, messages: out });
      messages += out.length;
    }
  }

  if (wakeAt !== undefined && q !== null) {
    // Unless an evaluation is due sooner (a trigger, or an earlier page's wake).
    const at = Math.max(wakeAt, now + COALESCE_MS);
    const fresh = await queueRow(ctx);
    if (fresh !== null && (fresh.pendingAt === undefined || fresh.pendingAt > at)) await schedule(ctx, fresh, at);
  }
  return { users: users.length, messages, ...(wakeAt === undefined ? {} : { wakeAt }) };
}
