// "Needs you": everything across the laptops that waits on a person, in one list read top to
// bottom. Each item says what it is in words, where (laptop, orchestration), since when, and
// leads to its page; where an answer exists it is one tap away (permission prompts, plans
// awaiting approval). What is answered at a laptop's terminal is shown, not answerable. Each
// viewer dismisses or snoozes items for themselves; snoozed ones come back on this clock.
// Each item has a link of its own (#/attention?item=<key>); opening it brings the item into
// view, marked and focused, whatever its triage, or says it is no longer waiting.
import { useMutation, useQuery } from "convex/react";
import type { OptimisticLocalStore } from "convex/browser";
import { useCallback, useEffect, useId, useRef, useState } from "react";
import { api, type DocumentView, type MessagingRule, type NeedItem, type NeedsYouData } from "../api";
import { Markdown } from "../components/Markdown";
import { Badge, Button, Dialog, EmptyState, Panel, QueryBoundary, Skeleton, Time, ui } from "../components/ui";
import { useSubmitAction } from "../hooks/useSubmitAction";
import { useWakeClock } from "../hooks/useWakeClock";
import { CLIENT } from "../lib/client";
import { isPlanChange, phaseControlAvailability, planApprovalReason, type Role } from "../lib/controls";
import { revision } from "../lib/documents";
import { errorText } from "../lib/errors";
import {
  ageText,
  groupNeeds,
  laptopText,
  NEED_KIND_LABELS,
  NEED_KIND_TONES,
  needHref,
  needLinkText,
  needState,
  needSummary,
  orchestrationText,
  planMayBeCut,
  shownNeeds,
  snoozeChoices,
  snoozedText,
  visibleCount,
  waitingAtLeadText,
  withTriage,
  type NeedState,
} from "../lib/needs";
import { describeInput, type PromptDecision, type PromptView } from "../lib/prompts";
import { needItemHref, orchestrationHref } from "../lib/routing";
import { actionStatusLabel, actionStatusTone, actionTypeLabel, type Tone } from "../lib/status";
import { useMe } from "../session";
import { ActionTracker } from "./detail/ActionTracker";
import { DocumentBody } from "./detail/Documents";
import { InputBlock, PromptItem, type Answer } from "./PermissionPrompts";
import s from "./NeedsYou.module.css";
import o from "./orchestrations.module.css";
import p from "./prompts.module.css";

/** Who acts, and how prompts are answered. */
type Ctx = {
  role: Role | undefined;
  rules: ReadonlyMap<string, MessagingRule>;
  answer: Answer;
  onAnswered: (prompt: PromptView, decision: PromptDecision) => void;
  now: number;
};

// ---------------------------------------------------------------------------------------
// Small parts.

/** An item's age: relative, and the exact time on a tap (phones have no hover), on hover too. */
export function AgeTime({ at, now, prefix }: { at: number; now: number; prefix?: string }) {
  const [open, setOpen] = useState(false);
  const { relative, exact } = ageText(at, now);
  return (
    <button
      type="button"
      className={s.age}
      onClick={() => setOpen((x) => !x)}
      aria-expanded={open}
      title={exact}
      data-testid="need-age"
    >
      {prefix}
      <time dateTime={new Date(at).toISOString()}>{relative}</time>
      {open ? <span data-testid="need-exact"> ({exact})</span> : <span className="visually-hidden">, show the exact time</span>}
    </button>
  );
}

/** Dismiss, snooze, restore: this viewer's own triage; the item stays for everyone else. */
function Triage({ item, state, now }: { item: NeedItem; state: NeedState; now: number }) {
  const dismiss = useMutation(api.needs.dismiss).withOptimisticUpdate((store, args) =>
    patchItem(store, args.key, { dismissed: args.until === undefined, ...(args.until !== undefined ? { snoozedUntil: args.until } : {}) }),
  );
  const restore = useMutation(api.needs.restore).withOptimisticUpdate((store, args) => patchItem(store, args.key, { dismissed: false }));
  const [problem, setProblem] = useState<string | null>(null);
  const run = (call: Promise<unknown>) => {
    setProblem(null);
    call.catch((e: unknown) => setProblem(errorText(e)));
  };
  return (
    <>
      {state === "open" ? (
        <div className={s.triage} role="group" aria-label={`Triage: ${item.title}`}>
          <Button small kind="ghost" onClick={() => run(dismiss({ key: item.key, since: item.since }))} data-testid="need-dismiss">
            Dismiss
          </Button>
          {snoozeChoices(now).map((c) => (
            <Button key={c.id} small kind="ghost" onClick={() => run(dismiss({ key: item.key, since: item.since, until: c.until }))} data-testid={`need-snooze-${c.id}`}>
              Snooze {c.label}
            </Button>
          ))}
        </div>
      ) : (
        <div className={s.triage}>
          <Button small onClick={() => run(restore({ key: item.key }))} data-testid="need-restore" aria-label={`Restore: ${item.title}`}>
            Restore
          </Button>
        </div>
      )}
      {problem !== null && (
        <span role="alert" className={p.problem}>
          Not saved: {problem}
        </span>
      )}
    </>
  );
}

