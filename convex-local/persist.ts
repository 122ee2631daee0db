// The one module that reaches into convex-test's internals, for `--state-file`.
//
// convex-test keeps its database in memory and has no public API to save or
// restore it. What this module relies on was read in convex-test 0.0.60
// (pinned exactly in package.json; node_modules/convex-test/dist/index.js):
//
//   convexTest() builds one `convexGlobal` per instance,
//     { components: { "": { db: DatabaseFake, modules } }, transactionManager, scheduler, … },
//   and every accessor call (`t.query(…)` & co.) first runs
//   `convexGlobalStorage.run(convexGlobal, …)`, synchronously. That
//   AsyncLocalStorage is private, so `reachInternals` wraps
//   AsyncLocalStorage.prototype.run for the length of one synchronous call and
//   keeps the store it is given.
//
//   DatabaseFake (the root component's `db`):
//     _documents         { [id]: document }  committed documents of every table, system tables included
//     _nextDocId         number              counter of the next id; ids are `<counter, zero-padded><table>`
//     _lastCreationTime  number              the last `_creationTime` handed out (ms; +0.001 on ties)
//     _writes            array               pending writes per transaction level; empty between transactions
//     get(table, id), patch(table, id, fields)
//                                            used inside a transaction, as convex-test's scheduler does
//   TransactionManager:
//     _lastCommitTs      bigint              the latest commit's timestamp (ns); getSnapshotTs() returns it,
//                                            and the next commit takes max(now, _lastCommitTs + 1)
//
//   and, for fast_db.ts (indexed reads, read sets, change capture), which
//   replaces these on the instance:
//     _schema            { tables: Map<name, { indexes: [{ indexDescriptor, fields }] }> } | null
//     _nextQueryId       number
//     _iterateDocs, _resolveQuerySource, startQuery, queryNext, paginate,
//     startTransaction, commit, _addWrite(id, doc | null)   (see fast_db.ts)
//   TransactionManager.getMetricsTracker() returns, inside a transaction, a
//   TransactionMetricsTracker (dist/transactionMetrics.js) whose prototype's
//   trackRead(bytes), trackWrite(bytes), trackIndexRange() and
//   trackScheduledFunction(bytes) count and enforce the transaction limits;
//   `patchMetricsTracker` wraps them to meter and to exempt the backend's own reads.
//
// `reachInternals` checks the installed version and the shape of all this
// before anything is read or written, and fails loudly if it changed; nothing
// outside this module touches these fields. Upgrading
// convex-test means re-reading its dist/index.js and updating this header,
// the checks and CONVEX_TEST_VERSION together.
import { AsyncLocalStorage } from "node:async_hooks";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Value } from "convex/values";
import type { PatchableDatabase } from "./fast_db.js";

/** The convex-test version whose internals this module was written against. */
export const CONVEX_TEST_VERSION = "0.0.60";

/** A stored document: its fields plus `_id` and `_creationTime`. */
export type StoredDocument = { _id: string; _creationTime: number; [field: string]: Value };

type DatabaseFake = PatchableDatabase & {
  _documents: Record<string, StoredDocument>;
  _nextDocId: number;
  _lastCreationTime: number;
  _writes: unknown[];
  get(table: string, id: string): StoredDocument | null;
  patch(table: string, id: string, fields: Record<string, Value>): void;
};

type TransactionManager = { _lastCommitTs: bigint; getMetricsTracker(): object | null };

/** The parts of one convex-test instance that persistence reads and writes. */
export type ConvexTestInternals = {
  readonly db: DatabaseFake;
  readonly transactionManager: TransactionManager;
};

/** Everything needed to bring a database back: documents, id counter, clocks. */
export type DatabaseState = {
  /** Commit timestamp (ns) at or after the last commit the documents include. */
  ts: bigint;
  nextDocId: number;
  lastCreationTime: number;
  documents: StoredDocument[];
};

type InlineRunner = {
  query(fn: (ctx: unknown) => Promise<unknown>): Promise<unknown>;
  run(fn: (ctx: unknown) => Promise<unknown>): Promise<unknown>;
};

export class InternalsChangedError extends Error {
  override name = "InternalsChangedError";
  constructor(detail: string) {
    super(
      `convex-test's internals are not what convex-local/persist.ts expects (${detail}). ` +
        `--state-file needs convex-test ${CONVEX_TEST_VERSION} exactly; after an upgrade, ` +
        "re-read node_modules/convex-test/dist/index.js and update persist.ts.",
    );
  }
}

