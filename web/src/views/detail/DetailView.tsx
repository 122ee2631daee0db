// One orchestration: header, controls, phase timeline, task boards, roster, actions, events.
import { useQuery } from "convex/react";
import { api, type Id, type OrchestrationDetail } from "../../api";
import { Badge, EmptyState, Panel, ProgressBar, QueryBoundary, Skeleton, Time } from "../../components/ui";
import { useNow } from "../../hooks/useNow";
import type { ActContext } from "../../lib/controls";
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
        <span data-testid="detail-laptop">
          on <strong>{detail.nodeName}</strong>{" "}
          <Badge tone={detail.nodeOnline ? "success" : "danger"} dot>
            {detail.nodeOnline ? "online" : "offline"}
          </Badge>
        </span>
        <span>
          branch <code>{o.branch}</code>
        </span>
        <span>
          started <Time at={o.startedAt} />
        </span>
        <span>
          {o.completedAt !== undefined ? "took" : "running for"} {formatDuration(elapsed(o.startedAt, o.completedAt, now))}
        </span>
        <span>
          worktree <code>{o.worktreePath}</code>
        </span>
      </div>
      <div className={s.progressRow}>
        <span>
          {p.label} · {o.phasesCompleted} complete
        </span>
        <ProgressBar fraction={p.fraction} label={p.label} />
      </div>
    </header>
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

function DetailContent({ orchestrationId }: { orchestrationId: Id<"orchestrations"> }) {
  const detail = useQuery(api.orchestrations.getOrchestrationDetail, { orchestrationId });
  // The same recent actions, with whether each delivered inbox message has been read.
  const listed = useQuery(api.actions.listActions, { orchestrationId, limit: RECENT_ACTIONS });
  const me = useMe();
  if (detail === undefined) return <DetailSkeleton />;
  if (detail === null) {
    return (
      <Panel>
        <EmptyState title="This orchestration doesn't exist (any more).">
          <p>
            It may have been removed, or the link is from another deployment. <a href="#/">See all orchestrations</a>.
          </p>
        </EmptyState>
      </Panel>
    );
  }
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
        {/* The controls load the plan waiting for approval: a failure there leaves the rest of the page. */}
        <QueryBoundary what="the controls">
          <Controls orchestrationId={orchestrationId} phases={detail.phases} attentionPhase={detail.orchestration.attentionPhase} ctx={ctx} actions={actions} />
        </QueryBoundary>
      </div>
      <div className={s.phases}>
        <PhaseTimeline orchestrationId={orchestrationId} phases={detail.phases} totalPhases={detail.orchestration.totalPhases} />
        <QueryBoundary what="the design doc">
          <DesignDoc orchestrationId={orchestrationId} />
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
      <div className={s.events}>
        <QueryBoundary what="events">
          <EventTimeline orchestrationId={orchestrationId} />
        </QueryBoundary>
      </div>
    </div>
  );
}

export function DetailView({ orchestrationId }: { orchestrationId: Id<"orchestrations"> }) {
  return (
    <QueryBoundary what="this orchestration" resetKey={orchestrationId}>
      <DetailContent orchestrationId={orchestrationId} />
    </QueryBoundary>
  );
}
