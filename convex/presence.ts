// Whether someone watches the dashboard. Open dashboards call `watch` every 20 s while visible
// (web/src/hooks/usePresence.ts); each laptop's daemon subscribes to `watchedUntil` and sends
// usage in quick batches until then, one batch every 30 s otherwise, so an unwatched fleet costs
// little CPU. (A laptop's own sign of life is another table: model/nodes.ts `touchPresence`.)
import { v } from "convex/values";
import type { QueryCtx } from "./_generated/server";
import { nodeQuery, viewerMutation } from "./functions";

/** A watch lasts `windowMs`; it is moved on only once less than `windowMs - refreshMs` is left. */
export const PRESENCE = { windowMs: 90_000, refreshMs: 30_000 } as const;

async function presenceRow(ctx: QueryCtx) {
  return await ctx.db
    .query("dashboardPresence")
    .withIndex("by_key", (q) => q.eq("key", "dashboard"))
    .unique();
}

/**
 * Someone is watching, for the next 90 s. A row with more than 60 s left stays as it is, so any
 * number of open tabs write at most once per 30 s, and the laptops' subscriptions rerun only then.
 */
export const watch = viewerMutation({
  args: {},
  returns: v.null(),
  handler: async (ctx) => {
    const until = Date.now() + PRESENCE.windowMs;
    const row = await presenceRow(ctx);
    if (row === null) await ctx.db.insert("dashboardPresence", { key: "dashboard", until });
    else if (row.until < until - PRESENCE.refreshMs) await ctx.db.patch("dashboardPresence", row._id, { until });
    return null;
  },
});

/** A laptop subscribes to this: until when (ms since the epoch) someone watches; 0 if nobody ever did. */
export const watchedUntil = nodeQuery({
  args: {},
  returns: v.object({ until: v.number() }),
  handler: async (ctx) => ({ until: (await presenceRow(ctx))?.until ?? 0 }),
});
