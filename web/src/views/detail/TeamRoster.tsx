// Who works on this orchestration: agent, its liveness in words (working, idle, waiting for
// permission, shut down, gone) and why, what it is doing, how it runs, type, model, joined; and a
// message to any agent through the routes it offers (its team's tmux session, its pane, its inbox).
import { useCallback, useEffect, useId, useRef, useState } from "react";
import type { ListedAction, MemberDetail, MemberReach, MessageRoute, TeamDetail } from "../../api";
import { Badge, Button, Dialog, EmptyState, Panel, Time, cx, ui } from "../../components/ui";
import { useSubmitAction } from "../../hooks/useSubmitAction";
import { messageAvailability, messageRoutes, messageTextProblem, messagingReason, routeHelp, ROUTE_LABELS, type ActContext } from "../../lib/controls";
import { deliveryState } from "../../lib/delivery";
import { LIVENESS_LABELS, LIVENESS_TONES, memberLiveness } from "../../lib/liveness";
import { comparePhaseNumbers } from "../../lib/phases";
import { ActionTracker } from "./ActionTracker";
import { DeliveryState } from "./Delivery";
import s from "../detail.module.css";

export const MESSAGE_MAX = 4000;

function MessageDialog({
  team,
  member,
  actions,
  draft,
  onDraft,
  onClose,
}: {
  team: TeamDetail["team"];
  member: MemberDetail;
  actions: readonly ListedAction[];
  /** What was typed to this agent, kept by the roster while the composer is closed. */
  draft: string;
  onDraft: (text: string) => void;
  onClose: () => void;
}) {
  const text = draft;
  const setText = onDraft;
  const [chosen, setChosen] = useState<MessageRoute | undefined>(undefined);
  const { submission, send } = useSubmitAction();
  const ids = useId();
  const offer = messageRoutes(member, team);
  // The operator's choice while the member still offers it, else its default.
  const via = chosen !== undefined && offer.routes.includes(chosen) ? chosen : offer.routes[0];
  const sentAction = submission.state === "sent" ? actions.find((a) => a._id === submission.actionId) : undefined;
  const failed = sentAction !== undefined && deliveryState(sentAction).step === "failed";
  // While the message is on its way the form gives way to its live state; after a failure the
  // text is still there to send again.
  const composing = submission.state === "idle" || submission.state === "refused" || submission.state === "unsent" || failed;
  const problem = messageTextProblem(text, MESSAGE_MAX) ?? (via === undefined ? (offer.unavailable.inbox ?? "no way to reach this agent") : null);
  const retry = submission.state === "unsent" || failed;
  const counterId = `${ids}-count`;
  // A message on its way or delivered is done with: its text is not kept for next time. Read
  // through a ref, so the dialog's close handler stays the same (it would take focus back).
  const done = useRef(false);
  useEffect(() => {
    done.current = !composing;
  }, [composing]);
  const close = useCallback(() => {
    if (done.current) onDraft("");
    onClose();
  }, [onDraft, onClose]);
  return (
    <Dialog title={`Message ${member.agentName}`} onClose={close} labelledBy={`${ids}-title`}>
      {submission.state === "sent" && <DeliveryState action={sentAction} agentName={member.agentName} />}
      {(submission.state === "sending" || submission.state === "refused" || submission.state === "unsent") && (
        <ActionTracker submission={submission} actions={actions} label={`Message to ${member.agentName}`} />
      )}
      {composing && (
        <>
          <label className={ui.field}>
            Message
            <textarea
              className={ui.input}
              value={text}
              onChange={(e) => setText(e.target.value)}
              rows={4}
              aria-describedby={counterId}
              aria-invalid={text !== "" && problem !== null ? true : undefined}
              data-testid="message-text"
            />
          </label>
          <span id={counterId} className={cx(ui.secondary, s.counter, text.length > MESSAGE_MAX && s.over)} data-testid="message-count">
            {text.length.toLocaleString("en-US")} / {MESSAGE_MAX.toLocaleString("en-US")} characters
          </span>
          {text !== "" && problem && <span style={{ color: "var(--danger-fg)" }}>{problem}</span>}
          {offer.routes.length === 0 ? (
            <p data-testid="message-no-route">Can't message: {offer.unavailable.inbox}</p>
          ) : (
            <fieldset className={s.routes} data-testid="message-routes">
              <legend>Deliver by</legend>
              {offer.routes.map((route) => (
                <label key={route} className={s.route}>
                  <input
                    type="radio"
                    name={`${ids}-via`}
                    value={route}
                    checked={via === route}
                    onChange={() => setChosen(route)}
                    aria-describedby={`${ids}-${route}`}
                    data-testid={`route-${route}`}
                  />
                  <span>
                    <strong>{ROUTE_LABELS[route]}</strong>
                    <span id={`${ids}-${route}`} className={ui.secondary}>
                      {routeHelp(route, member.agentName)}
                    </span>
                  </span>
                </label>
              ))}
            </fieldset>
          )}
        </>
      )}
      <div className={ui.dialogButtons}>
        <Button onClick={close}>{composing ? "Cancel" : "Close"}</Button>
        {composing && (
          <Button
            kind="primary"
            disabledReason={problem ?? undefined}
            reason={text !== "" ? "none" : "below"}
            onClick={() => {
              if (via === undefined) return;
              void send({ type: "send_message", teamId: team._id, agentName: member.agentName, text, via });
            }}
            data-testid="message-send"
          >
            {retry ? "Retry" : "Send"}
          </Button>
        )}
      </div>
    </Dialog>
  );
}

