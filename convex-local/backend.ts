// The in-memory Convex deployment: the real functions of a `convex/` folder run
// through convex-test under Convex's real limits (limits.ts), plus what
// convex-test leaves to its caller: visibility checks, commit detection and
// timestamps, indexed reads (fast_db.ts), a query cache invalidated by read
// sets (a subscribed query re-runs only when a commit wrote inside what it
// read), a cost meter (metering.ts), crons, and optionally a state file
// (persist.ts, state_file.ts) and token verification (verify.ts).
import { AsyncResource } from "node:async_hooks";
import path from "node:path";
import { convexTest } from "convex-test";
import {
  makeFunctionReference,
  type GenericDataModel,
  type GenericMutationCtx,
  type GenericQueryCtx,
  type GenericSchema,
  type SchemaDefinition,
  type SystemTableNames,
} from "convex/server";
import {
  convexToJson,
  getDocumentSize,
  jsonToConvex,
  type GenericId,
  type JSONValue,
  type Value,
} from "convex/values";
import { DECODE_ONLY, identityKey, type Identity, type TokenAuth } from "./auth.js";
import { newRequestId, normalizeUdfPath } from "./encoding.js";
import { nextRunTime, type CronSchedule } from "./cron.js";
import { FastDatabase, ReadSet, type Change } from "./fast_db.js";
import { checkCallValue, checkDocumentSize, isLimitMessage } from "./limits.js";
import { CostMeter, runStorage, type MetricsReport, type RunCategory, type RunFrame } from "./metering.js";
import { FunctionModules, kindOf, type FunctionKind, type RegisteredFunction } from "./modules.js";
import {
  captureState,
  patchMetricsTracker,
  reachInternals,
  restoreState,
  transitionJob,
  type ConvexTestInternals,
  type StoredDocument,
  type TrackerHooks,
} from "./persist.js";
import { readStateFile, StateFileError, StateSaver } from "./state_file.js";
import { TokenVerifier } from "./verify.js";

/** The result of running a function, already encoded for the wire. */
export type Outcome =
  | { ok: true; value: JSONValue }
  | {
      ok: false;
      /** The message clients see, `[Request ID: …] Server Error\nUncaught …`. */
      message: string;
      /** Encoded `ConvexError` data; absent for plain errors. */
      errorData?: JSONValue;
      /** The error without its request id, to tell whether a failing query changed. */
      fingerprint: string;
    };

export type Logger = (line: string) => void;

export type BackendOptions = {
  functionsDir: string;
  /** How often to look for commits nothing announced (scheduler bookkeeping), in ms. */
  pollMs?: number;
  /** Run the jobs of `crons.ts` (default true). */
  crons?: boolean;
  /** Keep the database in this file across restarts (see state_file.ts); default memory only. */
  stateFile?: string;
  /** Debounce of state file writes after a commit, ms (default 50). */
  stateSaveDelayMs?: number;
  /** Verify user tokens against `auth.config.ts` instead of only decoding them. */
  verifyTokens?: boolean;
  log?: Logger;
};

/** A request the local backend cannot serve as asked (bad table name and such). */
export class LocalRequestError extends Error {
  override name = "LocalRequestError";
}

// System tables functions can read through `ctx.db.system`.
const SYSTEM_TABLES = new Set<string>(["_scheduled_functions", "_storage"] satisfies SystemTableNames[]);
// setTimeout fires at once for delays above 2^31 - 1 ms (about 24.8 days).
const MAX_TIMER_MS = 2 ** 31 - 1;

// The functions' tables are only known at run time.
type AnySchema = SchemaDefinition<GenericSchema, boolean>;
type AnyQueryCtx = GenericQueryCtx<GenericDataModel>;
type AnyMutationCtx = GenericMutationCtx<GenericDataModel>;

