// The server as a process, the way `tina backend` and scripts run it.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { afterAll, beforeAll, expect, test } from "vitest";
import { api } from "../contract/convex/_generated/api.js";
import {
  CONTRACT_FUNCTIONS_DIR,
  LOCAL_TOKEN_HEADER,
  nodeWebSocket,
  serverArgv,
  spawnLocalBackend,
  type SpawnedBackend,
} from "../testing.js";

const REPO_ROOT = path.resolve(import.meta.dirname, "..", "..");
let backend: SpawnedBackend;

const SECRET = "a-secret-nobody-may-see-in-ps-0123456789";

beforeAll(async () => {
  backend = await spawnLocalBackend({
    functionsDir: CONTRACT_FUNCTIONS_DIR,
    env: { CONTRACT_CRON_SECONDS: "1", CONTRACT_GREETING: "a=b c", CONTRACT_SECRET: SECRET },
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
  const client = new ConvexClient(backend.url, { webSocketConstructor: nodeWebSocket });
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
  const client = new ConvexClient(first.url, { webSocketConstructor: nodeWebSocket });
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

test.runIf(process.platform === "linux")("the functions' environment and the token are not on the command line", async () => {
  const cmdline = readFileSync(`/proc/${backend.process.pid}/cmdline`, "utf8");
  expect(cmdline).toContain("--env-file");
  expect(cmdline).not.toContain(SECRET);
  expect(cmdline).not.toContain(backend.localToken);
  expect(await new ConvexHttpClient(backend.url).query(api.env.get, { name: "CONTRACT_SECRET" })).toBe(SECRET);
  // spawnLocalBackend's private files are gone once the server is up.
  const envFile = cmdline.split("\0")[cmdline.split("\0").indexOf("--env-file") + 1];
  expect(existsSync(envFile)).toBe(false);
});

test("--local-token-file gets this start's token (0600), --allow-origin the browser origins; both die with it", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "convex-local-"));
  const tokenFile = path.join(dir, "token");
  const [node, ...args] = serverArgv(
    { functionsDir: CONTRACT_FUNCTIONS_DIR, allowOrigins: ["http://127.0.0.1:*"] },
    { localTokenFile: tokenFile },
  );
  const child = spawn(node, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "ignore"] });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const match = /^ready (\S+)$/m.exec(out);
        if (match !== null) resolve(match[1]);
      });
      child.once("exit", () => reject(new Error(`exited before ready: ${out}`)));
    });
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const token = readFileSync(tokenFile, "utf8").trim();
    const post = (endpoint: string, headers: Record<string, string>) =>
      fetch(`${url}${endpoint}`, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: "{}" });
    expect((await post("/api/local/dump", { [LOCAL_TOKEN_HEADER]: token })).status).toBe(200);
    expect((await post("/api/local/dump", {})).status).toBe(401);
    // `scheme://host:*` allows every port of that host (the browser tests' dashboard).
    expect((await post("/api/query_ts", { Origin: "http://127.0.0.1:40123" })).status).toBe(200);
    expect((await post("/api/query_ts", { Origin: "http://localhost:5173" })).status).toBe(403);
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
  expect(existsSync(tokenFile)).toBe(false);
}, 30_000);

test("without --local-token-file the token goes to a private temporary directory, removed on stop", async () => {
  const [node, ...args] = serverArgv({ functionsDir: CONTRACT_FUNCTIONS_DIR });
  const child = spawn(node, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("ready ") && resolve());
      child.once("exit", () => reject(new Error(`exited before ready: ${stderr}`)));
    });
    await expect.poll(() => /token is in (\S+)/.exec(stderr)?.[1]).toBeDefined();
    const tokenFile = /token is in (\S+)/.exec(stderr)![1];
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(tokenFile)).mode & 0o777).toBe(0o700);
    expect(readFileSync(tokenFile, "utf8").trim()).toMatch(/^[A-Za-z0-9_-]{43}$/);
    child.kill("SIGTERM");
    await exited;
    expect(existsSync(path.dirname(tokenFile))).toBe(false);
  } finally {
    child.kill("SIGKILL");
    await exited;
  }
}, 30_000);

test("a bad --allow-origin or --env-file stops the start with exit status 2", () => {
  const [node, ...args] = serverArgv({ functionsDir: CONTRACT_FUNCTIONS_DIR });
  for (const bad of ["evil.example", "http://127.0.0.1:5173/path", "ftp://x", "*"]) {
    const result = spawnSync(node, [...args, "--allow-origin", bad], { cwd: REPO_ROOT, encoding: "utf8" });
    expect(result.status, bad).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("invalid --allow-origin");
  }
  const dir = mkdtempSync(path.join(tmpdir(), "convex-local-"));
  writeFileSync(path.join(dir, "env.json"), JSON.stringify({ A: 1 }));
  const badEnv = spawnSync(node, [...args, "--env-file", path.join(dir, "env.json")], { cwd: REPO_ROOT, encoding: "utf8" });
  expect(badEnv.status).toBe(2);
  expect(badEnv.stderr).toContain("invalid --env-file");
  expect(() => serverArgv({ env: { A: "secret" } })).toThrow(/env file/);
}, 30_000);