/** The change a dismissal or restore makes, shown at once while the server confirms it. */
function patchItem(store: OptimisticLocalStore, key: string, triage: { dismissed: boolean; snoozedUntil?: number }) {
  const data = store.getQuery(api.needs.needsYou, {});
  if (data === undefined) return;
  store.setQuery(api.needs.needsYou, {}, { ...data, items: withTriage(data.items, key, triage) });
}

/** A teammate's question or an agent's plan, answered at the lead's terminal: shown, not answered here. */
function AtTheLead({ item }: { item: NeedItem }) {
  const [open, setOpen] = useState(false);
  const planId = useId();
  return (
    <div className={s.body}>
      <span className={s.lead} data-testid="need-at-lead">
        {waitingAtLeadText(item)}
      </span>
      {item.kind === "teammate_permission" && (
        <>
          {item.toolName !== undefined && (
            <span>
              Tool: <strong data-testid="need-tool">{item.toolName}</strong>
            </span>
          )}
          {item.detail !== undefined && item.detail !== "" && <p className={p.description}>{item.detail}</p>}
          {item.toolInput !== undefined && <InputBlock view={describeInput(item.toolName ?? "", item.toolInput)} tool={item.toolName ?? "the tool"} />}
          {item.toolInputTruncated === true && <span className={p.note}>The input was too long and is cut short here.</span>}
        </>
      )}
      {item.kind === "agent_plan_approval" && (
        <>
          {item.detail !== undefined && item.detail !== "" && <p className={p.description}>{item.detail}</p>}
          {item.planContent !== undefined && item.planContent.trim() !== "" ? (
            <>
              <Button small onClick={() => setOpen((x) => !x)} aria-expanded={open} aria-controls={planId} data-testid="need-plan-toggle">
                {open ? "Hide the plan" : "Read the plan"}
              </Button>
              <div id={planId} hidden={!open}>
                {open && (
                  <>
                    {planMayBeCut(item.planContent) && (
                      <p className={p.note} role="note" data-testid="need-plan-cut">
                        Only the start of the plan reached the dashboard; the whole plan is at the lead's terminal.
                      </p>
                    )}
                    <div className={s.plan} tabIndex={0} role="region" aria-label={`The plan ${item.agentName ?? "the agent"} asks to have approved`} data-testid="need-plan">
                      <Markdown text={item.planContent} />
                    </div>
                  </>
                )}
              </div>
            </>
          ) : (
            <span className={p.note}>The plan's text did not reach the dashboard.</span>
          )}
        </>
      )}
    </div>
  );
}

/**
 * A phase's plan awaiting approval: the plan loads when opened, and the revision read is the
 * one approved (a plan that changed meanwhile is said so, and can be read again).
 */
