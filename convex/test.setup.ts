/// <reference types="vite/client" />
// Shared helpers for the convex-test suites. Convex skips files with two dots in
// their name, so this file is never deployed.
import { convexTest } from "convex-test";
import { TransactionMetricsTracker, type TransactionMetrics } from "convex-test/dist/transactionMetrics.js";
import { getFunctionName, type FunctionReference } from "convex/server";
import { api } from "./_generated/api";
import type { Id } from "./_generated/dataModel";
import type { Role } from "./model/validators";
import schema from "./schema";
import { CALL_LIMITS, checkCallValue, type CallLimits } from "../convex-local/limits";

export const modules = import.meta.glob("./**/!(*.*.*)*.*s");

/** A registered function as `query`, `mutation` & co. (and our wrappers) produce it. */
export type Registered = {
  isQuery?: boolean;
  isMutation?: boolean;
  isAction?: boolean;
  isPublic?: boolean;
  isInternal?: boolean;
  exportArgs?: () => string;
  exportReturns?: () => string;
  /** Stamped by the builders of convex/functions.ts: who may call it. */
  tinaAccess?: string;
};

// Convex Auth's own functions (convex/auth.ts re-exports them as the library requires):
// they authenticate by password or refresh token and have no return validators. Their
// behaviour without identity and with hostile params is covered in security.test.ts.
export const LIBRARY_FUNCTIONS = new Set(["auth:signIn", "auth:signOut", "auth:store", "auth:isAuthenticated"]);

/** Every function the modules export, named like Convex names them ("nodes:enrollNode"). */
export async function allFunctions(): Promise<[string, Registered][]> {
  const out: [string, Registered][] = [];
  for (const [path, load] of Object.entries(modules)) {
    if (path.includes("_generated")) continue;
    const mod = (await load()) as Record<string, unknown>;
    for (const [name, value] of Object.entries(mod)) {
      const fn = value as Registered;
      if (typeof value === "function" && (fn.isQuery || fn.isMutation || fn.isAction)) {
        out.push([`${path.replace(/^\.\//, "").replace(/\.ts$/, "")}:${name}`, fn]);
      }
    }
  }
  return out;
}

const generatedApi = import.meta.glob("./_generated/api.d.ts", { query: "?raw", import: "default", eager: true });

/** The modules `convex codegen` put into the generated API ("nodes", "model/auth", ...). */
export function generatedModules(): string[] {
  const text = Object.values(generatedApi)[0] as string;
  return [...text.matchAll(/import type \* as \w+ from "\.\.\/(.+)\.js";/g)].map((m) => m[1]);
}

export const ENROLLMENT_SECRET = "test-enrollment-secret-0123456789";
export const T0 = Date.UTC(2026, 10, 21, 12, 0, 0);

// Convex Auth's issuer: identities from it are `<userId>|<sessionId>` and checked against sessions.
export const SITE_URL = "https://tina-test.convex.site";

// What a call may take and return, which convex-test does not check: the wrapper of makeT()
// checks them with the local backend's own checks (convex-local/limits.ts).
export { CALL_LIMITS, type CallLimits };

/** Transaction limits (convex-test's, enforced by it) and call limits (enforced by the wrapper). */
export type Limits = Partial<TransactionMetrics> & Partial<CallLimits>;

// The metrics of the last top-level transaction (a query, a mutation, a `t.run`), captured
// when convex-test's tracker pops its outermost layer. Tests are sequential within a file.
let lastMetrics: TransactionMetrics | undefined;
// The document size limit of the latest makeT (suites are sequential within a file); convex-test
// reports each written document's size to its tracker, which checks it here.
let documentLimit = CALL_LIMITS.documentBytes;
type TrackerInternals = { _layers: unknown[]; _pop(): { metrics: TransactionMetrics }; trackWrite(size: number): void };
const proto = TransactionMetricsTracker.prototype as unknown as TrackerInternals & { tinaPatched?: boolean };
if (!proto.tinaPatched) {
  const pop = proto._pop;
  proto._pop = function (this: TrackerInternals) {
    const layer = pop.call(this);
    if (this._layers.length === 0) lastMetrics = { ...layer.metrics };
    return layer;
  };
  const trackWrite = proto.trackWrite;
  proto.trackWrite = function (this: TrackerInternals, size: number) {
    if (size > documentLimit) {
      throw new Error(`Convex limit breached: a document of ${size} bytes written, over the limit of ${documentLimit} bytes`);
    }
    trackWrite.call(this, size);
  };
  proto.tinaPatched = true;
}

