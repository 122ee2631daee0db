// Every orchestration on every laptop: active first, filterable by laptop and status.
import { useQuery } from "convex/react";
import { api, type LivenessCounts, type OrchestrationSummary } from "../api";
import { Badge, Button, EmptyState, Panel, ProgressBar, QueryBoundary, Skeleton, cx, ui } from "../components/ui";
import { useNow } from "../hooks/useNow";
import { navigate } from "../hooks/useRoute";
import { presence, PRESENCE_LABELS } from "../lib/fleet";
import { agentCountsText } from "../lib/liveness";
import { filtersToQuery, listArgs, orderForList, parseFilters, progress, type Filters } from "../lib/orchestrations";
import { href, orchestrationHref } from "../lib/routing";
import { ORCHESTRATION_STATUSES, orchestrationStatusLabel, orchestrationStatusTone } from "../lib/status";
import { elapsed, formatDuration } from "../lib/time";
import type { OrchestrationStatus, Id } from "../api";
import { NeedsSummary } from "./NeedsYou";
import { FleetSummary } from "./FleetView";
import s from "./orchestrations.module.css";

function setFilters(f: Filters) {
  navigate(href({ name: "orchestrations", query: filtersToQuery(f) }));
}

function LaptopFilter({ filters }: { filters: Filters }) {
  const nodes = useQuery(api.nodes.listNodes);
  return (
    <label className={ui.field}>
      Laptop
      <select
        className={ui.input}
        value={filters.nodeId ?? ""}
        disabled={nodes === undefined}
        onChange={(e) => setFilters({ ...filters, nodeId: (e.target.value || undefined) as Id<"nodes"> | undefined })}
      >
        <option value="">All laptops</option>
        {nodes?.map((n) => (
          <option key={n._id} value={n._id}>
            {n.name} ({PRESENCE_LABELS[presence(n)]})
          </option>
        ))}
        {/* A laptop from the address that is not (yet) listed stays selectable. */}
        {filters.nodeId && nodes !== undefined && !nodes.some((n) => n._id === filters.nodeId) && (
          <option value={filters.nodeId}>unknown laptop</option>
        )}
      </select>
    </label>
  );
}

function StatusFilter({ filters }: { filters: Filters }) {
  return (
    <label className={ui.field}>
      Status
      <select
        className={ui.input}
        value={filters.status ?? ""}
        onChange={(e) => setFilters({ ...filters, status: (e.target.value || undefined) as OrchestrationStatus | undefined })}
      >
        <option value="">Any status</option>
        {ORCHESTRATION_STATUSES.map((st) => (
          <option key={st} value={st}>
            {orchestrationStatusLabel(st)}
          </option>
        ))}
      </select>
    </label>
  );
}

/**
 * A row of the list with its agents' counts, which it subscribes to on its own
 * (orchestrations:orchestrationAgents): an agent's change re-runs that small query, not the list.
 */
export function LiveOrchestrationRow({ o }: { o: OrchestrationSummary }) {
  const counts = useQuery(api.orchestrations.orchestrationAgents, { orchestrationId: o._id });
  return <OrchestrationRow o={o} agents={counts ?? undefined} />;
}

export function OrchestrationRow({ o, agents: counts }: { o: OrchestrationSummary; agents?: LivenessCounts }) {
  const now = useNow();
  const p = progress(o);
  const took = elapsed(o.startedAt, o.completedAt, now);
  const agents = agentCountsText(counts);
  const reason = o.attention === "awaiting_approval" ? `Phase ${o.attentionPhase ?? "?"}: plan awaiting approval` : o.attentionReason && `Phase ${o.attentionPhase ?? "?"}: ${o.attentionReason}`;
  return (
    <a className={cx(s.row, reason && s.withReason)} href={orchestrationHref(o._id)} data-testid="orchestration-row" data-feature={o.featureName}>
      <span className={s.feature}>{o.featureName}</span>
      <span className={s.meta}>
        <span title={o.nodeOnline ? "laptop online" : "laptop offline"}>
          <span className={cx(s.presence, o.nodeOnline && s.online)} aria-hidden />
          {o.nodeName}
          <span className="visually-hidden">{o.nodeOnline ? "(online)" : "(offline)"}</span>
        </span>
        <span className={s.branch} title={o.branch}>
          {o.branch}
        </span>
      </span>
      <span className={s.progress}>
        <span className={s.progressLabel}>{p.label}</span>
        <ProgressBar fraction={p.fraction} label={`${o.featureName}: ${p.label}`} />
        <span className={s.elapsed} title={`started ${new Date(o.startedAt).toLocaleString()}`}>
          {o.completedAt !== undefined ? `took ${formatDuration(took)}` : formatDuration(took)}
        </span>
      </span>
      <span className={s.status}>
        <Badge tone={orchestrationStatusTone(o.status)}>{orchestrationStatusLabel(o.status)}</Badge>
      </span>
      {agents && (
        <span className={cx(s.agents, counts !== undefined && counts.waiting > 0 && s.agentsWaiting)} data-testid="agent-counts">
          <span className="visually-hidden">Agents: </span>
          {agents}
        </span>
      )}
      {reason && <span className={s.reason}>{reason}</span>}
    </a>
  );
}

