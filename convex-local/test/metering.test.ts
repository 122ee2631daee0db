// The cost meter (GET /api/local/metrics, POST /api/local/metrics/reset), read sets (a
// subscribed query re-runs only when a commit writes inside what it read) and the real
// Convex limits every function runs under.
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { api } from "../contract/convex/_generated/api.js";
import type { Counters, MetricsReport } from "../metering.js";
import { CONTRACT_FUNCTIONS_DIR, LOCAL_TOKEN_HEADER, nodeWebSocket, startLocalBackend, type LocalServer } from "../testing.js";

let server: LocalServer;
let http: ConvexHttpClient;
const logged: string[] = [];

async function metrics(): Promise<MetricsReport> {
  const response = await fetch(`${server.url}/api/local/metrics`, {
    headers: { [LOCAL_TOKEN_HEADER]: server.localToken },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as MetricsReport;
}

async function resetMetrics(): Promise<void> {
  const response = await fetch(`${server.url}/api/local/metrics/reset`, {
    method: "POST",
    headers: { [LOCAL_TOKEN_HEADER]: server.localToken },
  });
  expect(response.status).toBe(200);
}

const counters = (report: MetricsReport, udfPath: string): Partial<Counters> => report.functions[udfPath] ?? {};

beforeAll(async () => {
  server = await startLocalBackend({ functionsDir: CONTRACT_FUNCTIONS_DIR, log: (line) => logged.push(line) });
  http = new ConvexHttpClient(server.url);
});

beforeEach(async () => {
  await server.backend.reset();
  await resetMetrics();
});

afterAll(async () => {
  await server.close();
});

describe("GET /api/local/metrics", () => {
  test("counts calls, errors, documents and bytes per function, with totals", async () => {
    const since = Date.now();
    await http.mutation(api.messages.send, { channel: "m", body: "one" });
    await http.mutation(api.messages.send, { channel: "m", body: "two" });
    expect(await http.query(api.messages.list, { channel: "m" })).toEqual(["one", "two"]);
    await expect(http.mutation(api.messages.send, { channel: 1 as unknown as string, body: "x" })).rejects.toThrow();

    const report = await metrics();
    expect(report.since).toBeGreaterThan(since - 60_000);
    expect(report.functions["messages:send"]).toEqual({
      calls: 3,
      rerun: 0,
      scheduled: 0,
      cron: 0,
      documentsRead: 0,
      bytesRead: 0,
      documentsWritten: 2,
      bytesWritten: expect.any(Number),
      errors: 1,
    });
    expect(report.functions["messages:send"].bytesWritten).toBeGreaterThan(0);
    expect(counters(report, "messages:list")).toMatchObject({ calls: 1, documentsRead: 2, errors: 0 });
    expect(report.totals.calls).toBe(4);
    expect(report.totals.documentsWritten).toBe(2);
    expect(report.totals.bytesRead).toBe(report.functions["messages:list"].bytesRead);
  });

  test("an HTTP action is a call of its route; what it runs counts on its own", async () => {
    const response = await fetch(`${server.url}/messages`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ channel: "h", body: "over http" }),
    });
    expect(response.status).toBe(201);
    const report = await metrics();
    expect(counters(report, "http POST /messages")).toMatchObject({ calls: 1, errors: 0 });
    expect(counters(report, "messages:insertInternal")).toMatchObject({ calls: 1, documentsWritten: 1 });
  });

  test("documents a filter drops count as read, as Convex bills them", async () => {
    for (const body of ["a", "b", "c"]) await http.mutation(api.messages.send, { channel: "f", body });
    expect(await http.query(api.messages.withBody, { channel: "f", body: "b" })).toBe(1);
    expect(counters(await metrics(), "messages:withBody")).toMatchObject({ calls: 1, documentsRead: 3 });
  });

  test("needs this start's token; POST /api/local/metrics/reset starts afresh", async () => {
    await http.mutation(api.messages.send, { channel: "r", body: "x" });
    const anonymous = await fetch(`${server.url}/api/local/metrics`);
    expect(anonymous.status).toBe(401);
    const wrong = await fetch(`${server.url}/api/local/metrics/reset`, {
      method: "POST",
      headers: { [LOCAL_TOKEN_HEADER]: "nope" },
    });
    expect(wrong.status).toBe(401);
    expect((await metrics()).totals.calls).toBe(1);
    await resetMetrics();
    const report = await metrics();
    expect(report.functions).toEqual({});
    expect(report.totals.calls).toBe(0);
  });

  test("scheduled runs and an action's runMutation are told apart from clients' calls", async () => {
    await http.mutation(api.messages.sendLater, { channel: "s", body: "later", delayMs: 0 });
    await expect.poll(() => http.query(api.messages.list, { channel: "s" }), { timeout: 5000 }).toEqual(["later"]);
    await http.action(api.messages.sendViaAction, { channel: "s", body: "via action" });
    await http.mutation(api.messages.sendLaterViaAction, { channel: "s", body: "scheduled action" });
    await expect
      .poll(async () => counters(await metrics(), "messages:insertInternal"), { timeout: 5000 })
      .toMatchObject({ scheduled: 1, calls: 2, documentsWritten: 3 });
    expect(counters(await metrics(), "messages:insertFromAction")).toMatchObject({ scheduled: 1, calls: 0 });
    const report = await metrics();
    expect(counters(report, "messages:sendLater")).toMatchObject({ calls: 1, scheduled: 0 });
    expect(counters(report, "messages:sendViaAction")).toMatchObject({ calls: 1, documentsWritten: 0 });
  });
});

