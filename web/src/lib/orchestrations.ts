// The orchestration list: active first, filters kept in the address, progress. Pure.
import type { Id, OrchestrationStatus, OrchestrationSummary } from "../api";
import { ORCHESTRATION_STATUSES } from "./status";

export type Filters = { nodeId?: Id<"nodes">; status?: OrchestrationStatus };

/** Active orchestrations first (newest first), then finished ones (most recently finished first). */
export function orderForList<T extends { startedAt: number; completedAt?: number | undefined }>(
  list: { active: readonly T[]; finished: readonly T[] },
): { active: T[]; finished: T[] } {
  const active = [...list.active].sort((a, b) => b.startedAt - a.startedAt);
  const finished = [...list.finished].sort((a, b) => (b.completedAt ?? b.startedAt) - (a.completedAt ?? a.startedAt));
  return { active, finished };
}

/** "phase 2 of 4" and the fraction of phases completed (0..1). */
export function progress(o: Pick<OrchestrationSummary, "currentPhase" | "totalPhases" | "phasesCompleted" | "status">): {
  label: string;
  fraction: number;
} {
  const total = Math.max(0, o.totalPhases);
  const done = Math.min(total, Math.max(0, o.phasesCompleted));
  const fraction = total === 0 ? 0 : done / total;
  if (o.status === "complete") return { label: `${total} of ${total} phases`, fraction: 1 };
  if (total === 0 || o.currentPhase <= 0) return { label: "validating", fraction };
  return { label: `phase ${Math.min(o.currentPhase, total)} of ${total}`, fraction };
}

export function parseFilters(query: URLSearchParams): Filters {
  const out: Filters = {};
  const node = query.get("laptop");
  if (node) out.nodeId = node as Id<"nodes">;
  const status = query.get("status");
  if (status && (ORCHESTRATION_STATUSES as readonly string[]).includes(status)) out.status = status as OrchestrationStatus;
  return out;
}

export function filtersToQuery(f: Filters): URLSearchParams {
  const q = new URLSearchParams();
  if (f.nodeId) q.set("laptop", f.nodeId);
  if (f.status) q.set("status", f.status);
  return q;
}

/** Query arguments for `orchestrations:listOrchestrations` (absent keys, never `undefined` values). */
export function listArgs(f: Filters): Filters {
  return {
    ...(f.nodeId ? { nodeId: f.nodeId } : {}),
    ...(f.status ? { status: f.status } : {}),
  };
}
