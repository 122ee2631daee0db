// Operator controls for one phase: approve / reject the plan, pause, resume, retry. Only the
// controls that apply to the phase's state are shown, each with one line on what it does; one
// that applies but cannot be used now (role, laptop offline, already on its way) is disabled with
// its reason in words. A control asks for confirmation where it matters and shows the live status
// of what it sent. A plan waiting for approval is shown here, and the
// approval names the revision the operator read: a plan that changed meanwhile is refused and
// can be read again.
import { useQuery } from "convex/react";
import { useCallback, useId, useState } from "react";
import { api, type ActionDoc, type DocumentView, type Id, type PhaseDoc } from "../../api";
import { Button, Dialog, Panel, Time, cx, ui } from "../../components/ui";
import { useSubmitAction } from "../../hooks/useSubmitAction";
import {
  applicableControls,
  controlHelp,
  defaultTargetPhase,
  isPlanChange,
  messageTextProblem,
  needsConfirmation,
  phaseControlAvailability,
  planApprovalReason,
  type ActContext,
  type PhaseControl,
} from "../../lib/controls";
import { revision } from "../../lib/documents";
import { phaseTitle } from "../../lib/phases";
import { actionTypeLabel, phaseStatusLabel } from "../../lib/status";
import { ActionTracker } from "./ActionTracker";
import { DocumentBody } from "./Documents";
import s from "../detail.module.css";

const CONFIRM_TEXT: Record<PhaseControl, (phase: string, laptop: string) => string> = {
  approve_plan: (p, l) => `The executor starts on phase ${p} with this plan on ${l}.`,
  reject_plan: (p) => `Phase ${p} goes back to planning; the planner gets your feedback.`,
  pause: (p, l) => `Phase ${p} stops at the next step on ${l} until someone resumes it.`,
  resume: (p) => `Phase ${p} continues where it was paused.`,
  retry: (p, l) => `Phase ${p} starts again from where it was blocked on ${l}.`,
};