// The slice of convex-test's accessor this server uses.
type Accessor = {
  query(ref: unknown, args?: unknown): Promise<unknown>;
  mutation(ref: unknown, args?: unknown): Promise<unknown>;
  action(ref: unknown, args?: unknown): Promise<unknown>;
  run<T>(fn: (ctx: AnyMutationCtx) => Promise<T>): Promise<T>;
  withIdentity(identity: Partial<Identity>): Accessor;
};

type ScheduledJob = StoredDocument & {
  name: string;
  args: JSONValue[];
  scheduledTime: number;
  state: { kind: string };
};

type HttpRouterLike = {
  isRouter?: boolean;
  lookup(path: string, method: string): readonly [RegisteredFunction, string, string] | null;
};

type CronJob = { name: string; args: JSONValue[]; schedule: CronSchedule };

const MAX_CACHED_ACCESSORS = 1000;
// Query results kept for subscribers (least recently used ones go first).
const MAX_CACHED_QUERIES = 5000;
const MAX_REMEMBERED_JOBS = 10_000;

/** A query result shared by its subscribers until a commit writes inside its read set. */
type CacheEntry = { result: Promise<Outcome>; frame: RunFrame; done: boolean };

type FrameInit = { category?: RunCategory; readSet?: ReadSet | null };

// convex-test's transaction tracker, wrapped once per process: the running
// function's frame says whose reads and writes they are, and the backend's own
// reads (dump, reset) are neither metered nor limited.
const TRACKER_HOOKS: TrackerHooks = {
  read(bytes) {
    const frame = runStorage.getStore();
    if (frame?.unlimited) return false;
    frame?.meter.read(frame.udfPath, bytes);
    return true;
  },
  write(bytes) {
    const frame = runStorage.getStore();
    if (frame?.unlimited) return false;
    if (frame !== undefined) {
      checkDocumentSize(frame.udfPath, bytes);
      frame.meter.write(frame.udfPath, bytes);
    }
    return true;
  },
  other() {
    return !runStorage.getStore()?.unlimited;
  },
};

/**
 * A commit's change as the meter names a re-run's cause: `<writer> <table>[<fields>]`, the
 * fields whose values changed (`+` inserted, `-` deleted).
 */
export function describeChange(writer: string, change: Change): string {
  const { before, after } = change;
  let what: string;
  if (before === null) what = "+";
  else if (after === null) what = "-";
  else {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    const changed = [...keys].filter(
      (k) => JSON.stringify(convexToJson((before[k] ?? null) as Value)) !== JSON.stringify(convexToJson((after[k] ?? null) as Value)),
    );
    what = changed.sort().join(",");
  }
  return `${writer} ${change.table}[${what}]`;
}

export function notFoundMessage(udfPath: string): string {
  return `Could not find public function for '${udfPath}'. Did you forget to run \`npx convex dev\` or \`npx convex deploy\`?`;
}

function isConvexError(error: unknown): error is Error & { data: unknown } {
  return typeof error === "object" && error !== null && Symbol.for("ConvexError") in error;
}

/** Turns anything a function threw into the failure clients see. */
export function errorOutcome(error: unknown): Outcome {
  let uncaught: string;
  let errorData: JSONValue | undefined;
  if (isConvexError(error)) {
    uncaught = `Uncaught ConvexError: ${error.message}`;
    try {
      errorData = convexToJson((error.data ?? null) as Value);
    } catch {
      errorData = null;
    }
  } else if (error instanceof Error) {
    uncaught = `Uncaught ${error.name || "Error"}: ${error.message}`;
  } else {
    uncaught = `Uncaught ${String(error)}`;
  }
  const message = `[Request ID: ${newRequestId()}] Server Error\n${uncaught}`;
  const fingerprint = errorData === undefined ? uncaught : `${uncaught}\n${JSON.stringify(errorData)}`;
  return errorData === undefined
    ? { ok: false, message, fingerprint }
    : { ok: false, message, errorData, fingerprint };
}

