// How a message reaches an agent: the ONE rule, pure (no database, no server imports), used by
// the server when a message is submitted (model/messaging.ts) and by the dashboard when it
// offers the routes (web/src/lib/controls.ts).
import type { Liveness, MemberReach, MessageRoute } from "./validators";

/** What the rule reads of a member. */
export type RouteMember = { agentId: string; agentName: string; reach?: MemberReach; liveness?: Liveness; livenessReason?: string };
/** What the rule reads of the member's team (ids as strings: the dashboard's are typed ids). */
export type RouteTeam = { leadAgentId?: string; orchestrationId?: string; phaseNumber?: string };

/** The routes a member offers, default first; for each route it does not offer, why not. */
export type RouteOffer = { routes: MessageRoute[]; unavailable: Partial<Record<MessageRoute, string>> };

/** Every route, in the order the default is chosen. */
export const MESSAGE_ROUTES: readonly MessageRoute[] = ["lead_session", "pane", "inbox"];

function paneReason(member: RouteMember): string {
  switch (member.reach) {
    case "in_process":
      return "it runs inside the lead's process, without a tmux pane of its own";
    case "lead":
      return "the lead has no tmux pane of its own";
    default:
      return "it has no tmux pane tina knows of";
  }
}

/**
 * Which routes reach `member`, default first: none once it has shut down or is gone; otherwise
 * the lead's tmux session for the lead of a team working on an orchestration phase, its own
 * pane when it has one, and always its inbox.
 */
export function messageRoutes(member: RouteMember, team: RouteTeam): RouteOffer {
  const name = member.agentName;
  const dead =
    member.liveness === "shut_down"
      ? `${name} has shut down`
      : member.liveness === "gone"
        ? `${name} is gone${member.livenessReason ? `: ${member.livenessReason}` : ""}`
        : null;
  if (dead !== null) return { routes: [], unavailable: { lead_session: dead, pane: dead, inbox: dead } };
  const routes: MessageRoute[] = [];
  const unavailable: Partial<Record<MessageRoute, string>> = {};
  const isLead = member.reach === "lead" || (team.leadAgentId !== undefined && member.agentId === team.leadAgentId);
  const inPhase = team.orchestrationId !== undefined && team.phaseNumber !== undefined;
  if (isLead && inPhase) routes.push("lead_session");
  else {
    unavailable.lead_session = isLead ? "its team works on no orchestration phase, so there is no lead session for it" : "it is not its team's lead";
  }
  if (member.reach === "pane") routes.push("pane");
  else unavailable.pane = paneReason(member);
  // Every member of a team has an inbox, by name.
  routes.push("inbox");
  return { routes, unavailable };
}
