// Indexed reads (fast_db.ts): the same answers as convex-test's own scans, in the same
// order, for index ranges (eq, gt/gte, lt/lte, desc), table scans, filters, limits,
// pagination and a transaction's own pending writes; and no scan of every document.
import { convexTest } from "convex-test";
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { FastDatabase, type PatchableDatabase } from "../fast_db.js";
import { FunctionModules } from "../modules.js";
import { reachInternals } from "../persist.js";
import { CONTRACT_FUNCTIONS_DIR } from "../testing.js";

const schema = defineSchema({
  items: defineTable({
    a: v.optional(v.number()),
    b: v.string(),
    n: v.object({ k: v.number() }),
  })
    .index("by_a", ["a"])
    .index("by_a_b", ["a", "b"])
    .index("by_nk", ["n.k"]),
  other: defineTable({ a: v.number() }).index("by_a", ["a"]),
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Ctx = any;
type Accessor = {
  run<T>(fn: (ctx: Ctx) => Promise<T>): Promise<T>;
  query<T>(fn: (ctx: Ctx) => Promise<T>): Promise<T>;
};

function newT(): Accessor {
  const modules = FunctionModules.fromDir(CONTRACT_FUNCTIONS_DIR).modules;
  return convexTest(schema, modules) as unknown as Accessor;
}

/** A small deterministic generator (mulberry32). */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// The last two order differently in UTF-16 and in UTF-8 (Convex orders strings by UTF-8).
const B = ["x", "y", "z", "\uE000", "\u{1F600}"];

/** Every kind of read, each returning plain data to compare. */
const READS: [string, (ctx: Ctx) => Promise<unknown>][] = [
  ["eq", (ctx) => ctx.db.query("items").withIndex("by_a", (q: Ctx) => q.eq("a", 1)).collect()],
  ["eq undefined", (ctx) => ctx.db.query("items").withIndex("by_a", (q: Ctx) => q.eq("a", undefined)).collect()],
  ["eq eq desc", (ctx) =>
    ctx.db.query("items").withIndex("by_a_b", (q: Ctx) => q.eq("a", 2).eq("b", "y")).order("desc").collect()],
  ["eq gt", (ctx) => ctx.db.query("items").withIndex("by_a_b", (q: Ctx) => q.eq("a", 0).gt("b", "x")).collect()],
  ["eq gte lt desc", (ctx) =>
    ctx.db.query("items").withIndex("by_a_b", (q: Ctx) => q.eq("a", 1).gte("b", "x").lt("b", "z")).order("desc").collect()],
  ["gt lte", (ctx) => ctx.db.query("items").withIndex("by_a", (q: Ctx) => q.gt("a", 0).lte("a", 2)).collect()],
  ["lt", (ctx) => ctx.db.query("items").withIndex("by_a", (q: Ctx) => q.lt("a", 2)).collect()],
  ["nested field", (ctx) => ctx.db.query("items").withIndex("by_nk", (q: Ctx) => q.gte("n.k", 5)).order("desc").collect()],
  ["whole index", (ctx) => ctx.db.query("items").withIndex("by_a_b").collect()],
  ["filter take", (ctx) =>
    ctx.db.query("items").withIndex("by_a").filter((q: Ctx) => q.eq(q.field("b"), "y")).take(3)],
  ["first", (ctx) => ctx.db.query("items").withIndex("by_a", (q: Ctx) => q.eq("a", 3)).first()],
  ["table", (ctx) => ctx.db.query("items").collect()],
  ["table desc take", (ctx) => ctx.db.query("items").order("desc").take(5)],
  ["by_creation_time", (ctx) =>
    ctx.db.query("items").withIndex("by_creation_time", (q: Ctx) => q.gt("_creationTime", 1_700_000_000_010)).collect()],
  ["other table", (ctx) => ctx.db.query("other").withIndex("by_a", (q: Ctx) => q.eq("a", 1)).collect()],
];

async function randomWrites(ctx: Ctx, random: () => number, count: number): Promise<void> {
  const pick = () => (random() < 0.15 ? undefined : Math.floor(random() * 4));
  for (let i = 0; i < count; i++) {
    const existing = await ctx.db.query("items").collect();
    const r = random();
    if (r < 0.55 || existing.length === 0) {
      await ctx.db.insert("items", { a: pick(), b: B[Math.floor(random() * B.length)], n: { k: Math.floor(random() * 10) } });
    } else if (r < 0.75) {
      const doc = existing[Math.floor(random() * existing.length)];
      await ctx.db.patch("items", doc._id, { a: pick(), b: B[Math.floor(random() * B.length)] });
    } else if (r < 0.85) {
      const doc = existing[Math.floor(random() * existing.length)];
      await ctx.db.replace("items", doc._id, { b: "z", n: { k: Math.floor(random() * 10) } });
    } else if (r < 0.95) {
      await ctx.db.delete("items", existing[Math.floor(random() * existing.length)]._id);
    } else {
      await ctx.db.insert("other", { a: Math.floor(random() * 3) });
    }
  }
}

async function readAll(ctx: Ctx): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [name, read] of READS) out[name] = await read(ctx);
  out.firstPage = await onePage(ctx, null);
  return out;
}

