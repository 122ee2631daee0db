// Permission prompts: a laptop's daemon opens one when Claude Code asks to use a tool, the
// dashboard answers, the daemon hands the decision to the waiting hook and settles it.
//
//   open ──answer──▶ answered ──settle──▶ applied | too_late | expired
//     └──── settle "expired", or the expiry at expiresAt + 5 s ────▶ expired
//
// A decision is delivered at most once: only an `answered` prompt is in pendingDecisions, and
// settling it moves it out for good.
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { audit, type Actor, type UserActor } from "./audit";
import { AGENT_RE, checkBytes, checkPattern, checkString, checkTimestamp, LIMITS, TEAM_DIR_RE } from "./checks";
import { fail, invalid } from "./errors";
import { checkMayMessage } from "./messaging";
import { redactSecrets } from "./redact";
import { requestNotify } from "./notify";
import type { User } from "./users";
import type { PromptDecision, PromptOpen, PromptOutcome, PromptStatus } from "./validators";

export const PROMPT_ID_RE = /^[0-9a-f]{32}$/;
const PROMPT_ID_EXPECTED = "a prompt id (32 lower-case hex digits)";
// Claude Code session ids are UUIDs; anything id-like is accepted.
const SESSION_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export const TOOL_INPUT_MAX_BYTES = 16 * 1024;
export const SUGGESTIONS_MAX_BYTES = 16 * 1024;
export const DENY_MESSAGE_MAX = 1000;
const TOOL_NAME_MAX = 128;
const DESCRIPTION_MAX = LIMITS.text;
// The hook waits at most 55 s (TINA_PERMISSION_WAIT_MS); anything up to 5 minutes is accepted.
export const MAX_PROMPT_LIFETIME_MS = 5 * 60_000;
/** An open prompt is expired this long after its deadline (the daemon may be gone). */
export const EXPIRY_GRACE_MS = 5_000;
/** An answered prompt the laptop never settled is expired this long after its deadline. */
export const ANSWERED_GRACE_MS = 60_000;
/** Answered and settled prompts stay in the dashboard's list this long. */
export const RECENT_WINDOW_MS = 10 * 60_000;

const WHY = "allowing a tool runs it as the laptop's user, and a denial's message is read by the agent";

export function checkPromptId(promptId: string): string {
  return checkPattern("promptId", promptId, PROMPT_ID_RE, PROMPT_ID_EXPECTED);
}

// C0 (but tab and newline), DEL and C1.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

function checkNoControl(field: string, value: string, max: number): string {
  checkString(field, value, max, { allowEmpty: true });
  if (CONTROL.test(value)) invalid(field, "text without control characters");
  return value;
}

/** The JSON text of Claude Code's permission_suggestions: an array, at most 16 KiB. */
function checkSuggestions(raw: string): string {
  checkBytes("suggestions", raw, SUGGESTIONS_MAX_BYTES);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    invalid("suggestions", "the JSON text of permission_suggestions (an array)", "text that is not JSON");
  }
  if (!Array.isArray(parsed)) invalid("suggestions", "the JSON text of permission_suggestions (an array)", typeof parsed);
  return raw;
}

export type OpenArgs = PromptOpen & { orchestrationId?: Id<"orchestrations"> };

