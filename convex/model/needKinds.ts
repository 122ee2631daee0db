// The order of "Needs you": what blocks an agent right now first, what is merely informative
// last. Pure (no server imports), so the dashboard reads the same list (web/src/lib/needs.ts).
import type { NeedKind } from "./validators";

export const NEED_KIND_ORDER: readonly NeedKind[] = [
  "permission_prompt",
  "teammate_permission",
  "plan_approval",
  "agent_plan_approval",
  "stop_failure",
  "stalled",
  "blocked_phase",
  "idle_with_tasks",
  "failed_action",
  "budget",
  "offline_laptop",
];
