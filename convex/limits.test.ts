// @vitest-environment edge-runtime
// makeT() runs every suite under Convex's real limits: these tests prove each check fires.
import { describe, expect, test } from "vitest";
import { api } from "./_generated/api";
import { CALL_LIMITS, enroll, lastCallMetrics, makeT, orchestration, signedIn, T0 } from "./test.setup";

const MiB = 1 << 20;

function event(i: number) {
  return { idempotencyKey: `evt-${String(i).padStart(8, "0")}`, eventType: "note", source: "test", summary: `e${i}`, recordedAt: T0 + i };
}

describe("makeT: the limits of a call, which convex-test does not check", () => {
  test("the defaults are Convex's: 16 MiB of arguments, 16 MiB returned, 8,192 elements per array, 1 MiB a document", () => {
    expect(CALL_LIMITS).toEqual({ argumentsBytes: 16 * MiB, returnBytes: 16 * MiB, arrayElements: 8192, documentBytes: MiB });
  });

  test("a document over 1 MiB fails, in t.run and in a function (named)", async () => {
    const t = makeT();
    const row = (detail: string) => ({ at: T0, verb: "node.enrolled" as const, actorKind: "system" as const, actorId: "test", outcome: "ok" as const, detail });
    await t.run((ctx) => ctx.db.insert("auditLog", row("d".repeat(MiB - 200))));
    await expect(t.run((ctx) => ctx.db.insert("auditLog", row("d".repeat(MiB))))).rejects.toThrow(
      /Convex limit breached: a document of 10487\d\d bytes written, over the limit of 1048576 bytes/,
    );
    const tight = makeT({ documentBytes: 300 });
    await expect(enroll(tight)).rejects.toThrow(/Convex limit breached by nodes:\w+: a document of \d+ bytes written, over the limit of 300 bytes/);
  });

  test("arguments over 16 MiB fail, naming the function and the size", async () => {
    const t = makeT();
    const big = "x".repeat(16 * MiB);
    await expect(t.query(api.orchestrations.listOrchestrations, { nodeId: big } as never)).rejects.toThrow(
      /orchestrations:listOrchestrations: arguments of 167772\d\d bytes, over the limit of 16777216 bytes/,
    );
  });

  test("an array of more than 8,192 elements in the arguments fails, naming where it is", async () => {
    const t = makeT();
    const { token } = await enroll(t);
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, { nodeToken: token, orchestration: orchestration(), phases: [] });
    const events = Array.from({ length: 8193 }, (_, i) => event(i));
    await expect(t.mutation(api.events.recordEvents, { nodeToken: token, orchestrationId, events })).rejects.toThrow(
      "Convex limit breached by events:recordEvents: arguments has an array of 8193 elements at events, over the limit of 8192 elements",
    );
    // 8,192 passes the wrapper (and the function refuses it by its own, tighter bound).
    await expect(t.mutation(api.events.recordEvents, { nodeToken: token, orchestrationId, events: events.slice(0, 8192) })).rejects.toThrow(
      /events/,
    );
  });

  test("usage:recordUsage: more than 8,192 rows fail in the wrapper; 8,192 are refused by its own bound of 200 (issue 22)", async () => {
    const t = makeT();
    const { token } = await enroll(t);
    const row = { hour: T0, model: "claude-sonnet-4-5-20250929", messages: 1, input: 1, output: 1, cacheWrite: 0, cacheRead: 0 };
    const rows = Array.from({ length: 8193 }, () => row);
    await expect(t.mutation(api.usage.recordUsage, { nodeToken: token, batch: "limits-0001", rows })).rejects.toThrow(
      "Convex limit breached by usage:recordUsage: arguments has an array of 8193 elements at rows, over the limit of 8192 elements",
    );
    await expect(t.mutation(api.usage.recordUsage, { nodeToken: token, batch: "limits-0001", rows: rows.slice(0, 8192) })).rejects.toThrow(
      /rows: expected at most 200 items/,
    );
  });

  test("a return value over the limit fails, naming the function and the size", async () => {
    const t = makeT({ returnBytes: 1000 });
    const { token } = await enroll(t);
    for (let i = 0; i < 10; i++) {
      await t.mutation(api.orchestrations.syncOrchestration, { nodeToken: token, orchestration: orchestration({ featureName: `f-${i}` }), phases: [] });
    }
    const as = await signedIn(t);
    await expect(as.query(api.orchestrations.listOrchestrations, {})).rejects.toThrow(
      /Convex limit breached by orchestrations:listOrchestrations: return value of \d+ bytes, over the limit of 1000 bytes/,
    );
  });

  test("an array in the return value longer than the limit fails, also through withIdentity", async () => {
    const t = makeT({ arrayElements: 2 });
    const { token } = await enroll(t);
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, { nodeToken: token, orchestration: orchestration(), phases: [] });
    await t.mutation(api.events.recordEvents, { nodeToken: token, orchestrationId, events: [event(1), event(2)] });
    const as = await signedIn(t);
    const args = { orchestrationId, paginationOpts: { numItems: 10, cursor: null } };
    expect((await as.query(api.events.listEvents, args)).page).toHaveLength(2);
    await t.mutation(api.events.recordEvents, { nodeToken: token, orchestrationId, events: [event(3)] });
    await expect(as.query(api.events.listEvents, args)).rejects.toThrow(
      "Convex limit breached by events:listEvents: return value has an array of 3 elements at page, over the limit of 2 elements",
    );
  });
});

describe("makeT: the limits of a transaction (convex-test's, on by default)", () => {
  test("writing more than 16 MiB in one transaction fails", async () => {
    const t = makeT();
    const detail = "d".repeat(1_000_000);
    await expect(
      t.run(async (ctx) => {
        for (let i = 0; i < 17; i++) {
          await ctx.db.insert("auditLog", { at: T0, verb: "node.enrolled", actorKind: "system", actorId: "test", outcome: "ok", detail });
        }
      }),
    ).rejects.toThrow(/Wrote too much data/);
  });

  test("more than 4,096 index ranges in one transaction fail", async () => {
    const t = makeT();
    await expect(
      t.run(async (ctx) => {
        for (let i = 0; i < 4097; i++) await ctx.db.query("nodes").withIndex("by_name", (q) => q.eq("name", `n${i}`)).first();
      }),
    ).rejects.toThrow(/Too many index ranges/);
  });

  test("lastCallMetrics tells what the last call read", async () => {
    const t = makeT();
    await enroll(t);
    const as = await signedIn(t);
    await as.query(api.orchestrations.listOrchestrations, {});
    const m = lastCallMetrics();
    expect(m.documentsRead).toBeGreaterThan(0);
    expect(m.documentsWritten).toBe(0);
    expect(m.databaseQueries).toBeGreaterThan(0);
  });
});
