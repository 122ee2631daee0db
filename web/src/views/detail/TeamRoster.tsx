// Who works on this orchestration: agent, working or idle, what it is doing, how it runs, type,
// model, joined; and a message to those tina can type to.
import { useState } from "react";
import type { ActionDoc, MemberDetail, MemberReach, TeamDetail } from "../../api";
import { Badge, Button, Dialog, EmptyState, Panel, Time, cx, ui } from "../../components/ui";
import { useSubmitAction } from "../../hooks/useSubmitAction";
import { messageAvailability, messageTextProblem, messagingReason, reachReason, type ActContext } from "../../lib/controls";
import { comparePhaseNumbers } from "../../lib/phases";
import { ActionTracker } from "./ActionTracker";
import s from "../detail.module.css";

function MessageDialog({
  team,
  member,
  actions,
  onClose,
}: {
  team: TeamDetail["team"];
  member: MemberDetail;
  actions: readonly ActionDoc[];
  onClose: () => void;
}) {
  const [text, setText] = useState("");
  const { submission, send } = useSubmitAction();
  const problem = messageTextProblem(text);
  // Once the tap is on its way, the form gives way to its live status.
  const sent = submission.state === "sending" || submission.state === "sent";
  return (
    <Dialog title={`Message ${member.agentName}`} onClose={onClose}>
      <p>
        Typed into {member.agentName}'s terminal in team {team.teamName}, as if you were at the laptop.
      </p>
      {!sent && (
        <label className={ui.field}>
          Message
          <textarea className={ui.input} value={text} onChange={(e) => setText(e.target.value)} maxLength={4000} data-testid="message-text" />
          {text !== "" && problem && <span style={{ color: "var(--danger-fg)" }}>{problem}</span>}
        </label>
      )}
      <ActionTracker submission={submission} actions={actions} label={`Message to ${member.agentName}`} />
      <div className={ui.dialogButtons}>
        <Button onClick={onClose}>{sent ? "Close" : "Cancel"}</Button>
        {!sent && (
          <Button
            kind="primary"
            disabledReason={problem ?? undefined}
            onClick={() => void send({ type: "send_message", teamId: team._id, agentName: member.agentName, text })}
            data-testid="message-send"
          >
            Send
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
  none: null, // said by the message reason
};

/** Working or idle, from Claude Code's `isActive`; nothing when it does not say, or the agent has left. */
function activityWord(m: MemberDetail): "working" | "idle" | null {
  if (m.removedAt !== undefined || m.isActive === undefined) return null;
  return m.isActive ? "working" : "idle";
}

/** What the agent is doing, from its teammate tracker; its subject alone is often just its name. */
function activityText(m: MemberDetail): string | null {
  if (m.removedAt !== undefined || m.activity === undefined) return null;
  if (m.activity.activeForm) return m.activity.activeForm;
  return m.activity.subject && m.activity.subject !== m.agentName ? m.activity.subject : null;
}

function MemberRow({
  member: m,
  availability: a,
  onMessage,
}: {
  member: MemberDetail;
  availability: ReturnType<typeof messageAvailability>;
  onMessage: () => void;
}) {
  const word = activityWord(m);
  const doing = activityText(m);
  const swatch = m.color === undefined ? undefined : SWATCHES[m.color.toLowerCase()];
  const how = m.reach === undefined ? null : HOW_IT_RUNS[m.reach];
  // Said in words beside the control (a disabled button's title is invisible on a phone).
  const unreachable = m.removedAt === undefined ? reachReason(m.reach) : null;
  const whyId = `why-message-${m._id}`;
  return (
    <li className={cx(s.rowItem, m.removedAt !== undefined && s.removed)} data-testid="member" data-agent={m.agentName}>
      <div className={s.rowHead}>
        <span className={s.memberName}>
          {swatch && <span className={s.swatch} style={{ background: swatch }} data-testid="member-color" data-color={m.color} aria-hidden />}
          <strong>{m.agentName}</strong>
          {word && (
            <Badge tone={word === "working" ? "progress" : "muted"}>
              <span data-testid="member-state">{word}</span>
            </Badge>
          )}
        </span>
        <Button
          small
          onClick={onMessage}
          disabledReason={a.enabled ? undefined : a.reason}
          aria-label={`Message ${m.agentName}`}
          aria-describedby={unreachable ? whyId : undefined}
          data-testid="message-open"
        >
          Message
        </Button>
      </div>
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

export function TeamRoster({ teams, ctx, actions }: { teams: TeamDetail[]; ctx: Omit<ActContext, "actions">; actions: readonly ActionDoc[] }) {
  const [messaging, setMessaging] = useState<{ team: TeamDetail["team"]; member: MemberDetail } | null>(null);
  const ordered = [...teams].sort((a, b) => comparePhaseNumbers(a.team.phaseNumber ?? "999", b.team.phaseNumber ?? "999"));
  const count = teams.reduce((n, t) => n + t.members.filter((m) => m.removedAt === undefined).length, 0);
  // Said once in words as well (a disabled button's title is invisible on a phone); viewers hear about their role instead.
  const rule = ctx.role === undefined || ctx.role === "viewer" ? null : messagingReason(ctx.role, ctx.laptopMessaging, ctx.laptopName);
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
                <MemberRow key={m._id} member={m} availability={messageAvailability(m, team, ctx)} onMessage={() => setMessaging({ team, member: m })} />
              ))}
            </ul>
          </div>
        ))
      )}
      {messaging && <MessageDialog team={messaging.team} member={messaging.member} actions={actions} onClose={() => setMessaging(null)} />}
    </Panel>
  );
}
