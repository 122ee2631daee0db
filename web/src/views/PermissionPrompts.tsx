// Permission prompts waiting on a laptop: Claude Code asks before a tool runs, and tina's hook
// holds the question open for a few seconds so it can be answered from here. Each prompt says
// what the tool would do (readably, never as HTML), who may answer and why not, and after an
// answer what became of it on the laptop.
import { useMutation, useQuery } from "convex/react";
import { useCallback, useId, useRef, useState } from "react";
import { api, type Id, type MessagingRule } from "../api";
import { Badge, Button, Dialog, Panel, Skeleton, Time, ui } from "../components/ui";
import { useNow } from "../hooks/useNow";
import type { Role } from "../lib/controls";
import { CLIENT } from "../lib/client";
import { describeError } from "../lib/errors";
import {
  answerAvailability,
  DECISION_LABELS,
  DENY_MESSAGE_MAX,
  denyMessageProblem,
  describeInput,
  describeSuggestions,
  promptOutcome,
  refusalText,
  timeLeft,
  type InputView,
  type PromptDecision,
  type PromptView,
} from "../lib/prompts";
import { orchestrationHref } from "../lib/routing";
import s from "./prompts.module.css";

export type AnswerArgs = { promptId: string; decision: PromptDecision; message?: string };
export type Answer = (args: AnswerArgs) => Promise<unknown>;

type Sent =
  | { state: "idle" }
  | { state: "sending"; decision: PromptDecision }
  | { state: "sent"; decision: PromptDecision }
  | { state: "refused"; message: string; code?: string }
  | { state: "unsent"; message: string };

export function InputBlock({ view, tool }: { view: InputView; tool: string }) {
  switch (view.kind) {
    case "command":
      return (
        <>
          {view.description && <p className={s.description}>{view.description}</p>}
          <pre className={s.code} aria-label={`${tool} command`} data-testid="prompt-command">
            <code>{view.command}</code>
          </pre>
          {view.note && <span className={s.note}>{view.note}</span>}
        </>
      );
    case "file":
      return (
        <>
          <span>
            <code className={s.path} data-testid="prompt-path">
              {view.path}
            </code>{" "}
            <span className={s.note}>{view.summary}</span>
          </span>
          {view.preview !== undefined && view.preview !== "" && (
            <pre className={s.code} aria-label={`What ${tool} writes${view.previewCut ? " (the start)" : ""}`} data-testid="prompt-preview">
              <code>
                {view.preview}
                {view.previewCut ? "\n…" : ""}
              </code>
            </pre>
          )}
        </>
      );
    case "json":
      return (
        <pre className={s.code} aria-label={`${tool} input`} data-testid="prompt-json">
          <code>{view.text}</code>
        </pre>
      );
  }
}

/** One sentence on what an allow does, for the confirmation. */
function allowText(prompt: PromptView, view: InputView): string {
  const what = view.kind === "command" ? "runs this command" : view.kind === "file" ? `changes ${view.path}` : `uses ${prompt.toolName}`;
  return `Claude Code ${what} on ${prompt.nodeName}, as the laptop's user.`;
}

