"use node";
// Delivery of notifications (issue 20), in Convex's Node runtime: Web Push with the `web-push`
// library (RFC 8291 aes128gcm encryption, a VAPID ES256 JWT; RFC 8030 TTL, Urgency and Topic),
// ntfy (POST {server}/{topic}) and a Slack/Discord-compatible webhook. Only actions live here,
// as Convex requires of "use node" files; model/notify.ts decides what to send.
//
// A push service that answers 404 or 410 has dropped the subscription: it is removed. Other
// failures go into the user's delivery log as a status code and a short reason, never the
// endpoint, the keys or the webhook URL.
import { createHash, randomBytes } from "node:crypto";
import { v } from "convex/values";
import { internal } from "./_generated/api";
import type { Id } from "./_generated/dataModel";
import { env, internalAction, type ActionCtx } from "./_generated/server";
import {
  ANSWER_URL_MAX,
  deliveryChannel,
  encodeBase64Url,
  notifyMessage,
  payloadOf,
  PAYLOAD_MAX_BYTES,
  type DeliveryChannel,
  type DeliveryResult,
  type NotifyMessage,
  type ShowMessage,
} from "./model/notify";

/** How long a push service keeps an undelivered message (s). */
const TTL_SECONDS = 12 * 60 * 60;
const REQUEST_TIMEOUT_MS = 10_000;
const ERROR_MAX = 200;

type Device = { _id: Id<"pushSubscriptions">; endpoint: string; p256dh: string; auth: string; label: string };
type Vapid = { subject: string; publicKey: string; privateKey: string };
type Capability = { token: string; url: string };

/** The VAPID details from the deployment's environment, or why push cannot be sent. */
function vapid(): Vapid | string {
  const publicKey = env.TINA_VAPID_PUBLIC_KEY?.trim();
  const privateKey = env.TINA_VAPID_PRIVATE_KEY?.trim();
  const subject = env.TINA_VAPID_SUBJECT?.trim();
  if (!publicKey || !privateKey) return "push is not set up: TINA_VAPID_PUBLIC_KEY and TINA_VAPID_PRIVATE_KEY are not set (tina push keys)";
  if (!subject) return "push is not set up: TINA_VAPID_SUBJECT (mailto: or https:) is not set";
  return { subject, publicKey, privateKey };
}

/** RFC 8030 Topic: at most 32 base64url characters; the same for every message of an item. */
async function topicOf(tag: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(tag));
  return encodeBase64Url(new Uint8Array(digest)).slice(0, 32);
}

/** A failure in words, without URLs: the error's name and its cause's code. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return "failed";
  const code = (error as { cause?: { code?: unknown } }).cause?.code;
  const name = error.name === "Error" ? "error" : error.name;
  return `${name}${typeof code === "string" ? ` (${code})` : ""}`.slice(0, ERROR_MAX);
}

/** An absolute link into the dashboard when TINA_DASHBOARD_URL is set. */
function link(url: string): string | undefined {
  const base = env.TINA_DASHBOARD_URL?.trim();
  if (!base) return undefined;
  return `${base.split("#")[0]}${url}`;
}

/** RFC 2047 for header values that are not ASCII (ntfy decodes them). */
function headerValue(text: string): string {
  if (/^[\u0020-\u007e]*$/.test(text)) return text;
  return `=?UTF-8?B?${Buffer.from(text, "utf8").toString("base64")}?=`;
}

/** Where a service worker posts a notification's answer: the deployment's function API, or nothing. */
function answerUrl(): string | undefined {
  const base = env.CONVEX_CLOUD_URL?.trim().replace(/\/+$/, "");
  if (!base) return undefined;
  const url = `${base}/api/mutation`;
  return url.length <= ANSWER_URL_MAX && /^https?:\/\//.test(url) ? url : undefined;
}

/**
 * One single-use token per show that may answer (256 random bits, base64url), the same for all
 * of the user's devices; only its SHA-256 is stored (notify:issueAnswers), and only the ones it
 * accepts (the setting still on, a role that may act) go out with actions.
 */
async function issueCapabilities(ctx: ActionCtx, userId: Id<"users">, shows: ShowMessage[]): Promise<Map<string, Capability>> {
  const out = new Map<string, Capability>();
  const url = answerUrl();
  const wanted = shows.filter((m) => m.answer !== undefined).slice(0, 20);
  if (url === undefined || wanted.length === 0) return out;
  const drawn = wanted.map((m) => {
    const token = randomBytes(32).toString("base64url");
    return { m, token, tokenHash: createHash("sha256").update(token).digest("hex") };
  });
  const accepted = await ctx.runMutation(internal.notify.issueAnswers, {
    userId,
    answers: drawn.map((d) => ({ tag: d.m.tag, tokenHash: d.tokenHash, spec: d.m.answer! })),
  });
  drawn.forEach((d, i) => {
    if (accepted[i]) out.set(d.m.tag, { token: d.token, url });
  });
  return out;
}

/** The payload, with the answer capability when it has one and it fits; without otherwise. */
function payloadFor(m: NotifyMessage, capabilities: Map<string, Capability>): string {
  const capability = m.op === "show" ? capabilities.get(m.tag) : undefined;
  const full = payloadOf(m, capability);
  return Buffer.byteLength(full, "utf8") <= PAYLOAD_MAX_BYTES ? full : payloadOf(m);
}