/** Opens a prompt for `node`; the same (node, promptId) again changes nothing. */
export async function openPrompt(ctx: MutationCtx, node: Doc<"nodes">, args: OpenArgs): Promise<{ ok: boolean; promptId?: Id<"prompts"> }> {
  // Everything is checked before anything is read or written.
  checkPromptId(args.promptId);
  checkPattern("sessionId", args.sessionId, SESSION_RE, "a Claude Code session id");
  if (args.cwd !== undefined) checkString("cwd", args.cwd, LIMITS.path);
  checkNoControl("toolName", args.toolName, TOOL_NAME_MAX);
  if (args.toolName.trim() === "") invalid("toolName", "a tool name");
  checkBytes("toolInput", args.toolInput, TOOL_INPUT_MAX_BYTES);
  checkString("toolInput", args.toolInput, TOOL_INPUT_MAX_BYTES);
  if (args.description !== undefined) checkString("description", args.description, DESCRIPTION_MAX, { allowEmpty: true });
  const suggestions = args.suggestions === undefined ? undefined : checkSuggestions(args.suggestions);
  if (args.teamDir !== undefined) checkPattern("teamDir", args.teamDir, TEAM_DIR_RE, "a team directory name");
  if (args.agentName !== undefined) checkPattern("agentName", args.agentName, AGENT_RE, "an agent name");
  checkTimestamp("openedAt", args.openedAt);
  checkTimestamp("expiresAt", args.expiresAt);
  const lifetime = args.expiresAt - args.openedAt;
  if (lifetime <= 0 || lifetime > MAX_PROMPT_LIFETIME_MS) {
    invalid("expiresAt", `after openedAt, by at most ${MAX_PROMPT_LIFETIME_MS / 1000} s`, `${lifetime} ms after it`);
  }

  const same = await ctx.db
    .query("prompts")
    .withIndex("by_prompt_node", (q) => q.eq("promptId", args.promptId))
    .take(2);
  if (same.some((p) => p.nodeId === node._id)) return { ok: true };
  // Random 32 hex digits never collide: another laptop's id is refused without saying whose.
  if (same.length > 0) fail("conflict", "that promptId is already in use; choose a new random one", "promptId");
  if (args.orchestrationId !== undefined) {
    const o = await ctx.db.get("orchestrations", args.orchestrationId);
    // Another laptop's orchestration looks exactly like a missing one.
    if (o === null || o.nodeId !== node._id) fail("not_found", "no such orchestration on this laptop", "orchestrationId");
  }
  // Convex's clock: the lifetime the laptop chose, from now (a laptop's clock may be off).
  const now = Date.now();
  const promptId = await ctx.db.insert("prompts", {
    nodeId: node._id,
    promptId: args.promptId,
    sessionId: args.sessionId,
    ...(args.cwd !== undefined ? { cwd: args.cwd } : {}),
    toolName: args.toolName,
    // What the dashboard shows: secrets are masked (the laptop runs its own copy of the input).
    toolInput: redactSecrets(args.toolInput),
    inputTruncated: args.inputTruncated ?? false,
    ...(args.description !== undefined ? { description: redactSecrets(args.description) } : {}),
    ...(suggestions !== undefined ? { suggestions } : {}),
    ...(args.teamDir !== undefined ? { teamDir: args.teamDir } : {}),
    ...(args.agentName !== undefined ? { agentName: args.agentName } : {}),
    ...(args.orchestrationId !== undefined ? { orchestrationId: args.orchestrationId } : {}),
    openedAt: now,
    expiresAt: now + lifetime,
    status: "open",
  });
  await requestNotify(ctx);
  return { ok: true, promptId };
}

function who(p: Doc<"prompts">): string {
  return p.answeredByName ?? "someone";
}

/** One line for the audit log: what was asked and what was decided. */
function describePrompt(p: Doc<"prompts">, laptop: string): string {
  const decision = p.decision === undefined ? "" : `${p.decision} by ${who(p)}, `;
  return `${decision}${p.toolName} on laptop "${laptop}"${p.agentName ? ` (agent ${p.agentName})` : ""}`;
}

async function laptopName(ctx: QueryCtx, nodeId: Id<"nodes">): Promise<string> {
  return (await ctx.db.get("nodes", nodeId))?.name ?? "(removed laptop)";
}

