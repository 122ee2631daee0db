// An orchestration's usage (issue 22): its cost and tokens so far, its budget (set, change, clear
// by an operator or owner, with the spend against it), a small hourly chart (inline SVG, its
// figures also as a table), and the breakdown by phase and by agent (tokens by kind, web searches
// when there were any, cost).
import { useState, type FormEvent, type ReactNode } from "react";
import { useMutation, useQuery } from "convex/react";
import { api, type Id } from "../../api";
import { Button, EmptyState, Panel, Skeleton, Time, cx, ui } from "../../components/ui";
import { CLIENT } from "../../lib/client";
import { describeError } from "../../lib/errors";
import { formatAbsolute } from "../../lib/time";
import { budgetText, formatCost, formatTokens, hourlyBars, parseBudget, totalTokens, unpricedBudgetText, type UsageSums } from "../../lib/usage";
import { useMe } from "../../session";
import u from "../usage.module.css";

type Totals = UsageSums & { budgetMicros?: number; budgetCrossedAt?: number };

/** "$1.23", "$1.23 + 12k tokens price unknown", "12k tokens price unknown". */
function CostCell({ sums }: { sums: Pick<UsageSums, "costMicros" | "unpricedTokens"> }) {
  if (sums.unpricedTokens <= 0) return <>{formatCost(sums.costMicros)}</>;
  const unknown = `${formatTokens(sums.unpricedTokens)} tokens price unknown`;
  return <>{sums.costMicros > 0 ? `${formatCost(sums.costMicros)} + ${unknown}` : unknown}</>;
}

/** "1 web search", "12 web searches". */
function searchesText(n: number): string {
  return `${formatTokens(n)} web ${n === 1 ? "search" : "searches"}`;
}

function Summary({ totals }: { totals: Totals | null }) {
  if (totals === null || totals.messages === 0) return <p className={u.muted}>No usage recorded yet.</p>;
  return (
    <p className={u.summary} data-testid="usage-total">
      <span className={u.cost}>
        <CostCell sums={totals} />
      </span>
      <span className={u.muted}>
        {formatTokens(totalTokens(totals))} tokens in {totals.messages} {totals.messages === 1 ? "message" : "messages"}
        {totals.webSearches > 0 && `, ${searchesText(totals.webSearches)}`}
      </span>
    </p>
  );
}