export function PromptItem({
  prompt,
  role,
  rule,
  answer,
  onAnswered,
}: {
  prompt: PromptView;
  role: Role | undefined;
  rule: MessagingRule | undefined;
  answer: Answer;
  onAnswered?: (prompt: PromptView, decision: PromptDecision) => void;
}) {
  const now = useNow();
  const [asking, setAsking] = useState<PromptDecision | null>(null);
  const [message, setMessage] = useState("");
  const [sent, setSent] = useState<Sent>({ state: "idle" });
  const inFlight = useRef(false);
  const titleId = useId();
  const messageId = useId();
  const close = useCallback(() => setAsking(null), []);

  const view = describeInput(prompt.toolName, prompt.toolInput);
  const always = describeSuggestions(prompt.suggestions);
  const status = prompt.status === "open" && sent.state === "sent" ? "answered" : prompt.status;
  const a = answerAvailability({ status, expiresAt: prompt.expiresAt }, { role, rule, laptop: prompt.nodeName }, now);
  const outcome = status === "open" ? null : promptOutcome(status, prompt.nodeName);

  const fire = async (decision: PromptDecision) => {
    if (inFlight.current) return; // a second tap while the first is on its way
    inFlight.current = true;
    setAsking(null);
    setSent({ state: "sending", decision });
    const text = message.trim();
    try {
      await answer({ promptId: prompt.promptId, decision, ...(decision === "deny" && text !== "" ? { message: text } : {}) });
      setSent({ state: "sent", decision });
      onAnswered?.(prompt, decision);
    } catch (error) {
      const info = describeError(error);
      setSent(info.refused ? { state: "refused", message: info.message, ...(info.code !== undefined ? { code: info.code } : {}) } : { state: "unsent", message: info.message });
    } finally {
      inFlight.current = false;
    }
  };

  const problem = denyMessageProblem(message);
  const decided = prompt.decision ?? (sent.state === "sent" ? sent.decision : undefined);
  return (
    <li className={s.item} data-testid="prompt" data-status={status} aria-label={`${prompt.toolName} on ${prompt.nodeName}`}>
      <div className={s.head}>
        <span className={s.tool}>{prompt.toolName}</span>
        {outcome ? (
          <Badge tone={outcome.tone}>{outcome.label}</Badge>
        ) : (
          <Badge tone={now >= prompt.expiresAt ? "muted" : "warning"}>
            <span data-testid="prompt-time-left">{timeLeft(prompt.expiresAt, now)}</span>
          </Badge>
        )}
      </div>
      <span className={s.where}>
        on <strong>{prompt.nodeName}</strong>
        {prompt.orchestrationId !== undefined ? (
          <>
            {" "}
            · <a href={orchestrationHref(prompt.orchestrationId as Id<"orchestrations">)}>{prompt.featureName ?? "its orchestration"}</a>
          </>
        ) : prompt.cwd !== undefined ? (
          <>
            {" "}
            · in <code>{prompt.cwd}</code>
          </>
        ) : null}
        {prompt.agentName !== undefined && <> · {prompt.agentName}</>} · asked <Time at={prompt.openedAt} />
      </span>
      {prompt.description !== undefined && prompt.description !== "" && view.kind !== "command" && <p className={s.description}>{prompt.description}</p>}
      <InputBlock view={view} tool={prompt.toolName} />
      {prompt.inputTruncated && <span className={s.note}>The input was too long and is cut short here.</span>}

      {status === "open" && a.enabled && sent.state !== "sending" && (
        <>
          <div className={s.buttons} role="group" aria-label={`Answer the ${prompt.toolName} prompt`}>
            <Button kind="primary" onClick={() => setAsking("allow_once")} data-testid="prompt-allow_once">
              Allow once
            </Button>
            {always !== null && (
              <Button onClick={() => setAsking("allow_always")} data-testid="prompt-allow_always" aria-describedby={`${titleId}-always`}>
                Allow always
              </Button>
            )}
            <Button kind="danger" onClick={() => setAsking("deny")} data-testid="prompt-deny">
              Deny
            </Button>
          </div>
          {always !== null && (
            <span className={s.note} id={`${titleId}-always`} data-testid="prompt-always-rule">
              Allow always: {always.replace(/^Also /, "")}
            </span>
          )}
        </>
      )}
      {status === "open" && !a.enabled && sent.state === "idle" && (
        <span className={s.why} data-testid="prompt-why">
          {a.reason}
        </span>
      )}
      {sent.state === "sending" && (
        <div className={s.outcome} role="status" data-testid="prompt-outcome">
          {DECISION_LABELS[sent.decision]}: sending…
        </div>
      )}
      {(sent.state === "refused" || sent.state === "unsent") && (
        <div className={s.outcome} role="alert" data-testid="prompt-outcome">
          <strong>{sent.state === "refused" ? refusalText(sent.code, sent.message) : `Not sent: ${sent.message}`}</strong>
          {sent.state === "unsent" && <span>Answer again to retry.</span>}
        </div>
      )}
      {outcome !== null && (
        <div className={s.outcome} role="status" aria-live="polite" data-testid="prompt-outcome">
          <span>
            {decided !== undefined && <strong>{DECISION_LABELS[decided]}</strong>}
            {prompt.answeredByName !== undefined && <> by {prompt.answeredByName}</>}
            {decided !== undefined && " · "}
            {outcome.label}
          </span>
        </div>
      )}

      {asking !== null && (
        <Dialog title={`${DECISION_LABELS[asking]}: ${prompt.toolName} on ${prompt.nodeName}?`} onClose={close} labelledBy={titleId}>
          {asking === "deny" ? (
            <>
              <p>Claude Code does not run it and tells the agent it was denied.</p>
              <label className={ui.field}>
                Message to the agent (optional)
                <textarea
                className={ui.input}
                value={message}
                onChange={(e) => setMessage(e.target.value)}
                maxLength={DENY_MESSAGE_MAX}
                aria-describedby={`${messageId}-count`}
                  data-testid="prompt-deny-message"
                />
              </label>
              <span className={s.counter} id={`${messageId}-count`} data-testid="prompt-deny-count">
                {message.length} / {DENY_MESSAGE_MAX}
              </span>
              {problem && <span className={s.problem}>{problem}</span>}
            </>
          ) : (
            <>
              <p>{allowText(prompt, view)}</p>
              {view.kind === "command" && (
                <pre className={s.code} aria-label="The command" data-testid="confirm-command">
                  <code>{view.command}</code>
                </pre>
              )}
              {asking === "allow_always" && always !== null && <p data-testid="confirm-always-rule">{always}</p>}
              <p>{timeLeft(prompt.expiresAt, now)} before the laptop stops waiting and asks at the keyboard.</p>
            </>
          )}
          <div className={ui.dialogButtons}>
            <Button onClick={close}>Cancel</Button>
            <Button
              kind={asking === "deny" ? "danger" : "primary"}
              onClick={() => void fire(asking)}
              disabledReason={asking === "deny" && problem ? problem : undefined}
              reason="none"
              data-testid="prompt-confirm"
            >
              {DECISION_LABELS[asking]}
            </Button>
          </div>
        </Dialog>
      )}
    </li>
  );
}

