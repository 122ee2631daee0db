// The fleet's spend and quota (issue 22): what every laptop's agents cost per day and per laptop
// over the last 7 or 30 days (usage:fleetSpend), and each Claude account's quota windows as the
// laptops' status lines last reported them (usage:fleetQuotaRows; config dirs logged in to one
// account as one): used, when they reset, a warning from 80 %, and "limit reached" after a
// rate-limit stop.
import { useQuery } from "convex/react";
import type { FunctionReturnType } from "convex/server";
import { useState } from "react";
import { api } from "../api";
import { EmptyState, Panel, ProgressBar, Skeleton, Time, cx, ui } from "../components/ui";
import { useNow } from "../hooks/useNow";
import { useStableQuery } from "../hooks/useStableQuery";
import {
  accountQuotas,
  costText,
  formatCost,
  formatPct,
  formatTokens,
  limitView,
  spendTotals,
  WINDOW_LABELS,
  windowView,
  type AccountQuota,
  type QuotaSeen,
  type QuotaWindow,
  type WindowName,
} from "../lib/usage";
import u from "./usage.module.css";

const DAY_MS = 24 * 3_600_000;
export const SPEND_DAYS = [7, 30] as const;

/** "Thu 3 Dec" for a UTC day (the rows are UTC days). */
export function dayText(day: number): string {
  return new Intl.DateTimeFormat("en-GB", { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" }).format(day);
}

/**
 * What was spent, as `costText` says it: "$1.23", "$1.23 + 12k tokens price unknown", "12k tokens
 * price unknown" (never "$0.00" for tokens without a price); "$0.00" only when nothing was used.
 */
function spentText(s: { costMicros: number; unpricedTokens: number }): string {
  return costText(s) ?? formatCost(0);
}

type SpendRow = { key: string; head: string; tokens: number; costMicros: number; unpricedTokens: number };

/** One table of the spend: a row per laptop or per day, its tokens and its cost. */
function SpendTable({ title, label, testId, first, rows }: { title: string; label: string; testId: string; first: string; rows: SpendRow[] }) {
  return (
    <div className={u.block}>
      <h3>{title}</h3>
      <div className={u.scroll} tabIndex={0} role="region" aria-label={label}>
        <table className={u.table} data-testid={testId}>
          <thead>
            <tr>
              <th scope="col">{first}</th>
              <th scope="col">Tokens</th>
              <th scope="col">Cost</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.key}>
                <th scope="row" className={u.left}>
                  {r.head}
                </th>
                <td>{formatTokens(r.tokens)}</td>
                <td>{spentText(r)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

type Spend = FunctionReturnType<typeof api.usage.fleetSpend>;

/**
 * The last `days` days' spend, as two live queries: today's, which every batch from a laptop
 * changes, and the days before it, which a batch leaves be (so a busy fleet re-runs only the
 * small one). Each keeps its last result while a new range loads (`stale`); `days`: the days the
 * result answers.
 */
function useSpend(days: number): { spend: Spend; days: number; stale: boolean } | undefined {
  const now = useNow();
  const today = now - (now % DAY_MS); // UTC, as the rows' days
  const before = useStableQuery(api.usage.fleetSpend, { days: days - 1, until: today - DAY_MS });
  const current = useStableQuery(api.usage.fleetSpend, { days: 1, until: today });
  if (before === undefined || current === undefined) return undefined;
  const spend = { from: before.result.from, rows: [...before.result.rows, ...current.result.rows], truncated: before.result.truncated || current.result.truncated };
  return { spend, days: before.args.days + 1, stale: before.stale || current.stale };
}

/**
 * Spend per day and per laptop over the last 7 or 30 days. Another range keeps the last one on
 * screen, said as such and busy for assistive tech, until its figures arrive.
 */
export function FleetSpend() {
  const [days, setDays] = useState<(typeof SPEND_DAYS)[number]>(7);
  const held = useSpend(days);
  const nodes = useQuery(api.nodes.listNodes);
  const names = new Map((nodes ?? []).map((n) => [n._id as string, n.name]));
  // A laptop missing from the list is a removed one, once the list is there.
  const nameOf = (nodeId: string) => names.get(nodeId) ?? (nodes === undefined ? "a laptop (name loading)" : "a removed laptop");
  const picker = (
    <label className={u.daysPicker}>
      <span className="visually-hidden">Spend over</span>
      <select className={ui.input} value={days} onChange={(e) => setDays(Number(e.target.value) as (typeof SPEND_DAYS)[number])} aria-label="Spend over the last">
        {SPEND_DAYS.map((d) => (
          <option key={d} value={d}>
            last {d} days
          </option>
        ))}
      </select>
    </label>
  );
  let body;
  if (held === undefined) {
    body = <Skeleton height={140} />;
  } else {
    // The figures answer `shown` days: `days` once they arrive, the previous range until then.
    const { spend, stale, days: shown } = held;
    const t = spendTotals(spend.rows);
    const byDay = new Map(t.byDay.map((d) => [d.day, d]));
    // Every day of the range, today last; a day without usage at zero.
    const allDays = Array.from({ length: shown }, (_, i) => spend.from + i * DAY_MS);
    body = (
      <div aria-busy={stale} data-testid="fleet-spend-body">
        {stale && (
          <p className={u.muted} data-testid="fleet-spend-updating">
            Showing the last {shown} days while the last {days} load.
          </p>
        )}
        {t.total.tokens === 0 ? (
          <EmptyState title={`Nothing spent in the last ${shown} days.`}>
            <p>Costs appear here as agents work on any laptop.</p>
          </EmptyState>
        ) : (
          <>
            <p className={u.summary}>
              <span className={u.cost} data-testid="fleet-spend-total">
                {spentText(t.total)}
              </span>
              <span className={u.muted}>
                {formatTokens(t.total.tokens)} tokens over the last {shown} days
                {t.total.unpricedTokens > 0 && `, ${formatTokens(t.total.unpricedTokens)} of them price unknown`}
              </span>
            </p>
            <SpendTable
              title="Per laptop"
              label="Spend per laptop"
              testId="fleet-spend-laptops"
              first="Laptop"
              rows={t.byNode.map((n) => ({ key: n.nodeId, head: nameOf(n.nodeId), ...n }))}
            />
            <SpendTable
              title="Per day (UTC)"
              label="Spend per day"
              testId="fleet-spend-days"
              first="Day"
              rows={allDays.map((day) => {
                const d = byDay.get(day);
                return { key: String(day), head: dayText(day), tokens: d?.tokens ?? 0, costMicros: d?.costMicros ?? 0, unpricedTokens: d?.unpricedTokens ?? 0 };
              })}
            />
            {spend.truncated && <p className={u.muted}>Too many laptops to show every day: the oldest days are incomplete.</p>}
          </>
        )}
      </div>
    );
  }
  return (
    <div data-testid="fleet-spend">
      <Panel title="Spend" label="Spend" actions={picker}>
        {body}
      </Panel>
    </div>
  );
}

function QuotaWindowRow({ name, w, now, laptop }: { name: WindowName; w: QuotaWindow | undefined; now: number; laptop: string }) {
  const view = windowView(w, now);
  if (view.state === "unknown") return null;
  const label = WINDOW_LABELS[name];
  if (view.state === "reset") {
    return (
      <div className={u.window} data-testid="quota-window" data-window={name} data-state="reset">
        <div className={u.windowHead}>
          <span>{label}</span>
          <span>
            reset <Time at={view.resetAt} />
          </span>
        </div>
        <span className={u.muted}>No reading since it reset.</span>
      </div>
    );
  }
  return (
    <div className={u.window} data-testid="quota-window" data-window={name} data-state={view.tone}>
      <div className={u.windowHead}>
        <span>{label}</span>
        <span className={cx(view.tone === "warning" && u.warning, view.tone === "full" && u.full)}>
          {formatPct(view.pct)} used{view.tone === "warning" ? ", close to the limit" : view.tone === "full" ? ", at the limit" : ""}
        </span>
      </div>
      <ProgressBar fraction={view.pct / 100} label={`${laptop}: ${label}, ${formatPct(view.pct)} used`} />
      <span className={u.muted}>
        resets <Time at={view.resetsAt} ahead />
      </span>
    </div>
  );
}

/** How a laptop's config dir is named in words: "alpha, ~/.claude-work" (the laptop alone when not known). */
function placeText(p: QuotaSeen): string {
  return p.account === undefined ? p.nodeName : `${p.nodeName}, ${p.account}`;
}

function AccountQuotaCard({ q, now }: { q: AccountQuota; now: number }) {
  const limit = limitView(q, now);
  const [first] = q.seen;
  const shared = q.seen.length > 1;
  const who = shared ? `one account on ${q.seen.map(placeText).join("; ")}` : placeText(first);
  return (
    <li className={u.laptop} data-testid="quota-account" data-node={first.nodeName} data-account={first.account} data-seen={q.seen.length} aria-label={`Quota of ${who}`}>
      <div className={u.windowHead}>
        <strong>{[...new Set(q.seen.map((p) => p.nodeName))].join(", ")}</strong>
        <span className={u.muted}>
          as of <Time at={q.observedAt} />
        </span>
      </div>
      <span className={u.muted}>
        {shared ? (
          <>
            One Claude account, used from{" "}
            {q.seen.map((p, i) => (
              <span key={`${p.nodeId}:${p.account ?? ""}`}>
                {i > 0 && ", "}
                <code>{p.account ?? "a config dir"}</code> on {p.nodeName}
              </span>
            ))}
          </>
        ) : first.account === undefined ? (
          "A Claude account of this laptop (its config dir not reported: a status line installed by an older tina)"
        ) : (
          <>
            The Claude account of <code>{first.account}</code>
          </>
        )}
      </span>
      {limit.limited && (
        <p className={u.limited} data-testid="quota-limited">
          Limit reached <Time at={limit.since} />
          {limit.resetsAt !== undefined && (
            <>
              , resets <Time at={limit.resetsAt} ahead />
            </>
          )}
          {q.limitedText !== undefined && q.limitedText !== "" && <> · “{q.limitedText}”</>}
        </p>
      )}
      <QuotaWindowRow name="fiveHour" w={q.fiveHour} now={now} laptop={who} />
      <QuotaWindowRow name="sevenDay" w={q.sevenDay} now={now} laptop={who} />
      {q.fiveHour === undefined && q.sevenDay === undefined && !limit.limited && <span className={u.muted}>No window reported.</span>}
    </li>
  );
}

/** Each Claude account's quota: one per config dir, or per account where the laptops know it. */
export function FleetQuota() {
  const found = useQuery(api.usage.fleetQuotaRows, {});
  const quota = found?.rows;
  const now = useNow();
  return (
    <div data-testid="fleet-quota">
      <Panel title="Quota" label="Quota">
        {quota === undefined ? (
          <Skeleton height={100} />
        ) : quota.length === 0 ? (
          <EmptyState title="No laptop has reported its quota yet.">
            <p>
              Each laptop reports its Claude accounts' 5-hour and 7-day windows once Claude Code's status line carries them (recent versions,
              Claude.ai subscriptions), after the first answer of a session.
            </p>
          </EmptyState>
        ) : (
          <>
            <p className={u.muted}>
              Per Claude account, as the status lines last reported it. Each Claude Code config dir keeps its own login; config dirs logged in to
              one account, on any laptop, show as one.
            </p>
            <ul className={u.windows}>
              {accountQuotas(quota).map((q) => (
                <AccountQuotaCard key={q.key} q={q} now={now} />
              ))}
            </ul>
            {found?.truncated && (
              <p className={u.muted} data-testid="fleet-quota-truncated">
                Some laptops&apos; quota is not shown: more than 400 accounts&apos; windows were reported.
              </p>
            )}
          </>
        )}
      </Panel>
    </div>
  );
}
