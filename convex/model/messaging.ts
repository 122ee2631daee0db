// Who may send messages to the agents on a laptop. A message is typed into an agent's
// terminal, so it is code execution as the laptop's user: each laptop has a rule, set by the
// owner, checked when a message is submitted and again when the laptop claims it.
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";
import { audit, describeAction, type Actor, type UserActor } from "./audit";
import { fail } from "./errors";
import { messageRoutes, type RouteMember, type RouteTeam } from "./routes";
import { ROLE_RANK, type MessageRoute, type MessagingRule, type Role } from "./validators";

/** A laptop without a stored rule: only owners may message its agents. */
export const DEFAULT_MESSAGING: MessagingRule = "owners";

const LABEL: Record<MessagingRule, string> = { owners: "owners only", operators: "owners and operators", nobody: "nobody" };
const A_ROLE: Record<Role, string> = { owner: "an owner", operator: "an operator", viewer: "a viewer" };

export function messagingOf(node: Pick<Doc<"nodes">, "messaging">): MessagingRule {
  return node.messaging ?? DEFAULT_MESSAGING;
}

export function mayMessage(role: Role | undefined, rule: MessagingRule): boolean {
  if (role === undefined || rule === "nobody") return false;
  return ROLE_RANK[role] >= ROLE_RANK[rule === "owners" ? "owner" : "operator"];
}

/** The rule in words, naming the laptop. */
function ruleText(node: Pick<Doc<"nodes">, "name" | "messaging">): string {
  const rule = messagingOf(node);
  return rule === "nobody"
    ? `laptop "${node.name}" accepts no messages to its agents`
    : `laptop "${node.name}" accepts messages to its agents only from ${rule === "owners" ? "owners" : "owners and operators"}`;
}

const WHY_MESSAGE = "a message is typed into an agent's terminal as the laptop's user";

/**
 * Refuses a message to `node`'s agents from a user with `role`, naming the laptop and the rule.
 * `why` says why the rule applies (permission prompts: answering one runs a tool as the laptop's user).
 */
export function checkMayMessage(node: Pick<Doc<"nodes">, "name" | "messaging">, role: Role, why: string = WHY_MESSAGE): void {
  if (mayMessage(role, messagingOf(node))) return;
  fail("forbidden", `${ruleText(node)} (${why}); you are ${A_ROLE[role]}. An owner can change this on the Fleet page`);
}

// ---------------------------------------------------------------------------------------
// How a message reaches an agent: the rule is model/routes.ts (shared with the dashboard).

export { MESSAGE_ROUTES, messageRoutes, type RouteMember, type RouteOffer, type RouteTeam } from "./routes";

/**
 * The route a message to `member` takes: `via` when the member offers it, its default otherwise.
 * Refused (naming the agent and the reason) when it offers `via` not, or no route at all.
 */
export function chooseRoute(member: RouteMember, team: RouteTeam, via: MessageRoute | undefined): MessageRoute {
  const offer = messageRoutes(member, team);
  const route = via ?? offer.routes[0];
  if (route === undefined) {
    fail("invalid_argument", `${member.agentName} cannot be messaged: ${offer.unavailable.inbox}`, "agentName");
  }
  if (!offer.routes.includes(route)) {
    fail("invalid_argument", `${member.agentName} cannot be reached through ${route}: ${offer.unavailable[route]}`, "via");
  }
  return route;
}

const MESSAGING_GUARD: Actor = { kind: "system", job: "actions.messaging" };

/**
 * At claim time: a queued message whose sender the laptop's rule no longer allows (the rule
 * changed, or the sender's role did) is cancelled instead of typed. True when it was cancelled.
 */
export async function cancelIfNoLongerAllowed(ctx: MutationCtx, node: Doc<"nodes">, a: Doc<"inboundActions">): Promise<boolean> {
  if (a.type !== "send_message") return false;
  const userId = ctx.db.normalizeId("users", a.submittedBy);
  const member = userId === null ? null : await ctx.db.query("members").withIndex("by_user", (q) => q.eq("userId", userId)).first();
  if (mayMessage(member?.role, messagingOf(node))) return false;
  const message = `${ruleText(node)} now, and ${a.submittedByName ?? "its sender"} may no longer send it; it was not typed`;
  await ctx.db.patch("inboundActions", a._id, { status: "cancelled", finishedAt: Date.now(), result: { ok: false, code: "messaging_not_allowed", message } });
  await audit(ctx, MESSAGING_GUARD, {
    nodeId: a.nodeId,
    ...(a.orchestrationId ? { orchestrationId: a.orchestrationId } : {}),
    actionId: a._id,
    actionType: a.type,
    verb: "action.cancelled",
    outcome: "failed",
    detail: `${describeAction(a)}: ${message}`,
  });
  return true;
}

/** The owner sets who may message a laptop's agents. Audited when it changes. */
export async function setMessaging(ctx: MutationCtx, actor: UserActor, nodeId: Id<"nodes">, rule: MessagingRule): Promise<{ changed: boolean }> {
  const node = await ctx.db.get("nodes", nodeId);
  if (node === null) fail("not_found", "no such laptop", "nodeId");
  const before = messagingOf(node);
  if (before === rule) return { changed: false };
  await ctx.db.patch("nodes", nodeId, { messaging: rule });
  await audit(ctx, actor, {
    verb: "node.messaging_changed",
    nodeId,
    nodeName: node.name,
    detail: `messages to agents on laptop "${node.name}": ${LABEL[before]} → ${LABEL[rule]}`,
  });
  return { changed: true };
}