describe("read sets", () => {
  test("a subscribed query re-runs on a commit inside its index range, not on an unrelated one", async () => {
    const client = new ConvexClient(server.url, { webSocketConstructor: nodeWebSocket });
    try {
      const seen: string[][] = [];
      client.onUpdate(api.messages.list, { channel: "a" }, (bodies) => seen.push(bodies));
      await expect.poll(() => seen.at(-1)).toEqual([]);
      // Writes outside the range it read (another channel, another table).
      await client.mutation(api.messages.send, { channel: "b", body: "elsewhere" });
      await client.mutation(api.ticks.bump, { name: "t" });
      // A write inside it.
      await client.mutation(api.messages.send, { channel: "a", body: "here" });
      await expect.poll(() => seen.at(-1)).toEqual(["here"]);
      // Only the related commit re-ran it: once run, once re-run.
      expect(counters(await metrics(), "messages:list")).toMatchObject({ calls: 1, rerun: 1 });
    } finally {
      await client.close();
    }
  });

  test("the meter says what made a query re-run: the writer, the table and the fields it changed", async () => {
    const client = new ConvexClient(server.url, { webSocketConstructor: nodeWebSocket });
    try {
      const counts: number[] = [];
      client.onUpdate(api.ticks.get, { name: "r" }, (n) => counts.push(n));
      await expect.poll(() => counts.at(-1)).toBe(0);
      await client.mutation(api.ticks.bump, { name: "r" });
      await expect.poll(() => counts.at(-1)).toBe(1);
      await client.mutation(api.ticks.bump, { name: "r" });
      await expect.poll(() => counts.at(-1)).toBe(2);
      const report = await metrics();
      expect(counters(report, "ticks:get")).toMatchObject({ calls: 1, rerun: 2 });
      expect(report.reruns["ticks:get"]).toEqual({ "ticks:bump ticks[+]": 1, "ticks:bump ticks[count]": 1 });
      await resetMetrics();
      expect((await metrics()).reruns).toEqual({});
    } finally {
      await client.close();
    }
  });

  test("a query that stopped early re-runs only for writes in the part it scanned", async () => {
    const client = new ConvexClient(server.url, { webSocketConstructor: nodeWebSocket });
    try {
      await client.mutation(api.messages.send, { channel: "f", body: "first" });
      const seen: (string | null)[] = [];
      client.onUpdate(api.messages.firstBody, { channel: "f" }, (body) => seen.push(body));
      await expect.poll(() => seen.at(-1)).toBe("first");
      // After the one document `.first()` read: outside its read set.
      await client.mutation(api.messages.send, { channel: "f", body: "second" });
      // The document it read changes: inside.
      await client.mutation(api.messages.removeAll, { channel: "f" });
      await expect.poll(() => seen.at(-1)).toBeNull();
      expect(counters(await metrics(), "messages:firstBody")).toMatchObject({ calls: 1, rerun: 1 });
    } finally {
      await client.close();
    }
  });
});

describe("limits", () => {
  test("arguments with an array over 8,192 elements fail, naming the function and the limit", async () => {
    const value = Array.from({ length: 9000 }, (_, i) => i);
    await expect(http.mutation(api.records.put, { value })).rejects.toThrow(
      "Convex limit breached by records:put: arguments has an array of 9000 elements at value",
    );
    expect(counters(await metrics(), "records:put")).toMatchObject({ calls: 1, errors: 1, documentsWritten: 0 });
    expect(logged.some((line) => line.includes("LIMIT BREACHED by records:put"))).toBe(true);
  });

  test("a document over 1 MiB fails", async () => {
    await expect(http.mutation(api.records.put, { value: "x".repeat(1100 * 1024) })).rejects.toThrow(
      /Convex limit breached by records:put: a document of \d+ bytes, over the limit of 1048576 bytes/,
    );
  });

  test("a return value over 16 MiB fails", async () => {
    await expect(http.query(api.messages.strings, { size: 1024 * 1024, count: 17 })).rejects.toThrow(
      /Convex limit breached by messages:strings: return value of \d+ bytes, over the limit of 16777216 bytes/,
    );
  });

  test("reading more than 16 MiB in one function fails (convex-test's transaction limits)", async () => {
    const body = "b".repeat(1_000_000);
    for (let i = 0; i < 18; i++) await http.mutation(api.messages.send, { channel: "big", body });
    await expect(http.query(api.messages.countAll, { channel: "big" })).rejects.toThrow(
      "Read too much data in a single function execution (limit: 16777216 bytes)",
    );
    expect(counters(await metrics(), "messages:countAll")).toMatchObject({ calls: 1, errors: 1 });
    // The backend's own reads are not limited.
    const dumped = await server.backend.dump(["messages"]);
    expect(dumped.messages).toHaveLength(18);
  }, 60_000);
});
