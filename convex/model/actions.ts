// Operator actions: submit, claim with a lease, complete; expiry and interruption.
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { audit, describeAction, type Actor } from "./audit";
import type { User } from "./users";
import {
  AGENT_RE,
  checkOptionalNumber,
  checkOptionalString,
  checkPattern,
  checkPhase,
  checkString,
  IDEMPOTENCY_RE,
  LIMITS,
  SHA256_RE,
} from "./checks";
import { fail, invalid } from "./errors";
import { cancelIfNoLongerAllowed, checkMayMessage, chooseRoute } from "./messaging";
import { requestNotify } from "./notify";
import { redactSecrets } from "./redact";
import type { Infer } from "convex/values";
import type { actionResult, ActionPayload, ActionRequest, ActionStatus } from "./validators";

export const DEFAULT_EXPIRY_MS = 15 * 60_000;
export const MIN_EXPIRY_MS = 5_000;
export const MAX_EXPIRY_MS = 24 * 60 * 60_000;
export const DEFAULT_LEASE_MS = 5 * 60_000;
export const MAX_LEASE_MS = 60 * 60_000;
const LEASE_OWNER_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const LEASE_OWNER_EXPECTED = "a daemon instance id (letters, digits, '.', '_', ':', '-')";

function checkLeaseOwner(leaseOwner: string): string {
  return checkPattern("leaseOwner", leaseOwner, LEASE_OWNER_RE, LEASE_OWNER_EXPECTED);
}

/** Text for an agent: printable, tabs and newlines allowed, no other control characters. */
export function checkMessageText(field: string, text: string): string {
  checkString(field, text.trim(), LIMITS.text);
  // C0 (but tab and newline), DEL and C1: what terminals act on instead of showing.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(text)) invalid(field, "text without control characters");
  return text;
}

type Resolved = {
  nodeId: Id<"nodes">;
  orchestrationId?: Id<"orchestrations">;
  teamId?: Id<"teams">;
  payload: ActionPayload;
};

async function resolveTarget(ctx: MutationCtx, request: ActionRequest): Promise<Resolved> {
  if (request.type === "send_message") {
    const team = await ctx.db.get("teams", request.teamId);
    if (team === null || team.removedAt !== undefined) fail("not_found", "no such team (it may have been removed)", "teamId");
    checkPattern("agentName", request.agentName, AGENT_RE, "an agent name");
    const text = checkMessageText("text", request.text);
    const members = await ctx.db
      .query("teamMembers")
      .withIndex("by_team_agent", (q) => q.eq("teamId", team._id))
      .take(LIMITS.membersPerTeam * 4);
    const member = members.find((m) => m.agentName === request.agentName && m.removedAt === undefined);
    if (member === undefined) fail("not_found", `no agent "${request.agentName}" in team ${team.teamName}`, "agentName");
    const via = chooseRoute(member, team, request.via);
    const orchestration = team.orchestrationId ? await ctx.db.get("orchestrations", team.orchestrationId) : null;
    return {
      nodeId: team.nodeId,
      teamId: team._id,
      ...(team.orchestrationId ? { orchestrationId: team.orchestrationId } : {}),
      payload: {
        ...(orchestration ? { feature: orchestration.featureName } : {}),
        ...(team.phaseNumber ? { phase: team.phaseNumber } : {}),
        teamDir: team.dirName,
        agentName: request.agentName,
        text,
        via,
      },
    };
  }
  const orchestration = await ctx.db.get("orchestrations", request.orchestrationId);
  if (orchestration === null) fail("not_found", "no such orchestration", "orchestrationId");
  const phase = checkPhase("phase", request.phase);
  const stored = await ctx.db
    .query("phases")
    .withIndex("by_orchestration_phase", (q) => q.eq("orchestrationId", orchestration._id).eq("phaseNumber", phase))
    .unique();
  if (stored === null) fail("not_found", `phase ${phase} of ${orchestration.featureName} has not started`, "phase");
  const payload: ActionPayload = { feature: orchestration.featureName, phase };
  if (request.type === "reject_plan") payload.feedback = checkMessageText("feedback", request.feedback);
  if ((request.type === "approve_plan" || request.type === "reject_plan") && request.planHash !== undefined) {
    payload.planHash = checkPattern("planHash", request.planHash, SHA256_RE, "a plan revision (64 lower-case hex digits)");
    if (request.type === "approve_plan") await checkPlanUnchanged(ctx, orchestration._id, phase, request.planHash);
  }
  return { nodeId: orchestration.nodeId, orchestrationId: orchestration._id, payload };
}

