// Notifications (issue 20): the dashboard's settings and devices, and the evaluation that turns
// "Needs you" into Web Push, ntfy and webhook messages. model/notify.ts has the rules;
// notifyNode.ts delivers.
import { v } from "convex/values";
import { internalMutation, internalQuery } from "./_generated/server";
import { notificationMutation, viewerMutation, viewerQuery } from "./functions";
import * as model from "./model/notify";
import { answerDecision, answerSpec, deliveryChannel, deliveryResult, notifyKind, quietHours as quietHoursValidator } from "./model/notify";
import * as answers from "./model/notifyAnswer";
import { openPrompts } from "./prompts";

/** The deployment's VAPID public key (applicationServerKey), or null when push is not set up. */
export const config = viewerQuery({
  args: {},
  returns: v.object({ vapidPublicKey: v.union(v.string(), v.null()) }),
  handler: () => model.config(),
});

/** This user's devices with notifications on: never the endpoint's URL or the keys. */
export const devices = viewerQuery({
  args: {},
  returns: v.array(
    v.object({
      _id: v.id("pushSubscriptions"),
      label: v.string(),
      endpointHost: v.string(),
      createdAt: v.number(),
      lastSuccessAt: v.optional(v.number()),
      lastError: v.optional(v.string()),
    }),
  ),
  handler: (ctx) => model.devices(ctx, ctx.user.userId),
});

/**
 * Turns notifications on for this device (a browser's PushSubscription). Idempotent by
 * endpoint; at most 10 devices a user. The endpoint is https (http only for loopback hosts);
 * p256dh is an uncompressed P-256 point, auth 16 bytes, both base64url.
 */
export const subscribe = viewerMutation({
  args: {
    subscription: v.object({ endpoint: v.string(), keys: v.object({ p256dh: v.string(), auth: v.string() }) }),
    label: v.string(),
  },
  returns: v.object({ deviceId: v.id("pushSubscriptions") }),
  handler: async (ctx, { subscription, label }) => ({ deviceId: await model.subscribe(ctx, ctx.user.userId, subscription, label) }),
});

/** Turns notifications off for this device. Unknown endpoints are fine. */
export const unsubscribe = viewerMutation({
  args: { endpoint: v.string() },
  returns: v.null(),
  handler: async (ctx, { endpoint }) => {
    await model.unsubscribe(ctx, ctx.user.userId, endpoint);
    return null;
  },
});

/** What notifies this user and where (the webhook URL is a secret: only its host). */
export const settings = viewerQuery({
  args: {},
  returns: v.object({
    kinds: v.array(notifyKind),
    quietHours: v.union(quietHoursValidator, v.null()),
    ntfy: v.union(v.object({ server: v.string(), topic: v.string() }), v.null()),
    webhook: v.union(v.object({ urlHost: v.string() }), v.null()),
    answering: v.boolean(),
  }),
  handler: (ctx) => model.settings(ctx, ctx.user.userId),
});

/**
 * Answering from the notification: on, permission prompts (Allow once / Deny) and plans awaiting
 * approval (Approve plan) carry those buttons. Turning it on needs the operator or owner role.
 */
export const setAnswering = viewerMutation({
  args: { enabled: v.boolean() },
  returns: v.null(),
  handler: async (ctx, { enabled }) => {
    await model.setAnswering(ctx, ctx.actor, ctx.user.userId, ctx.user.role, enabled);
    return null;
  },
});

/**
 * A notification's button, posted by the service worker: the single-use token its payload carried
 * and the decision. Answers as the dashboard does (audited with client "notification"); refused,
 * changing nothing, for an unknown, used or expired token, a decision it does not allow, a user
 * who may not act any more, or an item that changed (conflict).
 */
export const answer = notificationMutation({
  args: { decision: answerDecision },
  returns: v.object({ status: v.literal("answered"), decision: answerDecision, detail: v.string(), actionId: v.optional(v.id("inboundActions")) }),
  handler: (ctx, { decision }) => answers.answerWithToken(ctx, ctx.answer, ctx.request, decision),
});

/** notifyNode:deliver stores the SHA-256 of each answer token it drew; false: that show goes without actions. */
export const issueAnswers = internalMutation({
  args: { userId: v.id("users"), answers: v.array(v.object({ tag: v.string(), tokenHash: v.string(), spec: answerSpec })) },
  returns: v.array(v.boolean()),
  handler: (ctx, { userId, answers: issued }) => answers.issueAnswers(ctx, userId, issued),
});

/** Changes any of: the kinds that notify, quiet hours, the ntfy topic, the webhook (null removes). */
export const updateSettings = viewerMutation({
  args: {
    kinds: v.optional(v.array(notifyKind)),
    quietHours: v.optional(v.union(quietHoursValidator, v.null())),
    ntfy: v.optional(v.union(v.object({ server: v.string(), topic: v.string() }), v.null())),
    webhook: v.optional(v.union(v.object({ url: v.string() }), v.null())),
  },
  returns: v.null(),
  handler: async (ctx, { kinds, quietHours, ntfy, webhook }) => {
    await model.updateSettings(ctx, ctx.user.userId, { kinds, quietHours, ntfy, webhook });
    return null;
  },
});

/** One test notification (tag tina-test) on a channel: every device of this user for "push". */
export const sendTest = viewerMutation({
  args: { channel: deliveryChannel },
  returns: v.null(),
  handler: async (ctx, { channel }) => {
    await model.sendTest(ctx, ctx.user.userId, channel);
    return null;
  },
});

/** This user's last 20 deliveries, newest first. */
export const recentDeliveries = viewerQuery({
  args: {},
  returns: v.array(
    v.object({
      at: v.number(),
      ...model.deliveryOutcome,
      deviceLabel: v.optional(v.string()),
    }),
  ),
  handler: (ctx) => model.recentDeliveries(ctx, ctx.user.userId),
});

/**
 * Scheduled by model/notify.ts requestNotify (coalesced) and at the end of quiet hours or a snooze;
 * `after`: the next page of users (MAX_USERS a run).
 */
export const evaluate = internalMutation({
  args: { after: v.optional(v.id("users")) },
  returns: v.object({ users: v.number(), messages: v.number(), wakeAt: v.optional(v.number()) }),
  handler: (ctx, { after }) => model.evaluate(ctx, Date.now(), openPrompts, after),
});

/** notifyNode:deliver reads where to send (endpoints, keys, the webhook URL: only for it). */
export const targets = internalQuery({
  args: { userId: v.id("users") },
  returns: v.object({
    devices: v.array(v.object({ _id: v.id("pushSubscriptions"), endpoint: v.string(), p256dh: v.string(), auth: v.string(), label: v.string() })),
    ntfy: v.union(v.object({ server: v.string(), topic: v.string() }), v.null()),
    webhookUrl: v.union(v.string(), v.null()),
  }),
  handler: (ctx, { userId }) => model.targets(ctx, userId),
});

/** notifyNode:deliver reports what happened: the log, each device's outcome, 404/410 removes. */
export const recordDeliveries = internalMutation({
  args: { userId: v.id("users"), results: v.array(deliveryResult) },
  returns: v.null(),
  handler: async (ctx, { userId, results }) => {
    await model.recordDeliveries(ctx, userId, results);
    return null;
  },
});
