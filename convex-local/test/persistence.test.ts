// `--state-file`: the database survives restarts, as a real deployment's does.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ConvexHttpClient } from "convex/browser";
import { afterAll, afterEach, describe, expect, test } from "vitest";
import { api } from "../contract/convex/_generated/api.js";
import { CONVEX_TEST_VERSION, InternalsChangedError, parseId, reachInternals } from "../persist.js";
import { decodeState } from "../state_file.js";
import {
  CONTRACT_FUNCTIONS_DIR,
  LOCAL_TOKEN_HEADER,
  spawnLocalBackend,
  startLocalBackend,
  type LocalServer,
  type SpawnedBackend,
  type SpawnOptions,
} from "../testing.js";
import { tsOf, type HttpReply } from "./wire.js";

const scratch = mkdtempSync(path.join(tmpdir(), "convex-local-state-"));
const running: SpawnedBackend[] = [];
const inProcess: LocalServer[] = [];
let fileCounter = 0;

function freshStateFile(): string {
  return path.join(scratch, `state-${++fileCounter}.json`);
}

/** A server in this process (quicker to restart than a child process). */
async function startWith(stateFile: string, port = 0): Promise<LocalServer> {
  const server = await startLocalBackend({ functionsDir: CONTRACT_FUNCTIONS_DIR, stateFile, port });
  inProcess.push(server);
  return server;
}

async function spawnWith(stateFile: string, options: SpawnOptions = {}): Promise<SpawnedBackend> {
  const backend = await spawnLocalBackend({ functionsDir: CONTRACT_FUNCTIONS_DIR, stateFile, ...options });
  running.push(backend);
  return backend;
}

type Running = { url: string; localToken: string };

