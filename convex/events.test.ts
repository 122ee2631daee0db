// @vitest-environment edge-runtime
import { describe, expect, test } from "vitest";
import { api } from "./_generated/api";
import { signedIn, T0, enroll, lastCallMetrics, makeT, orchestration, refusal } from "./test.setup";

function event(i: number, overrides: Record<string, unknown> = {}) {
  return {
    idempotencyKey: `evt-${String(i).padStart(8, "0")}`,
    eventType: "phase_completed",
    source: "tina-session",
    summary: `event ${i}`,
    recordedAt: T0 + i * 1000,
    ...overrides,
  };
}

describe("recordEvents", () => {
  test("a replayed batch adds nothing", async () => {
    const t = makeT();
    const { token } = await enroll(t);
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, { nodeToken: token, orchestration: orchestration(), phases: [] });
    const batch = { nodeToken: token, orchestrationId, events: [event(1), event(2, { phaseNumber: "1", detail: '{"git_range":"a..b"}' })] };
    expect(await t.mutation(api.events.recordEvents, batch)).toEqual({ inserted: 2, duplicates: 0 });
    expect(await t.mutation(api.events.recordEvents, batch)).toEqual({ inserted: 0, duplicates: 2 });
    const overlapping = { ...batch, events: [event(2), event(3)] };
    expect(await t.mutation(api.events.recordEvents, overlapping)).toEqual({ inserted: 1, duplicates: 1 });
    expect(await t.run((ctx) => ctx.db.query("orchestrationEvents").collect())).toHaveLength(3);
  });

  test("another laptop's orchestration is refused as not found", async () => {
    const t = makeT();
    const a = await enroll(t, "a");
    const b = await enroll(t, "b");
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, { nodeToken: a.token, orchestration: orchestration(), phases: [] });
    const err = await refusal(t.mutation(api.events.recordEvents, { nodeToken: b.token, orchestrationId, events: [event(1)] }));
    expect(err).toMatchObject({ code: "not_found", field: "orchestrationId" });
    expect(await t.run((ctx) => ctx.db.query("orchestrationEvents").collect())).toHaveLength(0);
  });

  test("a bad event refuses the whole batch", async () => {
    const t = makeT();
    const { token } = await enroll(t);
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, { nodeToken: token, orchestration: orchestration(), phases: [] });
    for (const [bad, field] of [
      [event(2, { idempotencyKey: "short" }), "events.idempotencyKey"],
      [event(2, { phaseNumber: "1-retry" }), "events.phaseNumber"],
      [event(2, { summary: "x".repeat(5000) }), "events.summary"],
      [event(2, { recordedAt: 12 }), "events.recordedAt"],
    ] as const) {
      const err = await refusal(t.mutation(api.events.recordEvents, { nodeToken: token, orchestrationId, events: [event(1), bad] }));
      expect(err.field).toBe(field);
    }
    expect(await t.run((ctx) => ctx.db.query("orchestrationEvents").collect())).toHaveLength(0);
  });
});

describe("bounded by construction", () => {
  test("the biggest batch (200 events of the longest 3-byte text) is written, replayed and paged within Convex's limits; 201 are refused", async () => {
    const t = makeT();
    const { token } = await enroll(t);
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, { nodeToken: token, orchestration: orchestration(), phases: [] });
    const events = Array.from({ length: 200 }, (_, i) => event(i, { summary: "€".repeat(1000), detail: "€".repeat(16_000) }));
    expect(await t.mutation(api.events.recordEvents, { nodeToken: token, orchestrationId, events })).toEqual({ inserted: 200, duplicates: 0 });
    expect(lastCallMetrics().bytesWritten).toBeLessThan(12 << 20);
    expect(await t.mutation(api.events.recordEvents, { nodeToken: token, orchestrationId, events })).toEqual({ inserted: 0, duplicates: 200 });
    expect(lastCallMetrics().bytesRead).toBeLessThan(12 << 20);
    const err = await refusal(t.mutation(api.events.recordEvents, { nodeToken: token, orchestrationId, events: [...events, event(999)] }));
    expect(err).toMatchObject({ code: "invalid_argument", field: "events" });
    // A page stops at 4 MiB read: about 80 of these events, not 200.
    const user = await signedIn(t);
    const page = await user.query(api.events.listEvents, { orchestrationId, paginationOpts: { numItems: 200, cursor: null } });
    expect(page.page.length).toBeLessThan(100);
    expect(page.isDone).toBe(false);
    expect(lastCallMetrics().bytesRead).toBeLessThan((4 << 20) + 60_000);
  });
});

describe("listEvents", () => {
  test("pages through events in time order from a point, each page bounded", async () => {
    const t = makeT({ documentsRead: 1000 });
    const { nodeId, token } = await enroll(t);
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, { nodeToken: token, orchestration: orchestration(), phases: [] });
    // Stored directly (recordEvents' duplicate checks make convex-test slow at this count).
    await t.run(async (ctx) => {
      for (let i = 0; i < 2000; i++) await ctx.db.insert("orchestrationEvents", { ...event(i), orchestrationId, nodeId });
    });
    const user = await signedIn(t);
    const page1 = await user.query(api.events.listEvents, { orchestrationId, paginationOpts: { numItems: 100, cursor: null } });
    expect(page1.page.map((e) => e.summary).slice(0, 2)).toEqual(["event 0", "event 1"]);
    expect(page1.isDone).toBe(false);
    const page2 = await user.query(api.events.listEvents, { orchestrationId, paginationOpts: { numItems: 100, cursor: page1.continueCursor } });
    expect(page2.page[0].summary).toBe("event 100");
    const huge = await user.query(api.events.listEvents, { orchestrationId, paginationOpts: { numItems: 100_000, cursor: null } });
    expect(huge.page).toHaveLength(200);
    const since = await user.query(api.events.listEvents, {
      orchestrationId,
      since: T0 + 1997 * 1000,
      paginationOpts: { numItems: 10, cursor: null },
    });
    expect(since.page.map((e) => e.summary)).toEqual(["event 1998", "event 1999"]);
    expect(since.isDone).toBe(true);
  });
});
