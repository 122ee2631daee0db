// Recent actions of this orchestration with their live status and result; a message with the
// text that was sent and where its delivery is.
import { useMutation } from "convex/react";
import { useState } from "react";
import { api, type ActionDoc, type ListedAction } from "../../api";
import { Badge, Button, EmptyState, Panel, Time, ui } from "../../components/ui";
import { CLIENT } from "../../lib/client";
import { ROUTE_LABELS } from "../../lib/controls";
import { deliveryState, shortenPaths } from "../../lib/delivery";
import { describeError } from "../../lib/errors";
import { actionStatusLabel, actionStatusTone, actionTypeLabel } from "../../lib/status";
import { formatDuration } from "../../lib/time";
import s from "../detail.module.css";

export function actionTarget(a: Pick<ActionDoc, "type" | "payload">): string {
  if (a.type === "send_message") {
    const via = a.payload.via ? ` (${ROUTE_LABELS[a.payload.via].toLowerCase()})` : "";
    return `to ${a.payload.agentName ?? "an agent"}${via}`;
  }
  return a.payload.phase ? `phase ${a.payload.phase}` : "";
}

function CancelButton({ action }: { action: ActionDoc }) {
  const cancel = useMutation(api.actions.cancelAction);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <>
      <Button
        small
        kind="ghost"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          try {
            await cancel({ actionId: action._id, client: CLIENT });
          } catch (e) {
            setError(describeError(e).message);
          } finally {
            setBusy(false);
          }
        }}
      >
        Cancel
      </Button>
      {error && <span role="alert">{error}</span>}
    </>
  );
}

/** Up to this many characters of a sent message show at once; the rest is one tap away. */
export const SENT_PREVIEW = 280;

/** The text an operator sent, as sent (whitespace kept); a long one opens on a tap. */
function SentText({ text }: { text: string }) {
  if (text.length <= SENT_PREVIEW) {
    return (
      <blockquote className={s.sent} data-testid="action-text">
        {text}
      </blockquote>
    );
  }
  return (
    <details className={s.sentLong} data-testid="action-text">
      <summary>
        <blockquote className={s.sent}>{text.slice(0, SENT_PREVIEW)}…</blockquote>
        <span className={ui.secondary}>Show the whole message ({text.length.toLocaleString("en-US")} characters)</span>
      </summary>
      <blockquote className={s.sent}>{text}</blockquote>
    </details>
  );
}

export function ActionHistory({ actions, canAct }: { actions: readonly ListedAction[]; canAct: boolean }) {
  return (
    <Panel title="Actions" flush label="Action history">
      {actions.length === 0 ? (
        <EmptyState title="No actions yet.">
          <p>What operators send to this orchestration appears here with its live status.</p>
        </EmptyState>
      ) : (
        <ul className={s.rows}>
          {actions.map((a) => (
            <li key={a._id} className={s.rowItem} data-testid="action" data-action-id={a._id} data-type={a.type} data-status={a.status}>
              <div className={s.rowHead}>
                <strong>
                  {actionTypeLabel(a.type)} {actionTarget(a)}
                </strong>
                <span style={{ display: "inline-flex", gap: 6, alignItems: "center" }}>
                  {a.status === "pending" && canAct && <CancelButton action={a} />}
                  <Badge tone={actionStatusTone(a.status)}>{actionStatusLabel(a.status)}</Badge>
                </span>
              </div>
              <span className={ui.secondary}>
                {a.submittedByName ?? "someone"} · <Time at={a.createdAt} />
                {a.result?.durationMs !== undefined && ` · ran ${formatDuration(a.result.durationMs)}`}
              </span>
              {a.type === "reject_plan" && a.payload.feedback && <span className={ui.secondary}>feedback: {a.payload.feedback}</span>}
              {a.type === "send_message" && a.payload.text && <SentText text={a.payload.text} />}
              {a.type === "send_message" && <span data-testid="action-delivery">{deliveryState(a).text}</span>}
              {/* A message's outcome is its delivery line above; other actions say their result. */}
              {a.result && a.type !== "send_message" && <span data-testid="action-result">{shortenPaths(a.result.message || a.result.code)}</span>}
            </li>
          ))}
        </ul>
      )}
    </Panel>
  );
}
