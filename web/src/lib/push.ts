// Push notifications on this device and the settings around them (issue 20): what the browser
// can do, the VAPID key, the subscription the Convex functions store, and the checks a form
// makes before it asks the server. No I/O here; views/NotificationsView.tsx does the calls.

import { NOTIFY_KINDS } from "../../../convex/model/notifyKinds";

/** What a person can turn on or off: Convex's own list (convex/model/notifyKinds.ts, pure). */
export { NOTIFY_KINDS };

export type NotifyKind = (typeof NOTIFY_KINDS)[number];

export const NOTIFY_KIND_TEXT: Record<NotifyKind, { label: string; detail: string }> = {
  plan_approval: { label: "Plans awaiting approval", detail: "a phase's plan, or an agent's, waits for a yes" },
  permission_prompt: { label: "Permission prompts", detail: "Claude Code or a teammate asks to run something" },
  blocked_phase: { label: "Blocked phases", detail: "a phase stopped and needs a decision" },
  stall: { label: "Stalls and stop failures", detail: "an agent stalled, failed to stop, or idles with open tasks" },
  failed_action: { label: "Failed actions", detail: "something you or a teammate asked for did not happen" },
  offline_laptop: { label: "Laptop offline", detail: "a laptop stopped reporting" },
  budget: { label: "Over budget", detail: "an orchestration's spend reached the budget set for it" },
  orchestration_finished: { label: "Orchestration finished", detail: "an orchestration completed" },
};

export type PushSupport =
  | { ok: true }
  | { ok: false; reason: "insecure" | "no-service-worker" | "no-push" | "no-notifications" | "ios-not-installed" };

export type PushEnv = {
  secure: boolean;
  serviceWorker: boolean;
  pushManager: boolean;
  notification: boolean;
  userAgent: string;
  /** display-mode standalone, or navigator.standalone on iOS */
  standalone: boolean;
};

const IOS = /\b(iPhone|iPad|iPod)\b/;

/** Whether this browser can receive Web Push here, and if not, why. */
export function pushSupport(env: PushEnv): PushSupport {
  if (!env.secure) return { ok: false, reason: "insecure" };
  // iOS and iPadOS offer Web Push only to a web app opened from the Home Screen (16.4 and later).
  if (IOS.test(env.userAgent) && !env.standalone) return { ok: false, reason: "ios-not-installed" };
  if (!env.serviceWorker) return { ok: false, reason: "no-service-worker" };
  if (!env.pushManager) return { ok: false, reason: "no-push" };
  if (!env.notification) return { ok: false, reason: "no-notifications" };
  return { ok: true };
}

export const PUSH_SUPPORT_TEXT: Record<Exclude<PushSupport, { ok: true }>["reason"], string> = {
  insecure: "Push needs the dashboard served over https (or from localhost). Open it at its https address.",
  "no-service-worker": "This browser cannot run tina's service worker, so it cannot receive push notifications here.",
  "no-push": "This browser does not support push notifications. ntfy or a webhook below can reach you instead.",
  "no-notifications": "This browser cannot show notifications. ntfy or a webhook below can reach you instead.",
  "ios-not-installed": "On iPhone and iPad, push works once tina is on the Home Screen: tap Share, then Add to Home Screen, and open tina from there.",
};

/** A VAPID public key (base64url, an uncompressed P-256 point) as the bytes pushManager.subscribe takes. */
export function vapidKeyBytes(key: string): Uint8Array<ArrayBuffer> {
  const trimmed = key.trim();
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(trimmed)) throw new Error("the deployment's VAPID public key is not base64url");
  const base64 = trimmed.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  const raw = atob(padded);
  const bytes = new Uint8Array(new ArrayBuffer(raw.length));
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  if (bytes.length !== 65 || bytes[0] !== 4) throw new Error("the deployment's VAPID public key is not a P-256 public key (65 bytes, starting 0x04)");
  return bytes;
}

