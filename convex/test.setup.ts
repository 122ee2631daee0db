/// <reference types="vite/client" />
// Shared helpers for the convex-test suites. Convex skips files with two dots in
// their name, so this file is never deployed.
import { convexTest } from "convex-test";
import type { TransactionMetrics } from "convex-test/dist/transactionMetrics";
import { api } from "./_generated/api";
import type { Id } from "./_generated/dataModel";
import type { Role } from "./model/validators";
import schema from "./schema";

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

export function makeT(limits?: Partial<TransactionMetrics>) {
  process.env.TINA_ENROLLMENT_SECRET = ENROLLMENT_SECRET;
  process.env.CONVEX_SITE_URL = SITE_URL;
  delete process.env.TINA_OWNER_EMAIL;
  return limits === undefined
    ? convexTest(schema, modules)
    : convexTest({ schema, modules, transactionLimits: limits });
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