const ID_PATTERN = /^([0-9]+)([A-Za-z_][A-Za-z0-9_]*)$/;

function installedConvexTestVersion(): string {
  const require = createRequire(import.meta.url);
  const manifest = JSON.parse(readFileSync(require.resolve("convex-test/package.json"), "utf8")) as {
    version?: unknown;
  };
  return String(manifest.version);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** Throws InternalsChangedError unless `candidate` has the shape described at the top. */
function checkShape(candidate: unknown): ConvexTestInternals {
  if (!isRecord(candidate) || !isRecord(candidate.components) || !isRecord(candidate.transactionManager)) {
    throw new InternalsChangedError("no convexGlobal with components and transactionManager");
  }
  const componentPaths = Object.keys(candidate.components);
  if (componentPaths.length !== 1 || componentPaths[0] !== "") {
    throw new InternalsChangedError(`expected only the root component, found ${JSON.stringify(componentPaths)}`);
  }
  const root = candidate.components[""];
  const db = isRecord(root) ? root.db : undefined;
  if (!isRecord(db)) throw new InternalsChangedError("the root component has no db");
  const fields: [string, (v: unknown) => boolean][] = [
    ["_documents", (v) => isRecord(v) && Object.getPrototypeOf(v) === Object.prototype],
    ["_nextDocId", (v) => Number.isSafeInteger(v)],
    ["_lastCreationTime", (v) => typeof v === "number"],
    ["_writes", (v) => Array.isArray(v)],
    ["get", (v) => typeof v === "function"],
    ["patch", (v) => typeof v === "function"],
    ["_schema", (v) => v === null || (isRecord(v) && v.tables instanceof Map)],
    ["_nextQueryId", (v) => Number.isSafeInteger(v)],
    ["_iterateDocs", (v) => typeof v === "function"],
    ["_resolveQuerySource", (v) => typeof v === "function"],
    ["startQuery", (v) => typeof v === "function"],
    ["queryNext", (v) => typeof v === "function"],
    ["paginate", (v) => typeof v === "function"],
    ["startTransaction", (v) => typeof v === "function"],
    ["_addWrite", (v) => typeof v === "function"],
    ["commit", (v) => typeof v === "function"],
  ];
  for (const [name, ok] of fields) {
    if (!ok(db[name])) throw new InternalsChangedError(`DatabaseFake.${name} is missing or has another type`);
  }
  const transactionManager = candidate.transactionManager;
  if (typeof transactionManager._lastCommitTs !== "bigint") {
    throw new InternalsChangedError("TransactionManager._lastCommitTs is not a bigint");
  }
  if (typeof transactionManager.getMetricsTracker !== "function") {
    throw new InternalsChangedError("TransactionManager.getMetricsTracker is not a function");
  }
  return {
    db: db as unknown as DatabaseFake,
    transactionManager: transactionManager as unknown as TransactionManager,
  };
}

/**
 * Finds the database and transaction manager of convex-test instance `t`,
 * after checking the installed version and the internals' shape.
 */
export async function reachInternals(t: InlineRunner): Promise<ConvexTestInternals> {
  const version = installedConvexTestVersion();
  if (version !== CONVEX_TEST_VERSION) {
    throw new InternalsChangedError(`installed version is ${version}`);
  }
  const stores: unknown[] = [];
  const prototype = AsyncLocalStorage.prototype as unknown as { run: (...args: unknown[]) => unknown };
  const originalRun = prototype.run;
  prototype.run = function (this: unknown, ...args: unknown[]) {
    stores.push(args[0]);
    return originalRun.apply(this, args);
  };
  let finished: Promise<unknown>;
  try {
    // The accessor enters convexGlobalStorage.run before it returns its promise.
    finished = t.query(async () => null);
  } finally {
    prototype.run = originalRun;
  }
  await finished;
  const convexGlobal = stores.find((store) => isRecord(store) && "components" in store && "transactionManager" in store);
  const internals = checkShape(convexGlobal);
  // Behaviour, not just shape: the snapshot timestamp functions see is the
  // transaction manager's, so restoring it keeps time monotonic.
  const snapshotTs = await t.query(async (ctx) => (ctx as { meta: { getSnapshotTs(): bigint } }).meta.getSnapshotTs());
  if (snapshotTs !== internals.transactionManager._lastCommitTs) {
    throw new InternalsChangedError("getSnapshotTs() does not return TransactionManager._lastCommitTs");
  }
  return internals;
}

/** The committed state, read synchronously (so consistently) between or during transactions. */
export function captureState(internals: ConvexTestInternals, publishedTs: bigint): DatabaseState {
  const { db, transactionManager } = internals;
  const lastCommitTs = transactionManager._lastCommitTs;
  return {
    ts: lastCommitTs > publishedTs ? lastCommitTs : publishedTs,
    nextDocId: db._nextDocId,
    lastCreationTime: db._lastCreationTime,
    documents: Object.values(db._documents),
  };
}

/** The counter and table of a convex-test id, or null if it is not one. */
export function parseId(id: string): { counter: number; table: string } | null {
  const match = ID_PATTERN.exec(id);
  if (match === null) return null;
  return { counter: Number(match[1]), table: match[2] };
}

/**
 * Loads `state` into a database nothing has written to yet. The id counter
 * and the clocks only move forward: past every restored id, creation time
 * and commit. Returns the commit timestamp now in effect (what
 * `getSnapshotTs()` returns until the next commit).
 */
export function restoreState(internals: ConvexTestInternals, state: DatabaseState): bigint {
  const { db, transactionManager } = internals;
  if (Object.keys(db._documents).length > 0 || db._writes.length > 0) {
    throw new Error("restoreState needs an empty database outside any transaction");
  }
  let nextDocId = Math.max(db._nextDocId, state.nextDocId);
  let lastCreationTime = Math.max(db._lastCreationTime, state.lastCreationTime);
  for (const document of state.documents) {
    db._documents[document._id] = document;
    nextDocId = Math.max(nextDocId, (parseId(document._id)?.counter ?? 0) + 1);
    lastCreationTime = Math.max(lastCreationTime, document._creationTime);
  }
  db._nextDocId = nextDocId;
  db._lastCreationTime = lastCreationTime;
  if (state.ts > transactionManager._lastCommitTs) transactionManager._lastCommitTs = state.ts;
  return transactionManager._lastCommitTs;
}

/**
 * Moves a `_scheduled_functions` job from state `from` to `fields` in one
 * transaction, the way convex-test's own scheduler does (functions cannot
 * write system tables). Returns false, changing nothing, if the job is
 * missing or not in state `from`.
 */
export async function transitionJob(
  t: InlineRunner,
  internals: ConvexTestInternals,
  jobId: string,
  from: string,
  fields: Record<string, Value>,
): Promise<boolean> {
  let changed = false;
  await t.run(async () => {
    const job = internals.db.get("_scheduled_functions", jobId) as { state?: { kind?: string } } | null;
    if (job?.state?.kind !== from) return null;
    internals.db.patch("_scheduled_functions", jobId, fields);
    changed = true;
    return null;
  });
  return changed;
}

/** What the tracker's counting methods see: return false to skip convex-test's counting (and limits). */
export type TrackerHooks = {
  read(bytes: number): boolean;
  write(bytes: number): boolean;
  other(): boolean;
};

const PATCHED = Symbol.for("tina.convex-local.trackerPatched");

/**
 * Wraps the counting methods of convex-test's TransactionMetricsTracker
 * (once per process: the hooks must look up whose execution it is themselves).
 */
export async function patchMetricsTracker(
  t: InlineRunner,
  internals: ConvexTestInternals,
  hooks: TrackerHooks,
): Promise<void> {
  let tracker: unknown = null;
  await t.query(async () => {
    tracker = internals.transactionManager.getMetricsTracker();
    return null;
  });
  if (!isRecord(tracker)) throw new InternalsChangedError("no metrics tracker inside a transaction");
  const prototype = Object.getPrototypeOf(tracker) as Record<string | symbol, unknown>;
  for (const name of ["trackRead", "trackWrite", "trackIndexRange", "trackScheduledFunction"]) {
    if (typeof prototype[name] !== "function") {
      throw new InternalsChangedError(`TransactionMetricsTracker.${name} is missing`);
    }
  }
  if (prototype[PATCHED]) return;
  prototype[PATCHED] = true;
  type Method = (this: unknown, ...args: unknown[]) => unknown;
  const wrap = (name: string, hook: (...args: unknown[]) => boolean) => {
    const original = prototype[name] as Method;
    prototype[name] = function (this: unknown, ...args: unknown[]) {
      if (!hook(...args)) return undefined;
      return original.apply(this, args);
    };
  };
  wrap("trackRead", (bytes) => hooks.read(bytes as number));
  wrap("trackWrite", (bytes) => hooks.write(bytes as number));
  wrap("trackIndexRange", () => hooks.other());
  wrap("trackScheduledFunction", () => hooks.other());
}
