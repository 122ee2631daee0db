// Edge validation beyond what `v.*` validators can say: sizes, patterns, finiteness.
import { invalid } from "./errors";

export const LIMITS = {
  name: 128,
  path: 4096,
  text: 4000,
  summary: 1000,
  detail: 16_000,
  description: 20_000,
  metadata: 16_000,
  idempotencyKey: 128,
  listItems: 500,
  tasksPerTeam: 2000,
  membersPerTeam: 200,
  phases: 100,
  eventsPerBatch: 500,
  actorsInHealth: 64,
} as const;

const MiB = 1 << 20;

/**
 * Per-call bounds of the team sync (model/teams.ts). Chosen so that a call stays within Convex's
 * limits (16 MiB read, 16 MiB written, 4,096 index ranges) whatever the team size and whatever
 * the rows it replaces: `payloadBytes` counts the UTF-8 bytes of every string of the task states
 * and members sent; `storedBytes` the stored rows (tasks, members) a call reads before it writes,
 * measured as Convex measures documents.
 *
 * Why they fit (P = payloadBytes, S = storedBytes; a task row is at most ~0.3 MB, an event carries
 * at most a 1,000-character subject, ~3.3 KB): a delta reads each stored row it touches once to
 * diff (<= S + one row) and again when it patches it (<= S + one row), and each later state of a
 * task patched again (<= P): reads <= 2 (S + 0.3 MB) + P + overhead ~ 14.9 MiB. It writes the states
 * (<= P), the removed rows again (<= S + one row) and one event per change (<= 1,500 x 3.3 KB):
 * ~ 14.3 MiB. At most 1,500 rows looked up (index ranges < 4,096), ~3,000 documents read and
 * written. A test drives a delta at every bound at once (convex/teamSync.test.ts).
 */
export const SYNC = {
  // Task states per call: syncTeamDelta.tasks, a reconcile page, syncTeam tasks + history.
  states: 500,
  // Task ids syncTeamDelta marks removed.
  removed: 1000,
  payloadBytes: 4 * MiB,
  storedBytes: 5 * MiB,
  // syncTeam diffs a whole snapshot: for small teams only.
  snapshotPayloadBytes: 2 * MiB,
  snapshotStoredBytes: 4 * MiB,
  snapshotLiveTasks: 2000,
  // syncTeams: small teams' whole snapshots in one call (a cold start), sharing the bounds
  // of one syncTeam call (states, text, stored bytes) plus a cap on the stored rows read.
  batchTeams: 50,
  batchRows: 4000,
  // finishReconcile: tasks marked removed per call, and the bytes of their rows.
  finishTasks: 500,
  finishBytes: 6 * MiB,
  // removeTeam: bytes of member rows read.
  memberBytes: 4 * MiB,
} as const;

// tina feature names: what `tina-session init` accepts, no path separators or `..`.
export const FEATURE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
// Main phases "1".."999" and remediation phases "N.5", "N.5.5".
export const PHASE_RE = /^[1-9][0-9]{0,2}(\.5){0,2}$/;
// Claude Code agent names and team directory names.
export const AGENT_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;
export const TEAM_DIR_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const IDEMPOTENCY_RE = /^[A-Za-z0-9._:-]{8,128}$/;
// SHA-256 in lower-case hex: document revisions and inbox message keys.
export const SHA256_RE = /^[0-9a-f]{64}$/;

function describe(value: string): string {
  return value.length > 40 ? `${JSON.stringify(value.slice(0, 40))}… (${value.length} chars)` : JSON.stringify(value);
}

export function checkString(field: string, value: string, max: number, opts: { allowEmpty?: boolean } = {}): string {
  if (!opts.allowEmpty && value.length === 0) invalid(field, "a non-empty string");
  if (value.length > max) invalid(field, `at most ${max} characters`, `${value.length}`);
  if (value.includes("\u0000")) invalid(field, "no NUL characters");
  return value;
}

