// Answering from a notification (issue 20): a permission prompt's "Allow once" / "Deny" and a
// plan's "Approve plan" as the notification's own buttons, for a person who turned it on
// (notify:setAnswering; operators and owners only).
//
// notify:evaluate marks a show `answer` (what it may decide, on what, until when);
// notifyNode:deliver draws a random token for it (256 bits), stores only its SHA-256 here
// (issueAnswers) and puts the token and the deployment's `/api/mutation` URL into the encrypted
// push payload. The service worker posts `notify:answer {token, decision}` when a button is
// pressed. The token is the only credential: it must be known, unused, unexpired, for that
// decision, its user still an operator or owner with the setting on. It is marked used in the
// same transaction that answers through the dashboard's own paths (model/prompts.ts answerPrompt,
// model/actions.ts submitAction), so the laptop's messaging rule, conflicts and the audit log
// apply as there, with the client recorded as "notification". A refusal changes nothing.
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { internal } from "../_generated/api";
import { submitAction } from "./actions";
import type { RequestInfo } from "./audit";
import { sha256Hex } from "./auth";
import { SHA256_RE } from "./checks";
import { fail, invalid } from "./errors";
import { messagingOf } from "./messaging";
import type { AnswerDecision, AnswerSpec, AnswerTarget } from "./notify";
import { answerPrompt } from "./prompts";
import { displayName, userActor, type User } from "./users";
import { ROLE_RANK, type NeedItem, type Role } from "./validators";

/** How long a plan's answer token lasts (a prompt's: until the prompt's own deadline, if sooner). */
export const ANSWER_TTL_MS = 60 * 60_000;
/** A token is 32 random bytes in base64url: 43 characters. */
export const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;
/** The audit log's client for an answer from a notification. */
export const CLIENT = "notification";
const MAX_ISSUED = 20;

/** What an item's actions could answer, before whose role is known. */
export type Answerable = { spec: AnswerSpec; minRole: Role };

/**
 * Whether `item` can be answered from a notification: a dashboard-answerable permission prompt
 * (its laptop's messaging rule names who may), or a plan awaiting approval with a known revision.
 */
export async function answerableOf(ctx: QueryCtx, item: NeedItem, now: number): Promise<Answerable | null> {
  if (item.kind === "permission_prompt" && item.prompt !== undefined && item.prompt.status === "open") {
    const node = await ctx.db.get("nodes", item.prompt.nodeId);
    if (node === null || node.revokedAt !== undefined) return null;
    const rule = messagingOf(node);
    if (rule === "nobody") return null;
    return {
      spec: { decisions: ["allow", "deny"], target: { kind: "prompt", promptId: item.prompt.promptId }, expiresAt: Math.min(item.prompt.expiresAt, now + ANSWER_TTL_MS) },
      minRole: rule === "owners" ? "owner" : "operator",
    };
  }
  if (item.kind === "plan_approval" && item.orchestrationId !== undefined && item.phaseNumber !== undefined) {
    const orchestrationId = item.orchestrationId;
    const phase = item.phaseNumber;
    const plan = await ctx.db
      .query("documents")
      .withIndex("by_orchestration_kind_phase", (q) => q.eq("orchestrationId", orchestrationId).eq("kind", "plan").eq("phaseKey", phase))
      .unique();
    // Approving names the revision read; without one there is nothing to approve from here.
    if (plan === null || plan.missing || plan.hash === undefined) return null;
    return { spec: { decisions: ["approve"], target: { kind: "plan", orchestrationId, phase, planHash: plan.hash }, expiresAt: now + ANSWER_TTL_MS }, minRole: "operator" };
  }
  return null;
}

/** The spec for a user with `role`, when that role may answer. */
export function answerableBy(a: Answerable | null, role: Role | undefined): AnswerSpec | undefined {
  if (a === null || role === undefined || ROLE_RANK[role] < ROLE_RANK[a.minRole]) return undefined;
  return a.spec;
}

async function memberRole(ctx: QueryCtx, userId: Id<"users">): Promise<Role | null> {
  const member = await ctx.db.query("members").withIndex("by_user", (q) => q.eq("userId", userId)).unique();
  return member?.role ?? null;
}

async function answeringOn(ctx: QueryCtx, userId: Id<"users">): Promise<boolean> {
  const row = await ctx.db.query("notifySettings").withIndex("by_user", (q) => q.eq("userId", userId)).unique();
  return row?.answering === true;
}

export type IssuedAnswer = { tag: string; tokenHash: string; spec: AnswerSpec };

/**
 * notifyNode:deliver stores the hashes of the tokens it drew, one per show with `answer`; each is
 * accepted only while the user still has the setting on and a role that may act (else false:
 * the show goes without actions).
 */
