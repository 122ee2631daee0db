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

// The kinds the settings page offered before each person's settings kept what they were offered
// (`kindsOffered`): a kind added since (budget, issue 22) is on for them until they choose.
export const KINDS_OFFERED_BEFORE: readonly (typeof NOTIFY_KINDS)[number][] = NOTIFY_KINDS.filter((k) => k !== "budget");
