// @vitest-environment edge-runtime
import { afterEach, describe, expect, test, vi } from "vitest";
import { api } from "./_generated/api";
import { PRESENCE } from "./presence";
import { addUser, enroll, lastCallMetrics, makeT, OPERATOR, OWNER, refusal, SITE_URL, T0, VIEWER, type T } from "./test.setup";

afterEach(() => {
  vi.useRealTimers();
});

// What the wrappers read before the handler: a user's session, user and member rows; a laptop's node.
const USER_READS = 3;
const NODE_READS = 1;

async function rows(t: T) {
  return await t.run((ctx) => ctx.db.query("dashboardPresence").collect());
}

describe("presence:watch", () => {
  test("inserts the one row, moves it on only when less than 60 s are left, and reads at most that row", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const viewer = await addUser(t, VIEWER);

    expect(await viewer.as.mutation(api.presence.watch, {})).toBeNull();
    expect(lastCallMetrics()).toMatchObject({ documentsRead: USER_READS, documentsWritten: 1 });
    const [first] = await rows(t);
    expect(first).toMatchObject({ key: "dashboard", until: T0 + PRESENCE.windowMs });

    // 10 s and 30 s later (80 s and exactly 60 s left): nothing written, the row as it was.
    for (const later of [10_000, 30_000]) {
      vi.setSystemTime(T0 + later);
      await viewer.as.mutation(api.presence.watch, {});
      expect(lastCallMetrics()).toMatchObject({ documentsRead: USER_READS + 1, documentsWritten: 0 });
      expect(await rows(t)).toEqual([first]);
    }

    // 31 s later (59 s left): moved to a full window from now (the patch reads the row once more).
    vi.setSystemTime(T0 + 31_000);
    await viewer.as.mutation(api.presence.watch, {});
    expect(lastCallMetrics()).toMatchObject({ documentsRead: USER_READS + 2, documentsWritten: 1 });
    expect(await rows(t)).toEqual([{ ...first, until: T0 + 31_000 + PRESENCE.windowMs }]);
  });

  test("every role may watch; many dashboards within 30 s write once", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const callers = [await addUser(t, VIEWER), await addUser(t, OPERATOR), await addUser(t, OWNER)];
    const written: number[] = [];
    for (const [i, c] of callers.entries()) {
      vi.setSystemTime(T0 + i * 5_000);
      await c.as.mutation(api.presence.watch, { client: "vitest" });
      written.push(lastCallMetrics().documentsWritten);
    }
    expect(written).toEqual([1, 0, 0]);
    expect(await rows(t)).toMatchObject([{ key: "dashboard", until: T0 + PRESENCE.windowMs }]);
  });

  test("refused without a sign-in, for an account without a role, and with a laptop credential: nothing written", async () => {
    const t = makeT();
    const a = await enroll(t);
    expect(await refusal(t.mutation(api.presence.watch, {}))).toMatchObject({ code: "unauthenticated" });
    const outsider = await t.run(async (ctx) => {
      const userId = await ctx.db.insert("users", { email: "mallory@example.com" });
      const sessionId = await ctx.db.insert("authSessions", { userId, expirationTime: Date.now() + 3_600_000 });
      return `${userId}|${sessionId}`;
    });
    const asOutsider = t.withIdentity({ issuer: SITE_URL, subject: outsider, tokenIdentifier: `${SITE_URL}|${outsider}` });
    expect(await refusal(asOutsider.mutation(api.presence.watch, {}))).toMatchObject({ code: "forbidden" });
    // A laptop has no dashboard identity, and the function takes no node token.
    await expect(t.mutation(api.presence.watch, { nodeToken: a.token } as never)).rejects.toThrow(/nodeToken/);
    expect(await rows(t)).toEqual([]);
  });
});

describe("presence:watchedUntil", () => {
  test("a laptop reads 0 before anyone watched, then the row's until, reading at most that row", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    const t = makeT();
    const a = await enroll(t);
    const viewer = await addUser(t, VIEWER);

    expect(await t.query(api.presence.watchedUntil, { nodeToken: a.token })).toEqual({ until: 0 });
    expect(lastCallMetrics()).toMatchObject({ documentsRead: NODE_READS, documentsWritten: 0 });

    await viewer.as.mutation(api.presence.watch, {});
    expect(await t.query(api.presence.watchedUntil, { nodeToken: a.token })).toEqual({ until: T0 + PRESENCE.windowMs });
    expect(lastCallMetrics()).toMatchObject({ documentsRead: NODE_READS + 1, documentsWritten: 0 });

    vi.setSystemTime(T0 + 45_000);
    await viewer.as.mutation(api.presence.watch, {});
    expect(await t.query(api.presence.watchedUntil, { nodeToken: a.token })).toEqual({ until: T0 + 45_000 + PRESENCE.windowMs });
  });

  test("only for laptops: a signed-in user, a revoked and an unknown credential are refused", async () => {
    const t = makeT();
    const a = await enroll(t);
    const owner = await addUser(t, OWNER);
    await owner.as.mutation(api.presence.watch, {});
    // The wrapper asks for a node token whoever calls: a user has none to give.
    expect(await refusal(owner.as.query(api.presence.watchedUntil, { nodeToken: "" }))).toMatchObject({ code: "unauthenticated" });
    await expect(owner.as.query(api.presence.watchedUntil, {} as never)).rejects.toThrow(/nodeToken/);
    expect(await refusal(t.query(api.presence.watchedUntil, { nodeToken: "tina_node_" + "A".repeat(43) }))).toMatchObject({ code: "unauthenticated" });
    await owner.as.mutation(api.nodes.revokeNode, { nodeId: a.nodeId });
    expect(await refusal(t.query(api.presence.watchedUntil, { nodeToken: a.token }))).toMatchObject({ code: "revoked" });
  });
});