export function RowSkeletons({ count }: { count: number }) {
  return (
    <ul className={s.list} aria-busy="true" aria-label="Loading orchestrations">
      {Array.from({ length: count }, (_, i) => (
        <li key={i} className={s.row} style={{ boxShadow: "none" }}>
          <Skeleton width="60%" height={18} />
          <Skeleton width={80} height={22} />
          <Skeleton width="80%" height={14} style={{ gridColumn: "1 / -1" }} />
          <Skeleton width="100%" height={14} style={{ gridColumn: "1 / -1" }} />
        </li>
      ))}
    </ul>
  );
}

function OrchestrationList({ filters }: { filters: Filters }) {
  const data = useQuery(api.orchestrations.listOrchestrations, listArgs(filters));
  if (data === undefined) return <RowSkeletons count={4} />;
  const { active, finished } = orderForList(data);
  const filtered = filters.nodeId !== undefined || filters.status !== undefined;
  if (active.length === 0 && finished.length === 0) {
    return filtered ? (
      <Panel>
        <EmptyState title="Nothing matches these filters.">
          <p>
            <Button small onClick={() => setFilters({})}>
              Clear filters
            </Button>
          </p>
        </EmptyState>
      </Panel>
    ) : (
      <Panel>
        <EmptyState title="No orchestrations yet.">
          <p>
            Start one on a laptop with <code>tina-session</code>; it appears here within a second. A laptop shows up under{" "}
            <a href="#/fleet">Fleet</a> once its daemon is enrolled and running.
          </p>
        </EmptyState>
      </Panel>
    );
  }
  return (
    <>
      <h2 className={s.sectionTitle} id="active-heading">
        Active ({active.length})
      </h2>
      {active.length === 0 ? (
        <p className={ui.secondary}>Nothing running right now.</p>
      ) : (
        <ul className={s.list} aria-labelledby="active-heading">
          {active.map((o) => (
            <li key={o._id}>
              <LiveOrchestrationRow o={o} />
            </li>
          ))}
        </ul>
      )}
      {finished.length > 0 && (
        <>
          <h2 className={s.sectionTitle} id="finished-heading">
            Finished recently ({finished.length})
          </h2>
          <ul className={s.list} aria-labelledby="finished-heading">
            {finished.map((o) => (
              <li key={o._id}>
                <LiveOrchestrationRow o={o} />
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}

export function OrchestrationsView({ query }: { query: URLSearchParams }) {
  const filters = parseFilters(query);
  const filtered = filters.nodeId !== undefined || filters.status !== undefined;
  return (
    <div className={s.page}>
      <div>
        <div className={s.titleRow}>
          <h1>Orchestrations</h1>
        </div>
        <div className={s.filters} role="group" aria-label="Filters">
          <QueryBoundary what="laptops">
            <LaptopFilter filters={filters} />
          </QueryBoundary>
          <StatusFilter filters={filters} />
          {filtered && (
            <Button small kind="ghost" className={s.clear} onClick={() => setFilters({})}>
              Clear filters
            </Button>
          )}
        </div>
        <QueryBoundary what="orchestrations" resetKey={query.toString()}>
          <OrchestrationList filters={filters} />
        </QueryBoundary>
      </div>
      <aside className={s.aside} aria-label="Overview">
        <QueryBoundary what="what needs you">
          <NeedsSummary />
        </QueryBoundary>
        <QueryBoundary what="laptops">
          <FleetSummary />
        </QueryBoundary>
      </aside>
    </div>
  );
}

