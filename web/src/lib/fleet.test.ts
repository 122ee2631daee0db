import { expect, test } from "vitest";
import type { NodeView } from "../api";
import { backlog, backlogText, healthWarnings, orchestrationCountText, orderNodes, presence, uptimeMs } from "./fleet";

const health = (over: Partial<NonNullable<NodeView["health"]>> = {}): NonNullable<NodeView["health"]> => ({
  daemonVersion: "0.3.0",
  startedAt: 0,
  uptimeSecs: 100,
  outboxDepth: 0,
  actors: [],
  ...over,
});

test("presence", () => {
  expect(presence({ online: true, revoked: false, lastHeartbeat: 5 })).toBe("online");
  expect(presence({ online: false, revoked: false, lastHeartbeat: 5 })).toBe("offline");
  expect(presence({ online: false, revoked: false, lastHeartbeat: 0 })).toBe("never");
  expect(presence({ online: true, revoked: true, lastHeartbeat: 5 })).toBe("revoked");
});

test("the backlog: in sync with an empty outbox, else how many wait and for how long the oldest", () => {
  // An idle laptop whose last change was long ago is in sync: no "lag" from the last change.
  expect(backlog({ health: health({ lastSyncAt: 1_000 }) }, 600_000)).toEqual({ kind: "in_sync" });
  expect(backlogText(backlog({ health: health({ lastSyncAt: 1_000 }) }, 600_000))).toBe("in sync");
  const waiting = backlog({ health: health({ outboxDepth: 3, oldestUnsyncedAt: 10_000, lastSyncAt: 500_000 }) }, 130_000);
  expect(waiting).toEqual({ kind: "waiting", depth: 3, oldestMs: 120_000, lastSyncAt: 500_000 });
  expect(backlogText(waiting)).toBe("3 observations waiting, the oldest for 2 min");
  // A daemon older than `oldestUnsyncedAt`: the count alone.
  expect(backlogText(backlog({ health: health({ outboxDepth: 1, lastSyncAt: 7_500 }) }, 10_000))).toBe("1 observation waiting");
  expect(backlog({}, 10_000)).toBeUndefined();
  expect(backlogText(undefined)).toBe("–");
});

test("orchestration counts in words, capped", () => {
  expect(orchestrationCountText({ active: 2, all: 14, cap: 100 })).toBe("2 active · 14 in all");
  expect(orchestrationCountText({ active: 0, all: 101, cap: 100 })).toBe("0 active · 100+ in all");
  expect(orchestrationCountText({ active: 0, all: 0, cap: 100 })).toBe("none yet");
});

test("uptime is counted from the daemon's start while the laptop is online", () => {
  expect(uptimeMs({ online: true, health: health({ startedAt: 4_000, uptimeSecs: 1 }) }, 10_000)).toBe(6_000);
  expect(uptimeMs({ online: false, health: health({ startedAt: 4_000 }) }, 10_000)).toBeUndefined();
  expect(uptimeMs({ online: true }, 10_000)).toBeUndefined();
});

test("warnings: waiting observations, failing actors, a bad connection", () => {
  const w = healthWarnings({
    online: true,
    health: health({
      outboxDepth: 3,
      connection: "reconnecting",
      actors: [
        { id: "syncer", state: "running", restarts: 2, lastError: "timeout after 10 s" },
        { id: "heartbeat", state: "running", restarts: 0 },
      ],
    }),
  }, 100_000);
  expect(w).toEqual(["Not synced: 3 observations waiting", "syncer: timeout after 10 s", "connection reconnecting"]);
  expect(healthWarnings({ online: true, health: health({ outboxDepth: 1 }) })).toEqual(["Not synced: 1 observation waiting"]);
  // A backlog younger than a minute is the normal flow, not trouble.
  expect(healthWarnings({ online: true, health: health({ outboxDepth: 4, oldestUnsyncedAt: 90_000 }) }, 100_000)).toEqual([]);
  expect(healthWarnings({ online: true, health: health({ outboxDepth: 4, oldestUnsyncedAt: 10_000 }) }, 100_000)).toEqual([
    "Not synced: 4 observations waiting, the oldest for 1 min",
  ]);
  expect(healthWarnings({ online: false })).toEqual([]);
});

test("online laptops first, revoked last, then by name", () => {
  const n = (name: string, online: boolean, revoked = false) => ({ name, online, revoked });
  expect(orderNodes([n("zed", true), n("amy", false), n("bob", true), n("old", false, true)]).map((x) => x.name)).toEqual(["bob", "zed", "amy", "old"]);
});
