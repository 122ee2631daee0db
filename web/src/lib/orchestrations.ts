// The orchestration list: filters, search and sort kept in the address, each card's state,
// progress and last activity in words. Pure.
import type { FunctionReturnType } from "convex/server";
import type { api, Id, OrchestrationStatus, OrchestrationSummary } from "../api";
import { ORCHESTRATION_STATUSES, type Tone } from "./status";

/** What a row of the list reads beside the list (orchestrations:orchestrationProgress). */
export type RowProgress = FunctionReturnType<typeof api.orchestrations.orchestrationProgress>;
export type PhaseTasks = RowProgress["phases"][number];
export type LastActivity = NonNullable<RowProgress["lastActivity"]>;

/** "needs": what needs you first (the default); "newest": newest first; "name": by feature name. */
export type Sort = "needs" | "newest" | "name";
export const SORTS: readonly Sort[] = ["needs", "newest", "name"];
export const SORT_LABELS: Record<Sort, string> = { needs: "Needs you first", newest: "Newest first", name: "Name (A–Z)" };

export type Filters = { nodeId?: Id<"nodes">; status?: OrchestrationStatus; search?: string; sort?: Sort };

/** Where the current phase is: its stage, in the words the list shows. */
export type Stage = "validating" | "planning" | "awaiting approval" | "executing" | "reviewing" | "blocked" | "paused" | "complete";

type StateFields = Pick<OrchestrationSummary, "status"> & { attention?: string | undefined };

/** The stage of an orchestration: a plan waiting at the gate is "awaiting approval", never "planning". */
export function stageOf(o: StateFields & Partial<Pick<OrchestrationSummary, "currentPhase" | "totalPhases">>): Stage {
  if (o.status === "complete") return "complete";
  if (o.status === "paused") return "paused";
  if (o.status === "blocked" || o.attention === "blocked") return "blocked";
  if (o.attention === "awaiting_approval") return "awaiting approval";
  if (o.totalPhases === 0 || (o.currentPhase !== undefined && o.currentPhase <= 0)) return "validating";
  return o.status;
}

const STAGE_CHIPS: Record<Stage, { label: string; tone: Tone }> = {
  validating: { label: "Validating", tone: "info" },
  planning: { label: "Planning", tone: "info" },
  "awaiting approval": { label: "Awaiting approval", tone: "warning" },
  executing: { label: "Executing", tone: "progress" },
  reviewing: { label: "Reviewing", tone: "progress" },
  blocked: { label: "Blocked", tone: "danger" },
  paused: { label: "Paused", tone: "warning" },
  complete: { label: "Complete", tone: "success" },
};

/** The card's chip: its stage in a word, its own colour for what needs you. */
export function stateChip(o: StateFields): { label: string; tone: Tone } {
  // Without the phase numbers, never "Validating": that is the progress line's word.
  return STAGE_CHIPS[stageOf(o)];
}

/** How much it needs the operator: 0 a decision (plan to approve, blocked), 1 paused, 2 nothing. */
export function needsRank(o: StateFields): number {
  const stage = stageOf(o);
  if (stage === "awaiting approval" || stage === "blocked") return 0;
  if (stage === "paused") return 1;
  return 2;
}

type Listed = StateFields & Pick<OrchestrationSummary, "featureName" | "startedAt"> & { completedAt?: number | undefined };

const byName = (a: Listed, b: Listed) => a.featureName.localeCompare(b.featureName, "en", { sensitivity: "base", numeric: true }) || b.startedAt - a.startedAt;
const newest = (a: Listed, b: Listed) => b.startedAt - a.startedAt;
const recentlyFinished = (a: Listed, b: Listed) => (b.completedAt ?? b.startedAt) - (a.completedAt ?? a.startedAt);

/**
 * Active ones, then finished ones, each in the chosen order: what needs you first (then newest),
 * newest first, or by name. Finished ones, needing nothing, are most recently finished first
 * unless sorted by name.
 */
export function orderForList<T extends Listed>(list: { active: readonly T[]; finished: readonly T[] }, sort: Sort = "needs"): { active: T[]; finished: T[] } {
  const activeOrder = sort === "name" ? byName : sort === "newest" ? newest : (a: T, b: T) => needsRank(a) - needsRank(b) || newest(a, b);
  return { active: [...list.active].sort(activeOrder), finished: [...list.finished].sort(sort === "name" ? byName : recentlyFinished) };
}

/** Every word of the search is in the feature, the branch or the laptop's name (case ignored). */
export function matchesSearch(o: Pick<OrchestrationSummary, "featureName" | "branch" | "nodeName">, search: string | undefined): boolean {
  const words = (search ?? "").toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const text = `${o.featureName}\n${o.branch}\n${o.nodeName}`.toLowerCase();
  return words.every((w) => text.includes(w));
}

