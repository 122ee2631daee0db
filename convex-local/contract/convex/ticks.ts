// A counter per name, bumped by the cron job of crons.ts (and by the
// fan-out benchmark, whose workload must not grow as it runs).
import { v } from "convex/values";
import { internalMutation, mutation, query } from "./_generated/server";
import type { MutationCtx } from "./_generated/server";

async function increment(ctx: MutationCtx, name: string): Promise<number> {
  const row = await ctx.db
    .query("ticks")
    .withIndex("by_name", (q) => q.eq("name", name))
    .unique();
  if (row === null) {
    await ctx.db.insert("ticks", { name, count: 1 });
    return 1;
  }
  await ctx.db.patch(row._id, { count: row.count + 1 });
  return row.count + 1;
}

export const tick = internalMutation({
  args: { name: v.string() },
  returns: v.null(),
  handler: async (ctx, { name }) => {
    await increment(ctx, name);
    return null;
  },
});

export const bump = mutation({
  args: { name: v.string() },
  returns: v.number(),
  handler: async (ctx, { name }) => await increment(ctx, name),
});

export const get = query({
  args: { name: v.string() },
  returns: v.number(),
  handler: async (ctx, { name }) => {
    const row = await ctx.db
      .query("ticks")
      .withIndex("by_name", (q) => q.eq("name", name))
      .unique();
    return row?.count ?? 0;
  },
});
