// The `--state-file`: the database as one JSON file, written atomically (a
// temporary file, fsync, rename) so that a crash at any moment leaves either
// the previous complete file or the new one, never a mix.
//
//   {"format": "convex-local-state", "version": 1, "savedAt": "<ISO time>",
//    "ts": "<last commit ts, ns, decimal>", "nextDocId": 10042, "lastCreationTime": 1718000000000.001,
//    "documents": [
//   {"_id": "…", "_creationTime": …, …fields in Convex's JSON encoding (convexToJson)…},
//   …
//   ]}
//
// One document per line, so that the file can be read and diffed by eye.
import { open, readFile, rename } from "node:fs/promises";
import path from "node:path";
import { convexToJson, jsonToConvex, type JSONValue, type Value } from "convex/values";
import { parseId, type DatabaseState, type StoredDocument } from "./persist.js";

export const STATE_FORMAT = "convex-local-state";
export const STATE_VERSION = 1;
const FILE_MODE = 0o600;

/** The state file cannot be read or used; the message names the file. */
export class StateFileError extends Error {
  override name = "StateFileError";
}

export function encodeState(state: DatabaseState, savedAt = new Date()): string {
  const header = JSON.stringify({
    format: STATE_FORMAT,
    version: STATE_VERSION,
    savedAt: savedAt.toISOString(),
    ts: state.ts.toString(),
    nextDocId: state.nextDocId,
    lastCreationTime: state.lastCreationTime,
  });
  const documents = state.documents.map((document) => JSON.stringify(convexToJson(document as Value)));
  return `${header.slice(0, -1)},"documents":[\n${documents.join(",\n")}\n]}\n`;
}

function invalid(file: string, detail: string): never {
  throw new StateFileError(
    `state file ${file} is not a usable convex-local state file (${detail}); ` +
      "fix or move it away (a missing file starts an empty database)",
  );
}

/** Parses and checks a state file's text; throws StateFileError naming `file`. */
export function decodeState(text: string, file: string): DatabaseState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    invalid(file, `not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) invalid(file, "not a JSON object");
  const raw = parsed as Record<string, unknown>;
  if (raw.format !== STATE_FORMAT) invalid(file, `format is ${JSON.stringify(raw.format)}`);
  if (raw.version !== STATE_VERSION) invalid(file, `version ${JSON.stringify(raw.version)} is not ${STATE_VERSION}`);
  if (typeof raw.ts !== "string" || !/^[0-9]{1,20}$/.test(raw.ts)) invalid(file, "bad ts");
  if (!Number.isSafeInteger(raw.nextDocId) || (raw.nextDocId as number) < 0) invalid(file, "bad nextDocId");
  if (typeof raw.lastCreationTime !== "number" || !Number.isFinite(raw.lastCreationTime)) {
    invalid(file, "bad lastCreationTime");
  }
  if (!Array.isArray(raw.documents)) invalid(file, "no documents array");
  const seen = new Set<string>();
  const documents: StoredDocument[] = raw.documents.map((encoded: unknown, index: number) => {
    let document: Value;
    try {
      document = jsonToConvex(encoded as JSONValue);
    } catch (error) {
      invalid(file, `document ${index}: ${(error as Error).message}`);
    }
    if (typeof document !== "object" || document === null || Array.isArray(document)) {
      invalid(file, `document ${index} is not an object`);
    }
    const { _id, _creationTime } = document as Record<string, Value>;
    if (typeof _id !== "string" || parseId(_id) === null) invalid(file, `document ${index} has no valid _id`);
    if (typeof _creationTime !== "number" || !Number.isFinite(_creationTime)) {
      invalid(file, `document ${_id} has no valid _creationTime`);
    }
    if (seen.has(_id)) invalid(file, `document ${_id} appears twice`);
    seen.add(_id);
    return document as StoredDocument;
  });
  return {
    ts: BigInt(raw.ts),
    nextDocId: raw.nextDocId as number,
    lastCreationTime: raw.lastCreationTime,
    documents,
  };
}

/** The saved state, or null if there is no file yet. */
export async function readStateFile(file: string): Promise<DatabaseState | null> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new StateFileError(`cannot read state file ${file}: ${(error as Error).message}`);
  }
  return decodeState(text, file);
}

/** Replaces `file` with `text` atomically; the file is private to its owner (0600). */
export async function writeFileAtomically(file: string, text: string): Promise<void> {
  const temporary = `${file}.tmp`;
  const handle = await open(temporary, "w", FILE_MODE);
  try {
    // `open` keeps the mode of a leftover temporary file; make sure.
    await handle.chmod(FILE_MODE);
    await handle.writeFile(text, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, file);
  // Make the rename itself durable (best effort: not every platform allows it).
  try {
    const directory = await open(path.dirname(file), "r");
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  } catch {
    // ignored
  }
}

/**
 * Saves the database after commits, at most once per `delayMs` (commits that
 * arrive meanwhile are coalesced), one write at a time, and once more on close.
 * The whole database is encoded on the event loop, so for a large one the
 * delay grows to twice the last save's duration: saving never takes more than
 * about a third of the time.
 */
export class StateSaver {
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;
  private dirty = false;
  private closed = false;
  private lastDurationMs = 0;
  /** Completed writes, for tests and logs. */
  saves = 0;

  constructor(
    readonly file: string,
    private readonly capture: () => DatabaseState,
    private readonly log: (line: string) => void,
    private readonly delayMs = 50,
  ) {}

  /** Something committed: save within `delayMs`. */
  schedule(): void {
    this.dirty = true;
    if (this.closed || this.timer !== null || this.writing !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush().catch((error: unknown) => {
        this.log(`could not save the state to ${this.file}: ${(error as Error)?.message ?? error}`);
      });
    }, Math.max(this.delayMs, 2 * this.lastDurationMs));
    this.timer.unref();
  }

  /** Writes the current state now (after a write in progress); rejects if the write fails. */
  async flush(): Promise<void> {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.writing !== null) await this.writing.catch(() => {});
    this.dirty = false;
    this.writing = (async () => {
      const started = performance.now();
      const text = encodeState(this.capture());
      await writeFileAtomically(this.file, text);
      this.lastDurationMs = performance.now() - started;
      this.saves += 1;
    })();
    try {
      await this.writing;
    } finally {
      this.writing = null;
      // Commits during the write are saved by the next one.
      if (this.dirty) this.schedule();
    }
  }

  /** The final save; nothing is written after it. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }
}
