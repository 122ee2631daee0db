// Environment variables as functions see them.
import { v } from "convex/values";
import { query } from "./_generated/server";

export const get = query({
  args: { name: v.string() },
  returns: v.union(v.string(), v.null()),
  handler: async (_ctx, { name }) => process.env[name] ?? null,
});
