// What a team's agents said to each other: their inbox entries, as the daemon reads them.
// One row per (team, key); only `read` changes after insert. At most MESSAGES_PER_TEAM rows are
// kept per team: the oldest (by timestamp) beyond that are deleted, and the team's
// teamMessageCounts row says how many are kept (not the team row, which the detail page reads),
// so no call ever counts them.
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { checkBytes, checkCount, checkNumber, checkOptionalString, checkPattern, checkString, LIMITS, SHA256_RE, TEAM_DIR_RE } from "./checks";
import { fail } from "./errors";
import type { InboxMessage } from "./validators";

export const MESSAGES_PER_CALL = 100;
export const MESSAGES_PER_TEAM = 2000;
/** Bytes of an entry's text and of its structured detail (tina.messages INBOX_TEXT_MAX, INBOX_DETAIL_MAX). */
export const INBOX_TEXT_MAX = 16 * 1024;
export const INBOX_DETAIL_MAX = 4 * 1024;
export const CONVERSATION_DEFAULT = 100;
export const CONVERSATION_MAX = 200;

// Timestamps are ms since the epoch; 0 when the entry has none (it then sorts first).
const TIMESTAMP_MAX = 7_258_118_400_000;
const TAG_MAX = 32;

function validate(messages: InboxMessage[]): void {
  checkCount("messages", messages, MESSAGES_PER_CALL);
  for (const m of messages) {
    checkPattern("messages.key", m.key, SHA256_RE, "an inbox message key (64 lower-case hex digits)");
    checkString("messages.recipient", m.recipient, LIMITS.name);
    checkString("messages.sender", m.sender, LIMITS.name);
    checkBytes("messages.text", m.text, INBOX_TEXT_MAX);
    checkOptionalString("messages.summary", m.summary, LIMITS.summary);
    checkOptionalString("messages.color", m.color, TAG_MAX);
    checkNumber("messages.timestamp", m.timestamp, { min: 0, max: TIMESTAMP_MAX });
    checkOptionalString("messages.requestId", m.requestId, LIMITS.name * 2);
    if (m.detail !== undefined) checkBytes("messages.detail", m.detail, INBOX_DETAIL_MAX);
  }
}

function messageFields(m: InboxMessage) {
  return {
    key: m.key,
    recipient: m.recipient,
    sender: m.sender,
    kind: m.kind,
    text: m.text,
    truncated: m.truncated,
    summary: m.summary,
    color: m.color,
    timestamp: m.timestamp,
    read: m.read,
    requestId: m.requestId,
    approved: m.approved,
    detail: m.detail,
  };
}

/**
 * Upserts a batch of one team's inbox entries by key: new keys are inserted, a known key is
 * patched only when `read` changed (a replay writes nothing). A team at its cap takes no entry
 * older than the oldest it keeps (it would be pruned at once); the oldest beyond the cap go.
 */
export async function recordTeamMessages(
  ctx: MutationCtx,
  node: Doc<"nodes">,
  dirName: string,
  messages: InboxMessage[],
): Promise<{ inserted: number; updated: number }> {
  checkPattern("dirName", dirName, TEAM_DIR_RE, "a team directory name");
  validate(messages);
  const team = await ctx.db
    .query("teams")
    .withIndex("by_node_dir", (q) => q.eq("nodeId", node._id).eq("dirName", dirName))
    .unique();
  if (team === null || team.removedAt !== undefined) fail("not_found", `no team ${dirName} on this laptop (sync the team first)`, "dirName");
  const now = Date.now();
  // The count is read at the first new entry: a replay or a read flip does not read it.
  let counted: { row: Doc<"teamMessageCounts"> | null; count: number } | undefined;
  let count = 0;
  let inserted = 0;
  let updated = 0;
  let oldestKept: number | undefined;
  for (const m of messages) {
    const existing = await ctx.db
      .query("teamMessages")
      .withIndex("by_team_key", (q) => q.eq("teamId", team._id).eq("key", m.key))
      .unique();
    if (existing !== null) {
      if (existing.read !== m.read) {
        await ctx.db.patch("teamMessages", existing._id, { read: m.read });
        updated++;
      }
      continue;
    }
    if (counted === undefined) {
      const row = await ctx.db
        .query("teamMessageCounts")
        .withIndex("by_team", (q) => q.eq("teamId", team._id))
        .unique();
      // A team without a row: the count an older version kept on the team row.
      counted = { row, count: row?.count ?? team.messageCount ?? 0 };
      count = counted.count;
    }
    if (count >= MESSAGES_PER_TEAM) {
      oldestKept ??= (await oldest(ctx, team._id, 1))[0]?.timestamp;
      if (oldestKept !== undefined && m.timestamp < oldestKept) continue;
    }
    await ctx.db.insert("teamMessages", {
      ...messageFields(m),
      teamId: team._id,
      nodeId: node._id,
      ...(team.orchestrationId === undefined ? {} : { orchestrationId: team.orchestrationId }),
      recordedAt: now,
    });
    count++;
    inserted++;
  }
  if (count > MESSAGES_PER_TEAM) {
    for (const row of await oldest(ctx, team._id, count - MESSAGES_PER_TEAM)) {
      await ctx.db.delete("teamMessages", row._id);
      count--;
    }
  }
  if (counted !== undefined && (counted.row === null || count !== counted.count)) {
    if (counted.row === null) await ctx.db.insert("teamMessageCounts", { teamId: team._id, count });
    else await ctx.db.patch("teamMessageCounts", counted.row._id, { count });
  }
  return { inserted, updated };
}

async function oldest(ctx: QueryCtx, teamId: Id<"teams">, n: number): Promise<Doc<"teamMessages">[]> {
  return await ctx.db
    .query("teamMessages")
    .withIndex("by_team_time", (q) => q.eq("teamId", teamId))
    .order("asc")
    .take(n);
}

/** A team's newest `limit` messages, returned oldest first; `more` when older ones exist. */
export async function conversation(
  ctx: QueryCtx,
  teamId: Id<"teams">,
  limit: number | undefined,
): Promise<{ messages: Doc<"teamMessages">[]; more: boolean }> {
  const n = Math.min(Math.floor(checkNumber("limit", limit ?? CONVERSATION_DEFAULT, { min: 1 })), CONVERSATION_MAX);
  const newest = await ctx.db
    .query("teamMessages")
    .withIndex("by_team_time", (q) => q.eq("teamId", teamId))
    .order("desc")
    .take(n + 1);
  const more = newest.length > n;
  return { messages: newest.slice(0, n).reverse(), more };
}
