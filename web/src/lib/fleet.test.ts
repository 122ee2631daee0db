import { expect, test } from "vitest";
import type { NodeView } from "../api";
import { healthWarnings, orderNodes, presence, syncLagMs } from "./fleet";

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

test("sync lag is measured at the heartbeat, from the last successful sync", () => {
  expect(syncLagMs({ lastHeartbeat: 10_000, health: health({ lastSyncAt: 7_500 }) })).toBe(2_500);
  expect(syncLagMs({ lastHeartbeat: 10_000, health: health({ lastSyncAt: 12_000 }) })).toBe(0);
  expect(syncLagMs({ lastHeartbeat: 10_000, health: health() })).toBeUndefined();
  expect(syncLagMs({ lastHeartbeat: 10_000 })).toBeUndefined();
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
