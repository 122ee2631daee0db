// An agent's liveness in words (never only a colour), and an orchestration's agents counted.
import type { Liveness, LivenessCounts } from "../api";
import type { Tone } from "./status";

export const LIVENESS_LABELS: Record<Liveness, string> = {
  working: "working",
  idle: "idle",
  waiting: "waiting for permission",
  rate_limited: "rate limited",
  shut_down: "shut down",
  gone: "gone",
};

export const LIVENESS_TONES: Record<Liveness, Tone> = {
  working: "progress",
  idle: "muted",
  waiting: "warning",
  rate_limited: "warning",
  shut_down: "neutral",
  gone: "danger",
};

/**
 * What the roster says of a member: the daemon's liveness when it reports one, else Claude
 * Code's own `isActive` (older daemons); nothing for an agent that left or when nothing is known.
 */
export function memberLiveness(m: { liveness?: Liveness; isActive?: boolean; removedAt?: number }): Liveness | null {
  if (m.removedAt !== undefined) return null;
  if (m.liveness !== undefined) return m.liveness;
  if (m.isActive === undefined) return null;
  return m.isActive ? "working" : "idle";
}

// `rateLimited` is optional: rows from older daemons lack it.
const ORDER: readonly [keyof LivenessCounts, string][] = [
  ["working", "working"],
  ["waiting", "waiting for permission"],
  ["rateLimited", "rate limited"],
  ["idle", "idle"],
  ["shutDown", "shut down"],
  ["gone", "gone"],
];

/** "2 working · 1 waiting for permission"; null when there is nothing to count. */
export function agentCountsText(counts: LivenessCounts | undefined): string | null {
  if (counts === undefined) return null;
  const parts = ORDER.filter(([k]) => (counts[k] ?? 0) > 0).map(([k, word]) => `${counts[k]} ${word}`);
  return parts.length === 0 ? null : parts.join(" · ");
}
