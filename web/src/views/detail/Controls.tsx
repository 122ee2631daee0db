// Operator controls for one phase: approve / reject the plan, pause, resume, retry. Each is
// disabled with a reason when it does not apply, asks for confirmation where it matters, and
// shows the live status of what it sent.
import { useState } from "react";
import type { ActionDoc, Id, PhaseDoc } from "../../api";
import { Button, Dialog, Panel, ui } from "../../components/ui";
import { useSubmitAction } from "../../hooks/useSubmitAction";
import {
  defaultTargetPhase,
  messageTextProblem,
  needsConfirmation,
  PHASE_CONTROLS,
  phaseControlAvailability,
  type ActContext,
  type PhaseControl,
} from "../../lib/controls";
import { phaseTitle } from "../../lib/phases";
import { actionTypeLabel } from "../../lib/status";
import { ActionTracker } from "./ActionTracker";
import s from "../detail.module.css";

const CONFIRM_TEXT: Record<PhaseControl, (phase: string, laptop: string) => string> = {
  approve_plan: (p, l) => `The executor starts on phase ${p} with this plan on ${l}.`,
  reject_plan: (p) => `Phase ${p} goes back to planning; the planner gets your feedback.`,
  pause: (p, l) => `Phase ${p} stops at the next step on ${l} until someone resumes it.`,
  resume: (p) => `Phase ${p} continues where it was paused.`,
  retry: (p, l) => `Phase ${p} starts again from where it was blocked on ${l}.`,
};

const KIND: Record<PhaseControl, "primary" | "danger" | "default"> = {
  approve_plan: "primary",
  reject_plan: "danger",
  pause: "default",
  resume: "primary",
  retry: "primary",
};

export function Controls({
  orchestrationId,
  phases,
  attentionPhase,
  ctx,
  actions,
}: {
  orchestrationId: Id<"orchestrations">;
  phases: PhaseDoc[];
  attentionPhase: string | undefined;
  ctx: ActContext;
  actions: readonly ActionDoc[];
}) {
  const [chosen, setChosen] = useState<string | undefined>(undefined);
  const [asking, setAsking] = useState<PhaseControl | null>(null);
  const [feedback, setFeedback] = useState("");
  const [lastLabel, setLastLabel] = useState("");
  const { submission, send } = useSubmitAction();

  // Follow the phase that needs attention until the operator picks one.
  const target = (chosen !== undefined ? phases.find((p) => p.phaseNumber === chosen) : undefined) ?? defaultTargetPhase(phases, attentionPhase);

  const fire = (control: PhaseControl) => {
    if (target === undefined) return;
    setAsking(null);
    setLastLabel(`${actionTypeLabel(control)} · phase ${target.phaseNumber}`);
    const base = { orchestrationId, phase: target.phaseNumber };
    void send(control === "reject_plan" ? { type: control, ...base, feedback: feedback.trim() } : { type: control, ...base });
    if (control === "reject_plan") setFeedback("");
  };

  const tap = (control: PhaseControl) => {
    if (needsConfirmation(control)) setAsking(control);
    else fire(control);
  };

  const feedbackProblem = messageTextProblem(feedback);
  return (
    <Panel title="Controls" label="Controls">
      <div className={s.targetRow}>
        {phases.length > 1 ? (
          <label className={ui.field} style={{ flex: 1 }}>
            Acting on
            <select className={ui.input} value={target?.phaseNumber ?? ""} onChange={(e) => setChosen(e.target.value)}>
              {phases.map((p) => (
                <option key={p._id} value={p.phaseNumber}>
                  {phaseTitle(p.phaseNumber)} ({p.status.replace(/_/g, " ")})
                </option>
              ))}
            </select>
          </label>
        ) : (
          <span className={ui.secondary}>{target ? `Acting on ${phaseTitle(target.phaseNumber)}` : "No phase yet"}</span>
        )}
      </div>
      <div className={s.controlGrid}>
        {PHASE_CONTROLS.map((control) => {
          const a = phaseControlAvailability(control, target, ctx);
          return (
            <div key={control} className={s.control}>
              <Button
                kind={KIND[control]}
                onClick={() => tap(control)}
                disabledReason={a.enabled ? undefined : a.reason}
                disabled={submission.state === "sending"}
                data-testid={`control-${control}`}
              >
                {actionTypeLabel(control)}
              </Button>
              <span className={s.why} data-testid={`why-${control}`}>
                {a.enabled ? "" : a.reason}
              </span>
            </div>
          );
        })}
      </div>
      <ActionTracker submission={submission} actions={actions} label={lastLabel} />
      {asking !== null && target !== undefined && (
        <Dialog title={`${actionTypeLabel(asking)}: phase ${target.phaseNumber}?`} onClose={() => setAsking(null)}>
          <p>{CONFIRM_TEXT[asking](target.phaseNumber, ctx.laptopName)}</p>
          {asking === "reject_plan" && (
            <label className={ui.field}>
              What should the planner change?
              <textarea
                className={ui.input}
                value={feedback}
                onChange={(e) => setFeedback(e.target.value)}
                maxLength={4000}
                required
                data-testid="reject-feedback"
              />
              {feedback !== "" && feedbackProblem && <span style={{ color: "var(--danger-fg)" }}>{feedbackProblem}</span>}
            </label>
          )}
          <div className={ui.dialogButtons}>
            <Button onClick={() => setAsking(null)}>Cancel</Button>
            <Button
              kind={KIND[asking]}
              onClick={() => fire(asking)}
              disabledReason={asking === "reject_plan" && feedbackProblem ? feedbackProblem : undefined}
              data-testid="confirm"
            >
              {actionTypeLabel(asking)}
            </Button>
          </div>
        </Dialog>
      )}
    </Panel>
  );
}