/**
 * What the last query, mutation or `t.run` read and wrote (documents, bytes, index ranges),
 * e.g. to assert that a call touching one task reads O(1) documents.
 */
export function lastCallMetrics(): TransactionMetrics {
  if (lastMetrics === undefined) throw new Error("no transaction has run yet");
  return lastMetrics;
}

/**
 * The tables each function call reads and writes, seen at the syscall layer convex-test
 * implements (`1.0/queryStream`, `1.0/get`, `1.0/insert`, `1.0/shallowMerge`...).
 */
type Syscalls = { syscall: (op: string, args: string) => string; asyncSyscall: (op: string, args: string) => Promise<string>; jsSyscall: unknown };
export async function tablesTouched(run: () => Promise<unknown>): Promise<{ read: Set<string>; written: Set<string> }> {
  const g = globalThis as unknown as { Convex: Syscalls };
  const base = g.Convex;
  const read = new Set<string>();
  const written = new Set<string>();
  const note = (op: string, json: string) => {
    const args = JSON.parse(json) as { table?: string; query?: { source: { tableName?: string; indexName?: string } } };
    if (op === "1.0/queryStream") read.add(args.query!.source.tableName ?? args.query!.source.indexName!.split(".")[0]);
    else if (op === "1.0/get") read.add(args.table ?? "?");
    else if (["1.0/insert", "1.0/shallowMerge", "1.0/replace", "1.0/remove"].includes(op)) written.add(args.table ?? "?");
  };
  g.Convex = {
    get syscall() {
      return (op: string, args: string) => (note(op, args), base.syscall(op, args));
    },
    get asyncSyscall() {
      return (op: string, args: string) => (note(op, args), base.asyncSyscall(op, args));
    },
    get jsSyscall() {
      return base.jsSyscall;
    },
  };
  try {
    await run();
  } finally {
    g.Convex = base;
  }
  return { read, written };
}

type Accessor = {
  query: (...a: never[]) => Promise<unknown>;
  mutation: (...a: never[]) => Promise<unknown>;
  action: (...a: never[]) => Promise<unknown>;
  withIdentity: (...a: never[]) => unknown;
  withRequestMetadata: (...a: never[]) => unknown;
};

/** `inner` whose function calls (by reference, not inline ones) check the call limits. */
function withCallLimits<A>(outer: A, limits: CallLimits): A {
  const inner = outer as unknown as Accessor;
  const checked =
    (kind: "query" | "mutation" | "action") =>
    async (fn: unknown, ...rest: unknown[]): Promise<unknown> => {
      const call = inner[kind] as (fn: unknown, ...rest: unknown[]) => Promise<unknown>;
      if (typeof fn === "function") return await call(fn, ...rest);
      const name = getFunctionName(fn as FunctionReference<typeof kind>);
      checkCallValue(name, "arguments", rest[0] ?? {}, limits);
      let result: unknown;
      try {
        result = await call(fn, ...rest);
      } catch (e) {
        // Name the function in a breach the transaction tracker found.
        if (e instanceof Error && e.message.startsWith("Convex limit breached:")) {
          throw new Error(e.message.replace("Convex limit breached:", `Convex limit breached by ${name}:`), { cause: e });
        }
        throw e;
      }
      checkCallValue(name, "return value", result ?? null, limits);
      return result;
    };
  const withIdentity = inner.withIdentity as (identity: unknown) => A;
  const withRequestMetadata = inner.withRequestMetadata as (metadata: unknown) => A;
  return ({
    ...inner,
    query: checked("query"),
    mutation: checked("mutation"),
    action: checked("action"),
    withIdentity: (identity: unknown) => withCallLimits(withIdentity(identity), limits),
    withRequestMetadata: (metadata: unknown) => withCallLimits(withRequestMetadata(metadata), limits),
  }) as unknown as A;
}

/**
 * A convex-test accessor that enforces Convex's real limits: per transaction (documents and
 * bytes read and written, index ranges, scheduled functions: convex-test's `transactionLimits`)
 * and per call (arguments, return value, array lengths, the size of each document written:
 * checked here). `limits` may tighten any.
 */
