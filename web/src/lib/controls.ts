// Which operator controls apply right now, and if not, why. Pure: the views only render
// what these functions decide, and the tests pin every reason.
import type { ActionDoc, ActionType, MessageRoute, MessagingRule, OrchestrationStatus, PhaseStatus } from "../api";
import { messageRoutes, type RouteMember, type RouteTeam } from "../../../convex/model/routes";
import { isFinalActionStatus } from "./status";

export type Role = "owner" | "operator" | "viewer";

export type Availability = { enabled: true } | { enabled: false; reason: string };

const OK: Availability = { enabled: true };
const no = (reason: string): Availability => ({ enabled: false, reason });

/** What every control needs to know about who acts and where. */
export type ActContext = {
  /** The signed-in user's role; undefined while it is loading. */
  role: Role | undefined;
  laptopName: string;
  laptopOnline: boolean;
  /** Who may message the laptop's agents (the owner sets it on the Fleet page). */
  laptopMessaging: MessagingRule;
  /** Actions of this orchestration that are still on their way (any status is fine: finals are ignored). */
  actions: readonly Pick<ActionDoc, "type" | "status" | "payload">[];
};

export type PhaseControl = Extract<ActionType, "pause" | "resume" | "retry" | "approve_plan" | "reject_plan">;

export const PHASE_CONTROLS: readonly PhaseControl[] = ["approve_plan", "reject_plan", "pause", "resume", "retry"];

const PAUSABLE: ReadonlySet<PhaseStatus> = new Set(["planning", "planned", "awaiting_approval", "executing", "reviewing"]);

function roleReason(role: Role | undefined): string | null {
  if (role === undefined) return "checking your permissions…";
  if (role === "viewer") return "viewers can look but not act; ask an owner for the operator role";
  return null;
}

/** The rules in the order the owner chooses from, as the Fleet page names them. */
export const MESSAGING_RULES: readonly MessagingRule[] = ["owners", "operators", "nobody"];
export const MESSAGING_RULE_LABELS: Record<MessagingRule, string> = {
  owners: "Owners only",
  operators: "Owners and operators",
  nobody: "Nobody",
};

/** Why this user may not message agents on the laptop (its rule), or null. The server checks the same. */
export function messagingReason(role: Role | undefined, rule: MessagingRule, laptop: string): string | null {
  if (rule === "nobody") return `messages to agents on ${laptop} are turned off; an owner can turn them on on the Fleet page`;
  if (rule === "owners" && role !== "owner") return `only owners may message agents on ${laptop}; an owner can allow operators on the Fleet page`;
  return null;
}

function offlineReason(ctx: ActContext): string | null {
  return ctx.laptopOnline ? null : `${ctx.laptopName} is offline; actions would wait and expire`;
}

/** Why `control` does not apply to a phase in `status`, or null when it does. */
export function phaseStateReason(control: PhaseControl, phase: string, status: PhaseStatus): string | null {
  switch (control) {
    case "approve_plan":
    case "reject_plan":
      return status === "awaiting_approval" ? null : `no plan is waiting for approval in phase ${phase}`;
    case "pause":
      if (PAUSABLE.has(status)) return null;
      if (status === "paused") return `phase ${phase} is already paused`;
      if (status === "blocked") return `phase ${phase} is blocked; retry it instead`;
      return `phase ${phase} is complete`;
    case "resume":
      return status === "paused" ? null : `phase ${phase} is not paused`;
    case "retry":
      return status === "blocked" || status === "paused" ? null : `phase ${phase} is not blocked`;
  }
}

/** The controls that apply to a phase in its state now (the others are not shown). */
export function applicableControls(phase: { phaseNumber: string; status: PhaseStatus } | undefined): PhaseControl[] {
  if (phase === undefined) return [];
  return PHASE_CONTROLS.filter((c) => phaseStateReason(c, phase.phaseNumber, phase.status) === null);
}

/** An orchestration in a status it never leaves (of the status set, only "complete"): no controls are shown. */
export function isFinishedOrchestration(status: OrchestrationStatus): boolean {
  return status === "complete";
}

const STEP_WORDS: Record<string, string> = {
  planning: "planning",
  planned: "the plan",
  awaiting_approval: "the plan approval",
  executing: "execution",
  reviewing: "review",
};

/** One line on what a control does to the phase, said before the operator taps it. */
export function controlHelp(control: PhaseControl, phase: { phaseNumber: string; status: PhaseStatus; pausedFrom?: string }): string {
  const p = phase.phaseNumber;
  const step = phase.pausedFrom !== undefined ? STEP_WORDS[phase.pausedFrom] : undefined;
  switch (control) {
    case "approve_plan":
      return `Starts executing phase ${p} with the plan shown above.`;
    case "reject_plan":
      return `Sends phase ${p} back to planning with your feedback for the planner.`;
    case "pause":
      return `Stops phase ${p} at its next step until someone resumes it; nothing is lost.`;
    case "resume":
      return `Continues phase ${p} where it stopped${step ? ` (${step})` : ""}, keeping the work done so far.`;
    case "retry":
      return phase.status === "paused"
        ? `Instead of continuing, starts ${step ? `${step} of phase ${p}` : `phase ${p}'s current step`} again from its beginning with a fresh agent.`
        : `Starts phase ${p}'s blocked step again with a fresh agent; fix what blocked it first.`;
  }
}

