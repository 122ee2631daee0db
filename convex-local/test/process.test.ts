// The server as a process, the way `tina backend` and scripts run it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import WebSocket from "ws";
import { afterAll, beforeAll, expect, test } from "vitest";
import { api } from "../contract/convex/_generated/api.js";
import { CONTRACT_FUNCTIONS_DIR, serverArgv, spawnLocalBackend, type SpawnedBackend } from "../testing.js";

const REPO_ROOT = path.resolve(import.meta.dirname, "..", "..");
let backend: SpawnedBackend;

beforeAll(async () => {
  backend = await spawnLocalBackend({
    functionsDir: CONTRACT_FUNCTIONS_DIR,
    env: { CONTRACT_CRON_SECONDS: "1", CONTRACT_GREETING: "a=b c" },
  });
}, 30_000);

afterAll(async () => {
  await backend?.stop("SIGKILL");
});

test("prints `ready <url>` and serves the functions with the --env variables", async () => {
  expect(backend.url).toBe(`http://127.0.0.1:${backend.port}`);
  const http = new ConvexHttpClient(backend.url);
  expect(await http.query(api.env.get, { name: "CONTRACT_GREETING" })).toBe("a=b c");
});

test("interval crons run on real timers and reach subscribers", async () => {
  const client = new ConvexClient(backend.url, { webSocketConstructor: WebSocket as any });
  const counts: number[] = [];
  const unsubscribe = client.onUpdate(api.ticks.get, { name: "interval" }, (count) => counts.push(count));
  try {
    await expect.poll(() => counts.at(-1), { timeout: 4000, interval: 50 }).toBeGreaterThanOrEqual(2);
    // Every change arrived as its own update, in order.
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
  } finally {
    unsubscribe();
    await client.close();
  }
}, 10_000);

test("SIGTERM stops it cleanly, even with clients connected, and frees the port", async () => {
  const first = await spawnLocalBackend({ functionsDir: CONTRACT_FUNCTIONS_DIR });
  const client = new ConvexClient(first.url, { webSocketConstructor: WebSocket as any });
  try {
    const seen = new Promise((resolve) => client.onUpdate(api.ticks.get, { name: "x" }, resolve));
    expect(await seen).toBe(0);
    const started = Date.now();
    expect(await first.stop("SIGTERM")).toBe(0);
    expect(Date.now() - started).toBeLessThan(2000);
  } finally {
    await client.close();
  }
  const second = await spawnLocalBackend({ functionsDir: CONTRACT_FUNCTIONS_DIR, port: first.port });
  try {
    expect(second.url).toBe(first.url);
  } finally {
    expect(await second.stop("SIGINT")).toBe(0);
  }
}, 30_000);

test("bad arguments and unusable functions fail without a ready line", () => {
  const [node, ...args] = serverArgv({ functionsDir: CONTRACT_FUNCTIONS_DIR });
  const badPort = spawnSync(node, [...args, "--port", "nope"], { cwd: REPO_ROOT, encoding: "utf8" });
  expect(badPort.status).toBe(2);
  expect(badPort.stdout).toBe("");
  expect(badPort.stderr).toContain("invalid --port");

  const empty = mkdtempSync(path.join(tmpdir(), "convex-local-"));
  writeFileSync(path.join(empty, "schema.ts"), "export default undefined;\n");
  const [node2, ...args2] = serverArgv({ functionsDir: empty });
  const noGenerated = spawnSync(node2, args2, { cwd: REPO_ROOT, encoding: "utf8" });
  expect(noGenerated.status).toBe(1);
  expect(noGenerated.stdout).toBe("");
  expect(noGenerated.stderr).toContain("No _generated folder");
}, 30_000);
