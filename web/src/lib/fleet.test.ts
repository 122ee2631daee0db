import { expect, test } from "vitest";
import type { NodeView } from "../api";
import { healthWarnings, orderNodes, presence, syncLagMs, uptimeMs } from "./fleet";

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

test("sync lag: none with an empty outbox, else the time since the last successful sync", () => {
  expect(syncLagMs({ health: health({ outboxDepth: 2, lastSyncAt: 7_500 }) }, 10_000)).toBe(2_500);
  expect(syncLagMs({ health: health({ outboxDepth: 2, lastSyncAt: 12_000 }) }, 10_000)).toBe(0);
  expect(syncLagMs({ health: health({ lastSyncAt: 1_000 }) }, 10_000)).toBe(0);
  expect(syncLagMs({ health: health({ outboxDepth: 2 }) }, 10_000)).toBeUndefined();
  expect(syncLagMs({}, 10_000)).toBeUndefined();
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
  });
  expect(w).toEqual(["3 observations waiting to sync", "syncer: timeout after 10 s", "connection reconnecting"]);
  expect(healthWarnings({ online: true, health: health({ outboxDepth: 1 }) })).toEqual(["1 observation waiting to sync"]);
  expect(healthWarnings({ online: false })).toEqual([]);
});

test("online laptops first, revoked last, then by name", () => {
  const n = (name: string, online: boolean, revoked = false) => ({ name, online, revoked });
  expect(orderNodes([n("zed", true), n("amy", false), n("bob", true), n("old", false, true)]).map((x) => x.name)).toEqual(["bob", "zed", "amy", "old"]);
});
