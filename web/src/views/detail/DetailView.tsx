// One orchestration: header (repository, branch, laptop, times; the worktree path on a tap),
// controls (none once it is finished), phase timeline, task boards, roster, actions, usage (cost,
// budget, breakdown), events. An
// address naming no orchestration says "not found" with the way back.
import { useQuery } from "convex/react";
import { api, type OrchestrationDetail } from "../../api";
import { Badge, Panel, ProgressBar, QueryBoundary, Skeleton, Time } from "../../components/ui";
import { useNow } from "../../hooks/useNow";
import { isFinishedOrchestration, type ActContext } from "../../lib/controls";
import { progress } from "../../lib/orchestrations";
import { orchestrationStatusLabel, orchestrationStatusTone } from "../../lib/status";
import { elapsed, formatDuration } from "../../lib/time";
import { useMe } from "../../session";
import { ActionHistory } from "./ActionHistory";
import { Controls } from "./Controls";
import { Conversations } from "./Conversation";
import { DesignDoc } from "./Documents";
import { EventTimeline } from "./EventTimeline";
import { PhaseTimeline } from "./PhaseTimeline";
import { TaskBoards } from "./TaskBoard";
import { TeamRoster } from "./TeamRoster";
import { UsageSection } from "./Usage";
import { repositoryName } from "./header";
import s from "../detail.module.css";

/** As many actions as the detail query lists. */
const RECENT_ACTIONS = 20;

function Header({ detail }: { detail: OrchestrationDetail }) {
  const now = useNow();
  const o = detail.orchestration;
  const p = progress(o);
  return (
    <header className={s.header}>
      <a className={s.back} href="#/">
        ← All orchestrations
      </a>
      <div className={s.titleRow}>
        <h1 data-testid="feature-name">{o.featureName}</h1>
        <Badge tone={orchestrationStatusTone(o.status)}>{orchestrationStatusLabel(o.status)}</Badge>
      </div>
      <div className={s.facts}>
        <span data-testid="detail-repo">
          <span className="visually-hidden">repository </span>
          <strong>{repositoryName(o)}</strong> · <span className="visually-hidden">branch </span>
          <code>{o.branch}</code>
        </span>
        <span data-testid="detail-laptop">
          on <strong>{detail.nodeName}</strong>{" "}
          <Badge tone={detail.nodeOnline ? "success" : "danger"} dot>
            {detail.nodeOnline ? "online" : "offline"}
          </Badge>
        </span>
        <span>
          started <Time at={o.startedAt} />
        </span>
        {o.completedAt !== undefined ? (
          <span>
            finished <Time at={o.completedAt} />
            {o.completedAt >= o.startedAt && ` · took ${formatDuration(elapsed(o.startedAt, o.completedAt, now))}`}
          </span>
        ) : (
          <span>running for {formatDuration(elapsed(o.startedAt, undefined, now))}</span>
        )}
      </div>
      <details className={s.worktree} data-testid="detail-worktree">
        <summary>Worktree path</summary>
        <code>{o.worktreePath}</code>
      </details>
      <div className={s.progressRow}>
        <span>
          {p.label} · {o.phasesCompleted} complete
        </span>
        <ProgressBar fraction={p.fraction} label={p.label} />
      </div>
    </header>
  );
}

/** In place of the controls once the orchestration is over: what came of it, nothing to press. */
function Finished({ detail }: { detail: OrchestrationDetail }) {
  const o = detail.orchestration;
  return (
    <Panel title="Finished" label="Finished">
      <p data-testid="detail-finished">
        {o.featureName} is {orchestrationStatusLabel(o.status).toLowerCase()}: nothing is left to approve, pause or retry.
      </p>
    </Panel>
  );
}

