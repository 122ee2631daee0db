// Where a sent message is: queued → sending → delivered → read by <agent>, or failed and why.
import type { ListedAction } from "../../api";
import { cx } from "../../components/ui";
import { deliveryState, DELIVERY_STEPS } from "../../lib/delivery";
import s from "../detail.module.css";

const STEP_LABEL = { queued: "queued", sending: "sending", delivered: "delivered", read: "read" } as const;

/** The delivery of one send_message action; `action` undefined means it is not listed yet (queued). */
export function DeliveryState({ action, agentName }: { action: ListedAction | undefined; agentName: string }) {
  const d = action ? deliveryState(action) : { step: "queued" as const, text: "queued" };
  const failed = d.step === "failed";
  const at = failed ? -1 : DELIVERY_STEPS.indexOf(d.step);
  return (
    <div
      className={s.tracker}
      role={failed ? "alert" : "status"}
      aria-live="polite"
      data-testid="action-tracker"
      data-status={action?.status ?? "pending"}
      data-step={d.step}
    >
      <strong data-testid="delivery-text">
        Message to {agentName}: {d.text}
      </strong>
      {!failed && (
        <ol className={s.steps} aria-label="Delivery">
          {DELIVERY_STEPS.map((step, i) => (
            <li key={step} className={cx(s.step, i < at && s.stepDone, i === at && (step === "read" || step === "delivered" ? s.stepOk : s.stepCurrent))}>
              {STEP_LABEL[step as keyof typeof STEP_LABEL]}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
