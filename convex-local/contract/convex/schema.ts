// Schema of the fixture project the contract tests run against.
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  messages: defineTable({
    channel: v.string(),
    body: v.string(),
  }).index("by_channel", ["channel"]),
  ticks: defineTable({
    name: v.string(),
    count: v.number(),
  }).index("by_name", ["name"]),
  records: defineTable({
    value: v.any(),
  }),
});
