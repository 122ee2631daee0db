// Sending one operator action: an idempotency key per tap (reused when the same tap is
// retried), the server's answer, and the action id whose live status the views follow.
import { useMutation } from "convex/react";
import type { FunctionArgs } from "convex/server";
import { useCallback, useRef, useState } from "react";
import { api, type Id } from "../api";
import { CLIENT } from "../lib/client";
import { describeError } from "../lib/errors";
import { IDLE, newIdempotencyKey, submissionReducer, type Submission, type SubmissionEvent } from "../lib/submission";

export type ActionRequest = FunctionArgs<typeof api.actions.submitAction>["action"];

export function useSubmitAction(): {
  submission: Submission;
  actionId: Id<"inboundActions"> | undefined;
  send: (action: ActionRequest) => Promise<void>;
  reset: () => void;
} {
  const submit = useMutation(api.actions.submitAction);
  const [submission, setSubmission] = useState<Submission>(IDLE);
  // The reducer runs on a ref first, so two taps in the same frame see each other.
  const current = useRef<Submission>(IDLE);
  const dispatch = useCallback((event: SubmissionEvent) => {
    current.current = submissionReducer(current.current, event);
    setSubmission(current.current);
    return current.current;
  }, []);

  const send = useCallback(
    async (action: ActionRequest) => {
      if (current.current.state === "sending") return; // double tap: the first one is on its way
      const next = dispatch({ type: "tap", newKey: newIdempotencyKey });
      if (next.state !== "sending") return;
      try {
        const out = await submit({ action, idempotencyKey: next.key, client: CLIENT });
        dispatch({ type: "accepted", actionId: out.actionId, deduplicated: out.deduplicated });
      } catch (error) {
        const info = describeError(error);
        dispatch(info.refused ? { type: "refused", message: info.message, ...(info.code !== undefined ? { code: info.code } : {}) } : { type: "lost", message: info.message });
      }
    },
    [dispatch, submit],
  );

  const reset = useCallback(() => void dispatch({ type: "reset" }), [dispatch]);
  const actionId = submission.state === "sent" ? (submission.actionId as Id<"inboundActions">) : undefined;
  return { submission, actionId, send, reset };
}
