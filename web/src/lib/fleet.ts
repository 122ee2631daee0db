// Laptops: presence and sync health as the laptop last reported them. Pure.
import type { NodeView } from "../api";

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
 * How far behind the laptop's sync is: nothing while its outbox is empty (the daemon stores
 * its last sync only while observations wait), else the time since its last successful sync.
 * Undefined when it has not reported a sync yet.
 */
export function syncLagMs(n: Pick<NodeView, "health">, now: number): number | undefined {
  const h = n.health;
  if (h === undefined) return undefined;
  if (h.outboxDepth === 0) return 0;
  if (h.lastSyncAt === undefined) return undefined;
  return Math.max(0, now - h.lastSyncAt);
}

/**
 * How long the daemon has been running, counted here from its start (heartbeats do not store
 * the uptime: they would wake every dashboard). Undefined when the laptop is offline.
 */
export function uptimeMs(n: Pick<NodeView, "health" | "online">, now: number): number | undefined {
  if (!n.online || n.health === undefined) return undefined;
  return Math.max(0, now - n.health.startedAt);
}

/** A laptop whose daemon reports trouble: undelivered observations, restarts or errors. */
export function healthWarnings(n: Pick<NodeView, "health" | "online">): string[] {
  const h = n.health;
  if (h === undefined) return [];
  const out: string[] = [];
  if (h.outboxDepth > 0) out.push(`${h.outboxDepth} observation${h.outboxDepth === 1 ? "" : "s"} waiting to sync`);
  const failing = h.actors.filter((a) => a.lastError !== undefined || a.state === "failed" || a.state === "crashed");
  for (const a of failing) out.push(`${a.id}: ${a.lastError ?? a.state}`);
  if (h.connection !== undefined && h.connection !== "connected" && n.online) out.push(`connection ${h.connection}`);
  return out;
}

/** Online laptops first, then by name. */
export function orderNodes<T extends Pick<NodeView, "online" | "revoked" | "name">>(nodes: readonly T[]): T[] {
  const rank = (n: T) => (n.revoked ? 2 : n.online ? 0 : 1);
  return [...nodes].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}