/** The budget: what it is and the spend against it; an operator or owner sets, changes or clears it. */
function Budget({ orchestrationId, totals, canSet }: { orchestrationId: Id<"orchestrations">; totals: Totals | null; canSet: boolean }) {
  const setBudget = useMutation(api.usage.setBudget);
  const [text, setText] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const budget = totals?.budgetMicros;
  const cost = totals?.costMicros ?? 0;
  // The server compares the priced cost only; what it leaves out is said beside it.
  const unpriced = unpricedBudgetText(totals?.unpricedTokens ?? 0);
  const send = async (budgetMicros: number | null) => {
    setBusy(true);
    setProblem(null);
    try {
      await setBudget({ orchestrationId, budgetMicros, client: CLIENT });
      setText("");
    } catch (error) {
      setProblem(`The budget was not changed. ${describeError(error).message}`);
    } finally {
      setBusy(false);
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const parsed = parseBudget(text);
    if ("problem" in parsed) setProblem(parsed.problem);
    else void send(parsed.micros);
  };
  return (
    <form className={u.budget} data-testid="budget-form" onSubmit={submit} aria-label="Budget">
      <div>
        <strong>Budget: </strong>
        {budget === undefined ? (
          <span data-testid="budget-status">none set</span>
        ) : (
          <span data-testid="budget-status" className={cx(totals?.budgetCrossedAt !== undefined && u.over)}>
            {budgetText(cost, budget)}
            {totals?.budgetCrossedAt !== undefined && (
              <>
                {" "}
                · reached <Time at={totals.budgetCrossedAt} />
              </>
            )}
          </span>
        )}
      </div>
      {budget !== undefined && unpriced !== null && <span data-testid="budget-unpriced">{unpriced}</span>}
      {canSet ? (
        <>
          <div className={u.budgetRow}>
            <label className={ui.field}>
              {budget === undefined ? "Set a budget, in US dollars" : "Change the budget, in US dollars"}
              <input
                className={ui.input}
                inputMode="decimal"
                autoComplete="off"
                placeholder={budget === undefined ? "e.g. 25" : (budget / 1e6).toFixed(2)}
                value={text}
                onChange={(e) => setText(e.target.value)}
              />
            </label>
            <Button type="submit" kind="primary" disabled={busy}>
              {budget === undefined ? "Set budget" : "Change budget"}
            </Button>
            {budget !== undefined && (
              <Button disabled={busy} onClick={() => void send(null)}>
                Clear budget
              </Button>
            )}
          </div>
          <span className={u.muted}>When the spend reaches it, everyone sees it under Needs you.</span>
        </>
      ) : (
        <span className={u.muted}>An operator or owner can set a budget.</span>
      )}
      {problem && (
        <p role="alert" className={u.over}>
          {problem}
        </p>
      )}
    </form>
  );
}

type Breakdown = NonNullable<ReturnType<typeof useBreakdown>>;
function useBreakdown(orchestrationId: Id<"orchestrations">) {
  return useQuery(api.usage.orchestrationBreakdown, { orchestrationId });
}

const CHART_W = 600;
const CHART_H = 96;

function hourText(hour: number): string {
  return formatAbsolute(hour).replace(/:00$/, "");
}

/** The hourly chart: bars of cost (or tokens when no price is known), its figures also as a table. */
function UsageChart({ byHour }: { byHour: Breakdown["byHour"] }) {
  const { bars, unit, cut } = hourlyBars(byHour);
  if (bars.length === 0) return null;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const step = CHART_W / bars.length;
  const say = (v: number) => (unit === "cost" ? formatCost(v) : `${formatTokens(v)} tokens`);
  const peak = bars.reduce((a, b) => (b.value > a.value ? b : a), bars[0]!);
  const total = bars.reduce((sum, b) => sum + b.value, 0);
  const first = bars[0]!.hour;
  const last = bars[bars.length - 1]!.hour;
  // In cost, the bars leave out the tokens of models without a known price: said in words.
  const unpriced = unit === "cost" ? bars.reduce((sum, b) => sum + b.unpricedTokens, 0) : 0;
  const unknown = unpriced > 0 ? `${formatTokens(unpriced)} tokens price unknown` : null;
  const title = `${unit === "cost" ? "Cost" : "Tokens"} per hour, ${bars.length} ${bars.length === 1 ? "hour" : "hours"}${cut ? " (the newest week)" : ""}`;
  const label = `${title}: ${say(total)} in all${unknown === null ? "" : ` + ${unknown}`}, the most ${say(peak.value)} in the hour from ${hourText(peak.hour)}.`;
  // Every hour with usage, priced or not.
  const used = bars.filter((b) => b.tokens > 0 || b.costMicros > 0);
  return (
    <div className={u.block} data-testid="usage-chart">
      <h3>{title}</h3>
      <svg className={u.chart} viewBox={`0 0 ${CHART_W} ${CHART_H}`} preserveAspectRatio="none" role="img" aria-label={label}>
        <title>{label}</title>
        {bars.map((b) => {
          const h = b.value === 0 ? 0 : Math.max(2, (b.value / max) * (CHART_H - 4));
          return <rect key={b.hour} className={u.bar} x={(b.hour - first) / 3_600_000 * step + step * 0.1} y={CHART_H - h} width={Math.max(1, step * 0.8)} height={h} />;
        })}
      </svg>
      <div className={u.chartAxis} aria-hidden>
        <span>{hourText(first)}</span>
        {last !== first && <span>{hourText(last)}</span>}
      </div>
      {unknown !== null && (
        <p className={u.muted} data-testid="usage-chart-unpriced">
          The bars count priced cost only: {unknown} are not in them.
        </p>
      )}
      <details>
        <summary>The figures, as a table</summary>
        <div className={u.scroll} tabIndex={0} role="region" aria-label="Usage per hour">
          <table className={u.table}>
            <thead>
              <tr>
                <th scope="col">Hour from</th>
                <th scope="col">Tokens</th>
                <th scope="col">Cost</th>
              </tr>
            </thead>
            <tbody>
              {used.map((b) => (
                <tr key={b.hour}>
                  <td>
                    <Time at={b.hour} />
                  </td>
                  <td>{formatTokens(b.tokens)}</td>
                  <td>
                    <CostCell sums={b} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </div>
  );
}

// `searches`: the web searches column, only when the orchestration made some (a column of zeros
// would only widen the table on a phone).
function KindCells({ sums, searches }: { sums: UsageSums; searches: boolean }) {
  return (
    <>
      <td>
        <CostCell sums={sums} />
      </td>
      <td>{formatTokens(sums.input)}</td>
      <td>{formatTokens(sums.output)}</td>
      <td>{formatTokens(sums.cacheWrite)}</td>
      <td>{formatTokens(sums.cacheRead)}</td>
      {searches && <td>{formatTokens(sums.webSearches)}</td>}
    </>
  );
}

// The cost first: on a phone the table scrolls sideways and what shows is what matters most.
function KindHeaders({ searches }: { searches: boolean }) {
  return (
    <>
      <th scope="col">Cost</th>
      <th scope="col">Input</th>
      <th scope="col">Output</th>
      <th scope="col">Cache write</th>
      <th scope="col">Cache read</th>
      {searches && <th scope="col">Web searches</th>}
    </>
  );
}

/** One breakdown: a row per key (its header says which), the cost, tokens by kind and web searches. */
function BreakdownTable({
  what,
  testId,
  first,
  rows,
  truncated,
  searches,
}: {
  what: "phase" | "agent";
  testId: string;
  first: string;
  rows: { key: string; head: ReactNode; sums: UsageSums }[];
  truncated: boolean;
  searches: boolean;
}) {
  return (
    <div className={u.block} data-testid={testId}>
      <h3>By {what}</h3>
      <div className={u.scroll} tabIndex={0} role="region" aria-label={`Usage by ${what}`}>
        <table className={u.table}>
          <thead>
            <tr>
              <th scope="col">{first}</th>
              <KindHeaders searches={searches} />
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.key}>
                <th scope="row" className={u.left}>
                  {r.head}
                </th>
                <KindCells sums={r.sums} searches={searches} />
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {truncated && <p className={u.muted}>More {what === "phase" ? "phases" : "agents"} than shown; the totals above count them all.</p>}
    </div>
  );
}

function ByPhase({ rows, truncated, searches }: { rows: Breakdown["byPhase"]; truncated: boolean; searches: boolean }) {
  const shown = rows.map((r) => ({ key: r.phaseNumber ?? "-", head: r.phaseNumber ?? "not known", sums: r }));
  return <BreakdownTable what="phase" testId="usage-by-phase" first="Phase" rows={shown} truncated={truncated} searches={searches} />;
}

function ByAgent({ rows, truncated, searches }: { rows: Breakdown["byAgent"]; truncated: boolean; searches: boolean }) {
  const shown = rows.map((r) => ({
    key: `${r.phaseNumber ?? "-"}/${r.agentName ?? "-"}`,
    head: (
      <>
        {r.agentName ?? "not known"}
        <span className={u.muted}> · phase {r.phaseNumber ?? "not known"}</span>
      </>
    ),
    sums: r,
  }));
  return <BreakdownTable what="agent" testId="usage-by-agent" first="Agent, phase" rows={shown} truncated={truncated} searches={searches} />;
}

/** The detail page's "Usage" section. */
export function UsageSection({ orchestrationId }: { orchestrationId: Id<"orchestrations"> }) {
  const totals = useQuery(api.usage.orchestrationTotals, { orchestrationId });
  const breakdown = useBreakdown(orchestrationId);
  const role = useMe()?.role;
  const canSet = role === "operator" || role === "owner";
  // Both tables get the column when either shows a search, so their columns line up.
  const searches = breakdown !== undefined && [...breakdown.byPhase, ...breakdown.byAgent].some((r) => r.webSearches > 0);
  return (
    <div data-testid="usage-section">
      <Panel title="Usage" label="Usage">
        {totals === undefined ? <Skeleton height={32} /> : <Summary totals={totals} />}
        {totals !== undefined && <Budget orchestrationId={orchestrationId} totals={totals} canSet={canSet} />}
        {breakdown === undefined ? (
          <Skeleton height={120} style={{ marginTop: 16 }} />
        ) : breakdown.byPhase.length === 0 ? (
          <EmptyState title="Nothing to break down yet.">
            <p>Tokens and cost appear here as the agents work, by phase and by agent.</p>
          </EmptyState>
        ) : (
          <>
            <UsageChart byHour={breakdown.byHour} />
            <ByPhase rows={breakdown.byPhase} truncated={breakdown.truncated.phases} searches={searches} />
            <ByAgent rows={breakdown.byAgent} truncated={breakdown.truncated.agents} searches={searches} />
            {/* The price per search is the laptop's (its price table), so none is quoted here. */}
            {searches && (
              <p className={u.muted} data-testid="usage-searches-note">
                Cost includes web searches, priced per search.
              </p>
            )}
          </>
        )}
      </Panel>
    </div>
  );
}
