// The cost meter: what each function cost, counted the way Convex bills it
// (function calls, documents and bytes read and written), and the frame every
// function execution runs in, which says whose reads and writes these are.
import { AsyncLocalStorage } from "node:async_hooks";
import type { ReadSet } from "./fast_db.js";

/** Why a function ran: a client's call, a subscription re-run, the scheduler, a cron. */
export type RunCategory = "calls" | "rerun" | "scheduled" | "cron";

export type Counters = {
  calls: number;
  rerun: number;
  scheduled: number;
  cron: number;
  documentsRead: number;
  bytesRead: number;
  documentsWritten: number;
  bytesWritten: number;
  errors: number;
};

/**
 * `GET /api/local/metrics`. `reruns`: per subscribed query, what made it run again, as
 * `<writer> <table>[<changed fields>]` (the first commit inside its read set): a write that
 * changes nothing the query shows and still re-runs it is visible here.
 */
export type MetricsReport = {
  since: number;
  functions: Record<string, Counters>;
  totals: Counters;
  reruns: Record<string, Record<string, number>>;
};

// Distinct causes kept per query (the rest are counted as "(other)").
const MAX_CAUSES = 200;

export function zeroCounters(): Counters {
  return {
    calls: 0,
    rerun: 0,
    scheduled: 0,
    cron: 0,
    documentsRead: 0,
    bytesRead: 0,
    documentsWritten: 0,
    bytesWritten: 0,
    errors: 0,
  };
}

export class CostMeter {
  private since = Date.now();
  private functions = new Map<string, Counters>();
  private causes = new Map<string, Map<string, number>>();

  private of(udfPath: string): Counters {
    let counters = this.functions.get(udfPath);
    if (counters === undefined) {
      counters = zeroCounters();
      this.functions.set(udfPath, counters);
    }
    return counters;
  }

  count(udfPath: string, category: RunCategory): void {
    this.of(udfPath)[category] += 1;
  }

  error(udfPath: string): void {
    this.of(udfPath).errors += 1;
  }

  read(udfPath: string, bytes: number): void {
    const counters = this.of(udfPath);
    counters.documentsRead += 1;
    counters.bytesRead += bytes;
  }

  write(udfPath: string, bytes: number): void {
    const counters = this.of(udfPath);
    counters.documentsWritten += 1;
    counters.bytesWritten += bytes;
  }

  /** A subscribed query's cached result went stale because of `cause` (see MetricsReport). */
  invalidated(udfPath: string, cause: string): void {
    let causes = this.causes.get(udfPath);
    if (causes === undefined) {
      causes = new Map();
      this.causes.set(udfPath, causes);
    }
    const key = causes.has(cause) || causes.size < MAX_CAUSES ? cause : "(other)";
    causes.set(key, (causes.get(key) ?? 0) + 1);
  }

  report(): MetricsReport {
    const functions: Record<string, Counters> = {};
    const totals = zeroCounters();
    for (const [udfPath, counters] of [...this.functions].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      functions[udfPath] = { ...counters };
      for (const key of Object.keys(totals) as (keyof Counters)[]) totals[key] += counters[key];
    }
    const reruns: Record<string, Record<string, number>> = {};
    for (const [udfPath, causes] of this.causes) {
      reruns[udfPath] = Object.fromEntries([...causes].sort(([, a], [, b]) => b - a));
    }
    return { since: this.since, functions, totals, reruns };
  }

  reset(): void {
    this.since = Date.now();
    this.functions = new Map();
    this.causes = new Map();
  }
}

/** One function execution: whose reads and writes are counted, and what it read. */
export type RunFrame = {
  udfPath: string;
  category: RunCategory;
  meter: CostMeter;
  /** The function's handler started under this frame (a call that fails before its handler never does). */
  claimed: boolean;
  errorCounted: boolean;
  /** Recorded for subscribed queries. */
  readSet: ReadSet | null;
  /** Commits visible to its transaction, once it started. */
  snapshot?: number;
  /** The backend's own reads (dump, reset): not metered, no limits. */
  unlimited?: boolean;
};

export const runStorage = new AsyncLocalStorage<RunFrame>();

export function currentFrame(): RunFrame | undefined {
  return runStorage.getStore();
}
