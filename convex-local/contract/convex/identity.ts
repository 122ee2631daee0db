// What ctx.auth says about the caller.
import { v } from "convex/values";
import { action, mutation, query } from "./_generated/server";

export const whoami = query({
  args: {},
  returns: v.any(),
  handler: async (ctx) => await ctx.auth.getUserIdentity(),
});

export const whoamiMutation = mutation({
  args: {},
  returns: v.any(),
  handler: async (ctx) => await ctx.auth.getUserIdentity(),
});

export const whoamiAction = action({
  args: {},
  returns: v.any(),
  handler: async (ctx) => await ctx.auth.getUserIdentity(),
});
