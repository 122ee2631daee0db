// The live status of one submitted action: queued → claimed → running → outcome, with the result.
import type { ActionDoc } from "../../api";
import { Badge, cx } from "../../components/ui";
import { shortenPaths } from "../../lib/delivery";
import { actionStatusLabel, actionStatusTone, actionStep, actionTypeLabel } from "../../lib/status";
import type { Submission } from "../../lib/submission";
import s from "../detail.module.css";

const STEPS = ["queued", "claimed", "running"] as const;

export function ActionSteps({ action }: { action: Pick<ActionDoc, "status"> }) {
  const step = actionStep(action.status);
  const final = step === 3;
  const ok = action.status === "completed";
  return (
    <ol className={s.steps} aria-label="Progress">
      {STEPS.map((label, i) => (
        <li key={label} className={cx(s.step, i < step && s.stepDone, i === step && s.stepCurrent)}>
          {label}
        </li>
      ))}
      <li className={cx(s.step, final && (ok ? s.stepOk : s.stepFailed))}>{final ? actionStatusLabel(action.status) : "done"}</li>
    </ol>
  );
}

/**
 * What happened to the operator's last tap. `actions` is the live list the page already
 * subscribes to; until the new action shows up there it counts as queued.
 */
export function ActionTracker({ submission, actions, label }: { submission: Submission; actions: readonly ActionDoc[]; label: string }) {
  if (submission.state === "idle") return null;
  if (submission.state === "sending") {
    return (
      <div className={s.tracker} role="status" data-testid="action-tracker" data-status="sending">
        <strong>{label}: sending…</strong>
        <ActionSteps action={{ status: "pending" }} />
      </div>
    );
  }
  if (submission.state === "refused" || submission.state === "unsent") {
    return (
      <div className={s.tracker} role="alert" data-testid="action-tracker" data-status={submission.state}>
        <strong>
          {label}: {submission.state === "refused" ? "not accepted" : "not sent"}
        </strong>
        <span>{submission.message}</span>
        {submission.state === "unsent" && <span>Tap it again to retry; the laptop will still run it only once.</span>}
      </div>
    );
  }
  const action = actions.find((a) => a._id === submission.actionId);
  const status = action?.status ?? "pending";
  return (
    <div className={s.tracker} role="status" aria-live="polite" data-testid="action-tracker" data-status={status}>
      <div style={{ display: "flex", justifyContent: "space-between", gap: 8, alignItems: "center" }}>
        <strong>{action ? actionTypeLabel(action.type) : label}</strong>
        <Badge tone={actionStatusTone(status)}>{actionStatusLabel(status)}</Badge>
      </div>
      <ActionSteps action={{ status }} />
      {action?.result && <span data-testid="action-result">{shortenPaths(action.result.message || action.result.code)}</span>}
      {submission.deduplicated && <span>This tap was already sent; showing the first one.</span>}
    </div>
  );
}