/** First 12 hex digits of a revision, as people compare them. */
export function shortRevision(hash: string): string {
  return hash.slice(0, 12);
}

/** An approval names the plan revision the operator read: refused when the laptop's plan has changed since. */
async function checkPlanUnchanged(ctx: MutationCtx, orchestrationId: Id<"orchestrations">, phase: string, planHash: string): Promise<void> {
  const plan = await ctx.db
    .query("documents")
    .withIndex("by_orchestration_kind_phase", (q) => q.eq("orchestrationId", orchestrationId).eq("kind", "plan").eq("phaseKey", phase))
    .unique();
  if (plan !== null && !plan.missing && plan.hash === planHash) return;
  const now = plan === null || plan.missing ? "gone" : plan.hash === undefined ? "unknown" : shortRevision(plan.hash);
  fail(
    "conflict",
    `the plan of phase ${phase} changed on the laptop since you opened it (you read revision ${shortRevision(planHash)}, ` +
      `it is now ${now}); read it again before approving`,
    "planHash",
  );
}

export async function submitAction(
  ctx: MutationCtx,
  user: User,
  actor: Actor,
  request: ActionRequest,
  idempotencyKey: string,
  expiresInMs: number | undefined,
): Promise<{ actionId: Id<"inboundActions">; deduplicated: boolean }> {
  checkPattern("idempotencyKey", idempotencyKey, IDEMPOTENCY_RE, "8-128 characters of [A-Za-z0-9._:-]");
  const ttl = checkOptionalNumber("expiresInMs", expiresInMs, { min: MIN_EXPIRY_MS, max: MAX_EXPIRY_MS }) ?? DEFAULT_EXPIRY_MS;
  const dup = await ctx.db
    .query("inboundActions")
    .withIndex("by_submitter_key", (q) => q.eq("submittedBy", user.userId).eq("idempotencyKey", idempotencyKey))
    .first();
  if (dup !== null) return { actionId: dup._id, deduplicated: true };
  const target = await resolveTarget(ctx, request);
  const node = await ctx.db.get("nodes", target.nodeId);
  if (node === null || node.revokedAt !== undefined) fail("forbidden", "that laptop's credential was revoked; it cannot run actions");
  // Typing into an agent's terminal is code execution as the laptop's user: the laptop's rule decides.
  if (request.type === "send_message") checkMayMessage(node, user.role);
  const now = Date.now();
  const expiresAt = now + ttl;
  const actionId = await ctx.db.insert("inboundActions", {
    ...target,
    type: request.type,
    status: "pending",
    idempotencyKey,
    submittedBy: user.userId,
    submittedByName: user.name,
    createdAt: now,
    expiresAt,
  });
  await audit(ctx, actor, {
    verb: "action.submitted",
    nodeId: node._id,
    nodeName: node.name,
    ...(target.orchestrationId ? { orchestrationId: target.orchestrationId } : {}),
    actionId,
    actionType: request.type,
    detail: `${describeAction({ type: request.type, payload: target.payload })} for laptop "${node.name}", expires in ${Math.round(ttl / 1000)} s`,
  });
  return { actionId, deduplicated: false };
}

