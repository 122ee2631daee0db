import { describe, expect, test } from "vitest";
import { connectivity, FIRST_CONNECT_GRACE_MS, OFFLINE_GRACE_MS, offlineText } from "./connectivity";

const base = { online: true, connected: true, hasEverConnected: true, downSince: null, now: 100_000 };

describe("is the page live?", () => {
  test("online and connected: live", () => {
    expect(connectivity(base)).toEqual({ status: "live" });
  });

  test("the device offline: offline at once, even while the socket still looks open", () => {
    expect(connectivity({ ...base, online: false, downSince: 99_000 })).toEqual({ status: "offline", since: 99_000, everLive: true, deviceOffline: true });
  });

  test("a dropped connection has a grace period, then the page is offline", () => {
    const down = { ...base, connected: false, downSince: 100_000 };
    expect(connectivity({ ...down, now: 100_000 })).toEqual({ status: "connecting", offlineAt: 100_000 + OFFLINE_GRACE_MS });
    expect(connectivity({ ...down, now: 100_000 + OFFLINE_GRACE_MS - 1 }).status).toBe("connecting");
    expect(connectivity({ ...down, now: 100_000 + OFFLINE_GRACE_MS })).toEqual({ status: "offline", since: 100_000, everLive: true, deviceOffline: false });
  });

  test("never connected since the page started: a longer grace (a slow first connection), then offline with nothing ever live", () => {
    const first = { ...base, connected: false, hasEverConnected: false, downSince: 0 };
    expect(FIRST_CONNECT_GRACE_MS).toBeGreaterThan(OFFLINE_GRACE_MS);
    expect(connectivity({ ...first, now: OFFLINE_GRACE_MS })).toEqual({ status: "connecting", offlineAt: FIRST_CONNECT_GRACE_MS });
    expect(connectivity({ ...first, now: FIRST_CONNECT_GRACE_MS })).toEqual({ status: "offline", since: 0, everLive: false, deviceOffline: false });
    expect(connectivity({ ...first, now: 700 }, 5_000, 500).status).toBe("offline");
  });
});

describe("the offline notice", () => {
  const at = (ms: number) => `t=${ms}`;
  test("after live data: since when, and that nothing is current", () => {
    const text = offlineText({ status: "offline", since: 5, everLive: true, deviceOffline: true }, at);
    expect(text.title).toBe("This device is offline (since t=5)");
    expect(text.detail).toContain("Nothing here is current");
  });

  test("the deployment unreachable, before anything was live", () => {
    const text = offlineText({ status: "offline", since: 5, everLive: false, deviceOffline: false }, at);
    expect(text.title).toBe("tina cannot reach its deployment");
    expect(text.detail).toContain("only live data");
  });
});
