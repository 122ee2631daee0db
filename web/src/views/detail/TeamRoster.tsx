// Who works on this orchestration: agent, type, model, joined; and a message to any of them.
import { useState } from "react";
import type { ActionDoc, MemberDoc, TeamDetail } from "../../api";
import { Badge, Button, Dialog, EmptyState, Panel, Time, cx, ui } from "../../components/ui";
import { useSubmitAction } from "../../hooks/useSubmitAction";
import { messageAvailability, messageTextProblem, messagingReason, type ActContext } from "../../lib/controls";
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
  member: MemberDoc;
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

export function TeamRoster({ teams, ctx, actions }: { teams: TeamDetail[]; ctx: Omit<ActContext, "actions">; actions: readonly ActionDoc[] }) {
  const [messaging, setMessaging] = useState<{ team: TeamDetail["team"]; member: MemberDoc } | null>(null);
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
              {members.map((m) => {
                const a = messageAvailability(m, team, ctx);
                return (
                  <li key={m._id} className={cx(s.rowItem, m.removedAt !== undefined && s.removed)} data-testid="member" data-agent={m.agentName}>
                    <div className={s.rowHead}>
                      <strong>{m.agentName}</strong>
                      <Button small onClick={() => setMessaging({ team, member: m })} disabledReason={a.enabled ? undefined : a.reason} data-testid="message-open">
                        Message
                      </Button>
                    </div>
                    <span className={ui.secondary}>
                      {m.agentType ?? "agent"}
                      {m.model ? ` · ${m.model}` : ""}
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
                  </li>
                );
              })}
            </ul>
          </div>
        ))
      )}
      {messaging && <MessageDialog team={messaging.team} member={messaging.member} actions={actions} onClose={() => setMessaging(null)} />}
    </Panel>
  );
}
