// Laptops: presence and sync health as the laptop last reported them. Pure.
import type { NodeView } from "../api";
import { formatDuration } from "./time";

export type Presence = "online" | "offline" | "revoked" | "never";

export function presence(n: Pick<NodeView, "online" | "revoked" | "lastHeartbeat">): Presence {
  if (n.revoked) return "revoked";
  if (n.online) return "online";
  return n.lastHeartbeat > 0 ? "offline" : "never";
}

export const PRESENCE_LABELS: Record<Presence, string> = {
  online: "online",
  offline: "offline",
  revoked: "revoked",
  never: "never connected",
};

/**
 * The laptop's backlog as its daemon last reported it: "in sync" with an empty outbox, else how
 * many observations wait and since when the oldest waits (`oldestUnsyncedAt`; a daemon older
 * than that field reports only its last successful sync). Undefined before any heartbeat.
 */
export type Backlog =
  | { kind: "in_sync" }
  | { kind: "waiting"; depth: number; oldestMs?: number; lastSyncAt?: number };

export function backlog(n: Pick<NodeView, "health">, now: number): Backlog | undefined {
  const h = n.health;
  if (h === undefined) return undefined;
  if (h.outboxDepth === 0) return { kind: "in_sync" };
  return {
    kind: "waiting",
    depth: h.outboxDepth,
    ...(h.oldestUnsyncedAt === undefined ? {} : { oldestMs: Math.max(0, now - h.oldestUnsyncedAt) }),
    ...(h.lastSyncAt === undefined ? {} : { lastSyncAt: h.lastSyncAt }),
  };
}

/** A backlog in words: "in sync", "3 observations waiting, the oldest for 2 min". */
export function backlogText(b: Backlog | undefined): string {
  if (b === undefined) return "–";
  if (b.kind === "in_sync") return "in sync";
  const what = `${b.depth} observation${b.depth === 1 ? "" : "s"} waiting`;
  return b.oldestMs === undefined ? what : `${what}, the oldest for ${formatDuration(b.oldestMs)}`;
}

/** A backlog is worth a warning once its oldest observation waited this long. */
export const BACKLOG_WARN_MS = 60_000;

/**
 * How long the daemon has been running, counted here from its start (heartbeats do not store
 * the uptime: they would wake every dashboard). Undefined when the laptop is offline.
 */
export function uptimeMs(n: Pick<NodeView, "health" | "online">, now: number): number | undefined {
  if (!n.online || n.health === undefined) return undefined;
  return Math.max(0, now - n.health.startedAt);
}

/**
 * A laptop whose daemon reports trouble: a backlog whose oldest observation waited a minute or
 * more (or of unknown age), restarts or errors.
 */
export function healthWarnings(n: Pick<NodeView, "health" | "online">, now: number = Date.now()): string[] {
  const h = n.health;
  if (h === undefined) return [];
  const out: string[] = [];
  const b = backlog(n, now);
  if (b?.kind === "waiting" && (b.oldestMs === undefined || b.oldestMs >= BACKLOG_WARN_MS)) out.push(`Not synced: ${backlogText(b)}`);
  const failing = h.actors.filter((a) => a.lastError !== undefined || a.state === "failed" || a.state === "crashed");
  for (const a of failing) out.push(`${a.id}: ${a.lastError ?? a.state}`);
  if (h.connection !== undefined && h.connection !== "connected" && n.online) out.push(`connection ${h.connection}`);
  return out;
}

/** A laptop's orchestrations: "2 active · 14 in all" ("100+" past the server's cap). */
export function orchestrationCountText(c: { active: number; all: number; cap: number }): string {
  const n = (x: number) => (x > c.cap ? `${c.cap}+` : String(x));
  if (c.all === 0) return "none yet";
  return `${n(c.active)} active · ${n(c.all)} in all`;
}

/** Online laptops first, then by name. */
export function orderNodes<T extends Pick<NodeView, "online" | "revoked" | "name">>(nodes: readonly T[]): T[] {
  const rank = (n: T) => (n.revoked ? 2 : n.online ? 0 : 1);
  return [...nodes].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}