// Claude Code's teammate colours. Only these names become a swatch: the colour is decoration,
// never the only sign of anything, and an unknown value is not passed on to CSS.
const SWATCHES: Record<string, string> = {
  red: "#e03131",
  orange: "#f08c00",
  yellow: "#f5c400",
  green: "#2f9e44",
  cyan: "#1098ad",
  blue: "#1c7ed6",
  purple: "#7048e8",
  pink: "#d6336c",
};

const HOW_IT_RUNS: Record<MemberReach, string | null> = {
  pane: "runs in its own tmux pane",
  in_process: "runs in-process, inside the lead",
  lead: "the lead itself",
  none: null,
};

/** What the agent is doing, from its teammate tracker; its subject alone is often just its name. */
function activityText(m: MemberDetail): string | null {
  if (m.removedAt !== undefined || m.activity === undefined) return null;
  if (m.liveness === "shut_down" || m.liveness === "gone") return null;
  if (m.activity.activeForm) return m.activity.activeForm;
  return m.activity.subject && m.activity.subject !== m.agentName ? m.activity.subject : null;
}

function MemberRow({
  member: m,
  team,
  availability: a,
  onMessage,
}: {
  member: MemberDetail;
  team: TeamDetail["team"];
  availability: ReturnType<typeof messageAvailability>;
  onMessage: () => void;
}) {
  const live = memberLiveness(m);
  const doing = activityText(m);
  const swatch = m.color === undefined ? undefined : SWATCHES[m.color.toLowerCase()];
  const how = m.reach === undefined ? null : HOW_IT_RUNS[m.reach];
  // Said in words beside the control (a disabled button's title is invisible on a phone).
  const offer = messageRoutes(m, team);
  const unreachable = m.removedAt === undefined && offer.routes.length === 0 ? (offer.unavailable.inbox ?? null) : null;
  const whyId = `why-message-${m._id}`;
  return (
    <li className={cx(s.rowItem, m.removedAt !== undefined && s.removed)} data-testid="member" data-agent={m.agentName} data-liveness={live ?? undefined}>
      <div className={s.rowHead}>
        <span className={s.memberName}>
          {swatch && <span className={s.swatch} style={{ background: swatch }} data-testid="member-color" data-color={m.color} aria-hidden />}
          <strong>{m.agentName}</strong>
          {live && (
            <Badge tone={LIVENESS_TONES[live]}>
              <span data-testid="member-state">{LIVENESS_LABELS[live]}</span>
            </Badge>
          )}
        </span>
        <Button
          small
          onClick={onMessage}
          disabledReason={a.enabled ? undefined : a.reason}
          aria-label={`Message ${m.agentName}`}
          aria-describedby={unreachable ? whyId : undefined}
          reason={unreachable ? "none" : "below"}
          data-testid="message-open"
        >
          Message
        </Button>
      </div>
      {live && m.liveness !== undefined && m.livenessReason && (
        <span className={ui.secondary} data-testid="member-liveness-reason">
          {m.livenessReason}
        </span>
      )}
      {doing && (
        <span data-testid="member-activity">
          <span className={ui.secondary}>Now: </span>
          {doing}
        </span>
      )}
      <span className={ui.secondary}>
        {m.agentType ?? "agent"}
        {m.model ? ` · ${m.model}` : ""}
        {how && <span data-testid="member-runs"> · {how}</span>}
        {m.joinedAt !== undefined && (
          <>
            {" "}
            · joined <Time at={m.joinedAt} />
          </>
        )}
        {m.removedAt !== undefined && (
          <>
            {" "}
            · <Badge tone="muted">left</Badge>
          </>
        )}
      </span>
      {m.planModeRequired === true && m.removedAt === undefined && (
        <span className={ui.secondary} data-testid="member-plan">
          plan approval required
        </span>
      )}
      {unreachable && (
        <span id={whyId} className={ui.secondary} data-testid="message-why">
          Can't message: {unreachable}
        </span>
      )}
    </li>
  );
}

