// Orchestration events: appended by the daemon from each worktree's journal.
import { paginationOptsValidator, paginationResultValidator } from "convex/server";
import { v } from "convex/values";
import { doc } from "convex-helpers/validators";
import { nodeMutation, viewerQuery } from "./functions";
import {
  checkCount,
  checkNumber,
  checkOptionalString,
  checkPagination,
  checkPhase,
  checkString,
  checkTimestamp,
  IDEMPOTENCY_RE,
  checkPattern,
  LIMITS,
} from "./model/checks";
import { fail } from "./model/errors";
import { orchestrationEventInput } from "./model/validators";
import schema from "./schema";

// Events per batch (the daemon sends 200): each event is at most ~17,000 characters of text
// (summary + detail), <= 51 KB as UTF-8, so a batch writes, and its duplicate check reads back,
// at most ~10 MiB, within Convex's 16 MiB per call whatever the text.
const EVENTS_PER_BATCH = 200;

/** A batch of events; each idempotency key is recorded once per laptop, so replays add nothing. */
export const recordEvents = nodeMutation({
  args: { orchestrationId: v.id("orchestrations"), events: v.array(orchestrationEventInput) },
  returns: v.object({ inserted: v.number(), duplicates: v.number() }),
  handler: async (ctx, { orchestrationId, events }) => {
    const orchestration = await ctx.db.get("orchestrations", orchestrationId);
    if (orchestration === null || orchestration.nodeId !== ctx.node._id) {
      fail("not_found", "no such orchestration on this laptop", "orchestrationId");
    }
    checkCount("events", events, EVENTS_PER_BATCH);
    for (const e of events) {
      checkPattern("events.idempotencyKey", e.idempotencyKey, IDEMPOTENCY_RE, "8-128 characters of [A-Za-z0-9._:-]");
      checkString("events.eventType", e.eventType, 64);
      checkString("events.source", e.source, 64);
      checkString("events.summary", e.summary, LIMITS.summary, { allowEmpty: true });
      checkOptionalString("events.detail", e.detail, LIMITS.detail);
      if (e.phaseNumber !== undefined) checkPhase("events.phaseNumber", e.phaseNumber);
      checkTimestamp("events.recordedAt", e.recordedAt);
    }
    let inserted = 0;
    let duplicates = 0;
    for (const e of events) {
      const dup = await ctx.db
        .query("orchestrationEvents")
        .withIndex("by_node_key", (q) => q.eq("nodeId", ctx.node._id).eq("idempotencyKey", e.idempotencyKey))
        .first();
      if (dup !== null) {
        duplicates++;
        continue;
      }
      await ctx.db.insert("orchestrationEvents", { ...e, orchestrationId, nodeId: ctx.node._id });
      inserted++;
    }
    return { inserted, duplicates };
  },
});

const PAGE_MAX = 200;
// A page stops early after this many bytes read (200 events of 16 KB details would be 10 MiB).
const PAGE_BYTES = 4 << 20;

/** Events of one orchestration in time order, from `since` (exclusive) on, a page at a time. */
export const listEvents = viewerQuery({
  args: {
    orchestrationId: v.id("orchestrations"),
    since: v.optional(v.number()),
    paginationOpts: paginationOptsValidator,
  },
  returns: paginationResultValidator(doc(schema, "orchestrationEvents")),
  handler: async (ctx, { orchestrationId, since, paginationOpts }) => {
    const page = checkPagination(paginationOpts, PAGE_MAX);
    if (since !== undefined) checkNumber("since", since);
    return await ctx.db
      .query("orchestrationEvents")
      .withIndex("by_orchestration_recorded", (q) =>
        since === undefined ? q.eq("orchestrationId", orchestrationId) : q.eq("orchestrationId", orchestrationId).gt("recordedAt", since),
      )
      .paginate({ ...page, maximumBytesRead: Math.min(page.maximumBytesRead ?? PAGE_BYTES, PAGE_BYTES) });
  },
});
