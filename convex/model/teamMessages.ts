// What a team's agents said to each other: their inbox entries, as the daemon reads them.
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import type { InboxMessage } from "./validators";

export async function recordTeamMessages(
  _ctx: MutationCtx,
  _node: Doc<"nodes">,
  _dirName: string,
  _messages: InboxMessage[],
): Promise<{ inserted: number; updated: number }> {
  return { inserted: 0, updated: 0 };
}

export async function conversation(_ctx: QueryCtx, _teamId: Id<"teams">, _limit: number | undefined): Promise<{ messages: Doc<"teamMessages">[]; more: boolean }> {
  return { messages: [], more: false };
}
