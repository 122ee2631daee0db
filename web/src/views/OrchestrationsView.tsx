// Every orchestration on every laptop: what needs you first, searchable, filterable by laptop and
// status, sortable; search, filters and sort kept in the address.
import { useState } from "react";
import { useQuery } from "convex/react";
import { api, type OrchestrationSummary } from "../api";
import { Badge, Button, EmptyState, Panel, ProgressBar, QueryBoundary, Skeleton, Time, cx, ui } from "../components/ui";
import { useNow } from "../hooks/useNow";
import { navigate } from "../hooks/useRoute";
import { presence, PRESENCE_LABELS } from "../lib/fleet";
import { agentCountsText } from "../lib/liveness";
import {
  activityText,
  filtersToQuery,
  isFiltered,
  laptopState,
  listArgs,
  matchesSearch,
  orderForList,
  parseFilters,
  progress,
  SORT_LABELS,
  SORTS,
  stateChip,
  type Filters,
  type RowProgress,
  type Sort,
} from "../lib/orchestrations";
import { href, orchestrationHref } from "../lib/routing";
import { ORCHESTRATION_STATUSES, orchestrationStatusLabel } from "../lib/status";
import { elapsed, formatDuration } from "../lib/time";
import { costText } from "../lib/usage";
import type { OrchestrationStatus, Id } from "../api";
import { NeedsSummary } from "./NeedsYou";
import { FleetSummary } from "./FleetView";
import s from "./orchestrations.module.css";

function setFilters(f: Filters) {
  navigate(href({ name: "orchestrations", query: filtersToQuery(f) }));
}

/**
 * The search box: the list follows each keystroke, and the address keeps the words (replaced in
 * place: no history entry per keystroke, no jump to the top).
 */
function SearchBox({ value, onChange }: { value: string; onChange: (search: string) => void }) {
  return (
    <label className={cx(ui.field, s.search)}>
      Search
      <input
        className={ui.input}
        type="search"
        value={value}
        placeholder="Feature or branch"
        autoComplete="off"
        spellCheck={false}
        onChange={(e) => onChange(e.target.value)}
      />
    </label>
  );
}

function SortPicker({ filters }: { filters: Filters }) {
  return (
    <label className={cx(ui.field, s.sort)}>
      Sort
      <select
        className={ui.input}
        value={filters.sort ?? "needs"}
        onChange={(e) => setFilters({ ...filters, sort: e.target.value as Sort })}
      >
        {SORTS.map((sort) => (
          <option key={sort} value={sort}>
            {SORT_LABELS[sort]}
          </option>
        ))}
      </select>
    </label>
  );
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
 * A row of the list with what it reads on its own (orchestrations:orchestrationProgress): its
 * agents, its phase's tasks and its last activity; and its cost so far (usage:orchestrationTotals,
 * one document). A task's, an agent's or a usage change re-runs that small query, not the list.
 */
export function LiveOrchestrationRow({ o }: { o: OrchestrationSummary }) {
  const extra = useQuery(api.orchestrations.orchestrationProgress, { orchestrationId: o._id });
  const usage = useQuery(api.usage.orchestrationTotals, { orchestrationId: o._id });
  return <OrchestrationRow o={o} extra={extra} cost={costText(usage)} />;
}

/**
 * One orchestration as a card (a link to its detail): its state in a word, the laptop and its
 * state in words, where it is (phase, stage, tasks done), labelled times, the last activity, its
 * agents, its cost so far and why it needs you. Times are relative, the exact time on hover and for screen readers.
 */