function PlanApproval({ item, role, rule }: { item: NeedItem; role: Role | undefined; rule: MessagingRule | undefined }) {
  const [open, setOpen] = useState(false);
  const [asking, setAsking] = useState(false);
  const [pinned, setPinned] = useState<DocumentView | null>(null);
  const planId = useId();
  const { submission, send, reset } = useSubmitAction();
  const orchestrationId = item.orchestrationId;
  const phase = item.phaseNumber;
  const live = useQuery(api.documents.getDocument, open && orchestrationId !== undefined && phase !== undefined ? { orchestrationId, kind: "plan", phase } : "skip");
  const listed = useQuery(api.actions.listActions, submission.state === "sent" && orchestrationId !== undefined ? { orchestrationId, limit: 20 } : "skip");
  const close = useCallback(() => setAsking(false), []);
  if (orchestrationId === undefined || phase === undefined) return null;
  // The revision read stays put while it is read.
  if (live && pinned === null && live.hash !== undefined) setPinned(live);
  const shown: DocumentView | null | undefined = pinned ?? live;
  const changed = pinned !== null && live != null && (live.hash !== pinned.hash || live.missing !== pinned.missing);
  const shownHash = shown != null && !shown.missing ? shown.hash : undefined;
  const actions = listed ?? [];
  const sent = submission.state === "sent" ? actions.find((a) => a._id === submission.actionId) : undefined;
  const refusedForPlan = (submission.state === "refused" && isPlanChange(submission.code)) || (sent !== undefined && isPlanChange(sent.result?.code));
  const laptop = item.nodeName ?? "the laptop";
  let a = phaseControlAvailability(
    "approve_plan",
    { phaseNumber: phase, status: "awaiting_approval" },
    { role, laptopName: laptop, laptopOnline: item.nodeOnline !== false, laptopMessaging: rule ?? "owners", actions },
  );
  if (a.enabled) {
    const reason = planApprovalReason(shown, phase);
    if (reason !== null) a = { enabled: false, reason };
  }
  const fire = () => {
    setAsking(false);
    void send({ type: "approve_plan", orchestrationId, phase, ...(shownHash !== undefined ? { planHash: shownHash } : {}) });
  };
  return (
    <div className={s.body}>
      <Button small onClick={() => setOpen((x) => !x)} aria-expanded={open} aria-controls={planId} data-testid="need-plan-toggle">
        {open ? "Hide the plan" : "Read the plan to approve it"}
      </Button>
      <div id={planId} hidden={!open} className={s.body}>
        {open && (
          <>
            {(changed || refusedForPlan) && (
              <div className={s.changed} role="status" data-testid="plan-changed">
                <span>
                  {changed ? "The plan changed on the laptop since you opened it." : "The plan you read is not the one on the laptop any more."} Read it again
                  before approving.
                </span>
                <Button
                  small
                  onClick={() => {
                    setPinned(live ?? null);
                    reset();
                  }}
                  data-testid="show-new-plan"
                >
                  Show the new plan
                </Button>
              </div>
            )}
            <DocumentBody doc={shown} kind="plan" label={`Plan of phase ${phase}, for approval`} />
            <div className={s.approve}>
              <Button
                kind="primary"
                onClick={() => setAsking(true)}
                disabledReason={a.enabled ? undefined : a.reason}
                reason="none"
                disabled={submission.state === "sending"}
                data-testid="need-approve"
              >
                Approve plan
              </Button>
              {!a.enabled && (
                <span className={p.why} data-testid="need-approve-why">
                  {a.reason}
                </span>
              )}
            </div>
            <ActionTracker submission={submission} actions={actions} label={`Approve plan · phase ${phase}`} />
          </>
        )}
      </div>
      {asking && (
        <Dialog title={`Approve the plan of phase ${phase}?`} onClose={close} labelledBy={`${planId}-confirm`}>
          <p>
            The executor starts on phase {phase} of {item.featureName ?? "this orchestration"} with this plan on {laptop}.
          </p>
          {shown != null && shownHash !== undefined && (
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
          <div className={ui.dialogButtons}>
            <Button onClick={close}>Cancel</Button>
            <Button kind="primary" onClick={fire} data-testid="confirm">
              Approve plan
            </Button>
          </div>
        </Dialog>
      )}
    </div>
  );
}

/** What an item shows under its title, by kind. */
function NeedBody({ item, ctx }: { item: NeedItem; ctx: Ctx }) {
  switch (item.kind) {
    case "permission_prompt":
      return item.prompt !== undefined ? (
        <ul className={p.items} aria-label="The prompt">
          <PromptItem prompt={item.prompt} role={ctx.role} rule={ctx.rules.get(item.prompt.nodeId)} answer={ctx.answer} onAnswered={ctx.onAnswered} />
        </ul>
      ) : null;
    case "plan_approval":
      return <PlanApproval item={item} role={ctx.role} rule={item.nodeId !== undefined ? ctx.rules.get(item.nodeId) : undefined} />;
    case "teammate_permission":
    case "agent_plan_approval":
      return <AtTheLead item={item} />;
    case "stop_failure":
      return (
        <div className={s.body}>
          {item.retryAt !== undefined && (
            <span>
              Can retry from <Time at={item.retryAt} />
            </span>
          )}
          {item.detail !== undefined && item.detail !== "" && <pre className={p.code}>{item.detail}</pre>}
        </div>
      );
    case "failed_action":
      return item.actionType !== undefined && item.actionStatus !== undefined ? (
        <span>
          {actionTypeLabel(item.actionType)} <Badge tone={actionStatusTone(item.actionStatus)}>{actionStatusLabel(item.actionStatus)}</Badge>
        </span>
      ) : null;
    case "stalled":
    case "idle_with_tasks":
      return item.detail !== undefined && item.detail !== "" ? <p className={p.description}>{item.detail}</p> : null;
    default:
      return null;
  }
}

const STATE_TONE: Record<NeedState, Tone> = { open: "warning", dismissed: "muted", snoozed: "muted" };

/** An item opened by its link: scrolled into view and focused once, when it appears. */
function useLinkedFocus(linked: boolean) {
  const ref = useRef<HTMLLIElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!linked || el === null) return;
    el.focus({ preventScroll: true });
    el.scrollIntoView?.({ block: "start" });
  }, [linked]);
  return ref;
}

