// The orchestration's events, newest first: loaded a page at a time and followed live.
import { usePaginatedQuery } from "convex/react";
import { useEffect } from "react";
import { api, type Id } from "../../api";
import { Badge, Button, EmptyState, Panel, Skeleton, Time } from "../../components/ui";
import { eventTone, FIRST_PAGE, formatDetail, newestFirst, NEXT_PAGE, shouldAutoLoad } from "../../lib/events";
import s from "../detail.module.css";

export function EventTimeline({ orchestrationId }: { orchestrationId: Id<"orchestrations"> }) {
  const { results, status, loadMore } = usePaginatedQuery(api.events.listEvents, { orchestrationId }, { initialNumItems: FIRST_PAGE });
  const auto = shouldAutoLoad(status, results.length);
  useEffect(() => {
    if (auto) loadMore(NEXT_PAGE);
  }, [auto, loadMore]);
  const events = newestFirst(results);
  return (
    <Panel title="Events" flush label="Event timeline" minHeight={160}>
      {status === "LoadingFirstPage" ? (
        <div style={{ padding: 16, display: "flex", flexDirection: "column", gap: 12 }}>
          <Skeleton height={40} />
          <Skeleton height={40} />
          <Skeleton height={40} />
        </div>
      ) : events.length === 0 ? (
        <EmptyState title="No events yet.">
          <p>State changes, retries and operator actions are recorded here as they happen.</p>
        </EmptyState>
      ) : (
        <ol className={s.rows}>
          {events.map((e) => {
            const detail = formatDetail(e.detail);
            return (
              <li key={e._id} className={s.rowItem} data-testid="event" data-type={e.eventType}>
                <div className={s.rowHead}>
                  <strong>{e.summary || e.eventType}</strong>
                  <Badge tone={eventTone(e.eventType)}>{e.eventType.replace(/_/g, " ")}</Badge>
                </div>
                <span style={{ color: "var(--text-muted)", fontSize: "0.82rem" }}>
                  <Time at={e.recordedAt} />
                  {e.phaseNumber && ` · phase ${e.phaseNumber}`} · {e.source}
                </span>
                {detail && (
                  <details className={s.eventDetail}>
                    <summary>detail</summary>
                    <pre>{detail}</pre>
                  </details>
                )}
              </li>
            );
          })}
        </ol>
      )}
      {(status === "CanLoadMore" || status === "LoadingMore") && !auto && (
        <div className={s.more}>
          <Button small disabled={status === "LoadingMore"} onClick={() => loadMore(NEXT_PAGE)}>
            {status === "LoadingMore" ? "Loading…" : `Showing the first ${results.length}: load newer events`}
          </Button>
        </div>
      )}
    </Panel>
  );
}