/** The reject feedback's limit, as the server checks it. */
export const FEEDBACK_MAX = 4000;

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
  phases: (PhaseDoc & { pausedFrom?: string })[];
  attentionPhase: string | undefined;
  ctx: ActContext;
  actions: readonly ActionDoc[];
}) {
  const ids = useId();
  const [chosen, setChosen] = useState<string | undefined>(undefined);
  const [asking, setAsking] = useState<PhaseControl | null>(null);
  const [feedback, setFeedback] = useState("");
  const [lastLabel, setLastLabel] = useState("");
  const { submission, send, reset } = useSubmitAction();
  const close = useCallback(() => setAsking(null), []);

  // Follow the phase that needs attention until the operator picks one.
  const target = (chosen !== undefined ? phases.find((p) => p.phaseNumber === chosen) : undefined) ?? defaultTargetPhase(phases, attentionPhase);

  // The plan waiting for approval: the revision the operator reads stays put while they read it,
  // even when the laptop sends a newer one (they are told, and choose to see it).
  const awaiting = target?.status === "awaiting_approval" ? target.phaseNumber : undefined;
  const live = useQuery(api.documents.getDocument, awaiting !== undefined ? { orchestrationId, kind: "plan", phase: awaiting } : "skip");
  const [pinned, setPinned] = useState<{ phase: string; doc: DocumentView } | null>(null);
  const pinnedHere = pinned !== null && pinned.phase === awaiting ? pinned.doc : undefined;
  // Revisions an operator already rejected for this phase.
  const rejected = new Set(
    actions.flatMap((a) => (a.type === "reject_plan" && a.payload.phase === awaiting && a.payload.planHash !== undefined ? [a.payload.planHash] : [])),
  );
  if (awaiting === undefined && pinned !== null) {
    // The phase left the approval gate (approved, rejected...): the next plan it waits with is
    // a new one to read, not a change to the one read before.
    setPinned(null);
  } else if (
    awaiting !== undefined &&
    live &&
    live !== pinnedHere &&
    (pinnedHere === undefined || pinnedHere.hash === undefined || (rejected.has(pinnedHere.hash) && live.hash !== pinnedHere.hash))
  ) {
    // Nothing was read yet, there was nothing to read, or what was shown is a revision already
    // rejected (the laptop had not sent the new plan yet): show what arrived.
    setPinned({ phase: awaiting, doc: live });
  }
  const shown: DocumentView | null | undefined = awaiting === undefined ? undefined : (pinnedHere ?? live);
  const changed = shown != null && live != null && (live.hash !== shown.hash || live.missing !== shown.missing);
  const shownHash = shown != null && !shown.missing ? shown.hash : undefined;
  const lastAction = submission.state === "sent" ? actions.find((a) => a._id === submission.actionId) : undefined;
  const refusedForPlan =
    awaiting !== undefined &&
    ((submission.state === "refused" && isPlanChange(submission.code)) ||
      (lastAction !== undefined && lastAction.type === "approve_plan" && isPlanChange(lastAction.result?.code)));
  const showNewPlan = () => {
    if (awaiting !== undefined && live) setPinned({ phase: awaiting, doc: live });
    reset();
  };

  const fire = (control: PhaseControl) => {
    if (target === undefined) return;
    setAsking(null);
    setLastLabel(`${actionTypeLabel(control)} · phase ${target.phaseNumber}`);
    const base = { orchestrationId, phase: target.phaseNumber };
    const plan = shownHash !== undefined ? { planHash: shownHash } : {};
    if (control === "approve_plan") void send({ type: control, ...base, ...plan });
    else if (control === "reject_plan") void send({ type: control, ...base, feedback: feedback.trim(), ...plan });
    else void send({ type: control, ...base });
    if (control === "reject_plan") setFeedback("");
  };

  const tap = (control: PhaseControl) => {
    if (needsConfirmation(control)) setAsking(control);
    else fire(control);
  };

  const feedbackProblem = messageTextProblem(feedback, FEEDBACK_MAX);
  const controls = applicableControls(target);
  // The phases one can act on: those not complete (all of them when every one is).
  const open = phases.filter((p) => p.status !== "complete");
  const choices = open.length > 0 ? open : phases;
  return (
    <Panel title="Controls" label="Controls">
      <div className={s.targetRow}>
        {choices.length > 1 ? (
          <label className={ui.field} style={{ flex: 1 }}>
            Acting on
            <select className={ui.input} value={target?.phaseNumber ?? ""} onChange={(e) => setChosen(e.target.value)}>
              {(target !== undefined && !choices.includes(target) ? [target, ...choices] : choices).map((p) => (
                <option key={p._id} value={p.phaseNumber}>
                  {phaseTitle(p.phaseNumber)} ({phaseStatusLabel(p.status).toLowerCase()})
                </option>
              ))}
            </select>
          </label>
        ) : (
          <span className={ui.secondary}>{target ? `Acting on ${phaseTitle(target.phaseNumber)}` : "No phase yet"}</span>
        )}
      </div>
      {awaiting !== undefined && (
        <section className={s.planBox} aria-label="Plan waiting for approval" data-testid="approval-plan">
          <h3>Plan of phase {awaiting}</h3>
          {(changed || refusedForPlan) && (
            <div className={s.planChanged} role="status" data-testid="plan-changed">
              <span>
                {changed ? "The plan changed on the laptop since you opened it." : "The plan you read is not the one on the laptop any more."} Read it again
                before approving.
              </span>
              <Button small onClick={showNewPlan} data-testid="show-new-plan">
                Show the new plan
              </Button>
            </div>
          )}
          <DocumentBody doc={shown} kind="plan" label={`Plan of phase ${awaiting}, for approval`} />
        </section>
      )}
      {target !== undefined && controls.length === 0 && (
        <p className={ui.secondary} data-testid="controls-none">
          Nothing to do on {phaseTitle(target.phaseNumber).toLowerCase()} now: it is {phaseStatusLabel(target.status).toLowerCase()}.
          {target.status === "complete" ? "" : " Pause, resume and retry appear here when they apply."}
        </p>
      )}
      <ul className={s.controlList}>
        {target !== undefined &&
          controls.map((control) => {
            let a = phaseControlAvailability(control, target, ctx);
            if (a.enabled && control === "approve_plan") {
              const plan = planApprovalReason(shown, target.phaseNumber);
              if (plan !== null) a = { enabled: false, reason: plan };
            }
            const helpId = `${ids}-${control}-help`;
            const whyId = `${ids}-${control}-why`;
            return (
              <li key={control} className={s.control} data-control={control}>
                <Button
                  // Resume is the way on from a pause; Retry beside it is the other choice, not the main one.
                  kind={control === "retry" && target.status === "paused" ? "default" : KIND[control]}
                  onClick={() => tap(control)}
                  disabled={!a.enabled || submission.state === "sending"}
                  aria-describedby={a.enabled ? helpId : `${helpId} ${whyId}`}
                  data-testid={`control-${control}`}
                >
                  {actionTypeLabel(control)}
                </Button>
                <span id={helpId} className={s.help} data-testid={`help-${control}`}>
                  {controlHelp(control, target)}
                </span>
                {!a.enabled && (
                  <span id={whyId} className={s.why} data-testid={`why-${control}`}>
                    Not now: {a.reason}
                  </span>
                )}
              </li>
            );
          })}
      </ul>
      <ActionTracker submission={submission} actions={actions} label={lastLabel} />
      {asking !== null && target !== undefined && (
        <Dialog title={`${actionTypeLabel(asking)}: phase ${target.phaseNumber}?`} onClose={close}>
          <p>{CONFIRM_TEXT[asking](target.phaseNumber, ctx.laptopName)}</p>
          {(asking === "approve_plan" || asking === "reject_plan") && shown != null && shownHash !== undefined && (
            <p data-testid="confirm-revision">
              You read revision <code>{revision(shownHash)}</code>
              {shown.modifiedAt !== undefined && (
                <>
                  , written <Time at={shown.modifiedAt} />
                </>
              )}
              .
            </p>
          )}
          {asking === "reject_plan" && (
            <>
            <label className={ui.field}>
              What should the planner change?
              <textarea
                className={ui.input}
                value={feedback}
                onChange={(e) => setFeedback(e.target.value)}
                required
                aria-describedby={`${ids}-feedback-count`}
                aria-invalid={feedback !== "" && feedbackProblem !== null ? true : undefined}
                data-testid="reject-feedback"
              />
            </label>
            <span
              id={`${ids}-feedback-count`}
              className={cx(ui.secondary, s.counter, feedback.length > FEEDBACK_MAX && s.over)}
              data-testid="feedback-count"
            >
              {feedback.length.toLocaleString("en-US")} / {FEEDBACK_MAX.toLocaleString("en-US")} characters
            </span>
            </>
          )}
          <div className={ui.dialogButtons}>
            <Button onClick={close}>Cancel</Button>
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