export function TeamRoster({ teams, ctx, actions }: { teams: TeamDetail[]; ctx: Omit<ActContext, "actions">; actions: readonly ListedAction[] }) {
  const [messaging, setMessaging] = useState<{ teamId: TeamDetail["team"]["_id"]; memberId: MemberDetail["_id"] } | null>(null);
  // Stable, so the dialog does not take focus back each time the page's data changes.
  const close = useCallback(() => setMessaging(null), []);
  // Unsent text per agent: closing the composer (or a failure) never loses what was typed.
  const [drafts, setDrafts] = useState<Record<string, string>>({});
  const draftKey = messaging ? `${messaging.teamId}/${messaging.memberId}` : "";
  const onDraft = useCallback((text: string) => setDrafts((d) => ({ ...d, [draftKey]: text })), [draftKey]);
  const ordered = [...teams].sort((a, b) => comparePhaseNumbers(a.team.phaseNumber ?? "999", b.team.phaseNumber ?? "999"));
  const count = teams.reduce((n, t) => n + t.members.filter((m) => m.removedAt === undefined).length, 0);
  // Said once in words as well (a disabled button's title is invisible on a phone); viewers hear about their role instead.
  const rule = ctx.role === undefined || ctx.role === "viewer" ? null : messagingReason(ctx.role, ctx.laptopMessaging, ctx.laptopName);
  // The dialog follows the live rows, so a member that shuts down meanwhile says so.
  const open = messaging && teams.find((t) => t.team._id === messaging.teamId);
  const openMember = open ? open.members.find((m) => m._id === messaging?.memberId) : undefined;
  return (
    <Panel title={`Team (${count})`} flush label="Team roster">
      {rule !== null && teams.length > 0 && (
        <p className={cx(ui.secondary, s.rosterNote)} data-testid="message-rule">
          {rule.charAt(0).toUpperCase() + rule.slice(1)}.
        </p>
      )}
      {teams.length === 0 ? (
        <EmptyState title="No agents yet." />
      ) : (
        ordered.map(({ team, members }) => (
          <div key={team._id}>
            <div className={s.teamTitle}>
              {team.phaseNumber ? `Phase ${team.phaseNumber} · ` : ""}
              {team.teamName}
              {team.removedAt !== undefined && " (ended)"}
            </div>
            <ul className={s.rows}>
              {members.map((m) => (
                <MemberRow
                  key={m._id}
                  member={m}
                  team={team}
                  availability={messageAvailability(m, team, ctx)}
                  onMessage={() => setMessaging({ teamId: team._id, memberId: m._id })}
                />
              ))}
            </ul>
          </div>
        ))
      )}
      {open && openMember && (
        <MessageDialog team={open.team} member={openMember} actions={actions} draft={drafts[draftKey] ?? ""} onDraft={onDraft} onClose={close} />
      )}
    </Panel>
  );
}
