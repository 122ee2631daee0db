// Data the view tests render: realistic rows as the queries return them.
import type { Id, OrchestrationSummary } from "../api";

const MIN = 60_000;

/** An orchestration row of `orchestrations:listOrchestrations`: executing phase 2 of 4 on
 * alpha, started 65 min before `now`, last updated at `updatedAt` (default `now`). */
export function orchestrationSummary(over: Partial<OrchestrationSummary> = {}, now = Date.now(), updatedAt = now): OrchestrationSummary {
  return {
    _id: "o1" as Id<"orchestrations">,
    nodeId: "n1" as Id<"nodes">,
    nodeName: "alpha",
    nodeOnline: true,
    featureName: "checkout-flow",
    branch: "tina/checkout-flow",
    status: "executing",
    currentPhase: 2,
    totalPhases: 4,
    phasesCompleted: 1,
    startedAt: now - 65 * MIN,
    completedAt: undefined,
    updatedAt,
    attention: undefined,
    attentionPhase: undefined,
    attentionReason: undefined,
    ...over,
  };
}