/** One page (a function may paginate once). */
function onePage(ctx: Ctx, cursor: string | null): Promise<{ page: Ctx[]; isDone: boolean; continueCursor: string }> {
  return ctx.db
    .query("items")
    .withIndex("by_a", (q: Ctx) => q.gte("a", 1))
    .order("desc")
    .paginate({ numItems: 3, cursor });
}

/** A page of the whole table, oldest first. */
function tablePage(ctx: Ctx, cursor: string | null): Promise<{ page: Ctx[]; isDone: boolean; continueCursor: string }> {
  return ctx.db.query("items").paginate({ numItems: 4, cursor });
}

/** Every page, one query each. */
async function allPages(t: Accessor, read = onePage): Promise<unknown[]> {
  const pages = [];
  let cursor: string | null = null;
  for (;;) {
    const page = await t.query((ctx) => read(ctx, cursor));
    pages.push(page);
    if (page.isDone) return pages;
    cursor = page.continueCursor;
  }
}

describe("indexed reads", () => {
  beforeAll(() => {
    // Both databases hand out the same ids and creation times.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(1_700_000_000_000);
  });
  afterAll(() => {
    vi.useRealTimers();
  });

  test("answer like convex-test's scans, committed and pending writes alike", { timeout: 120_000 }, async () => {
    const reference = newT();
    const fast = newT();
    const internals = await reachInternals(fast as never);
    new FastDatabase(internals.db as unknown as PatchableDatabase, {
      currentReadSet: () => null,
      onTransactionStart: () => {},
      onCommit: () => {},
      onFilteredOut: () => {},
    }).install();

    for (let round = 0; round < 8; round++) {
      vi.setSystemTime(1_700_000_000_000 + round * 7);
      // Committed writes, then reads.
      for (const t of [reference, fast]) {
        const random = prng(round);
        await t.run((ctx) => randomWrites(ctx, random, 15));
      }
      expect(await fast.query(readAll)).toEqual(await reference.query(readAll));
      expect(await allPages(fast)).toEqual(await allPages(reference));
      expect(await allPages(fast, tablePage)).toEqual(await allPages(reference, tablePage));
      // Reads inside a transaction, after its own (uncommitted) writes.
      const inTransaction = async (t: Accessor) => {
        const random = prng(1000 + round);
        return await t.run(async (ctx) => {
          await randomWrites(ctx, random, 6);
          return await readAll(ctx);
        });
      };
      expect(await inTransaction(fast)).toEqual(await inTransaction(reference));
    }
    expect(((await fast.query(readAll)) as { table: unknown[] }).table.length).toBeGreaterThan(40);
  });

  test("an indexed read does not walk every document", async () => {
    const t = newT();
    await t.run(async (ctx) => {
      for (let i = 0; i < 200; i++) await ctx.db.insert("items", { a: i % 4, b: "x", n: { k: i } });
    });
    const internals = await reachInternals(t as never);
    const db = internals.db as unknown as { _documents: Record<string, unknown> };
    new FastDatabase(internals.db as unknown as PatchableDatabase, {
      currentReadSet: () => null,
      onTransactionStart: () => {},
      onCommit: () => {},
      onFilteredOut: () => {},
    }).install();
    let enumerations = 0;
    db._documents = new Proxy(db._documents, {
      ownKeys(target) {
        enumerations += 1;
        return Reflect.ownKeys(target);
      },
    });
    const found = await t.query((ctx) =>
      ctx.db.query("items").withIndex("by_nk", (q: Ctx) => q.eq("n.k", 7)).collect(),
    );
    const inMutation = await t.run(async (ctx) => {
      await ctx.db.insert("items", { a: 1, b: "y", n: { k: 7 } });
      return await ctx.db.query("items").withIndex("by_nk", (q: Ctx) => q.eq("n.k", 7)).collect();
    });
    expect(found).toHaveLength(1);
    expect(inMutation).toHaveLength(2);
    expect(enumerations).toBe(0);
  });
});
