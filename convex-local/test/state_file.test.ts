// The state file on its own: its format, the saver, and starts it must refuse.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import type { DatabaseState } from "../persist.js";
import { decodeState, encodeState, StateFileError, StateSaver } from "../state_file.js";
import { CONTRACT_FUNCTIONS_DIR, serverArgv } from "../testing.js";

const REPO_ROOT = path.resolve(import.meta.dirname, "..", "..");
const scratch = mkdtempSync(path.join(tmpdir(), "convex-local-state-file-"));
let fileCounter = 0;

function freshStateFile(): string {
  return path.join(scratch, `state-${++fileCounter}.json`);
}

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe("state file format", () => {
  const state: DatabaseState = {
    ts: 1_718_000_000_000_000_123n,
    nextDocId: 10_003,
    lastCreationTime: 1_718_000_000_000.002,
    documents: [
      { _id: "10001messages", _creationTime: 1_718_000_000_000.001, body: "a", n: 5n, b: new ArrayBuffer(2) },
      { _id: "10002_scheduled_functions", _creationTime: 1_718_000_000_000.002, state: { kind: "pending" } },
    ],
  };

  test("round-trips, one document per line", () => {
    const text = encodeState(state);
    expect(text.split("\n")).toHaveLength(5);
    expect(decodeState(text, "f")).toEqual(state);
  });

  // The file's JSON, as far as these cases change it.
  type Encoded = { documents: Record<string, unknown>[]; [field: string]: unknown };
  test.each([
    ["duplicate ids", (s: Encoded) => ({ ...s, documents: [s.documents[0], s.documents[0]] }), /appears twice/],
    ["a bad id", (s: Encoded) => ({ ...s, documents: [{ ...s.documents[0], _id: "messages" }] }), /valid _id/],
    ["a bad ts", (s: Encoded) => ({ ...s, ts: "-1" }), /bad ts/],
    ["another version", (s: Encoded) => ({ ...s, version: 2 }), /version 2/],
    ["no documents", (s: Encoded) => ({ ...s, documents: undefined }), /documents/],
  ])("refuses %s", (_name, change, message) => {
    const encoded = JSON.parse(encodeState(state)) as Encoded;
    const text = JSON.stringify(change(encoded));
    expect(() => decodeState(text, "/some/state.json")).toThrow(StateFileError);
    expect(() => decodeState(text, "/some/state.json")).toThrow(message);
    expect(() => decodeState(text, "/some/state.json")).toThrow("/some/state.json");
  });

  test("the saver coalesces commits and writes one file at a time", async () => {
    const file = freshStateFile();
    let captures = 0;
    const saver = new StateSaver(
      file,
      () => {
        captures += 1;
        return { ...state, nextDocId: 10_000 + captures };
      },
      () => {},
      20,
    );
    for (let i = 0; i < 50; i++) saver.schedule();
    await expect.poll(() => saver.saves, { timeout: 1000, interval: 5 }).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(saver.saves).toBe(1);
    saver.schedule();
    await saver.close();
    saver.schedule();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(saver.saves).toBe(2);
    expect(decodeState(readFileSync(file, "utf8"), file).nextDocId).toBe(10_002);
    expect(existsSync(`${file}.tmp`)).toBe(false);
  });
});

describe("refusing to start", () => {
  /** Runs the server to its exit; a server that starts anyway is killed after 20 s. */
  const startWith = (stateFile: string) => {
    const [node, ...args] = serverArgv({ functionsDir: CONTRACT_FUNCTIONS_DIR, stateFile });
    const child = spawn(node, args, { cwd: REPO_ROOT, timeout: 20_000 });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) =>
      child.on("close", (status) => resolve({ status, stdout, stderr })),
    );
  };
  const goodState = encodeState({
    ts: BigInt(Date.now()) * 1_000_000n,
    nextDocId: 10_001,
    lastCreationTime: Date.now(),
    documents: [{ _id: "10000messages", _creationTime: Date.now(), channel: "c", body: "x" }],
  });

  test.concurrent.each([
    ["truncated", (text: string) => text.slice(0, Math.floor(text.length / 2))],
    ["not a state file", () => JSON.stringify({ hello: "world" })],
    ["empty", () => ""],
    ["a document without an id", (text: string) => text.replace(/"_id":"[^"]+",/, "")],
  ])("a corrupt state file (%s) stops the start with a message naming it", async (_name, corrupt) => {
    const stateFile = freshStateFile();
    const original = goodState;
    writeFileSync(stateFile, corrupt(original));

    const result = await startWith(stateFile);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(`failed to start: state file ${stateFile}`);
    // The file is left as it was for a human to look at.
    expect(readFileSync(stateFile, "utf8")).toBe(corrupt(original));
  }, 30_000);

  test.concurrent("an unreadable or unwritable state file path stops the start", async () => {
    const directory = path.join(scratch, "a-directory");
    mkdirSync(directory);
    const missingParent = path.join(scratch, "no-such-dir", "state.json");
    const [unreadable, unwritable] = await Promise.all([startWith(directory), startWith(missingParent)]);
    expect(unreadable.status).toBe(1);
    expect(unreadable.stdout).toBe("");
    expect(unreadable.stderr).toContain(`cannot read state file ${directory}`);

    expect(unwritable.status).toBe(1);
    expect(unwritable.stdout).toBe("");
    expect(unwritable.stderr).toContain(`cannot write state file ${missingParent}`);
    expect(existsSync(missingParent)).toBe(false);
  }, 30_000);
});
