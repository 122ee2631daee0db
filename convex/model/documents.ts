// Plans and design docs as read on the laptop: one row per (orchestration, kind, phase).
// The daemon sends a document when its content hash (or missing state) changes; a repeat is
// answered `changed: false` without a write, so re-sending after a reconnect is cheap.
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { checkBytes, checkNumber, checkOptionalTimestamp, checkPattern, checkPhase, checkString, LIMITS, SHA256_RE } from "./checks";
import { fail, invalid } from "./errors";
import type { DocumentKind, DocumentSnapshot, PlanSummary } from "./validators";

/** Bytes of a document's text stored at most (tina.messages.DOCUMENT_MAX): it fits one Convex document. */
export const DOCUMENT_MAX = 256 * 1024;

function validate(d: DocumentSnapshot): void {
  if (d.phaseNumber !== undefined) checkPhase("document.phaseNumber", d.phaseNumber);
  if (d.kind === "plan" && d.phaseNumber === undefined) invalid("document.phaseNumber", "the phase of a plan");
  if (d.kind === "design" && d.phaseNumber !== undefined) invalid("document.phaseNumber", "no phase for the design doc", d.phaseNumber);
  checkString("document.path", d.path, LIMITS.path);
  checkBytes("document.content", d.content, DOCUMENT_MAX);
  if (d.hash !== undefined) checkPattern("document.hash", d.hash, SHA256_RE, "a SHA-256 (64 lower-case hex digits)");
  checkNumber("document.size", d.size, { min: 0, integer: true });
  checkOptionalTimestamp("document.modifiedAt", d.modifiedAt);
  if (d.missing && (d.content !== "" || d.hash !== undefined)) invalid("document.content", "no content and no hash for a missing file");
}

async function findDocument(ctx: QueryCtx, orchestrationId: Id<"orchestrations">, kind: DocumentKind, phaseKey: string) {
  return await ctx.db
    .query("documents")
    .withIndex("by_orchestration_kind_phase", (q) => q.eq("orchestrationId", orchestrationId).eq("kind", kind).eq("phaseKey", phaseKey))
    .unique();
}

/** The same revision of the same file: nothing to write. */
function unchanged(stored: Doc<"documents">, d: DocumentSnapshot): boolean {
  return stored.hash === d.hash && stored.missing === d.missing && stored.truncated === d.truncated && stored.path === d.path;
}

export async function syncDocument(
  ctx: MutationCtx,
  node: Doc<"nodes">,
  orchestrationId: Id<"orchestrations">,
  document: DocumentSnapshot,
): Promise<{ changed: boolean }> {
  validate(document);
  const orchestration = await ctx.db.get("orchestrations", orchestrationId);
  // Another laptop's orchestration looks exactly like a missing one.
  if (orchestration === null || orchestration.nodeId !== node._id) fail("not_found", "no such orchestration on this laptop", "orchestrationId");
  const phaseKey = document.phaseNumber ?? "";
  const stored = await findDocument(ctx, orchestrationId, document.kind, phaseKey);
  if (stored !== null && unchanged(stored, document)) {
    // The phase row may have started after the plan was synced.
    if (stored.kind === "plan") await updatePhasePlan(ctx, stored);
    return { changed: false };
  }
  const fields = {
    orchestrationId,
    nodeId: node._id,
    kind: document.kind,
    phaseKey,
    phaseNumber: document.phaseNumber,
    path: document.path,
    content: document.content,
    hash: document.hash,
    size: document.size,
    truncated: document.truncated,
    modifiedAt: document.modifiedAt,
    missing: document.missing,
    syncedAt: Date.now(),
  };
  const id = stored === null ? await ctx.db.insert("documents", fields) : stored._id;
  if (stored !== null) await ctx.db.replace("documents", id, fields);
  if (document.kind === "plan") await updatePhasePlan(ctx, { ...fields, _id: id, _creationTime: stored?._creationTime ?? Date.now() });
  return { changed: true };
}

export async function getDocument(ctx: QueryCtx, orchestrationId: Id<"orchestrations">, kind: DocumentKind, phase: string | undefined) {
  if (phase !== undefined) checkPhase("phase", phase);
  const d = await findDocument(ctx, orchestrationId, kind, phase ?? "");
  if (d === null) return null;
  return {
    path: d.path,
    content: d.content,
    ...(d.hash === undefined ? {} : { hash: d.hash }),
    size: d.size,
    truncated: d.truncated,
    ...(d.modifiedAt === undefined ? {} : { modifiedAt: d.modifiedAt }),
    syncedAt: d.syncedAt,
    missing: d.missing,
  };
}

/** What the detail view shows of a plan: everything but its content. */
export function planSummary(d: Doc<"documents">): PlanSummary {
  return {
    ...(d.hash === undefined ? {} : { hash: d.hash }),
    size: d.size,
    ...(d.modifiedAt === undefined ? {} : { modifiedAt: d.modifiedAt }),
    syncedAt: d.syncedAt,
    missing: d.missing,
    truncated: d.truncated,
  };
}

/** The plan of `phase`, as its phase row carries it, or undefined when none was synced. */
export async function storedPlanSummary(ctx: QueryCtx, orchestrationId: Id<"orchestrations">, phase: string): Promise<PlanSummary | undefined> {
  const d = await findDocument(ctx, orchestrationId, "plan", phase);
  return d === null ? undefined : planSummary(d);
}

/** Brings the phase row's `plan` to the stored plan document (a no-op when it already is, or the phase has not started). */
async function updatePhasePlan(ctx: MutationCtx, stored: Doc<"documents">): Promise<void> {
  if (stored.phaseNumber === undefined) return;
  const phaseNumber = stored.phaseNumber;
  const phase = await ctx.db
    .query("phases")
    .withIndex("by_orchestration_phase", (q) => q.eq("orchestrationId", stored.orchestrationId).eq("phaseNumber", phaseNumber))
    .unique();
  if (phase === null) return;
  const next = planSummary(stored);
  if (phase.plan !== undefined && samePlan(phase.plan, next)) return;
  await ctx.db.patch("phases", phase._id, { plan: next });
}

function samePlan(a: PlanSummary, b: PlanSummary): boolean {
  return (
    a.hash === b.hash && a.size === b.size && a.modifiedAt === b.modifiedAt && a.syncedAt === b.syncedAt && a.missing === b.missing && a.truncated === b.truncated
  );
}
