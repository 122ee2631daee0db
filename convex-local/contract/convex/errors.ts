// Functions that fail, with and without ConvexError data.
import { ConvexError, v } from "convex/values";
import { action, mutation, query } from "./_generated/server";

export const convexErrorQuery = query({
  args: {},
  returns: v.null(),
  handler: async () => {
    throw new ConvexError({ code: "NOPE", detail: 7 });
  },
});

export const convexErrorMutation = mutation({
  args: { code: v.string() },
  returns: v.null(),
  handler: async (_ctx, { code }) => {
    throw new ConvexError({ code });
  },
});

export const convexErrorAction = action({
  args: {},
  returns: v.null(),
  handler: async () => {
    throw new ConvexError("just a string");
  },
});

export const plainErrorQuery = query({
  args: {},
  returns: v.null(),
  handler: async () => {
    throw new Error("boom in a query");
  },
});

export const plainErrorMutation = mutation({
  args: {},
  returns: v.null(),
  handler: async () => {
    throw new Error("boom in a mutation");
  },
});

export const plainErrorAction = action({
  args: {},
  returns: v.null(),
  handler: async () => {
    throw new Error("boom in an action");
  },
});

/** Fails while the channel is empty, then counts its messages. */
export const failWhileEmpty = query({
  args: { channel: v.string() },
  returns: v.number(),
  handler: async (ctx, { channel }) => {
    const rows = await ctx.db
      .query("messages")
      .withIndex("by_channel", (q) => q.eq("channel", channel))
      .take(100);
    if (rows.length === 0) throw new ConvexError({ code: "EMPTY", channel });
    return rows.length;
  },
});

/** Writes, then throws: the write must be rolled back. */
export const writeThenFail = mutation({
  args: { channel: v.string() },
  returns: v.null(),
  handler: async (ctx, { channel }) => {
    await ctx.db.insert("messages", { channel, body: "never committed" });
    throw new Error("rolled back");
  },
});