/** The dashboard answers an open prompt; refused (conflict) when it is no longer open. */
export async function answerPrompt(
  ctx: MutationCtx,
  user: User,
  actor: UserActor,
  promptId: string,
  decision: PromptDecision,
  message: string | undefined,
): Promise<void> {
  checkPromptId(promptId);
  if (message !== undefined) {
    checkNoControl("message", message, DENY_MESSAGE_MAX);
    // A blank message is no message; a real one goes only with deny.
    if (decision !== "deny" && message.trim() !== "") invalid("message", "no message (a message goes only with deny)");
  }
  const p = await ctx.db
    .query("prompts")
    .withIndex("by_prompt_node", (q) => q.eq("promptId", promptId))
    .first();
  if (p === null) fail("not_found", "no such permission prompt", "promptId");
  const node = await ctx.db.get("nodes", p.nodeId);
  if (node === null || node.revokedAt !== undefined) fail("forbidden", "that laptop's credential was revoked; its prompts cannot be answered");
  // Allowing a tool is code execution as the laptop's user: the laptop's messaging rule decides.
  checkMayMessage(node, user.role, WHY);
  const now = Date.now();
  if (p.status === "answered" || p.status === "applied" || p.status === "too_late") {
    fail("conflict", `already answered on ${node.name} by ${who(p)}`, "promptId");
  }
  if (p.status === "expired" || p.expiresAt <= now) fail("conflict", "expired: answered at the laptop", "promptId");
  if (decision === "allow_always" && p.suggestions === undefined) {
    fail("invalid_argument", `${p.toolName} offers no rule to allow always; allow once or deny`, "decision");
  }
  const text = message?.trim();
  await ctx.db.patch("prompts", p._id, {
    status: "answered",
    decision,
    ...(text ? { message: text } : {}),
    answeredBy: user.userId,
    answeredByName: user.name,
    answeredAt: now,
  });
  await requestNotify(ctx);
  await audit(ctx, actor, {
    verb: "prompt.answered",
    nodeId: node._id,
    nodeName: node.name,
    ...(p.orchestrationId ? { orchestrationId: p.orchestrationId } : {}),
    promptId: p._id,
    detail: `${decision} ${p.toolName} on laptop "${node.name}"${p.agentName ? ` (agent ${p.agentName})` : ""}${text ? `: ${text}` : ""}`,
  });
}

export type SettleResult = { ok: boolean; status: PromptStatus | "not_found" };

/** Which status each outcome may follow. */
const SETTLES_FROM: Record<PromptOutcome, readonly PromptStatus[]> = {
  applied: ["answered"],
  too_late: ["answered"],
  expired: ["open", "answered"],
};

/**
 * The daemon reports what became of a prompt. Settling again with the same outcome is a no-op
 * (a retried call); any other move out of a settled state is refused with `ok: false`.
 */
export async function settlePrompt(ctx: MutationCtx, node: Doc<"nodes">, actor: Actor, promptId: string, outcome: PromptOutcome): Promise<SettleResult> {
  checkPromptId(promptId);
  const p = await ctx.db
    .query("prompts")
    .withIndex("by_prompt_node", (q) => q.eq("promptId", promptId).eq("nodeId", node._id))
    .unique();
  // Another laptop's prompt looks exactly like a missing one.
  if (p === null) return { ok: false, status: "not_found" };
  if (p.status === outcome) return { ok: true, status: p.status };
  if (!SETTLES_FROM[outcome].includes(p.status)) return { ok: false, status: p.status };
  await settle(ctx, actor, p, outcome, node.name);
  return { ok: true, status: outcome };
}

const OUTCOME_TEXT: Record<PromptOutcome, string> = {
  applied: "handed to Claude Code",
  too_late: "too late: answered at the laptop",
  expired: "expired: no answer in time, answered at the laptop",
};

async function settle(ctx: MutationCtx, actor: Actor, p: Doc<"prompts">, outcome: PromptOutcome, laptop: string): Promise<void> {
  await ctx.db.patch("prompts", p._id, { status: outcome, settledAt: Date.now() });
  await requestNotify(ctx);
  await audit(ctx, actor, {
    verb: `prompt.${outcome}`,
    // A decision that never reached Claude Code did not happen.
    outcome: outcome === "applied" || p.decision === undefined ? "ok" : "failed",
    nodeId: p.nodeId,
    nodeName: laptop,
    ...(p.orchestrationId ? { orchestrationId: p.orchestrationId } : {}),
    promptId: p._id,
    detail: `${describePrompt(p, laptop)}: ${OUTCOME_TEXT[outcome]}`,
    // Answered from the dashboard: the log shows how it ended on the answer's row.
    folded: p.decision !== undefined,
  });
}

const EXPIRY: Actor = { kind: "system", job: "prompts.expiry" };

/** Expires `p` if it is still open (or answered and never settled) well past its deadline. */
export async function expireIfOverdue(ctx: MutationCtx, p: Doc<"prompts">, now: number): Promise<boolean> {
  const overdue =
    (p.status === "open" && p.expiresAt + EXPIRY_GRACE_MS <= now) || (p.status === "answered" && p.expiresAt + ANSWERED_GRACE_MS <= now);
  if (!overdue) return false;
  await settle(ctx, EXPIRY, p, "expired", await laptopName(ctx, p.nodeId));
  return true;
}