export async function cancelAction(
  ctx: MutationCtx,
  actor: Actor,
  actionId: Id<"inboundActions">,
): Promise<{ cancelled: boolean; status: ActionStatus }> {
  const action = await ctx.db.get("inboundActions", actionId);
  if (action === null) fail("not_found", "no such action", "actionId");
  if (action.status !== "pending") return { cancelled: false, status: action.status };
  await ctx.db.patch("inboundActions", actionId, { status: "cancelled", finishedAt: Date.now() });
  await audit(ctx, actor, { ...targets(action), verb: "action.cancelled", detail: `withdrew ${describeAction(action)} before the laptop claimed it` });
  return { cancelled: true, status: "cancelled" };
}

async function ownAction(ctx: MutationCtx, node: Doc<"nodes">, actionId: Id<"inboundActions">): Promise<Doc<"inboundActions"> | null> {
  const action = await ctx.db.get("inboundActions", actionId);
  // Another laptop's action looks exactly like a missing one.
  return action !== null && action.nodeId === node._id ? action : null;
}

export type ClaimResult =
  | { ok: true; action: Doc<"inboundActions"> }
  | { ok: false; reason: "not_found" | "expired" | "not_pending"; status?: ActionStatus };

export async function claimAction(
  ctx: MutationCtx,
  node: Doc<"nodes">,
  actionId: Id<"inboundActions">,
  leaseOwner: string,
  leaseMs: number | undefined,
): Promise<ClaimResult> {
  checkLeaseOwner(leaseOwner);
  const lease = checkOptionalNumber("leaseMs", leaseMs, { min: 1000, max: MAX_LEASE_MS }) ?? DEFAULT_LEASE_MS;
  const action = await ownAction(ctx, node, actionId);
  if (action === null) return { ok: false, reason: "not_found" };
  const now = Date.now();
  if (action.status === "pending" && action.expiresAt <= now) {
    await expire(ctx, action, { kind: "node", node });
    return { ok: false, reason: "expired", status: "expired" };
  }
  if (action.status !== "pending") return { ok: false, reason: action.status === "expired" ? "expired" : "not_pending", status: action.status };
  if (await cancelIfNoLongerAllowed(ctx, node, action)) return { ok: false, reason: "not_pending", status: "cancelled" };
  await ctx.db.patch("inboundActions", actionId, { status: "claimed", claimedAt: now, leaseOwner, leaseExpiresAt: now + lease });
  await audit(ctx, { kind: "node", node }, { ...targets(action), verb: "action.claimed", detail: `${describeAction(action)} claimed by daemon ${leaseOwner}` });
  const claimed = await ctx.db.get("inboundActions", actionId);
  return { ok: true, action: claimed! };
}

export async function markRunning(ctx: MutationCtx, node: Doc<"nodes">, actionId: Id<"inboundActions">, leaseOwner: string): Promise<boolean> {
  checkLeaseOwner(leaseOwner);
  const action = await ownAction(ctx, node, actionId);
  if (action === null || action.status !== "claimed" || action.leaseOwner !== leaseOwner) return false;
  await ctx.db.patch("inboundActions", actionId, { status: "running", startedAt: Date.now() });
  return true;
}

export type ActionResultInput = Infer<typeof actionResult>;

export async function completeAction(
  ctx: MutationCtx,
  node: Doc<"nodes">,
  actionId: Id<"inboundActions">,
  leaseOwner: string,
  result: ActionResultInput,
): Promise<{ ok: boolean; status: ActionStatus | "not_found" }> {
  checkLeaseOwner(leaseOwner);
  checkPattern("result.code", result.code, /^[a-z][a-z0-9_]{0,63}$/, "a snake_case outcome code");
  checkString("result.message", result.message, LIMITS.text, { allowEmpty: true });
  checkOptionalString("result.output", result.output, LIMITS.detail);
  checkOptionalNumber("result.exitCode", result.exitCode, { integer: true, min: -255, max: 255 });
  checkOptionalNumber("result.durationMs", result.durationMs, { min: 0 });
  if (result.messageKey !== undefined) checkPattern("result.messageKey", result.messageKey, SHA256_RE, "an inbox message key (64 lower-case hex digits)");
  const action = await ownAction(ctx, node, actionId);
  if (action === null) return { ok: false, status: "not_found" };
  if (action.leaseOwner !== leaseOwner || (action.status !== "claimed" && action.status !== "running")) {
    return { ok: false, status: action.status };
  }
  const status = result.ok ? "completed" : "failed";
  const clean = {
    ...result,
    message: redactSecrets(result.message),
    ...(result.output === undefined ? {} : { output: redactSecrets(result.output) }),
  };
  await ctx.db.patch("inboundActions", actionId, { status, result: clean, finishedAt: Date.now() });
  if (!result.ok) await requestNotify(ctx);
  await audit(ctx, { kind: "node", node }, {
    ...targets(action),
    verb: "action.completed",
    outcome: result.ok ? "ok" : "failed",
    detail: `${describeAction(action)}: ${clean.code}${clean.message ? ` — ${clean.message}` : ""}`,
  });
  return { ok: true, status };
}

