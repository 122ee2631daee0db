/// <reference types="vite/client" />
// Shared helpers for the convex-test suites. Convex skips files with two dots in
// their name, so this file is never deployed.
import { convexTest } from "convex-test";
import type { TransactionMetrics } from "convex-test/dist/transactionMetrics";
import { api } from "./_generated/api";
import type { Id } from "./_generated/dataModel";
import schema from "./schema";

export const modules = import.meta.glob("./**/!(*.*.*)*.*s");

export const ENROLLMENT_SECRET = "test-enrollment-secret-0123456789";
export const T0 = Date.UTC(2026, 10, 21, 12, 0, 0);

export function makeT(limits?: Partial<TransactionMetrics>) {
  process.env.TINA_ENROLLMENT_SECRET = ENROLLMENT_SECRET;
  return limits === undefined
    ? convexTest(schema, modules)
    : convexTest({ schema, modules, transactionLimits: limits });
}
export type T = ReturnType<typeof makeT>;

export const OPERATOR = { subject: "user|operator", name: "Olivia Operator" };

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
    throw new Error(`expected a ConvexError, got: ${String(e)}`);
  }
  throw new Error("expected the call to be refused, but it succeeded");
}
