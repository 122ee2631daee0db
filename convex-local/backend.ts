// The in-memory Convex deployment: the real functions of a `convex/` folder run
// through convex-test, plus what convex-test leaves to its caller: visibility
// checks, commit detection and timestamps, a per-timestamp query cache, crons.
import { AsyncResource } from "node:async_hooks";
import { convexTest } from "convex-test";
import { makeFunctionReference, type SchemaDefinition } from "convex/server";
import { convexToJson, jsonToConvex, type JSONValue, type Value } from "convex/values";
import { identityKey, type Identity } from "./auth.js";
import { newRequestId, normalizeUdfPath } from "./encoding.js";
import { nextRunTime, type CronSchedule } from "./cron.js";
import { FunctionModules, kindOf, type FunctionKind, type RegisteredFunction } from "./modules.js";

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
  log?: Logger;
};

// The slice of convex-test's accessor this server uses.
type Accessor = {
  query(ref: unknown, args?: unknown): Promise<unknown>;
  mutation(ref: unknown, args?: unknown): Promise<unknown>;
  action(ref: unknown, args?: unknown): Promise<unknown>;
  run<T>(fn: (ctx: any) => Promise<T>): Promise<T>;
  withIdentity(identity: Partial<Identity>): Accessor;
};

type HttpRouterLike = {
  isRouter?: boolean;
  lookup(path: string, method: string): readonly [RegisteredFunction, string, string] | null;
};

type CronJob = { name: string; args: JSONValue[]; schedule: CronSchedule };

const MAX_CACHED_ACCESSORS = 1000;

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

  private readonly t: Accessor;
  private lastSnapshotTs = 0n;
  private cache = new Map<string, Promise<Outcome>>();
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
    private readonly schema: SchemaDefinition<any, boolean> | undefined,
    options: BackendOptions,
  ) {
    this.log = options.log ?? (() => {});
    // Start above any timestamp an earlier server process handed out, so clients
    // that reconnect after a restart never see time go backwards.
    this.currentTs = BigInt(Date.now()) * 1_000_000n;
    this.t = convexTest(schema, modules.modules) as unknown as Accessor;
    // Function handlers call `kick` from inside convex-test's async context;
    // binding it here makes the check run outside that transaction.
    this.kick = AsyncResource.bind(() => {
      if (!this.closed) void this.refresh().catch((e) => this.log(`commit check failed: ${e}`));
    });
  }

  static async load(options: BackendOptions): Promise<LocalBackend> {
    let backend: LocalBackend | undefined;
    const modules = FunctionModules.fromDir(options.functionsDir, () => backend?.kick());
    await modules.loadAll();
    const schemaModule = await modules.load("schema");
    const schema = schemaModule?.default as SchemaDefinition<any, boolean> | undefined;
    backend = new LocalBackend(modules, schema, options);
    backend.startPolling(options.pollMs ?? 100);
    if (options.crons ?? true) await backend.startCrons();
    return backend;
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
    const snapshotTs = (await this.t.query(async (ctx: any) => ctx.meta.getSnapshotTs())) as bigint;
    if (snapshotTs !== this.lastSnapshotTs) {
      this.lastSnapshotTs = snapshotTs;
      this.currentTs = snapshotTs > this.currentTs ? snapshotTs : this.currentTs + 1n;
      this.cache = new Map();
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
    return await this.invoke(actual, path, args, identity);
  }

  /** Runs any function, internal ones included (crons, tests). */
  async runInternal(udfPath: string, args: JSONValue, identity: Identity | null = null): Promise<Outcome> {
    const path = normalizeUdfPath(udfPath);
    let fn: RegisteredFunction | null;
    try {
      fn = await this.modules.lookup(path);
    } catch (error) {
      return errorOutcome(error);
    }
    const kind = fn === null ? null : kindOf(fn);
    if (kind === null) return failure(notFoundMessage(path));
    return await this.invoke(kind, path, args, identity);
  }

  private async invoke(
    kind: FunctionKind,
    path: string,
    args: JSONValue,
    identity: Identity | null,
  ): Promise<Outcome> {
    try {
      const decoded = jsonToConvex(args);
      const accessor = this.accessorFor(identity);
      const value = await accessor[kind](makeFunctionReference(path), decoded);
      return { ok: true, value: convexToJson((value ?? null) as Value) };
    } catch (error) {
      return errorOutcome(error);
    }
  }

  /**
   * A public query's result at the current timestamp, shared by every
   * subscriber with the same query, arguments and identity.
   */
  cachedQuery(
    udfPath: string,
    args: JSONValue,
    argsKey: string,
    identity: Identity | null,
  ): Promise<Outcome> {
    const key = `${identityKey(identity)}\u0000${udfPath}\u0000${argsKey}`;
    let result = this.cache.get(key);
    if (result === undefined) {
      result = this.runPublic("query", udfPath, args, identity);
      this.cache.set(key, result);
    }
    return result;
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
    try {
      // An inline action gives the handler a real ActionCtx (runQuery,
      // runMutation, scheduler, auth) and the Request keeps its real URL.
      await this.accessorFor(identity).action(async (ctx: unknown) => {
        response = await handler(ctx, request);
        return null;
      });
    } catch (error) {
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

  /** Deletes every document of the schema's tables and cancels pending scheduled functions. */
  async reset(): Promise<void> {
    const tables = Object.keys(this.schema?.tables ?? {});
    await this.t.run(async (ctx) => {
      await cancelPendingJobs(ctx);
      for (const table of tables) {
        for (const doc of await ctx.db.query(table).collect()) {
          await ctx.db.delete(doc._id);
        }
      }
    });
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
        void this.runInternal(job.name, job.args[0] ?? {}).then((outcome) => {
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
    // Pending scheduled functions would otherwise still fire later in this process.
    await this.t.run(cancelPendingJobs).catch(() => {});
  }
}

async function cancelPendingJobs(ctx: any): Promise<void> {
  for (const job of await ctx.db.system.query("_scheduled_functions").collect()) {
    if (job.state.kind === "pending") await ctx.scheduler.cancel(job._id);
  }
}
