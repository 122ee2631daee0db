// Orchestrations and their phases: snapshot upsert with server-side diffing.
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";
import {
  checkCount,
  checkFeature,
  checkNumber,
  checkOptionalNumber,
  checkOptionalString,
  checkOptionalTimestamp,
  checkPhase,
  checkString,
  checkTimestamp,
  LIMITS,
} from "./checks";
import { invalid } from "./errors";
import type { OrchestrationSnapshot, OrchestrationStatus, PhaseSnapshot } from "./validators";
import { storedPlanSummary } from "./documents";
import { orchestrationFinished, requestNotify } from "./notify";
import { linkTeamsToOrchestration } from "./teams";

function validateSnapshot(o: OrchestrationSnapshot, phases: PhaseSnapshot[]): void {
  checkFeature("orchestration.featureName", o.featureName);
  checkString("orchestration.specDocPath", o.specDocPath, LIMITS.path, { allowEmpty: true });
  checkString("orchestration.branch", o.branch, 255);
  checkString("orchestration.worktreePath", o.worktreePath, LIMITS.path);
  checkOptionalString("orchestration.repoRoot", o.repoRoot, LIMITS.path);
  checkNumber("orchestration.totalPhases", o.totalPhases, { min: 0, max: 999, integer: true });
  checkNumber("orchestration.currentPhase", o.currentPhase, { min: 0, max: 999, integer: true });
  checkTimestamp("orchestration.startedAt", o.startedAt);
  checkOptionalTimestamp("orchestration.completedAt", o.completedAt);
  checkCount("phases", phases, LIMITS.phases);
  const seen = new Set<string>();
  for (const p of phases) {
    checkPhase("phases.phaseNumber", p.phaseNumber);
    if (seen.has(p.phaseNumber)) invalid("phases.phaseNumber", "each phase once", p.phaseNumber);
    seen.add(p.phaseNumber);
    checkOptionalString("phases.planPath", p.planPath, LIMITS.path);
    checkOptionalString("phases.gitRange", p.gitRange, 200);
    checkOptionalString("phases.blockedReason", p.blockedReason, LIMITS.text);
    checkOptionalString("phases.pausedFrom", p.pausedFrom, 32);
    checkOptionalString("phases.feedback", p.feedback, LIMITS.text);
    for (const key of ["planningStartedAt", "executionStartedAt", "reviewStartedAt", "completedAt"] as const) {
      checkOptionalTimestamp(`phases.${key}`, p[key]);
    }
    for (const key of ["planningMins", "executionMins", "reviewMins", "durationMins"] as const) {
      checkOptionalNumber(`phases.${key}`, p[key], { min: 0 });
    }
  }
}