export function makeT(limits: Limits = {}) {
  process.env.TINA_ENROLLMENT_SECRET = ENROLLMENT_SECRET;
  process.env.CONVEX_SITE_URL = SITE_URL;
  delete process.env.TINA_OWNER_EMAIL;
  const { argumentsBytes, returnBytes, arrayElements, documentBytes, ...transactionLimits } = limits;
  const call: CallLimits = {
    argumentsBytes: argumentsBytes ?? CALL_LIMITS.argumentsBytes,
    returnBytes: returnBytes ?? CALL_LIMITS.returnBytes,
    arrayElements: arrayElements ?? CALL_LIMITS.arrayElements,
    documentBytes: documentBytes ?? CALL_LIMITS.documentBytes,
  };
  documentLimit = call.documentBytes;
  return withCallLimits(convexTest({ schema, modules, transactionLimits }), call);
}
export type T = ReturnType<typeof makeT>;

export type Person = { name: string; email: string; role: Role };
export const OWNER: Person = { name: "Oscar Owner", email: "oscar@example.com", role: "owner" };
export const OPERATOR: Person = { name: "Olivia Operator", email: "olivia@example.com", role: "operator" };
export const VIEWER: Person = { name: "Victor Viewer", email: "victor@example.com", role: "viewer" };

/**
 * A dashboard user with a role, as Convex Auth would have created it (user, member, session),
 * without a password (fast). `as` calls functions with that user's identity.
 */
export async function addUser(t: T, person: Person = OPERATOR) {
  const { userId, sessionId } = await t.run(async (ctx) => {
    const now = Date.now();
    const userId = await ctx.db.insert("users", { name: person.name, email: person.email });
    await ctx.db.insert("members", { userId, role: person.role, createdAt: now, updatedAt: now });
    const sessionId = await ctx.db.insert("authSessions", { userId, expirationTime: now + 30 * 24 * 60 * 60_000 });
    return { userId, sessionId };
  });
  const identity = {
    subject: `${userId}|${sessionId}`,
    issuer: SITE_URL,
    tokenIdentifier: `${SITE_URL}|${userId}|${sessionId}`,
    name: person.name,
    email: person.email,
  };
  return { userId, sessionId, identity, as: t.withIdentity(identity) };
}

/** Shorthand: a signed-in accessor for a new user with `person`'s role. */
export async function signedIn(t: T, person: Person = OPERATOR) {
  return (await addUser(t, person)).as;
}

export async function enroll(t: T, name = "laptop-a"): Promise<{ nodeId: Id<"nodes">; token: string }> {
  const { nodeId, credential } = await t.mutation(api.nodes.enrollNode, {
    enrollmentSecret: ENROLLMENT_SECRET,
    name,
    os: "darwin",
  });
  await t.mutation(api.nodes.registerNode, { nodeToken: credential, os: "darwin" });
  return { nodeId, token: credential };
}

export function orchestration(overrides: Record<string, unknown> = {}) {
  return {
    featureName: "billing-export",
    specDocPath: "/home/dev/acme/docs/plans/billing-export-design.md",
    branch: "tina/billing-export",
    worktreePath: "/home/dev/acme/.worktrees/billing-export",
    repoRoot: "/home/dev/acme",
    totalPhases: 3,
    currentPhase: 1,
    status: "planning" as const,
    startedAt: T0,
    ...overrides,
  };
}

export function phase(phaseNumber: string, status: string, overrides: Record<string, unknown> = {}) {
  return { phaseNumber, status: status as "planning", planningStartedAt: T0 + 60_000, ...overrides };
}

export function member(name: string, team: string, overrides: Record<string, unknown> = {}) {
  return {
    agentId: `${name}@${team}`,
    agentName: name,
    agentType: name === "team-lead" ? "team-lead" : "general-purpose",
    model: "claude-opus-4-6",
    joinedAt: T0,
    tmuxPaneId: "%17",
    cwd: "/home/dev/acme/.worktrees/billing-export",
    ...overrides,
  };
}

export function task(taskId: string, overrides: Record<string, unknown> = {}) {
  return {
    taskId,
    subject: `task ${taskId}`,
    description: `do thing ${taskId}`,
    status: "pending",
    blocks: [] as string[],
    blockedBy: [] as string[],
    ...overrides,
  };
}

export function team(dirName: string, overrides: Record<string, unknown> = {}) {
  return { dirName, teamName: dirName, leadAgentId: `team-lead@${dirName}`, createdAt: T0, ...overrides };
}

/** The ConvexError data a call was refused with. */
export async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string; field?: string }> {
  try {
    await p;
  } catch (e) {
    const data = (e as { data?: unknown }).data;
    if (data && typeof data === "object") return data as { code: string; message: string; field?: string };
    throw new Error(`expected a ConvexError, got: ${String(e)}`, { cause: e });
  }
  throw new Error("expected the call to be refused, but it succeeded");
}