async function pushTo(device: Device, messages: NotifyMessage[], keys: Vapid, capabilities: Map<string, Capability>, out: DeliveryResult[]): Promise<void> {
  const webpush = (await import("web-push")).default;
  for (const m of messages) {
    const base = { channel: "push" as const, op: m.op, tag: m.tag, deviceId: device._id };
    try {
      const details = webpush.generateRequestDetails({ endpoint: device.endpoint, keys: { p256dh: device.p256dh, auth: device.auth } }, payloadFor(m, capabilities), {
        vapidDetails: keys,
        TTL: TTL_SECONDS,
        urgency: m.urgent === true ? "high" : "normal",
        topic: await topicOf(m.tag),
        contentEncoding: "aes128gcm",
      });
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(details.headers)) {
        if (name.toLowerCase() !== "content-length") headers[name] = String(value);
      }
      const response = await fetch(details.endpoint, {
        method: "POST",
        headers,
        body: details.body === null ? undefined : new Uint8Array(details.body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      await response.body?.cancel();
      if (response.ok) {
        out.push({ ...base, ok: true, status: response.status });
      } else if (response.status === 404 || response.status === 410) {
        out.push({ ...base, ok: false, status: response.status, error: "the push service dropped this subscription", gone: true });
        return;
      } else {
        out.push({ ...base, ok: false, status: response.status, error: `the push service refused the message (${response.statusText || response.status})`.slice(0, ERROR_MAX) });
      }
    } catch (error) {
      out.push({ ...base, ok: false, error: describe(error) });
    }
  }
}

async function post(channel: DeliveryChannel, m: ShowMessage, url: string, init: { headers: Record<string, string>; body: string }, out: DeliveryResult[]): Promise<void> {
  try {
    const response = await fetch(url, { method: "POST", ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    await response.body?.cancel();
    out.push(response.ok ? { channel, op: "show", tag: m.tag, ok: true, status: response.status } : { channel, op: "show", tag: m.tag, ok: false, status: response.status, error: `the ${channel} receiver refused the message` });
  } catch (error) {
    out.push({ channel, op: "show", tag: m.tag, ok: false, error: describe(error) });
  }
}

/** ntfy: one POST a show (ntfy cannot withdraw a message), priority high for what blocks an agent. */
async function ntfy(target: { server: string; topic: string }, shows: ShowMessage[], out: DeliveryResult[]): Promise<void> {
  for (const m of shows) {
    const click = link(m.url);
    const headers: Record<string, string> = {
      "Content-Type": "text/plain; charset=utf-8",
      Title: headerValue(m.title),
      Tags: headerValue(`tina,${m.kind}`),
      Priority: m.urgent ? "4" : "3",
      ...(click === undefined ? {} : { Click: click }),
    };
    await post("ntfy", m, `${target.server}/${target.topic}`, { headers, body: m.body || m.title }, out);
  }
}

/** A webhook: Slack reads `text`, Discord `content`; `tina` has the fields. Shows only. */
async function webhook(url: string, shows: ShowMessage[], out: DeliveryResult[]): Promise<void> {
  for (const m of shows) {
    const click = link(m.url);
    const text = [m.title, m.body, click].filter((x) => x !== undefined && x !== "").join("\n");
    const body = JSON.stringify({ text, content: text, tina: { op: m.op, kind: m.kind, tag: m.tag, title: m.title, body: m.body, url: click ?? m.url } });
    await post("webhook", m, url, { headers: { "Content-Type": "application/json" }, body }, out);
  }
}

/** Sends one user's messages on their channels (all, or `channels`), then reports the outcome. */
export const deliver = internalAction({
  args: { userId: v.id("users"), messages: v.array(notifyMessage), channels: v.optional(v.array(deliveryChannel)) },
  returns: v.null(),
  handler: async (ctx, { userId, messages, channels }) => {
    const targets = await ctx.runQuery(internal.notify.targets, { userId });
    const wanted = new Set<DeliveryChannel>(channels ?? ["push", "ntfy", "webhook"]);
    const shows = messages.filter((m): m is ShowMessage => m.op === "show");
    const out: DeliveryResult[] = [];
    const work: Promise<void>[] = [];
    if (wanted.has("push") && targets.devices.length > 0) {
      const keys = vapid();
      if (typeof keys === "string") out.push({ channel: "push", op: messages[0]!.op, tag: messages[0]!.tag, ok: false, error: keys });
      else {
        const capabilities = await issueCapabilities(ctx, userId, shows);
        for (const d of targets.devices) work.push(pushTo(d, messages, keys, capabilities, out));
      }
    }
    if (wanted.has("ntfy") && targets.ntfy !== null && shows.length > 0) work.push(ntfy(targets.ntfy, shows, out));
    if (wanted.has("webhook") && targets.webhookUrl !== null && shows.length > 0) work.push(webhook(targets.webhookUrl, shows, out));
    await Promise.all(work);
    if (out.length > 0) await ctx.runMutation(internal.notify.recordDeliveries, { userId, results: out });
    return null;
  },
});
