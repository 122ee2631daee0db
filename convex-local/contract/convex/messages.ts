// A message list per channel: the data the contract tests subscribe to.
import { v } from "convex/values";
import { internal } from "./_generated/api";
import {
  action,
  internalAction,
  internalMutation,
  internalQuery,
  mutation,
  query,
} from "./_generated/server";
import type { MutationCtx, QueryCtx } from "./_generated/server";

async function bodies(ctx: QueryCtx, channel: string): Promise<string[]> {
  const rows = await ctx.db
    .query("messages")
    .withIndex("by_channel", (q) => q.eq("channel", channel))
    .take(1000);
  return rows.map((row) => row.body);
}

async function insert(ctx: MutationCtx, channel: string, body: string) {
  return await ctx.db.insert("messages", { channel, body });
}

export const list = query({
  args: { channel: v.string() },
  returns: v.array(v.string()),
  handler: async (ctx, { channel }) => await bodies(ctx, channel),
});

export const count = query({
  args: { channel: v.string() },
  returns: v.number(),
  handler: async (ctx, { channel }) => (await bodies(ctx, channel)).length,
});

export const send = mutation({
  args: { channel: v.string(), body: v.string() },
  returns: v.id("messages"),
  handler: async (ctx, { channel, body }) => await insert(ctx, channel, body),
});

/** Inserts after `delayMs` through the scheduler. */
export const sendLater = mutation({
  args: { channel: v.string(), body: v.string(), delayMs: v.number() },
  returns: v.null(),
  handler: async (ctx, { channel, body, delayMs }) => {
    await ctx.scheduler.runAfter(delayMs, internal.messages.insertInternal, { channel, body });
    return null;
  },
});

/** Schedules an action that inserts through runMutation. */
export const sendLaterViaAction = mutation({
  args: { channel: v.string(), body: v.string() },
  returns: v.null(),
  handler: async (ctx, args) => {
    await ctx.scheduler.runAfter(0, internal.messages.insertFromAction, args);
    return null;
  },
});

export const sendViaAction = action({
  args: { channel: v.string(), body: v.string() },
  returns: v.string(),
  handler: async (ctx, args) => {
    await ctx.runMutation(internal.messages.insertInternal, args);
    return "sent";
  },
});

export const insertInternal = internalMutation({
  args: { channel: v.string(), body: v.string() },
  returns: v.null(),
  handler: async (ctx, { channel, body }) => {
    await insert(ctx, channel, body);
    return null;
  },
});

export const insertFromAction = internalAction({
  args: { channel: v.string(), body: v.string() },
  returns: v.null(),
  handler: async (ctx, args) => {
    await ctx.runMutation(internal.messages.insertInternal, args);
    return null;
  },
});

export const listInternal = internalQuery({
  args: { channel: v.string() },
  returns: v.array(v.string()),
  handler: async (ctx, { channel }) => await bodies(ctx, channel),
});

/** Returns its argument: checks value encoding both ways. */
export const echo = query({
  args: { value: v.any() },
  returns: v.any(),
  handler: async (_ctx, { value }) => value,
});

export const echoAction = action({
  args: { value: v.any() },
  returns: v.any(),
  handler: async (_ctx, { value }) => value,
});

/** The oldest message's body in a channel: reads one document of the range. */
export const firstBody = query({
  args: { channel: v.string() },
  returns: v.union(v.string(), v.null()),
  handler: async (ctx, { channel }) => {
    const row = await ctx.db
      .query("messages")
      .withIndex("by_channel", (q) => q.eq("channel", channel))
      .first();
    return row?.body ?? null;
  },
});

export const removeAll = mutation({
  args: { channel: v.string() },
  returns: v.null(),
  handler: async (ctx, { channel }) => {
    const rows = await ctx.db
      .query("messages")
      .withIndex("by_channel", (q) => q.eq("channel", channel))
      .take(1000);
    for (const row of rows) await ctx.db.delete("messages", row._id);
    return null;
  },
});

/** Inserts `count` messages: for the limits' tests. */
export const sendMany = mutation({
  args: { channel: v.string(), count: v.number() },
  returns: v.null(),
  handler: async (ctx, { channel, count }) => {
    for (let i = 0; i < count; i++) await insert(ctx, channel, String(i));
    return null;
  },
});

/** Reads every message of a channel (unbounded on purpose: for the limits' tests). */
export const countAll = query({
  args: { channel: v.string() },
  returns: v.number(),
  handler: async (ctx, { channel }) =>
    (
      await ctx.db
        .query("messages")
        .withIndex("by_channel", (q) => q.eq("channel", channel))
        .collect()
    ).length,
});

/** `count` strings of `size` characters, made here: for the return value limit's test. */
export const strings = query({
  args: { size: v.number(), count: v.number() },
  returns: v.array(v.string()),
  handler: async (_ctx, { size, count }) => Array.from({ length: count }, () => "z".repeat(size)),
});

/** The messages of a channel with this body, found by a filter over the channel's range. */
export const withBody = query({
  args: { channel: v.string(), body: v.string() },
  returns: v.number(),
  handler: async (ctx, { channel, body }) =>
    (
      await ctx.db
        .query("messages")
        .withIndex("by_channel", (q) => q.eq("channel", channel))
        .filter((q) => q.eq(q.field("body"), body))
        .collect()
    ).length,
});