export function NeedCard({ item, ctx, linked = false }: { item: NeedItem; ctx: Ctx; linked?: boolean }) {
  const titleId = useId();
  const ref = useLinkedFocus(linked);
  const state = needState(item, ctx.now);
  const laptop = laptopText(item);
  const orchestration = orchestrationText(item);
  const summary = needSummary(item, ctx.now);
  const href = needHref(item);
  return (
    <li
      ref={ref}
      className={linked ? `${s.item} ${s.linked}` : s.item}
      data-testid="need"
      data-kind={item.kind}
      data-state={state}
      data-key={item.key}
      aria-labelledby={titleId}
      {...(linked ? { "aria-current": "true" as const, tabIndex: -1, "data-linked": "true" } : {})}
    >
      <div className={s.head}>
        {linked && (
          <span className={s.linkedLabel} data-testid="need-linked">
            Linked item
          </span>
        )}
        <Badge tone={NEED_KIND_TONES[item.kind]}>{NEED_KIND_LABELS[item.kind]}</Badge>
        {state !== "open" && (
          <Badge tone={STATE_TONE[state]}>
            <span data-testid="need-triaged">{state === "dismissed" ? "dismissed" : snoozedText(item.snoozedUntil ?? ctx.now, ctx.now)}</span>
          </Badge>
        )}
      </div>
      <strong id={titleId} className={s.title}>
        {item.title}
      </strong>
      <span className={s.meta}>
        {laptop !== null && (
          <>
            on <strong data-testid="need-laptop">{laptop}</strong>
            {" · "}
          </>
        )}
        {orchestration !== null && (
          <>
            {item.orchestrationId !== undefined ? <a href={orchestrationHref(item.orchestrationId)}>{orchestration}</a> : orchestration}
            {" · "}
          </>
        )}
        <AgeTime at={item.since} now={ctx.now} />
      </span>
      {summary !== null && (
        <span className={s.summary} data-testid="need-summary">
          {summary}
        </span>
      )}
      {linked && state !== "open" && (
        <span className={s.hiddenNote} data-testid="need-linked-hidden">
          {state === "dismissed" ? "You dismissed this item" : "You snoozed this item"}; it is shown because you opened its link.
        </span>
      )}
      <NeedBody item={item} ctx={ctx} />
      <div className={s.foot}>
        <span className={s.links}>
          {href !== null && (
            <a href={href} className={s.link} data-testid="need-link">
              {needLinkText(item)}
            </a>
          )}
          <a href={needItemHref(item.key)} className={s.selfLink} aria-label="Link to this item" title="Link to this item" data-testid="need-self-link">
            Link
          </a>
        </span>
        <Triage item={item} state={state} now={ctx.now} />
      </div>
    </li>
  );
}

// ---------------------------------------------------------------------------------------
// The page.

function Loading() {
  return (
    <>
      {[0, 1, 2].map((i) => (
        <Panel key={i} title={<Skeleton width={180} height={18} />} minHeight={140}>
          <Skeleton height={40} />
        </Panel>
      ))}
    </>
  );
}

/** Prompts answered from this page stay in sight until the laptop says what became of them. */
function useAnsweredHere(items: readonly NeedItem[]) {
  const [answered, setAnswered] = useState<ReadonlyMap<string, PromptView>>(new Map());
  const onAnswered = useCallback((prompt: PromptView, decision: PromptDecision) => {
    setAnswered((m) => new Map(m).set(prompt.promptId, { ...prompt, status: "answered", decision }));
  }, []);
  const listed = new Set(items.flatMap((i) => (i.prompt !== undefined ? [i.prompt.promptId] : [])));
  const gone = [...answered.keys()].filter((id) => !listed.has(id));
  const recent = useQuery(api.prompts.listOpen, gone.length > 0 ? {} : "skip");
  const recentById = new Map((recent?.recent ?? []).map((r) => [r.promptId, r]));
  const leftovers = gone.map((id) => recentById.get(id) ?? answered.get(id)!);
  return { onAnswered, leftovers };
}