/** After a daemon restart: this laptop's actions held by an earlier instance end interrupted, never re-run. */
export async function interruptStale(ctx: MutationCtx, node: Doc<"nodes">, leaseOwner: string): Promise<number> {
  checkLeaseOwner(leaseOwner);
  let count = 0;
  for (const status of ["claimed", "running"] as const) {
    const held = await ctx.db
      .query("inboundActions")
      .withIndex("by_node_status_created", (q) => q.eq("nodeId", node._id).eq("status", status))
      .take(200);
    for (const a of held) {
      if (a.leaseOwner === leaseOwner) continue;
      await interrupt(ctx, a, "the daemon restarted while this action was in progress; it was not re-run", { kind: "node", node });
      count++;
    }
  }
  return count;
}

/** The audit targets of an action. */
export function targets(a: Doc<"inboundActions">) {
  return {
    nodeId: a.nodeId,
    ...(a.orchestrationId ? { orchestrationId: a.orchestrationId } : {}),
    actionId: a._id,
    actionType: a.type,
  };
}

const SWEEPER: Actor = { kind: "system", job: "actions.sweep" };

export async function interrupt(ctx: MutationCtx, a: Doc<"inboundActions">, message: string, actor: Actor = SWEEPER): Promise<void> {
  await ctx.db.patch("inboundActions", a._id, {
    status: "interrupted",
    finishedAt: Date.now(),
    result: { ok: false, code: "interrupted", message },
  });
  await requestNotify(ctx);
  await audit(ctx, actor, { ...targets(a), verb: "action.interrupted", outcome: "failed", detail: `${describeAction(a)}: ${message}` });
}

export async function expire(ctx: MutationCtx, a: Doc<"inboundActions">, actor: Actor = { kind: "system", job: "actions.expire" }): Promise<void> {
  await ctx.db.patch("inboundActions", a._id, {
    status: "expired",
    finishedAt: Date.now(),
    result: { ok: false, code: "expired", message: "the laptop did not pick this action up before it expired" },
  });
  await requestNotify(ctx);
  await audit(ctx, actor, { ...targets(a), verb: "action.expired", outcome: "failed", detail: `${describeAction(a)} expired before the laptop picked it up` });
}



/**
 * Actions as the dashboard lists them: a completed send_message whose result names an inbox
 * entry (`messageKey`) gets `read`, whether the agent has read it. One index lookup each.
 */
export async function withReadState(ctx: QueryCtx, rows: Doc<"inboundActions">[]): Promise<(Doc<"inboundActions"> & { read?: boolean })[]> {
  const out: (Doc<"inboundActions"> & { read?: boolean })[] = [];
  for (const a of rows) {
    const key = a.result?.messageKey;
    if (a.type !== "send_message" || a.status !== "completed" || key === undefined || a.teamId === undefined) {
      out.push(a);
      continue;
    }
    const teamId = a.teamId;
    const entry = await ctx.db
      .query("teamMessages")
      .withIndex("by_team_key", (q) => q.eq("teamId", teamId).eq("key", key))
      .unique();
    out.push({ ...a, read: entry?.read === true });
  }
  return out;
}
