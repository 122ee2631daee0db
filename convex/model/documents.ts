// Plans and design docs as read on the laptop: one row per (orchestration, kind, phase).
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import type { DocumentKind, DocumentSnapshot } from "./validators";

export async function syncDocument(
  _ctx: MutationCtx,
  _node: Doc<"nodes">,
  _orchestrationId: Id<"orchestrations">,
  _document: DocumentSnapshot,
): Promise<{ changed: boolean }> {
  return { changed: false };
}

export async function getDocument(_ctx: QueryCtx, _orchestrationId: Id<"orchestrations">, _kind: DocumentKind, _phase: string | undefined) {
  return null;
}
