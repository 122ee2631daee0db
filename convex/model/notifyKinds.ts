// What a person can turn on or off for notifications (issue 20), in the order the settings page
// lists them; all on by default. Pure (no server imports), so the dashboard reads the same list.
export const NOTIFY_KINDS = [
  "plan_approval",
  "permission_prompt",
  "blocked_phase",
  "stall",
  "failed_action",
  "offline_laptop",
  "budget",
  "orchestration_finished",
] as const;