function failure(uncaught: string): Outcome {
  return {
    ok: false,
    message: `[Request ID: ${newRequestId()}] Server Error\n${uncaught}`,
    fingerprint: uncaught,
  };
}

export class LocalBackend {
  /** The timestamp of the latest published commit, in ns; strictly increases per commit. */
  currentTs: bigint;
  /** How user tokens become identities (decoded, or verified with `verifyTokens`). */
  tokens: TokenAuth = DECODE_ONLY;
  /** Saves the database when a state file is used. */
  stateSaver: StateSaver | null = null;

  private readonly t: Accessor;
  private lastSnapshotTs = 0n;
  private readonly cache = new Map<string, CacheEntry>();
  /** Cache keys dropped by a commit: their next run is a re-run. */
  private readonly invalidated = new Set<string>();
  /** Commits not yet checked against the cache, with their sequence numbers. */
  private pendingChanges: { seq: number; changes: Change[]; writer: string }[] = [];
  private internals!: ConvexTestInternals;
  private fast!: FastDatabase;
  /** What functions cost since the start or the last reset (GET /api/local/metrics). */
  readonly meter = new CostMeter();
  private readonly seenJobs = new Set<string>();
  private readonly accessors = new Map<string, Accessor>();
  private readonly listeners = new Set<(ts: bigint) => void>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private refreshRunning: Promise<bigint> | null = null;
  private refreshQueued: Promise<bigint> | null = null;
  private closed = false;
  private readonly log: Logger;
  /** Starts a commit check from a clean async context (see `kick`). */
  private readonly kick: () => void;

  private constructor(
    readonly modules: FunctionModules,
    private readonly schema: AnySchema | undefined,
    options: BackendOptions,
  ) {
    this.log = options.log ?? (() => {});
    // Start above any timestamp an earlier server process handed out, so clients
    // that reconnect after a restart never see time go backwards.
    this.currentTs = BigInt(Date.now()) * 1_000_000n;
    this.t = convexTest({ schema, modules: modules.modules, transactionLimits: true }) as unknown as Accessor;
    // Function handlers call `kick` from inside convex-test's async context;
    // binding it here makes the check run outside that transaction.
    this.kick = AsyncResource.bind(() => {
      if (!this.closed) void this.refresh().catch((e) => this.log(`commit check failed: ${e}`));
    });
  }

  static async load(options: BackendOptions): Promise<LocalBackend> {
    let backend: LocalBackend | undefined;
    const modules = FunctionModules.fromDir(
      options.functionsDir,
      () => backend?.kick(),
      (udfPath, kind, ctx, args, run) =>
        backend === undefined ? run() : backend.runHandler(udfPath, kind, ctx, args, run),
    );
    await modules.loadAll();
    const schemaModule = await modules.load("schema");
    const schema = schemaModule?.default as AnySchema | undefined;
    backend = new LocalBackend(modules, schema, options);
    await backend.reach();
    if (options.verifyTokens) backend.tokens = await TokenVerifier.load(modules.dir);
    if (options.stateFile !== undefined) {
      await backend.useStateFile(path.resolve(options.stateFile), options.stateSaveDelayMs ?? 50);
    }
    backend.startPolling(options.pollMs ?? 100);
    if (options.crons ?? true) await backend.startCrons();
    return backend;
  }

  /**
   * Loads the state file if it exists (a corrupt one throws StateFileError),
   * writes it at once (so an unusable path fails now, not at the first
   * commit), then saves after every commit. Pending scheduled functions of
   * the loaded state are scheduled again.
   */
  private async useStateFile(file: string, delayMs: number): Promise<void> {
    const internals = this.internals;
    const saved = await readStateFile(file);
    if (saved !== null) {
      const restoredTs = restoreState(internals, saved);
      this.fast.rebuild();
      this.lastSnapshotTs = restoredTs;
      if (restoredTs > this.currentTs) this.currentTs = restoredTs;
      this.log(`loaded ${saved.documents.length} documents from ${file}`);
    }
    const saver = new StateSaver(file, () => captureState(internals, this.currentTs), this.log, delayMs);
    try {
      await saver.flush();
    } catch (error) {
      throw new StateFileError(`cannot write state file ${file}: ${(error as Error)?.message ?? error}`);
    }
    this.stateSaver = saver;
    this.onCommit(() => saver.schedule());
    if (saved !== null) await this.resumeScheduledJobs(internals);
  }