/** An address that names no orchestration: said plainly, with the way back. */
export function NotFound() {
  return (
    <div className={s.layout}>
      <div className={s.header}>
        <a className={s.back} href="#/">
          ← All orchestrations
        </a>
      </div>
      <Panel>
        <div className={s.notFound} data-testid="detail-notfound">
          <h1>Orchestration not found</h1>
          <p>No orchestration has this address. It may have been removed, or the link comes from another deployment.</p>
          <p>
            <a href="#/">Back to all orchestrations</a>
          </p>
        </div>
      </Panel>
    </div>
  );
}

function DetailSkeleton() {
  return (
    <div className={s.layout} aria-busy="true" aria-label="Loading orchestration">
      <div className={s.header}>
        <Skeleton width={140} height={16} />
        <Skeleton width="50%" height={28} style={{ marginTop: 8 }} />
        <Skeleton width="80%" height={16} style={{ marginTop: 8 }} />
        <Skeleton width="40%" height={16} style={{ marginTop: 12 }} />
      </div>
      <div className={s.controls}>
        <Panel title="Controls" minHeight={260}>
          <Skeleton height={180} />
        </Panel>
      </div>
      <div className={s.phases}>
        <Panel title="Phases" minHeight={220}>
          <Skeleton height={160} />
        </Panel>
      </div>
    </div>
  );
}

function DetailContent({ orchestrationId }: { orchestrationId: string }) {
  // The address's id as it is: the server answers null for one that names no orchestration.
  const detail = useQuery(api.orchestrations.getOrchestrationDetail, { orchestrationId });
  const id = detail ? detail.orchestration._id : undefined;
  // The same recent actions, with whether each delivered inbox message has been read.
  const listed = useQuery(api.actions.listActions, id !== undefined ? { orchestrationId: id, limit: RECENT_ACTIONS } : "skip");
  const me = useMe();
  if (detail === undefined) return <DetailSkeleton />;
  if (detail === null || id === undefined) return <NotFound />;
  const actions = listed ?? detail.recentActions;
  const ctx: ActContext = {
    role: me?.role,
    laptopName: detail.nodeName,
    laptopOnline: detail.nodeOnline,
    laptopMessaging: detail.nodeMessaging,
    actions,
  };
  return (
    <div className={s.layout}>
      <Header detail={detail} />
      <div className={s.controls}>
        {isFinishedOrchestration(detail.orchestration.status) ? (
          <Finished detail={detail} />
        ) : (
          // The controls load the plan waiting for approval: a failure there leaves the rest of the page.
          <QueryBoundary what="the controls">
            <Controls orchestrationId={id} phases={detail.phases} attentionPhase={detail.orchestration.attentionPhase} ctx={ctx} actions={actions} />
          </QueryBoundary>
        )}
      </div>
      <div className={s.phases}>
        <PhaseTimeline orchestrationId={id} phases={detail.phases} totalPhases={detail.orchestration.totalPhases} worktreePath={detail.orchestration.worktreePath} />
        <QueryBoundary what="the design doc">
          <DesignDoc orchestrationId={id} />
        </QueryBoundary>
      </div>
      <div className={s.tasks}>
        <TaskBoards teams={detail.teams} />
      </div>
      <div className={s.roster}>
        <TeamRoster teams={detail.teams} ctx={ctx} actions={actions} />
      </div>
      <div className={s.conversation}>
        <Conversations teams={detail.teams} />
      </div>
      <div className={s.actions}>
        <ActionHistory actions={actions} canAct={me !== undefined && me.role !== "viewer"} />
      </div>
      <div className={s.usage}>
        <QueryBoundary what="usage">
          <UsageSection orchestrationId={id} />
        </QueryBoundary>
      </div>
      <div className={s.events}>
        <QueryBoundary what="events">
          <EventTimeline orchestrationId={id} />
        </QueryBoundary>
      </div>
    </div>
  );
}

export function DetailView({ orchestrationId }: { orchestrationId: string }) {
  return (
    <QueryBoundary what="this orchestration" resetKey={orchestrationId}>
      <DetailContent orchestrationId={orchestrationId} />
    </QueryBoundary>
  );
}