/** Who answers, with what, and where each laptop's messaging rule stands. */
export type PromptsContext = {
  role: Role | undefined;
  /** Each laptop's messaging rule, by node id (missing while the fleet loads). */
  rules: ReadonlyMap<string, MessagingRule>;
  answer: Answer;
};

/**
 * Open prompts, newest first; then what became of recent ones. A prompt answered from this page
 * stays among the open ones (with its live outcome) so the operator sees it through; the others
 * that were answered elsewhere or expired are folded away.
 */
export function PromptList({ open, recent, ctx }: { open: readonly PromptView[]; recent: readonly PromptView[]; ctx: PromptsContext }) {
  const [mine, setMine] = useState<ReadonlyMap<string, PromptView>>(new Map());
  const onAnswered = useCallback((p: PromptView, decision: PromptDecision) => {
    setMine((m) => new Map(m).set(p.promptId, { ...p, status: "answered", decision }));
  }, []);
  const recentById = new Map(recent.map((p) => [p.promptId, p]));
  // Keep the last row the server sent for each prompt answered here, for when it leaves the
  // recent list (adjusting state while rendering, as React allows; it settles in one pass).
  const newer = [...mine.keys()].flatMap((id) => {
    const live = recentById.get(id);
    return live !== undefined && live !== mine.get(id) ? [live] : [];
  });
  if (newer.length > 0) setMine((m) => new Map([...m, ...newer.map((p) => [p.promptId, p] as const)]));
  const openIds = new Set(open.map((p) => p.promptId));
  const answeredHere = [...mine.values()].filter((p) => !openIds.has(p.promptId)).map((p) => recentById.get(p.promptId) ?? p);
  const others = recent.filter((p) => !mine.has(p.promptId));
  const item = (p: PromptView) => <PromptItem key={p.promptId} prompt={p} role={ctx.role} rule={ctx.rules.get(p.nodeId)} answer={ctx.answer} onAnswered={onAnswered} />;
  return (
    <>
      {open.length + answeredHere.length === 0 ? (
        <p className={s.none}>No tool is waiting for permission.</p>
      ) : (
        <ul className={s.items} aria-label="Open permission prompts">
          {[...open, ...answeredHere].sort((x, y) => y.openedAt - x.openedAt).map(item)}
        </ul>
      )}
      {others.length > 0 && (
        <details className={s.recent} data-testid="prompts-recent">
          <summary>Answered or expired in the last 10 minutes ({others.length})</summary>
          <ul className={s.items}>{others.map(item)}</ul>
        </details>
      )}
    </>
  );
}

/** The prompts on their own, in a panel: subscribes to them and answers them. */
export function PermissionPromptsPanel({
  role,
  rules,
  quietWhenEmpty = false,
}: {
  role: Role | undefined;
  rules: ReadonlyMap<string, MessagingRule>;
  /** Render nothing when there is nothing to show (the page says all is clear instead). */
  quietWhenEmpty?: boolean;
}) {
  const data = useQuery(api.prompts.listOpen);
  const send = useMutation(api.prompts.answer);
  const answer = useCallback<Answer>((args) => send({ ...args, client: CLIENT }), [send]);
  if (data === undefined) {
    return (
      <Panel title={<Skeleton width={180} height={18} />} minHeight={120}>
        <Skeleton height={40} />
      </Panel>
    );
  }
  if (quietWhenEmpty && data.open.length === 0 && data.recent.length === 0) return null;
  return (
    <div className={s.wide}>
      <Panel title={`Permission prompts (${data.open.length})`} flush label="Permission prompts">
        <PromptList open={data.open} recent={data.recent} ctx={{ role, rules, answer }} />
      </Panel>
    </div>
  );
}