  /**
   * Scheduled functions of a loaded state: pending ones run at their time
   * (at once if it has passed), with the same job id; ones that were running
   * when the state was saved are marked failed, as they may or may not have
   * finished.
   */
  private async resumeScheduledJobs(internals: ConvexTestInternals): Promise<void> {
    let jobs: ScheduledJob[] = [];
    await this.unlimited(() =>
      this.t.query(async (ctx: AnyQueryCtx) => {
        jobs = (await ctx.db.system.query("_scheduled_functions").collect()) as unknown as ScheduledJob[];
        return null;
      }),
    );
    for (const job of jobs) {
      if (job.state.kind === "inProgress") {
        await transitionJob(this.t, internals, job._id, "inProgress", {
          state: { kind: "failed" },
          completedTime: Date.now(),
        });
        this.log(`scheduled function ${job.name} (${job._id}) was running at the last save: marked failed`);
      } else if (job.state.kind === "pending") {
        this.scheduleRestoredJob(internals, job);
      }
    }
    this.kick();
  }

  private scheduleRestoredJob(internals: ConvexTestInternals, job: ScheduledJob): void {
    const delay = job.scheduledTime - Date.now();
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        if (delay > MAX_TIMER_MS) {
          this.scheduleRestoredJob(internals, job);
          return;
        }
        void this.runRestoredJob(internals, job).catch((error: unknown) => {
          this.log(`scheduled function ${job.name} (${job._id}) crashed: ${(error as Error)?.stack ?? error}`);
        });
      },
      Math.min(Math.max(0, delay), MAX_TIMER_MS),
    );
    this.track(timer);
  }

  // Mirrors convex-test's own runner: pending → inProgress, run, → success or failed.
  private async runRestoredJob(internals: ConvexTestInternals, job: ScheduledJob): Promise<void> {
    if (this.closed) return;
    if (!(await transitionJob(this.t, internals, job._id, "pending", { state: { kind: "inProgress" } }))) return;
    const outcome = await this.runInternal(job.name, job.args[0] ?? {}, null, "scheduled");
    if (!outcome.ok) this.log(`scheduled function ${job.name} failed: ${outcome.message}`);
    const state: Record<string, Value> = outcome.ok
      ? { state: { kind: "success" } }
      : { state: { kind: "failed" }, completedTime: Date.now() };
    await transitionJob(this.t, internals, job._id, "inProgress", state);
    this.kick();
  }

  /** Called with the new timestamp after every published commit. */
  onCommit(listener: (ts: bigint) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Looks for new commits and publishes them. The promise settles after a
   * check that started after this call, so awaiting it after a mutation returns
   * a timestamp that covers the mutation's commit.
   */
  refresh(): Promise<bigint> {
    if (this.refreshQueued !== null) return this.refreshQueued;
    const previous = this.refreshRunning;
    const box: { self?: Promise<bigint> } = {};
    const next = (async () => {
      // Always yields once, so `box.self` is set before it is read.
      await previous?.catch(() => {});
      this.refreshQueued = null;
      this.refreshRunning = box.self!;
      try {
        return await this.checkForCommits();
      } finally {
        if (this.refreshRunning === box.self) this.refreshRunning = null;
      }
    })();
    box.self = next;
    this.refreshQueued = next;
    return next;
  }

  private async checkForCommits(): Promise<bigint> {
    const snapshotTs = (await this.t.query(async (ctx: AnyQueryCtx) => ctx.meta.getSnapshotTs())) as bigint;
    this.invalidateCache();
    if (snapshotTs !== this.lastSnapshotTs) {
      this.lastSnapshotTs = snapshotTs;
      this.currentTs = snapshotTs > this.currentTs ? snapshotTs : this.currentTs + 1n;
      for (const listener of this.listeners) {
        try {
          listener(this.currentTs);
        } catch (error) {
          this.log(`commit listener failed: ${error}`);
        }
      }
    }
    return this.currentTs;
  }

  private accessorFor(identity: Identity | null): Accessor {
    if (identity === null) return this.t;
    const key = identityKey(identity);
    let accessor = this.accessors.get(key);
    if (accessor === undefined) {
      if (this.accessors.size >= MAX_CACHED_ACCESSORS) this.accessors.clear();
      accessor = this.t.withIdentity(identity);
      this.accessors.set(key, accessor);
    }
    return accessor;
  }

  /**
   * Runs a public function for a client. `kind` "any" serves `/api/function`.
   * Missing, internal and wrong-kind functions fail like the real backend.
   */
  async runPublic(
    kind: FunctionKind | "any",
    udfPath: string,
    args: JSONValue,
    identity: Identity | null,
    frame: FrameInit = {},
  ): Promise<Outcome> {
    const path = normalizeUdfPath(udfPath);
    let fn: RegisteredFunction | null;
    try {
      fn = await this.modules.lookup(path);
    } catch (error) {
      return errorOutcome(error);
    }
    const actual = fn === null ? null : kindOf(fn);
    if (fn === null || actual === null || !fn.isPublic || (kind !== "any" && actual !== kind)) {
      return failure(notFoundMessage(path));
    }
    return await this.invoke(actual, path, args, identity, frame);
  }

  /** Runs any function, internal ones included (crons, tests). */
  async runInternal(
    udfPath: string,
    args: JSONValue,
    identity: Identity | null = null,
    category: RunCategory = "calls",
  ): Promise<Outcome> {
    const path = normalizeUdfPath(udfPath);
    let fn: RegisteredFunction | null;
    try {
      fn = await this.modules.lookup(path);
    } catch (error) {
      return errorOutcome(error);
    }
    const kind = fn === null ? null : kindOf(fn);
    if (kind === null) return failure(notFoundMessage(path));
    return await this.invoke(kind, path, args, identity, { category });
  }

  /** Runs a function for a caller; `init` becomes its frame (see metering.ts). */
  private async invoke(
    kind: FunctionKind,
    path: string,
    args: JSONValue,
    identity: Identity | null,
    init: FrameInit = {},
  ): Promise<Outcome> {
    const frame = Object.assign(init, {
      udfPath: path,
      category: init.category ?? "calls",
      meter: this.meter,
      claimed: false,
      errorCounted: false,
      readSet: init.readSet ?? null,
    }) as RunFrame;
    try {
      const decoded = jsonToConvex(args);
      const accessor = this.accessorFor(identity);
      const value = await runStorage.run(frame, () => accessor[kind](makeFunctionReference(path), decoded));
      return { ok: true, value: convexToJson((value ?? null) as Value) };
    } catch (error) {
      // Failed before its handler ran (arguments) or after (return value): still a call.
      if (!frame.claimed) this.meter.count(path, frame.category);
      if (!frame.errorCounted) {
        frame.errorCounted = true;
        this.meter.error(path);
        this.logLimit(path, error);
      }
      return errorOutcome(error);
    }
  }

  /**
   * Every function execution goes through here (modules.ts wraps handlers):
   * counts it, checks the call limits, and runs it in its frame. The caller's
   * frame is used when this is the function it invoked; otherwise this is a
   * scheduled run or a nested call (an action's runQuery and such).
   */
  async runHandler(
    udfPath: string,
    kind: FunctionKind,
    ctx: unknown,
    args: unknown,
    run: () => Promise<unknown>,
  ): Promise<unknown> {
    const outer = runStorage.getStore();
    let frame: RunFrame;
    if (outer !== undefined && !outer.claimed && outer.udfPath === udfPath && outer.meter === this.meter) {
      outer.claimed = true;
      frame = outer;
    } else {
      const scheduled = kind !== "query" && (await this.isScheduledRun(ctx));
      frame = {
        udfPath,
        category: scheduled ? "scheduled" : "calls",
        meter: this.meter,
        claimed: true,
        errorCounted: false,
        readSet: null,
      };
    }
    this.meter.count(udfPath, frame.category);
    try {
      checkCallValue(udfPath, "arguments", args);
      const result = await runStorage.run(frame, run);
      checkCallValue(udfPath, "return value", result ?? null);
      return result;
    } catch (error) {
      if (!frame.errorCounted) {
        frame.errorCounted = true;
        this.meter.error(udfPath);
        this.logLimit(udfPath, error);
      }
      throw error;
    }
  }

  /** Is this mutation or action the run of a scheduled job (the first execution with its job id)? */
  private async isScheduledRun(ctx: unknown): Promise<boolean> {
    const meta = (ctx as { meta?: { getRequestMetadata?: () => Promise<{ scheduledFunctionId?: string | null }> } })
      ?.meta;
    if (typeof meta?.getRequestMetadata !== "function") return false;
    let jobId: string | null | undefined;
    try {
      jobId = (await meta.getRequestMetadata()).scheduledFunctionId;
    } catch {
      return false;
    }
    if (typeof jobId !== "string" || this.seenJobs.has(jobId)) return false;
    if (this.seenJobs.size >= MAX_REMEMBERED_JOBS) this.seenJobs.clear();
    this.seenJobs.add(jobId);
    return true;
  }

  private logLimit(udfPath: string, error: unknown): void {
    const message = (error as Error)?.message ?? String(error);
    if (isLimitMessage(message)) this.log(`LIMIT BREACHED by ${udfPath}: ${message}`);
  }

  /**
   * A public query's result, shared by every subscriber with the same query,
   * arguments and identity, until a commit writes a document (its old or new
   * version) inside what the query read: then it runs again.
   */
  cachedQuery(
    udfPath: string,
    args: JSONValue,
    argsKey: string,
    identity: Identity | null,
  ): Promise<Outcome> {
    const key = `${identityKey(identity)}\u0000${udfPath}\u0000${argsKey}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      this.cache.delete(key);
      this.cache.set(key, cached);
      return cached.result;
    }
    const frame: FrameInit = { category: this.invalidated.delete(key) ? "rerun" : "calls", readSet: new ReadSet() };
    const entry: CacheEntry = {
      result: this.runPublic("query", udfPath, args, identity, frame),
      frame: frame as RunFrame,
      done: false,
    };
    void entry.result.then(() => {
      entry.done = true;
    });
    if (this.cache.size >= MAX_CACHED_QUERIES) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, entry);
    return entry.result;
  }

  /**
   * Drops the cached results that commits since made stale: a finished query
   * whose read set holds a written document (old or new version), and a
   * running one whose snapshot predates a commit (its read set is not known
   * yet). Queries that did not start yet will see the commits.
   */
  private invalidateCache(): void {
    if (this.pendingChanges.length === 0) return;
    const commits = this.pendingChanges;
    this.pendingChanges = [];
    for (const [key, entry] of this.cache) {
      const snapshot = entry.frame.snapshot;
      if (snapshot === undefined) continue;
      const later = commits.filter((commit) => commit.seq > snapshot);
      if (later.length === 0) continue;
      const readSet = entry.frame.readSet;
      let cause: string | null = null;
      if (!entry.done || readSet === null) cause = `${later[0]!.writer} (while it ran)`;
      else {
        for (const commit of later) {
          const change = commit.changes.find(
            (c) => (c.before !== null && readSet.touches(c.before)) || (c.after !== null && readSet.touches(c.after)),
          );
          if (change !== undefined) {
            cause = describeChange(commit.writer, change);
            break;
          }
        }
      }
      if (cause !== null) {
        this.meter.invalidated(entry.frame.udfPath, cause);
        this.cache.delete(key);
        if (this.invalidated.size >= MAX_CACHED_QUERIES * 2) this.invalidated.clear();
        this.invalidated.add(key);
      }
    }
  }

  /** What functions cost since the start or the last `resetMetrics`. */
  metrics(): MetricsReport {
    return this.meter.report();
  }

  resetMetrics(): void {
    this.meter.reset();
  }

  /** Reaches convex-test's internals and installs indexed reads and the metering hooks. */
  private async reach(): Promise<void> {
    this.internals = await reachInternals(this.t);
    await patchMetricsTracker(this.t, this.internals, TRACKER_HOOKS);
    this.fast = new FastDatabase(this.internals.db, {
      currentReadSet: () => runStorage.getStore()?.readSet ?? null,
      onTransactionStart: (commits) => {
        const frame = runStorage.getStore();
        if (frame !== undefined && frame.readSet !== null && frame.snapshot === undefined) frame.snapshot = commits;
      },
      onCommit: (changes) => {
        this.pendingChanges.push({ seq: this.fast.commits, changes, writer: runStorage.getStore()?.udfPath ?? "(unknown)" });
      },
      onFilteredOut: (doc) => {
        const tracker = this.internals.transactionManager.getMetricsTracker() as {
          trackRead?: (bytes: number) => void;
        } | null;
        tracker?.trackRead?.(getDocumentSize(doc));
      },
    });
    this.fast.install();
  }

  /** Runs the backend's own database work: not metered, not limited. */
  private unlimited<T>(work: () => Promise<T>): Promise<T> {
    const frame: RunFrame = {
      udfPath: "_local",
      category: "calls",
      meter: this.meter,
      claimed: true,
      errorCounted: false,
      readSet: null,
      unlimited: true,
    };
    return runStorage.run(frame, work);
  }

  /** Serves a request with the HTTP actions of `http.ts`. */
  async runHttpAction(request: Request, identity: Identity | null): Promise<Response> {
    let router: HttpRouterLike | undefined;
    try {
      router = (await this.modules.load("http"))?.default as HttpRouterLike | undefined;
    } catch (error) {
      return new Response(`Could not load http.ts: ${error}`, { status: 500 });
    }
    const pathname = new URL(request.url).pathname;
    const found = router?.lookup?.(pathname, request.method);
    if (!found) {
      return new Response(`No HttpAction routed for ${pathname}`, { status: 404 });
    }
    const handler = (found[0]._handler ?? found[0]) as (ctx: unknown, req: Request) => Promise<Response>;
    let response: unknown;
    // Metered as one call of `http <METHOD> <path>` (what it runs counts on its own).
    const frame: RunFrame = {
      udfPath: `http ${request.method} ${found[2]}`,
      category: "calls",
      meter: this.meter,
      claimed: true,
      errorCounted: false,
      readSet: null,
    };
    this.meter.count(frame.udfPath, "calls");
    try {
      // An inline action gives the handler a real ActionCtx (runQuery,
      // runMutation, scheduler, auth) and the Request keeps its real URL.
      await runStorage.run(frame, () =>
        this.accessorFor(identity).action(async (ctx: unknown) => {
          response = await handler(ctx, request);
          return null;
        }),
      );
    } catch (error) {
      this.meter.error(frame.udfPath);
      this.log(`http action ${request.method} ${pathname} failed: ${error}`);
      return new Response(`Server Error: ${(error as Error)?.message ?? error}`, { status: 500 });
    } finally {
      this.kick();
    }
    if (!(response instanceof Response)) {
      return new Response("Server Error: the HTTP action did not return a Response", { status: 500 });
    }
    return response;
  }

  /**
   * Every document of some tables (default: the schema's), in Convex's JSON
   * encoding, in `_creationTime` order, read in one snapshot. Names starting
   * with `_` read system tables (`_scheduled_functions`, `_storage`).
   */
  async dump(tables?: string[]): Promise<Record<string, JSONValue[]>> {
    const schemaTables = this.schema === undefined ? null : Object.keys(this.schema.tables);
    const names = tables ?? schemaTables;
    if (names === null) {
      throw new LocalRequestError("These functions have no schema: name the tables to dump");
    }
    for (const name of names) {
      const inSchema = schemaTables === null ? !name.startsWith("_") : schemaTables.includes(name);
      if (!inSchema && !SYSTEM_TABLES.has(name)) {
        throw new LocalRequestError(`No table ${JSON.stringify(name)} in the schema`);
      }
    }
    const dumped: Record<string, JSONValue[]> = {};
    // Documents stay out of the query's return value, which may not hold `$` keys.
    await this.unlimited(() =>
      this.t.query(async (ctx: AnyQueryCtx) => {
        for (const name of names) {
          const query = name.startsWith("_") ? ctx.db.system.query(name as SystemTableNames) : ctx.db.query(name);
          dumped[name] = ((await query.collect()) as Value[]).map((document) => convexToJson(document));
        }
        return null;
      }),
    );
    return dumped;
  }

  /** Deletes every document of the schema's tables and cancels pending scheduled functions. */
  async reset(): Promise<void> {
    const tables = Object.keys(this.schema?.tables ?? {});
    await this.unlimited(() =>
      this.t.run(async (ctx) => {
        await cancelPendingJobs(ctx);
        for (const table of tables) {
          for (const doc of await ctx.db.query(table).collect()) {
            await ctx.db.delete(doc._id as GenericId<string>);
          }
        }
      }),
    );
    await this.refresh();
  }

  private track(timer: NodeJS.Timeout): void {
    timer.unref();
    this.timers.add(timer);
  }

  private startPolling(pollMs: number): void {
    if (pollMs <= 0) return;
    this.track(setInterval(() => this.kick(), pollMs));
  }

  private async startCrons(): Promise<void> {
    const crons = (await this.modules.load("crons"))?.default as
      | { isCrons?: boolean; crons?: Record<string, CronJob> }
      | undefined;
    if (!crons?.isCrons || !crons.crons) return;
    for (const [id, job] of Object.entries(crons.crons)) {
      this.scheduleCron(id, job, Date.now());
    }
  }

  private scheduleCron(id: string, job: CronJob, after: number): void {
    if (this.closed) return;
    const due = nextRunTime(job.schedule, after);
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        void this.runInternal(job.name, job.args[0] ?? {}, null, "cron").then((outcome) => {
          if (!outcome.ok) this.log(`cron ${id} (${job.name}) failed: ${outcome.message}`);
          this.kick();
          this.scheduleCron(id, job, Math.max(due, Date.now()));
        });
      },
      Math.max(0, due - Date.now()),
    );
    this.track(timer);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.listeners.clear();
    try {
      if (this.stateSaver !== null) {
        // Let a transaction in progress finish, then save what is committed,
        // pending scheduled functions included (they run again after a restart).
        await this.t.query(async () => null).catch(() => {});
        await this.stateSaver.close();
      }
    } finally {
      // Pending scheduled functions would otherwise still fire later in this process.
      await this.unlimited(() => this.t.run(cancelPendingJobs)).catch(() => {});
    }
  }
}

async function cancelPendingJobs(ctx: AnyMutationCtx): Promise<void> {
  for (const job of await ctx.db.system.query("_scheduled_functions").collect()) {
    if (job.state.kind === "pending") await ctx.scheduler.cancel(job._id);
  }
}
