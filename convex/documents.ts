// Plans and design docs: the daemon syncs what it reads on the laptop, the dashboard reads them.
import { v } from "convex/values";
import { nodeMutation, viewerQuery } from "./functions";
import * as model from "./model/documents";
import { documentKind, documentSnapshot, documentView } from "./model/validators";

/** Upsert of one document by (orchestration, kind, phase); nothing is written when it is unchanged. */
export const syncDocument = nodeMutation({
  args: { orchestrationId: v.id("orchestrations"), document: documentSnapshot },
  returns: v.object({ changed: v.boolean() }),
  handler: (ctx, { orchestrationId, document }) => model.syncDocument(ctx, ctx.node, orchestrationId, document),
});

/** A plan (with `phase`) or the design doc (without), as last synced; null when never synced. */
export const getDocument = viewerQuery({
  args: { orchestrationId: v.id("orchestrations"), kind: documentKind, phase: v.optional(v.string()) },
  returns: v.union(v.null(), documentView),
  handler: (ctx, { orchestrationId, kind, phase }) => model.getDocument(ctx, orchestrationId, kind, phase),
});