async function post({ url, localToken }: Running, endpoint: string, body: unknown): Promise<HttpReply> {
  const response = await fetch(`${url}${endpoint}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", [LOCAL_TOKEN_HEADER]: localToken },
    body: JSON.stringify(body),
  });
  expect(response.status, `${endpoint}: ${await response.clone().text()}`).toBe(200);
  return (await response.json()) as HttpReply;
}

const dumpAll = async (running: Running) => (await post(running, "/api/local/dump", {})).tables;
const queryTs = async (running: Running) => tsOf((await post(running, "/api/query_ts", {})).ts);

afterEach(async () => {
  for (const backend of running.splice(0)) await backend.stop("SIGKILL");
  for (const server of inProcess.splice(0)) await server.close();
});

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe("restarts", () => {
  test("a restart on the same port with the same file keeps documents, ids, creation times and values", async () => {
    const stateFile = freshStateFile();
    const first = await spawnWith(stateFile);
    const http = new ConvexHttpClient(first.url);
    const ids = [
      await http.mutation(api.messages.send, { channel: "keep", body: "one" }),
      await http.mutation(api.messages.send, { channel: "keep", body: "two" }),
    ];
    // What the daemon relies on: a credential hash in a document, and every kind of value.
    const value = {
      credentialHash: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
      int64: 2n ** 40n,
      bytes: new Uint8Array([0, 1, 254, 255]).buffer,
      negativeZero: -0,
      notANumber: Number.NaN,
      nested: { list: [1.5, null, true, "x"] },
    };
    const recordId = await http.mutation(api.records.put, { value });
    const before = await dumpAll(first);
    expect(before.messages.map((m) => m._id)).toEqual(ids);

    expect(await first.stop("SIGTERM")).toBe(0);
    expect(statSync(stateFile).mode & 0o777).toBe(0o600);
    const second = await spawnWith(stateFile, { port: first.port });
    expect(second.url).toBe(first.url);

    expect(await dumpAll(second)).toEqual(before);
    const again = new ConvexHttpClient(second.url);
    expect(await again.query(api.messages.list, { channel: "keep" })).toEqual(["one", "two"]);
    const record = (await again.query(api.records.get, { id: recordId }))!;
    expect(record._id).toBe(recordId);
    expect(record.value.int64).toBe(2n ** 40n);
    expect(new Uint8Array(record.value.bytes)).toEqual(new Uint8Array([0, 1, 254, 255]));
    expect(Object.is(record.value.negativeZero, -0)).toBe(true);
    expect(record.value.notANumber).toBeNaN();
    expect(record.value.credentialHash).toBe(value.credentialHash);

    // New documents get new ids, past every id handed out before the restart.
    const newId = await again.mutation(api.messages.send, { channel: "keep", body: "three" });
    const counters = [...ids, recordId].map((id) => parseId(id)!.counter);
    expect(parseId(newId)!.counter).toBeGreaterThan(Math.max(...counters));
  }, 30_000);

  test("commit timestamps never go backwards across restarts, even when the clock does", async () => {
    const stateFile = freshStateFile();
    const first = await startWith(stateFile);
    await post(first, "/api/mutation", { path: "messages:send", args: [{ channel: "ts", body: "a" }] });
    const tsBefore = await queryTs(first);
    await first.close();

    const second = await startWith(stateFile, first.port);
    expect(await queryTs(second)).toBeGreaterThanOrEqual(tsBefore);
    await second.close();

    // A state saved by a clock one hour ahead of ours.
    const saved = JSON.parse(readFileSync(stateFile, "utf8"));
    const ahead = BigInt(Date.now() + 3_600_000) * 1_000_000n;
    saved.ts = ahead.toString();
    writeFileSync(stateFile, JSON.stringify(saved));
    const third = await startWith(stateFile, first.port);
    expect(await queryTs(third)).toBeGreaterThanOrEqual(ahead);
    await post(third, "/api/mutation", { path: "messages:send", args: [{ channel: "ts", body: "b" }] });
    expect(await queryTs(third)).toBeGreaterThan(ahead);
  });

  test("a reset, then a restart, never reuses an id", async () => {
    const stateFile = freshStateFile();
    const first = await startWith(stateFile);
    const before = (await post(first, "/api/mutation", { path: "messages:send", args: [{ channel: "r", body: "a" }] }))
      .value as string;
    await post(first, "/api/local/reset", {});
    await first.close();

    const second = await startWith(stateFile, first.port);
    expect((await dumpAll(second)).messages).toEqual([]);
    const after = (await post(second, "/api/mutation", { path: "messages:send", args: [{ channel: "r", body: "b" }] }))
      .value as string;
    expect(after).not.toBe(before);
    expect(parseId(after)!.counter).toBeGreaterThan(parseId(before)!.counter);
  });

  test("pending scheduled functions run after a restart, with the same job id", async () => {
    const stateFile = freshStateFile();
    const first = await startWith(stateFile);
    await post(first, "/api/mutation", {
      path: "messages:sendLater",
      args: [{ channel: "later", body: "scheduled", delayMs: 800 }],
    });
    const [job] = (await post(first, "/api/local/dump", { tables: ["_scheduled_functions"] })).tables
      ._scheduled_functions;
    expect(job.state).toEqual({ kind: "pending" });
    await first.close();

    const second = await startWith(stateFile, first.port);
    const http = new ConvexHttpClient(second.url);
    expect(await http.query(api.messages.list, { channel: "later" })).toEqual([]);
    await expect
      .poll(() => http.query(api.messages.list, { channel: "later" }), { timeout: 5000, interval: 50 })
      .toEqual(["scheduled"]);
    // Not before its time.
    expect(Date.now()).toBeGreaterThanOrEqual(job.scheduledTime as number);
    const [after] = (await post(second, "/api/local/dump", { tables: ["_scheduled_functions"] })).tables
      ._scheduled_functions;
    expect(after._id).toBe(job._id);
    await expect
      .poll(async () => (await post(second, "/api/local/dump", { tables: ["_scheduled_functions"] })).tables
        ._scheduled_functions[0].state, { timeout: 2000, interval: 50 })
      .toEqual({ kind: "success" });
  });
});

describe("writes", () => {
  test("commits are saved shortly after they happen, without a shutdown", async () => {
    const stateFile = freshStateFile();
    const backend = await startWith(stateFile);
    const id = (await post(backend, "/api/mutation", { path: "messages:send", args: [{ channel: "w", body: "a" }] }))
      .value as string;
    await expect
      .poll(() => readFileSync(stateFile, "utf8").includes(id), { timeout: 1000, interval: 20 })
      .toBe(true);
  });

  test("a kill -9 between or during writes leaves the previous complete file", async () => {
    const stateFile = freshStateFile();
    const first = await spawnWith(stateFile);
    let written = 0;
    let stop = false;
    const writer = (async () => {
      while (!stop) {
        const reply = await fetch(`${first.url}/api/mutation`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ path: "messages:send", args: [{ channel: "kill", body: String(written) }] }),
        }).catch(() => null);
        if (reply === null || reply.status !== 200) break;
        written += 1;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300 + Math.random() * 400));
    expect(await first.stop("SIGKILL")).toBe(null);
    stop = true;
    await writer;
    expect(written).toBeGreaterThan(10);

    // Complete and loadable: a prefix of the writes, in order, nothing torn.
    const state = decodeState(readFileSync(stateFile, "utf8"), stateFile);
    const bodies = state.documents.filter((d) => d.channel === "kill").map((d) => d.body);
    expect(bodies).toEqual(bodies.map((_, i) => String(i)));
    expect(bodies.length).toBeGreaterThan(0);
    const second = await spawnWith(stateFile, { port: first.port });
    const http = new ConvexHttpClient(second.url);
    expect(await http.query(api.messages.list, { channel: "kill" })).toEqual(bodies);
  }, 30_000);
});

describe("in this process", () => {
  test("startLocalBackend takes a state file too, and close() writes the last commits", async () => {
    const stateFile = freshStateFile();
    const server = await startLocalBackend({ functionsDir: CONTRACT_FUNCTIONS_DIR, stateFile, stateSaveDelayMs: 60_000 });
    const http = new ConvexHttpClient(server.url);
    const id = await http.mutation(api.messages.send, { channel: "close", body: "last" });
    await server.close();
    expect(readFileSync(stateFile, "utf8")).toContain(id);
    expect(server.backend.stateSaver?.saves).toBe(2);
  });

  test(`the self-check knows convex-test ${CONVEX_TEST_VERSION} and refuses what it does not recognise`, async () => {
    const notConvexTest = { query: async () => null, run: async () => null };
    await expect(reachInternals(notConvexTest)).rejects.toThrow(InternalsChangedError);
    await expect(reachInternals(notConvexTest)).rejects.toThrow(/persist\.ts/);
  });
});