export function checkOptionalString(field: string, value: string | undefined, max: number): string | undefined {
  return value === undefined ? undefined : checkString(field, value, max, { allowEmpty: true });
}

export function checkPattern(field: string, value: string, re: RegExp, expected: string): string {
  if (!re.test(value) || value.includes("..")) invalid(field, expected, describe(value));
  return value;
}

export function checkFeature(field: string, value: string): string {
  return checkPattern(field, value, FEATURE_RE, "a feature name (letters, digits, '.', '_', '-'; at most 100)");
}

export function checkPhase(field: string, value: string): string {
  return checkPattern(field, value, PHASE_RE, "a phase like \"2\", \"2.5\" or \"2.5.5\"");
}

export function checkNumber(field: string, value: number, opts: { min?: number; max?: number; integer?: boolean } = {}): number {
  if (!Number.isFinite(value)) invalid(field, "a finite number", `${value}`);
  if (opts.integer && !Number.isInteger(value)) invalid(field, "a whole number", `${value}`);
  if (opts.min !== undefined && value < opts.min) invalid(field, `a number >= ${opts.min}`, `${value}`);
  if (opts.max !== undefined && value > opts.max) invalid(field, `a number <= ${opts.max}`, `${value}`);
  return value;
}

/** Bytes of `value` as UTF-8 (what a size limit in bytes counts). */
export function utf8Bytes(value: string): number {
  return new TextEncoder().encode(value).length;
}

/** A string of at most `maxBytes` UTF-8 bytes. */
export function checkBytes(field: string, value: string, maxBytes: number): string {
  // Each UTF-16 unit is at most 3 bytes: only long strings need encoding.
  if (value.length * 3 > maxBytes) {
    const bytes = utf8Bytes(value);
    if (bytes > maxBytes) invalid(field, `at most ${maxBytes} bytes of UTF-8`, `${bytes} bytes`);
  }
  return value;
}

export function checkOptionalNumber(field: string, value: number | undefined, opts: { min?: number; max?: number; integer?: boolean } = {}): number | undefined {
  return value === undefined ? undefined : checkNumber(field, value, opts);
}

export function checkTimestamp(field: string, value: number): number {
  // 2000-01-01 .. 2200-01-01 in ms: catches seconds-vs-milliseconds mix-ups.
  return checkNumber(field, value, { min: 946_684_800_000, max: 7_258_118_400_000 });
}

export function checkOptionalTimestamp(field: string, value: number | undefined): number | undefined {
  return value === undefined ? undefined : checkTimestamp(field, value);
}

export function checkCount(field: string, items: readonly unknown[], max: number): void {
  if (items.length > max) invalid(field, `at most ${max} items`, `${items.length}`);
}

export type PaginationOpts = {
  numItems: number;
  cursor: string | null;
  endCursor?: string | null;
  id?: number;
  maximumRowsRead?: number;
  maximumBytesRead?: number;
};

const CURSOR_MAX = 4096;

/** Pagination options from a client: finite numbers, bounded cursors, at most `max` items a page. */
export function checkPagination(opts: PaginationOpts, max: number): PaginationOpts {
  const numItems = Math.min(Math.floor(checkNumber("paginationOpts.numItems", opts.numItems, { min: 1 })), max);
  if (opts.cursor !== null) checkString("paginationOpts.cursor", opts.cursor, CURSOR_MAX, { allowEmpty: true });
  if (typeof opts.endCursor === "string") checkString("paginationOpts.endCursor", opts.endCursor, CURSOR_MAX, { allowEmpty: true });
  checkOptionalNumber("paginationOpts.id", opts.id);
  checkOptionalNumber("paginationOpts.maximumRowsRead", opts.maximumRowsRead, { min: 1 });
  checkOptionalNumber("paginationOpts.maximumBytesRead", opts.maximumBytesRead, { min: 1 });
  return { ...opts, numItems };
}
