// Where a sent message is: queued → sending → delivered → read by the agent, or failed and why.
// Pure; the composer and the action list show what this decides.
import type { ListedAction, MessageRoute } from "../api";

export type DeliveryStep = "queued" | "sending" | "delivered" | "read" | "failed";
export type Delivery = { step: DeliveryStep; text: string };

const DELIVERED: Record<MessageRoute, string> = {
  inbox: "written to the inbox",
  lead_session: "typed into the tmux session",
  pane: "typed into its pane",
};

const FAILED_WITHOUT_RESULT: Partial<Record<ListedAction["status"], string>> = {
  expired: "the laptop did not pick it up in time",
  cancelled: "cancelled before the laptop picked it up",
  interrupted: "interrupted on the laptop",
  failed: "the laptop could not deliver it",
};

/**
 * A laptop's answer as a phone can show it: each absolute path (a temporary folder, a home
 * directory: three folders or more) cut to its last two parts ("…/inboxes/tester.json"). The
 * answer is the laptop's own sentence, written for people; only its paths are long.
 */
export function shortenPaths(text: string): string {
  return text.replace(/(?<![\w.~])(?:\/[\w.@%+-]+){3,}\/?/g, (path) => {
    const parts = path.split("/").filter((p) => p !== "");
    return `…/${parts.slice(-2).join("/")}`;
  });
}

/** The delivery state of a send_message action as the dashboard lists it. */
export function deliveryState(a: Pick<ListedAction, "status" | "result" | "payload"> & { read?: boolean }): Delivery {
  const agent = a.payload.agentName ?? "the agent";
  switch (a.status) {
    case "pending":
      return { step: "queued", text: "queued" };
    case "claimed":
    case "running":
      return { step: "sending", text: "sending" };
    case "completed": {
      if (a.read === true) return { step: "read", text: `read by ${agent}` };
      const via = a.result?.via ?? a.payload.via;
      return { step: "delivered", text: `delivered: ${via ? DELIVERED[via] : a.result?.message || "done"}` };
    }
    default:
      return { step: "failed", text: `failed: ${shortenPaths(a.result?.message || FAILED_WITHOUT_RESULT[a.status] || a.status)}` };
  }
}

export const DELIVERY_STEPS: readonly DeliveryStep[] = ["queued", "sending", "delivered", "read"];