const PHRASES: Record<ActionType, string> = {
  approve_plan: "an approval",
  reject_plan: "a rejection",
  pause: "a pause",
  resume: "a resume",
  retry: "a retry",
  send_message: "a message",
};

/** The same control for the same phase is already queued or running. */
function inFlightReason(control: PhaseControl, phase: string, ctx: ActContext): string | null {
  const exclusive: readonly ActionType[] =
    control === "approve_plan" || control === "reject_plan" ? ["approve_plan", "reject_plan"] : [control];
  const busy = ctx.actions.find(
    (a) => exclusive.includes(a.type) && a.payload.phase === phase && !isFinalActionStatus(a.status),
  );
  return busy === undefined ? null : `${PHRASES[busy.type]} for phase ${phase} is already on its way`;
}

/**
 * Why the plan the dashboard shows cannot be approved: it is loading, has not reached the
 * dashboard, or its file is gone (an approval names the revision the operator read).
 */
export function planApprovalReason(doc: { missing: boolean; hash?: string } | null | undefined, phase: string): string | null {
  if (doc === undefined) return "loading the plan…";
  if (doc === null || (!doc.missing && doc.hash === undefined)) return "the plan has not reached the dashboard yet";
  if (doc.missing) return `the plan of phase ${phase} is gone from the laptop`;
  return null;
}

/** The laptop's or the server's answer that the plan is no longer the one approved. */
export function isPlanChange(code: string | undefined): boolean {
  return code === "conflict" || code === "plan_changed" || code === "plan_missing";
}

/** Whether a phase control can be used now; the first reason that stops it otherwise. */
export function phaseControlAvailability(
  control: PhaseControl,
  phase: { phaseNumber: string; status: PhaseStatus } | undefined,
  ctx: ActContext,
): Availability {
  const role = roleReason(ctx.role);
  if (role) return no(role);
  if (phase === undefined) return no("no phase has started yet");
  const state = phaseStateReason(control, phase.phaseNumber, phase.status);
  if (state) return no(state);
  const busy = inFlightReason(control, phase.phaseNumber, ctx);
  if (busy) return no(busy);
  const offline = offlineReason(ctx);
  if (offline) return no(offline);
  return OK;
}

// ---------------------------------------------------------------------------------------
// How a message reaches an agent: the rule is Convex's own (convex/model/routes.ts, pure), so
// the dashboard offers exactly the routes the server accepts.
export { MESSAGE_ROUTES, messageRoutes, type RouteMember, type RouteOffer, type RouteTeam } from "../../../convex/model/routes";

/** The choice as the composer names it. */
export const ROUTE_LABELS: Record<MessageRoute, string> = {
  lead_session: "Tmux session",
  pane: "Its pane",
  inbox: "Inbox",
};

/** One line on what each route does, naming the agent. */
export function routeHelp(route: MessageRoute, agent: string): string {
  switch (route) {
    case "lead_session":
      return `Typed into the phase's tmux session, where ${agent} runs, as if you were at the laptop.`;
    case "pane":
      return `Typed into ${agent}'s own tmux pane, as if you were at the laptop.`;
    case "inbox":
      return `Written to ${agent}'s team inbox; Claude Code hands it over when ${agent} next takes a turn.`;
  }
}

/** Whether a message can be sent to an agent now (through at least one of its routes). */
export function messageAvailability(
  member: (RouteMember & { removedAt?: number }) | undefined,
  team: RouteTeam & { removedAt?: number },
  ctx: Omit<ActContext, "actions">,
): Availability {
  const role = roleReason(ctx.role);
  if (role) return no(role);
  const rule = messagingReason(ctx.role, ctx.laptopMessaging, ctx.laptopName);
  if (rule) return no(rule);
  if (team.removedAt !== undefined) return no("this team has ended");
  if (member === undefined) return no("choose an agent");
  if (member.removedAt !== undefined) return no(`${member.agentName} has left the team`);
  const offer = messageRoutes(member, team);
  if (offer.routes.length === 0) return no(offer.unavailable.inbox ?? `${member.agentName} cannot be reached`);
  const offline = offlineReason({ ...ctx, actions: [] });
  if (offline) return no(offline);
  return OK;
}

/** Checks the operator's text the way the server will, so mistakes show before sending. */
export function messageTextProblem(text: string, maxLength = 4000): string | null {
  if (text.trim().length === 0) return "write something to send";
  if (text.length > maxLength) return `at most ${maxLength} characters (${text.length} now)`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(text)) return "remove control characters";
  return null;
}

/** Which controls ask "are you sure?" before they are sent. */
export function needsConfirmation(control: ActionType): boolean {
  return control !== "resume" && control !== "send_message";
}

type PhaseLike = { phaseNumber: string; status: PhaseStatus };

/**
 * The phase the controls act on by default: the one needing attention, else the first that
 * waits or is stopped, else the last one that is not complete, else the last phase.
 */
export function defaultTargetPhase<P extends PhaseLike>(
  phases: readonly P[],
  attentionPhase: string | undefined,
): P | undefined {
  if (attentionPhase !== undefined) {
    const hit = phases.find((p) => p.phaseNumber === attentionPhase);
    if (hit) return hit;
  }
  const stopped = phases.find((p) => p.status === "awaiting_approval" || p.status === "blocked" || p.status === "paused");
  if (stopped) return stopped;
  const open = phases.filter((p) => p.status !== "complete");
  return open[open.length - 1] ?? phases[phases.length - 1];
}
