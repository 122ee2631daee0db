// Documents holding any Convex value: checks that values (int64, bytes, special floats)
// survive the state file and the dump endpoint unchanged.
import { v } from "convex/values";
import { mutation, query } from "./_generated/server";

export const put = mutation({
  args: { value: v.any() },
  returns: v.id("records"),
  handler: async (ctx, { value }) => await ctx.db.insert("records", { value }),
});

export const get = query({
  args: { id: v.id("records") },
  returns: v.any(),
  handler: async (ctx, { id }) => await ctx.db.get(id),
});