function NeedsContent({ clock, linkedKey }: { clock?: () => number; linkedKey?: string | undefined }) {
  const data: NeedsYouData | undefined = useQuery(api.needs.needsYou);
  const nodes = useQuery(api.nodes.listNodes);
  const send = useMutation(api.prompts.answer);
  const answer = useCallback<Answer>((args) => send({ ...args, client: CLIENT }), [send]);
  const me = useMe();
  const items = data?.items ?? [];
  const now = useWakeClock(items, clock);
  const { onAnswered, leftovers } = useAnsweredHere(items);
  const [showAll, setShowAll] = useState(false);
  if (data === undefined) return <Loading />;

  const rules = new Map((nodes ?? []).map((n) => [n._id as string, n.messaging]));
  const ctx: Ctx = { role: me?.role, rules, answer, onAnswered, now };
  const open = visibleCount(items, now);
  const hidden = items.length - open;
  const { shown, linked } = shownNeeds(items, now, { showAll, linkedKey });
  const groups = groupNeeds(shown);
  return (
    <>
      <div className={s.bar}>
        <span role="status" data-testid="needs-count">
          {open === 0 ? "Nothing needs you" : `${open} ${open === 1 ? "item needs" : "items need"} you`}
          {hidden > 0 && `; ${hidden} dismissed or snoozed`}
        </span>
        {(hidden > 0 || showAll) && (
          <Button small onClick={() => setShowAll((x) => !x)} aria-pressed={showAll} data-testid="needs-show-dismissed">
            Show dismissed
          </Button>
        )}
      </div>
      {linked === "gone" && (
        <p className={s.gone} role="status" data-testid="needs-linked-gone">
          This item has been resolved or is no longer waiting.
        </p>
      )}
      {leftovers.length > 0 && (
        <Panel title="Answered from here" flush label="Answered from here">
          <ul className={p.items}>
            {leftovers.map((prompt) => (
              <PromptItem key={prompt.promptId} prompt={prompt} role={ctx.role} rule={rules.get(prompt.nodeId)} answer={answer} />
            ))}
          </ul>
        </Panel>
      )}
      {groups.length === 0 ? (
        <div className={s.wide}>
          <Panel>
            <EmptyState title="Nothing needs you right now.">
              <p>
                Permission prompts, plans awaiting approval, teammates asking at a lead's terminal, stalled or idle agents, stop failures, blocked phases,
                failed actions and offline laptops show up here as they happen.
              </p>
            </EmptyState>
          </Panel>
        </div>
      ) : (
        groups.map((g) => (
          <div key={g.kind} className={g.kind === "permission_prompt" || g.kind === "plan_approval" ? s.wide : undefined}>
            <Panel title={`${g.title} (${g.items.length})`} flush label={g.title}>
              <ul className={s.items}>
                {g.items.map((item) => (
                  <NeedCard key={item.key} item={item} ctx={ctx} linked={item.key === linkedKey} />
                ))}
              </ul>
            </Panel>
          </div>
        ))
      )}
    </>
  );
}

/** The page; `item` is the key of the item a link opened it on. */
export function NeedsYouView({ clock, item }: { clock?: () => number; item?: string | undefined } = {}) {
  return (
    <>
      <h1 className={s.pageTitle}>Needs you</h1>
      <div className={s.page}>
        <QueryBoundary what="what needs you">
          <NeedsContent {...(clock !== undefined ? { clock } : {})} linkedKey={item} />
        </QueryBoundary>
      </div>
    </>
  );
}

/** The first few items, for the desktop sidebar on the orchestrations page. */
export function NeedsSummary() {
  const data = useQuery(api.needs.needsYou);
  const items = data?.items ?? [];
  const now = useWakeClock(items);
  const open = groupNeeds(items.filter((i) => needState(i, now) === "open")).flatMap((g) => g.items);
  return (
    <Panel title="Needs you" actions={<a href="#/attention">All</a>} flush minHeight={120}>
      {data === undefined ? (
        <div style={{ padding: 16 }}>
          <Skeleton height={60} />
        </div>
      ) : open.length === 0 ? (
        <EmptyState title="All clear." />
      ) : (
        <ul className={o.compactList}>
          {open.slice(0, 8).map((it) => (
            <li key={it.key}>
              <a href={needHref(it) ?? "#/attention"}>{it.title}</a>
              <Badge tone={NEED_KIND_TONES[it.kind]}>{NEED_KIND_LABELS[it.kind]}</Badge>
            </li>
          ))}
        </ul>
      )}
    </Panel>
  );
}

/** How many items need this viewer now (dismissed and snoozed ones aside); 0 while loading. */
export function useNeedsCount(): number {
  const data = useQuery(api.needs.needsYou);
  const items = data?.items ?? [];
  const now = useWakeClock(items);
  return data === undefined ? 0 : visibleCount(items, now);
}