/** Whether two application server keys (bytes, or an ArrayBuffer as the browser reports it) are the same. */
export function sameKey(a: ArrayBuffer | Uint8Array | null | undefined, b: Uint8Array): boolean {
  if (a === null || a === undefined) return false;
  const x = a instanceof Uint8Array ? a : new Uint8Array(a);
  return x.length === b.length && x.every((v, i) => v === b[i]);
}

export type SubscriptionArgs = { endpoint: string; keys: { p256dh: string; auth: string } };

/** notify:subscribe's `subscription` from PushSubscription.toJSON(); throws naming what is missing. */
export function subscriptionArgs(json: { endpoint?: string | null; keys?: Record<string, string> | null }): SubscriptionArgs {
  const endpoint = json.endpoint ?? "";
  if (!/^https:\/\//.test(endpoint) && !isLoopbackHttp(endpoint)) throw new Error("subscription.endpoint: the push service gave no https address");
  const p256dh = json.keys?.p256dh;
  const auth = json.keys?.auth;
  if (!p256dh) throw new Error("subscription.keys.p256dh: missing");
  if (!auth) throw new Error("subscription.keys.auth: missing");
  return { endpoint, keys: { p256dh, auth } };
}

function isLoopbackHttp(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" && ["127.0.0.1", "[::1]", "localhost"].includes(url.hostname);
  } catch {
    return false;
  }
}

/** How this device is named in the devices list: browser and platform, from its user agent. */
export function deviceLabel(userAgent: string): string {
  const ua = userAgent;
  const platform = /iPhone/.test(ua)
    ? "iPhone"
    : /iPad/.test(ua)
      ? "iPad"
      : /Android/.test(ua)
        ? "Android"
        : /Mac OS X|Macintosh/.test(ua)
          ? "Mac"
          : /Windows/.test(ua)
            ? "Windows"
            : /CrOS/.test(ua)
              ? "ChromeOS"
              : /Linux/.test(ua)
                ? "Linux"
                : "";
  const browser = /Edg\//.test(ua)
    ? "Edge"
    : /OPR\//.test(ua)
      ? "Opera"
      : /Firefox\/|FxiOS/.test(ua)
        ? "Firefox"
        : /SamsungBrowser/.test(ua)
          ? "Samsung Internet"
          : /Chrome\/|CriOS|Chromium/.test(ua)
            ? "Chrome"
            : /Safari\//.test(ua)
              ? "Safari"
              : "";
  if (browser && platform) return `${browser} on ${platform}`;
  return browser || platform || "This browser";
}

/** A webhook or ntfy server address: https, or http to this machine only. Returns the error, or null. */
export function channelUrlProblem(value: string, field: string): string | null {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return `${field}: not an address (https://…)`;
  }
  if (url.protocol === "https:") return null;
  if (url.protocol === "http:" && ["127.0.0.1", "[::1]", "localhost"].includes(url.hostname)) return null;
  return `${field}: must start with https:// (http only for 127.0.0.1, ::1 or localhost)`;
}

/** ntfy's topic names: letters, digits, _ and -, at most 64. */
export function ntfyTopicProblem(topic: string): string | null {
  return /^[A-Za-z0-9_-]{1,64}$/.test(topic.trim()) ? null : "ntfy.topic: 1 to 64 letters, digits, _ or -";
}

/** A quiet-hours time of day, "HH:MM" on a 24-hour clock. */
export function isTimeOfDay(value: string): boolean {
  return /^([01]\d|2[0-3]):[0-5]\d$/.test(value);
}

export function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: value });
    return value.trim() !== "";
  } catch {
    return false;
  }
}

export type QuietHours = { start: string; end: string; timeZone: string };

export function quietHoursProblem(q: QuietHours): string | null {
  if (!isTimeOfDay(q.start)) return "quietHours.start: a time of day, HH:MM";
  if (!isTimeOfDay(q.end)) return "quietHours.end: a time of day, HH:MM";
  if (q.start === q.end) return "quietHours: start and end are the same time";
  if (!isTimeZone(q.timeZone)) return "quietHours.timeZone: not a time zone this browser knows";
  return null;
}

/** The host of a push endpoint or a channel's address, for display (never the full address). */
export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "";
  }
}