export async function issueAnswers(ctx: MutationCtx, userId: Id<"users">, answers: IssuedAnswer[]): Promise<boolean[]> {
  if (answers.length > MAX_ISSUED) invalid("answers", `at most ${MAX_ISSUED} a delivery`, `${answers.length}`);
  const role = await memberRole(ctx, userId);
  const may = role !== null && role !== "viewer" && (await answeringOn(ctx, userId));
  const now = Date.now();
  const out: boolean[] = [];
  for (const a of answers) {
    if (!SHA256_RE.test(a.tokenHash)) invalid("answers.tokenHash", "a SHA-256 (64 lower-case hex digits)");
    if (!may || a.spec.expiresAt <= now) {
      out.push(false);
      continue;
    }
    await ctx.db.insert("notifyAnswers", {
      userId,
      tokenHash: a.tokenHash,
      tag: a.tag,
      decisions: a.spec.decisions,
      target: a.spec.target,
      createdAt: now,
      expiresAt: Math.min(a.spec.expiresAt, now + ANSWER_TTL_MS),
    });
    out.push(true);
  }
  return out;
}

/** The answer row a token stands for, or a refusal (unauthenticated: unknown; conflict: used or expired). */
export async function authenticateAnswer(ctx: QueryCtx, token: string): Promise<Doc<"notifyAnswers">> {
  if (!TOKEN_RE.test(token)) fail("unauthenticated", "not an answer token from a tina notification: open tina to answer");
  const tokenHash = await sha256Hex(token);
  const row = await ctx.db.query("notifyAnswers").withIndex("by_token", (q) => q.eq("tokenHash", tokenHash)).unique();
  if (row === null) fail("unauthenticated", "this notification cannot answer (its token is unknown or was withdrawn): open tina to answer");
  if (row.usedAt !== undefined) fail("conflict", "this notification has already answered once; open tina to see the outcome");
  if (row.expiresAt <= Date.now()) fail("conflict", "this notification's answer expired: open tina to answer");
  return row;
}

const DONE: Record<AnswerDecision, string> = { allow: "allowed once", deny: "denied", approve: "plan approval sent to the laptop" };

/**
 * Answers with the token's row: checks the decision and the user (still a member who may act,
 * the setting still on), marks the row used, and answers as the dashboard does.
 */
export async function answerWithToken(
  ctx: MutationCtx,
  row: Doc<"notifyAnswers">,
  request: RequestInfo,
  decision: AnswerDecision,
): Promise<{ status: "answered"; decision: AnswerDecision; detail: string; actionId?: Id<"inboundActions"> }> {
  if (!row.decisions.includes(decision)) invalid("decision", `one of ${row.decisions.join(", ")} for this notification`, decision);
  const role = await memberRole(ctx, row.userId);
  const person = await ctx.db.get("users", row.userId);
  if (role === null || person === null) fail("forbidden", "this account has no access to this tina deployment any more");
  if (role === "viewer") fail("forbidden", "answering needs the operator or owner role; you are a viewer now");
  if (!(await answeringOn(ctx, row.userId))) fail("forbidden", "answering from notifications is turned off for this account");
  const user: User = { userId: row.userId, role, name: displayName(person), ...(person.email ? { email: person.email } : {}), client: CLIENT };
  const actor = userActor(user, request);
  await ctx.db.patch("notifyAnswers", row._id, { usedAt: Date.now(), decision });
  const target: AnswerTarget = row.target;
  if (target.kind === "prompt") {
    if (decision === "approve") invalid("decision", "allow or deny for a permission prompt", decision);
    await answerPrompt(ctx, user, actor, target.promptId, decision === "allow" ? "allow_once" : "deny", undefined);
    return { status: "answered", decision, detail: DONE[decision] };
  }
  if (decision !== "approve") invalid("decision", "approve for a plan", decision);
  const o = await ctx.db.get("orchestrations", target.orchestrationId);
  if (o === null) fail("not_found", "no such orchestration");
  if (o.attention !== "awaiting_approval" || (o.attentionPhase ?? String(o.currentPhase)) !== target.phase) {
    fail("conflict", `the plan of ${o.featureName} phase ${target.phase} no longer awaits approval`, "planHash");
  }
  const { actionId, deduplicated } = await submitAction(
    ctx,
    user,
    actor,
    { type: "approve_plan", orchestrationId: target.orchestrationId, phase: target.phase, planHash: target.planHash },
    `notification:${row._id}`,
    undefined,
  );
  if (!deduplicated) {
    const stored = await ctx.db.get("inboundActions", actionId);
    await ctx.scheduler.runAt(stored!.expiresAt, internal.actions.expireAction, { actionId });
  }
  return { status: "answered", decision, detail: DONE[decision], actionId };
}