/** Numeric order of phase keys: "1" < "1.5" < "1.5.5" < "2". */
export function comparePhases(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

type Derived = Pick<
  Doc<"orchestrations">,
  "active" | "phasesCompleted" | "attention" | "attentionPhase" | "attentionReason"
>;

/** Whether an orchestration in `status` is listed as active (the denormalized `active` field). */
export function isActiveStatus(status: OrchestrationStatus): boolean {
  return status !== "complete";
}

/** Fields the lists and the attention view read, computed once at write time. */
export function derive(o: OrchestrationSnapshot, phases: PhaseSnapshot[]): Derived {
  const sorted = [...phases].sort((a, b) => comparePhases(a.phaseNumber, b.phaseNumber));
  const phasesCompleted = sorted.filter((p) => !p.phaseNumber.includes(".") && p.status === "complete").length;
  const blocked = sorted.find((p) => p.status === "blocked");
  const awaiting = sorted.find((p) => p.status === "awaiting_approval");
  const base = { active: isActiveStatus(o.status), phasesCompleted };
  if (o.status !== "complete" && blocked !== undefined) {
    return { ...base, attention: "blocked", attentionPhase: blocked.phaseNumber, attentionReason: blocked.blockedReason ?? "blocked" };
  }
  if (o.status === "blocked") {
    return { ...base, attention: "blocked", attentionReason: "orchestration blocked" };
  }
  if (awaiting !== undefined) {
    return { ...base, attention: "awaiting_approval", attentionPhase: awaiting.phaseNumber, attentionReason: "plan awaiting approval" };
  }
  return { ...base, attention: undefined, attentionPhase: undefined, attentionReason: undefined };
}

/** Shallow equality of the fields in `next` against `prev` (undefined counts as a value). */
export function sameFields<T extends object>(prev: T, next: Partial<T>): boolean {
  for (const key of Object.keys(next) as (keyof T)[]) {
    const a = prev[key];
    const b = next[key];
    if (Array.isArray(a) && Array.isArray(b)) {
      if (a.length !== b.length || a.some((x, i) => x !== b[i])) return false;
    } else if (a !== b) {
      return false;
    }
  }
  return true;
}

function phaseFields(p: PhaseSnapshot) {
  return {
    phaseNumber: p.phaseNumber,
    status: p.status,
    planPath: p.planPath,
    gitRange: p.gitRange,
    planningStartedAt: p.planningStartedAt,
    executionStartedAt: p.executionStartedAt,
    reviewStartedAt: p.reviewStartedAt,
    completedAt: p.completedAt,
    planningMins: p.planningMins,
    executionMins: p.executionMins,
    reviewMins: p.reviewMins,
    durationMins: p.durationMins,
    blockedReason: p.blockedReason,
    pausedFrom: p.pausedFrom,
    feedback: p.feedback,
  };
}

async function seqOf(ctx: MutationCtx, orchestrationId: Id<"orchestrations">): Promise<Doc<"orchestrationSync"> | null> {
  return await ctx.db
    .query("orchestrationSync")
    .withIndex("by_orchestration", (q) => q.eq("orchestrationId", orchestrationId))
    .unique();
}

function maxDefined(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.max(a, b);
}

export type SyncOrchestrationResult = {
  orchestrationId: Id<"orchestrations">;
  applied: boolean;
  changed: boolean;
};

export async function syncOrchestration(
  ctx: MutationCtx,
  node: Doc<"nodes">,
  snapshot: OrchestrationSnapshot,
  phases: PhaseSnapshot[],
  seq: number | undefined,
): Promise<SyncOrchestrationResult> {
  validateSnapshot(snapshot, phases);
  if (seq !== undefined) checkNumber("seq", seq, { min: 0 });
  const now = Date.now();
  const existing = await ctx.db
    .query("orchestrations")
    .withIndex("by_node_feature_started", (q) =>
      q.eq("nodeId", node._id).eq("featureName", snapshot.featureName).eq("startedAt", snapshot.startedAt),
    )
    .unique();
  const seqRow = existing === null ? null : await seqOf(ctx, existing._id);
  // Rows written by older versions kept the sequence on the orchestration itself.
  const lastSeq = maxDefined(seqRow?.lastSeq, existing?.lastSeq);
  if (existing !== null && seq !== undefined && lastSeq !== undefined && seq <= lastSeq) {
    return { orchestrationId: existing._id, applied: false, changed: false };
  }
  const fields = {
    ...snapshot,
    repoRoot: snapshot.repoRoot,
    completedAt: snapshot.completedAt,
    ...derive(snapshot, phases),
  };
  let orchestrationId: Id<"orchestrations">;
  let changed = false;
  if (existing === null) {
    // Its agents' sum is kept in orchestrationAgents (model/teams.ts) from the start.
    orchestrationId = await ctx.db.insert("orchestrations", { ...fields, nodeId: node._id, agentsInTable: true, updatedAt: now });
    changed = true;
    await linkTeamsToOrchestration(ctx, node._id, orchestrationId, snapshot.featureName, snapshot.worktreePath);
  } else {
    orchestrationId = existing._id;
    // Patched only when something it shows changed: the sequence goes to its own row.
    if (!sameFields(existing, fields)) {
      await ctx.db.patch("orchestrations", orchestrationId, { ...fields, updatedAt: now });
      changed = true;
    }
  }
  // "Needs you" changes with the attention; a finished orchestration notifies once (model/notify.ts).
  const attentionChanged =
    existing === null
      ? fields.attention !== undefined
      : existing.attention !== fields.attention || existing.attentionPhase !== fields.attentionPhase || existing.attentionReason !== fields.attentionReason;
  if (attentionChanged) await requestNotify(ctx);
  if (existing !== null && existing.status !== "complete" && fields.status === "complete") {
    await orchestrationFinished(ctx, { _id: orchestrationId, featureName: fields.featureName, nodeId: node._id });
  }
  if (seq !== undefined) {
    if (seqRow === null) await ctx.db.insert("orchestrationSync", { orchestrationId, lastSeq: seq });
    else await ctx.db.patch("orchestrationSync", seqRow._id, { lastSeq: seq });
  }

  const stored = await ctx.db
    .query("phases")
    .withIndex("by_orchestration_phase", (q) => q.eq("orchestrationId", orchestrationId))
    .take(LIMITS.phases * 2);
  const byNumber = new Map(stored.map((p) => [p.phaseNumber, p]));
  for (const p of phases) {
    const next = phaseFields(p);
    const prev = byNumber.get(p.phaseNumber);
    byNumber.delete(p.phaseNumber);
    if (prev === undefined) {
      // Its plan may have been synced before the phase appeared.
      const plan = await storedPlanSummary(ctx, orchestrationId, p.phaseNumber);
      await ctx.db.insert("phases", { ...next, orchestrationId, ...(plan === undefined ? {} : { plan }), updatedAt: now });
      changed = true;
    } else if (!sameFields(prev, next)) {
      await ctx.db.patch("phases", prev._id, { ...next, updatedAt: now });
      changed = true;
    }
  }
  for (const gone of byNumber.values()) {
    await ctx.db.delete("phases", gone._id);
    changed = true;
  }
  return { orchestrationId, applied: true, changed };
}