export function OrchestrationRow({ o, extra, cost }: { o: OrchestrationSummary; extra?: RowProgress; cost?: string | null }) {
  const now = useNow();
  const p = progress(o, extra?.phases);
  const chip = stateChip(o);
  const finished = o.completedAt !== undefined;
  const took = formatDuration(elapsed(o.startedAt, o.completedAt, now));
  const counts = extra?.agents;
  const agents = agentCountsText(counts);
  const reason = o.attention === "awaiting_approval" ? `Phase ${o.attentionPhase ?? "?"}: plan awaiting approval` : o.attentionReason && `Phase ${o.attentionPhase ?? "?"}: ${o.attentionReason}`;
  const last = extra?.lastActivity;
  return (
    <a
      className={s.row}
      href={orchestrationHref(o._id)}
      data-testid="orchestration-row"
      data-feature={o.featureName}
      data-stage={p.stage}
    >
      <span className={s.feature}>{o.featureName}</span>
      <span className={s.meta}>
        <span data-testid="laptop-state">
          <span className={cx(s.presence, o.nodeOnline && s.online)} aria-hidden />
          {laptopState(o)}
        </span>
        <span className={s.branch} title={o.branch}>
          {o.branch}
        </span>
      </span>
      <span className={s.progress}>
        <span className={s.progressText} data-testid="progress">
          {p.label}
          {p.stage !== "complete" && p.stage !== "validating" && <> · {p.stage}</>}
          {p.tasks && <> · {p.tasks}</>}
        </span>
        <ProgressBar fraction={p.fraction} label={`${o.featureName}: ${p.label}${p.tasks ? `, ${p.tasks}` : ""}`} />
      </span>
      <span className={s.status}>
        <Badge tone={chip.tone}>{chip.label}</Badge>
      </span>
      <span className={s.times} data-testid="times">
        {finished ? (
          <>
            <span>took {took}</span>
            <span>
              <Time at={o.completedAt!} prefix="finished " plain />
            </span>
          </>
        ) : (
          <>
            <span>running {took}</span>
            <span>
              <Time at={o.startedAt} prefix="started " plain />
            </span>
          </>
        )}
        {cost && (
          <span data-testid="card-cost">
            <span className="visually-hidden">cost so far: </span>
            {cost}
          </span>
        )}
      </span>
      <span className={s.activity} data-testid="last-activity">
        {last !== undefined ? (
          <>
            <Time at={last.at} prefix="Last activity " plain />: {activityText(last)}
          </>
        ) : (
          <Time at={o.updatedAt} prefix="Updated " plain />
        )}
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

function OrchestrationList({ filters, onClearSearch }: { filters: Filters; onClearSearch: () => void }) {
  const data = useQuery(api.orchestrations.listOrchestrations, listArgs(filters));
  if (data === undefined) return <RowSkeletons count={4} />;
  const matching = (list: OrchestrationSummary[]) => list.filter((o) => matchesSearch(o, filters.search));
  const { active, finished } = orderForList({ active: matching(data.active), finished: matching(data.finished) }, filters.sort);
  const filtered = isFiltered(filters);
  const searching = filters.search !== undefined && filters.search.trim() !== "";
  if (active.length === 0 && finished.length === 0 && searching && data.active.length + data.finished.length > 0) {
    return (
      <Panel>
        <EmptyState title={`Nothing matches “${filters.search!.trim()}”.`}>
          <p>The search looks at feature names, branches and laptop names.</p>
          <p>
            <Button small onClick={onClearSearch}>
              Clear search
            </Button>
          </p>
        </EmptyState>
      </Panel>
    );
  }
  if (active.length === 0 && finished.length === 0) {
    return filtered ? (
      <Panel>
        <EmptyState title="Nothing matches these filters.">
          <p>
            <Button small onClick={() => setFilters({ search: filters.search, sort: filters.sort })}>
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
  const parsed = parseFilters(query);
  // The search follows the box at once; the address is kept in step (see SearchBox).
  const fromAddress = parsed.search ?? "";
  const [search, setSearch] = useState(fromAddress);
  // The address changed under the box (back, a link, a filter): the box follows it.
  const [seen, setSeen] = useState(fromAddress);
  if (seen !== fromAddress) {
    setSeen(fromAddress);
    setSearch(fromAddress);
  }
  const filters: Filters = { ...parsed, ...(search.trim() === "" ? { search: undefined } : { search }) };
  const onSearch = (next: string) => {
    setSearch(next);
    window.history.replaceState(window.history.state, "", href({ name: "orchestrations", query: filtersToQuery({ ...parsed, search: next }) }));
  };
  const filtered = isFiltered(filters);
  return (
    <div className={s.page}>
      <div>
        <div className={s.titleRow}>
          <h1>Orchestrations</h1>
        </div>
        <div className={s.filters} role="group" aria-label="Search, filters and sort">
          <SearchBox value={search} onChange={onSearch} />
          <QueryBoundary what="laptops">
            <LaptopFilter filters={filters} />
          </QueryBoundary>
          <StatusFilter filters={filters} />
          <SortPicker filters={filters} />
          {filtered && (
            <Button small kind="ghost" className={s.clear} onClick={() => setFilters({ search: filters.search, sort: filters.sort })}>
              Clear filters
            </Button>
          )}
        </div>
        <QueryBoundary what="orchestrations" resetKey={query.toString()}>
          <OrchestrationList filters={filters} onClearSearch={() => onSearch("")} />
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