/** The current phase's tasks (its teams' board tasks), when team sync knows any. */
export function currentPhaseTasks(o: Pick<OrchestrationSummary, "currentPhase">, phases: readonly PhaseTasks[] | undefined): PhaseTasks | undefined {
  const tasks = phases?.find((p) => p.phaseNumber === String(o.currentPhase));
  return tasks !== undefined && tasks.total > 0 ? tasks : undefined;
}

export type Progress = {
  /** "phase 2 of 4", "4 of 4 phases", "validating". */
  label: string;
  stage: Stage;
  /** "3 of 5 tasks done" in the current phase, when known. */
  tasks: string | null;
  /** Phases done, plus the current phase's share of its tasks done (0..1). */
  fraction: number;
};

/** Where it is: phase of total, the stage, the current phase's tasks done, and the bar's fraction. */
export function progress(
  o: Pick<OrchestrationSummary, "currentPhase" | "totalPhases" | "phasesCompleted" | "status"> & Partial<Pick<OrchestrationSummary, "attention">>,
  phases?: readonly PhaseTasks[],
): Progress {
  const total = Math.max(0, o.totalPhases);
  const done = Math.min(total, Math.max(0, o.phasesCompleted));
  const stage = stageOf(o);
  if (o.status === "complete") return { label: `${total} of ${total} phases`, stage, tasks: null, fraction: 1 };
  if (total === 0 || o.currentPhase <= 0) return { label: "validating", stage, tasks: null, fraction: total === 0 ? 0 : done / total };
  const tasks = currentPhaseTasks(o, phases);
  // The current phase's share counts only while it is not done yet (phasesCompleted counts it then).
  const within = tasks !== undefined && done < o.currentPhase ? Math.min(1, tasks.done / tasks.total) : 0;
  return {
    label: `phase ${Math.min(o.currentPhase, total)} of ${total}`,
    stage,
    tasks: tasks === undefined ? null : `${tasks.done} of ${tasks.total} tasks done`,
    fraction: Math.min(1, (done + within) / total),
  };
}

function quoted(subject: string): string {
  const s = subject.trim();
  return s === "" ? "a task" : `“${s}”`;
}

/** What happened last, in words: the journal's summary, or what a task did. */
export function activityText(a: LastActivity): string {
  if (a.source === "event") return a.summary;
  const task = quoted(a.subject);
  if (a.kind === "created") return `Task added: ${task}`;
  if (a.kind === "removed") return `Task removed: ${task}`;
  if (a.previousStatus === a.status) return `Task updated: ${task}`;
  const who = a.owner ? `${a.owner} ` : "";
  switch (a.status) {
    case "completed":
      return who ? `${who}completed ${task}` : `Task done: ${task}`;
    case "in_progress":
      return who ? `${who}started ${task}` : `Task started: ${task}`;
    case "pending":
      return `Task back to pending: ${task}`;
    default:
      return `Task ${a.status.replace(/_/g, " ")}: ${task}`;
  }
}

/** The laptop and its state in words: "alpha · online". */
export function laptopState(o: Pick<OrchestrationSummary, "nodeName" | "nodeOnline">): string {
  return `${o.nodeName} · ${o.nodeOnline ? "online" : "offline"}`;
}

export function parseFilters(query: URLSearchParams): Filters {
  const out: Filters = {};
  const node = query.get("laptop");
  if (node) out.nodeId = node as Id<"nodes">;
  const status = query.get("status");
  if (status && (ORCHESTRATION_STATUSES as readonly string[]).includes(status)) out.status = status as OrchestrationStatus;
  const search = query.get("q");
  if (search && search.trim() !== "") out.search = search;
  const sort = query.get("sort");
  if (sort && sort !== "needs" && (SORTS as readonly string[]).includes(sort)) out.sort = sort as Sort;
  return out;
}

export function filtersToQuery(f: Filters): URLSearchParams {
  const q = new URLSearchParams();
  if (f.nodeId) q.set("laptop", f.nodeId);
  if (f.status) q.set("status", f.status);
  if (f.search && f.search.trim() !== "") q.set("q", f.search);
  if (f.sort && f.sort !== "needs") q.set("sort", f.sort);
  return q;
}

/** Whether the server-side filters (laptop, status) narrow the list. */
export function isFiltered(f: Filters): boolean {
  return f.nodeId !== undefined || f.status !== undefined;
}

/** Query arguments for `orchestrations:listOrchestrations` (absent keys, never `undefined` values). */
export function listArgs(f: Filters): { nodeId?: Id<"nodes">; status?: OrchestrationStatus } {
  return {
    ...(f.nodeId ? { nodeId: f.nodeId } : {}),
    ...(f.status ? { status: f.status } : {}),
  };
}
