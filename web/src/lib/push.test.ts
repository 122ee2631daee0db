import { describe, expect, expectTypeOf, test } from "vitest";
import type { NotifySettings } from "../api";
import {
  channelUrlProblem,
  deviceLabel,
  hostOf,
  NOTIFY_KIND_TEXT,
  NOTIFY_KINDS,
  ntfyTopicProblem,
  pushSupport,
  quietHoursProblem,
  sameKey,
  subscriptionArgs,
  vapidKeyBytes,
  type PushEnv,
} from "./push";

// A VAPID public key in the form web-push's generateVAPIDKeys() prints (base64url of 65 bytes, 0x04 first).
const VAPID = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM";

const env = (over: Partial<PushEnv> = {}): PushEnv => ({
  secure: true,
  serviceWorker: true,
  pushManager: true,
  notification: true,
  userAgent: "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
  standalone: false,
  ...over,
});

const IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

test("the contract's seven kinds and budget (issue 22), the server's own, each said in words", () => {
  expectTypeOf<(typeof NOTIFY_KINDS)[number]>().toEqualTypeOf<NotifySettings["kinds"][number]>();
  expect(NOTIFY_KINDS).toEqual(["plan_approval", "permission_prompt", "blocked_phase", "stall", "failed_action", "offline_laptop", "budget", "orchestration_finished"]);
  for (const kind of NOTIFY_KINDS) expect(NOTIFY_KIND_TEXT[kind].label.length).toBeGreaterThan(3);
});

describe("can this browser receive push?", () => {
  test("yes, with all the pieces on a secure page", () => {
    expect(pushSupport(env())).toEqual({ ok: true });
  });
  test("each missing piece, named", () => {
    expect(pushSupport(env({ secure: false }))).toEqual({ ok: false, reason: "insecure" });
    expect(pushSupport(env({ serviceWorker: false }))).toEqual({ ok: false, reason: "no-service-worker" });
    expect(pushSupport(env({ pushManager: false }))).toEqual({ ok: false, reason: "no-push" });
    expect(pushSupport(env({ notification: false }))).toEqual({ ok: false, reason: "no-notifications" });
  });
  test("an iPhone: only from the Home Screen", () => {
    expect(pushSupport(env({ userAgent: IPHONE, pushManager: false, notification: false }))).toEqual({ ok: false, reason: "ios-not-installed" });
    expect(pushSupport(env({ userAgent: IPHONE, standalone: true }))).toEqual({ ok: true });
  });
});

describe("the deployment's VAPID key", () => {
  test("base64url to the 65 bytes of an uncompressed P-256 point", () => {
    const bytes = vapidKeyBytes(VAPID);
    expect(bytes).toHaveLength(65);
    expect(bytes[0]).toBe(4);
    expect(sameKey(bytes.buffer, bytes)).toBe(true);
    expect(sameKey(new Uint8Array(65), bytes)).toBe(false);
    expect(sameKey(null, bytes)).toBe(false);
  });
  test("anything else is refused with a reason", () => {
    expect(() => vapidKeyBytes("not a key!")).toThrow(/not base64url/);
    expect(() => vapidKeyBytes("AAAA")).toThrow(/not a P-256 public key/);
  });
});

describe("the subscription notify:subscribe stores", () => {
  test("endpoint and keys from PushSubscription.toJSON()", () => {
    const json = { endpoint: "https://fcm.googleapis.com/fcm/send/abc", expirationTime: null, keys: { p256dh: "BPk", auth: "xyz" } };
    expect(subscriptionArgs(json)).toEqual({ endpoint: "https://fcm.googleapis.com/fcm/send/abc", keys: { p256dh: "BPk", auth: "xyz" } });
  });
  test("a missing part is named", () => {
    expect(() => subscriptionArgs({ endpoint: "http://push.example.com/x", keys: { p256dh: "a", auth: "b" } })).toThrow(/subscription.endpoint/);
    expect(() => subscriptionArgs({ endpoint: "https://push.example.com/x", keys: { auth: "b" } })).toThrow(/subscription.keys.p256dh/);
    expect(() => subscriptionArgs({ endpoint: "https://push.example.com/x", keys: { p256dh: "a" } })).toThrow(/subscription.keys.auth/);
    expect(subscriptionArgs({ endpoint: "http://127.0.0.1:4000/push/1", keys: { p256dh: "a", auth: "b" } }).endpoint).toBe("http://127.0.0.1:4000/push/1");
  });
});

test("a device is named by browser and platform", () => {
  expect(deviceLabel(env().userAgent)).toBe("Chrome on Android");
  expect(deviceLabel(IPHONE)).toBe("Safari on iPhone");
  expect(deviceLabel("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0")).toBe("Firefox on Mac");
  expect(deviceLabel("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0")).toBe("Edge on Windows");
  expect(deviceLabel("")).toBe("This browser");
});

describe("channel settings, checked before they are sent", () => {
  test("addresses: https, or http on this machine only", () => {
    expect(channelUrlProblem("https://hooks.slack.com/services/T/B/x", "webhook.url")).toBeNull();
    expect(channelUrlProblem("http://127.0.0.1:9000/hook", "webhook.url")).toBeNull();
    expect(channelUrlProblem("http://localhost/hook", "webhook.url")).toBeNull();
    expect(channelUrlProblem("http://hooks.example.com/x", "webhook.url")).toMatch(/^webhook.url: must start with https:\/\//);
    expect(channelUrlProblem("ftp://x", "ntfy.server")).toMatch(/^ntfy.server/);
    expect(channelUrlProblem("hooks", "webhook.url")).toMatch(/^webhook.url: not an address/);
  });
  test("ntfy topics", () => {
    expect(ntfyTopicProblem("tina-alerts_7f3k")).toBeNull();
    expect(ntfyTopicProblem("has space")).toMatch(/^ntfy.topic/);
    expect(ntfyTopicProblem("x".repeat(65))).toMatch(/^ntfy.topic/);
  });
  test("quiet hours", () => {
    expect(quietHoursProblem({ start: "22:00", end: "07:30", timeZone: "Europe/Paris" })).toBeNull();
    expect(quietHoursProblem({ start: "24:00", end: "07:00", timeZone: "UTC" })).toMatch(/^quietHours.start/);
    expect(quietHoursProblem({ start: "22:00", end: "7:00", timeZone: "UTC" })).toMatch(/^quietHours.end/);
    expect(quietHoursProblem({ start: "22:00", end: "22:00", timeZone: "UTC" })).toMatch(/same time/);
    expect(quietHoursProblem({ start: "22:00", end: "07:00", timeZone: "Mars/Olympus" })).toMatch(/^quietHours.timeZone/);
  });
  test("only a host is ever shown", () => {
    expect(hostOf("https://hooks.slack.com/services/T000/B000/XXXX")).toBe("hooks.slack.com");
    expect(hostOf("nonsense")).toBe("");
  });
});
