// Usage, cost and quota in words (issue 22): tokens ("12.3k"), costs ("$12.34", "<$0.01"), an
// orchestration's cost on its card, the hourly chart's bars, a budget typed in dollars, and each
// laptop's quota windows (used, reset, close to the limit, limit reached). Pure: the views render
// what these functions decide, and the tests pin the words.

/** What every usage row sums (convex/model/usage.ts `usageSums`). */
export type UsageSums = {
  messages: number;
  input: number;
  output: number;
  cacheWrite: number;
  cacheRead: number;
  /** Server-side web searches; their price is in `costMicros`. 0 in rows from before they were counted. */
  webSearches: number;
  costMicros: number;
  unpricedTokens: number;
};

/** Tokens of every kind. */
export function totalTokens(s: Pick<UsageSums, "input" | "output" | "cacheWrite" | "cacheRead">): number {
  return s.input + s.output + s.cacheWrite + s.cacheRead;
}

function short(value: number): string {
  // One decimal below 100 ("12.3"), none above ("123"); never a trailing ".0".
  const text = value < 100 ? value.toFixed(1) : Math.round(value).toString();
  return text.endsWith(".0") ? text.slice(0, -2) : text;
}

/** 950 → "950", 12,345 → "12.3k", 123,456 → "123k", 1,234,567 → "1.2M", 2.5e9 → "2.5B". */
export function formatTokens(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "0";
  if (n < 1000) return String(Math.round(n));
  // What would round to 1000 of a unit ("999.6k") reads as the next unit ("1M").
  if (n < 999_500) return `${short(n / 1000)}k`;
  if (n < 999_500_000) return `${short(n / 1e6)}M`;
  return `${short(n / 1e9)}B`;
}

/** Micro-USD as dollars: "$12.34", "$1,234.50"; under a cent "<$0.01"; nothing "$0.00". */
export function formatCost(micros: number): string {
  if (!Number.isFinite(micros) || micros <= 0) return "$0.00";
  if (micros < 10_000) return "<$0.01";
  const cents = Math.round(micros / 10_000);
  const dollars = Math.floor(cents / 100);
  return `$${dollars.toLocaleString("en-US")}.${String(cents % 100).padStart(2, "0")}`;
}

/**
 * What a card says of an orchestration's usage: its cost, and the tokens of models without a
 * known price beside it ("$1.23 + 12k tokens price unknown"); null when nothing was used.
 */
export function costText(totals: Pick<UsageSums, "costMicros" | "unpricedTokens"> | null | undefined): string | null {
  if (totals === null || totals === undefined) return null;
  const unknown = totals.unpricedTokens > 0 ? `${formatTokens(totals.unpricedTokens)} tokens price unknown` : null;
  if (totals.costMicros <= 0) return unknown;
  return unknown === null ? formatCost(totals.costMicros) : `${formatCost(totals.costMicros)} + ${unknown}`;
}

/**
 * A budget typed in dollars ("12.50", "$12.50", "1,000", "1,234.50", or with a decimal comma as
 * phones in many locales type it: "12,50") as whole micro-USD, or what is wrong with it, in words.
 * A comma is either between thousands, in groups of three, or the one decimal mark before one or
 * two digits; "1,500" is fifteen hundred.
 */
export function parseBudget(text: string): { micros: number } | { problem: string } {
  let clean = text.trim().replace(/^\$/, "").trim();
  if (clean.includes(",")) {
    if (/^\d{1,3}(,\d{3})+(\.\d*)?$/.test(clean)) clean = clean.replace(/,/g, "");
    else if (/^\d*,\d{1,2}$/.test(clean)) clean = clean.replace(",", ".");
    else return { problem: "Use a comma only between thousands (1,234.50) or as the decimal point (12,50)." };
  }
  if (clean === "") return { problem: "Type an amount in dollars, e.g. 25 or 12.50." };
  if (!/^\d+(\.\d{0,6})?$|^\.\d{1,6}$/.test(clean)) return { problem: "Type an amount in dollars, digits and a point only, e.g. 12.50." };
  const micros = Math.round(Number(clean) * 1e6);
  if (micros < 10_000) return { problem: "A budget is at least $0.01." };
  if (micros > 1e12) return { problem: "A budget is at most $1,000,000." };
  return { micros };
}

/** Spend against a budget in words: "$4.50 of $10.00 (45%)". Priced cost only, as the server counts it. */
export function budgetText(costMicros: number, budgetMicros: number): string {
  const pct = Math.floor((costMicros / budgetMicros) * 100);
  return `${formatCost(costMicros)} of ${formatCost(budgetMicros)} (${pct}%)`;
}

/**
 * What the budget leaves out: "2M tokens have no known price and are not counted against the
 * budget."; null when every token had a price.
 */
export function unpricedBudgetText(unpricedTokens: number): string | null {
  if (unpricedTokens <= 0) return null;
  const one = unpricedTokens === 1;
  return `${formatTokens(unpricedTokens)} ${one ? "token has" : "tokens have"} no known price and ${one ? "is" : "are"} not counted against the budget.`;
}

// ---------------------------------------------------------------------------------------
// The chart.

export const HOUR_MS = 3_600_000;
/** The chart shows the newest this many hours at most (a week). */
export const CHART_HOURS = 168;

/** One hour of the chart; `unpricedTokens` are those of models without a known price (in `tokens`, not in `costMicros`). */
export type Bar = { hour: number; value: number; costMicros: number; tokens: number; unpricedTokens: number };

/**
 * The hourly bars of the chart: every hour from the first with usage to the last (the empty ones
 * at zero), the newest CHART_HOURS at most. Each bar's value is its cost, or its tokens when no
 * hour has a known cost (`unit`).
 */
export function hourlyBars(byHour: readonly ({ hour: number } & UsageSums)[]): { bars: Bar[]; unit: "cost" | "tokens"; cut: boolean } {
  if (byHour.length === 0) return { bars: [], unit: "cost", cut: false };
  const sorted = [...byHour].sort((a, b) => a.hour - b.hour);
  const last = sorted[sorted.length - 1]!.hour;
  const first = Math.max(sorted[0]!.hour, last - (CHART_HOURS - 1) * HOUR_MS);
  const unit = sorted.some((h) => h.costMicros > 0) ? "cost" : "tokens";
  const at = new Map(sorted.map((h) => [h.hour, h]));
  const bars: Bar[] = [];
  for (let hour = first; hour <= last; hour += HOUR_MS) {
    const h = at.get(hour);
    const costMicros = h?.costMicros ?? 0;
    const tokens = h === undefined ? 0 : totalTokens(h);
    const unpricedTokens = h?.unpricedTokens ?? 0;
    bars.push({ hour, costMicros, tokens, unpricedTokens, value: unit === "cost" ? costMicros : tokens });
  }
  return { bars, unit, cut: sorted[0]!.hour < first };
}

// ---------------------------------------------------------------------------------------
// Quota.

export type QuotaWindow = { usedPct: number; resetsAt: number };
export type LaptopQuota = {
  nodeId: string;
  nodeName: string;
  /** The Claude Code config dir its sessions ran with ("~/.claude-work"): one login each. */
  account?: string;
  /** The account that config dir is logged in to, as a key (the same on every laptop). */
  accountKey?: string;
  observedAt: number;
  fiveHour?: QuotaWindow;
  sevenDay?: QuotaWindow;
  limitedAt?: number;
  limitedText?: string;
};

/** Where an account's quota was seen: a laptop and one of its config dirs. */
export type QuotaSeen = Pick<LaptopQuota, "nodeId" | "nodeName" | "account">;

/** One Claude account's quota, from every laptop's config dirs logged in to it. */
export type AccountQuota = Omit<LaptopQuota, "nodeId" | "nodeName" | "account" | "accountKey"> & {
  key: string;
  /** Each laptop and config dir it was seen on, in the rows' order (by laptop, then dir). */
  seen: QuotaSeen[];
};

/** Reset times this close are one period's (seen from two laptops). */
const SAME_PERIOD_MS = 60_000;

/**
 * Whether window `w` says more than `than`: it is of a later period (it resets later), or of the
 * same period and more of it is used (a period's use only grows). Not by when each was observed:
 * that is each laptop's own clock, and a laptop whose clock runs ahead would keep an old period.
 */
function newerWindow(w: QuotaWindow, than: QuotaWindow | undefined): boolean {
  if (than === undefined) return true;
  if (Math.abs(w.resetsAt - than.resetsAt) > SAME_PERIOD_MS) return w.resetsAt > than.resetsAt;
  return w.usedPct > than.usedPct;
}

/**
 * The rows as accounts: rows with one `accountKey` (config dirs, on any laptop, logged in to one
 * account) are one, each window its latest period's as used most, and the latest rate-limit stop;
 * a row without a key is an account of its own. In the order of each account's first row.
 */
export function accountQuotas(rows: LaptopQuota[]): AccountQuota[] {
  const out = new Map<string, AccountQuota>();
  for (const r of rows) {
    const key = r.accountKey ?? `${r.nodeId}\u0000${r.account ?? ""}`;
    const seen = { nodeId: r.nodeId, nodeName: r.nodeName, ...(r.account === undefined ? {} : { account: r.account }) };
    let a = out.get(key);
    if (a === undefined) {
      a = { key, seen: [], observedAt: r.observedAt };
      out.set(key, a);
    }
    a.seen.push(seen);
    a.observedAt = Math.max(a.observedAt, r.observedAt);
    for (const name of ["fiveHour", "sevenDay"] as const) {
      const w = r[name];
      if (w !== undefined && newerWindow(w, a[name])) a[name] = w;
    }
    if (r.limitedAt !== undefined && (a.limitedAt === undefined || r.limitedAt > a.limitedAt)) {
      a.limitedAt = r.limitedAt;
      if (r.limitedText === undefined) delete a.limitedText;
      else a.limitedText = r.limitedText;
    }
  }
  return [...out.values()];
}

export const WINDOW_MS = { fiveHour: 5 * HOUR_MS, sevenDay: 7 * 24 * HOUR_MS } as const;
export const WINDOW_LABELS = { fiveHour: "5-hour window", sevenDay: "7-day window" } as const;
export type WindowName = keyof typeof WINDOW_MS;
/** At or above this share used, a window warns. */
export const WARN_PCT = 80;

export type WindowView =
  | { state: "unknown" }
  | { state: "reset"; resetAt: number }
  | { state: "used"; pct: number; resetsAt: number; tone: "ok" | "warning" | "full" };

/** A share to the one decimal `formatPct` shows. */
function roundPct(pct: number): number {
  return Math.round(pct * 10) / 10;
}

/**
 * A window as the dashboard shows it: a reset one as "reset" (never its stale share). Its tone
 * follows the share as shown, so what reads "80%" warns and what reads "100%" is at the limit.
 */
export function windowView(w: QuotaWindow | undefined, now: number): WindowView {
  if (w === undefined) return { state: "unknown" };
  if (w.resetsAt <= now) return { state: "reset", resetAt: w.resetsAt };
  const pct = Math.max(0, w.usedPct);
  const shown = roundPct(pct);
  return { state: "used", pct, resetsAt: w.resetsAt, tone: shown >= 100 ? "full" : shown >= WARN_PCT ? "warning" : "ok" };
}

/** "23%", "99.5%" (one decimal only below 100 when it has one). */
export function formatPct(pct: number): string {
  const rounded = roundPct(pct);
  return `${Number.isInteger(rounded) || rounded >= 100 ? Math.round(rounded) : rounded.toFixed(1)}%`;
}

/**
 * Whether the laptop's account is at its limit now, after a rate-limit stop: a window still at
 * 100 % whose current period began before the stop holds it until that window resets; otherwise
 * it holds while no window has reset since the stop (freeing up at the soonest reset). Without
 * any window, a stop within the last 5 hours counts, with no reset time.
 */
export function limitView(q: Pick<LaptopQuota, "fiveHour" | "sevenDay" | "limitedAt">, now: number): { limited: false } | { limited: true; since: number; resetsAt?: number } {
  const since = q.limitedAt;
  if (since === undefined) return { limited: false };
  const windows = (["fiveHour", "sevenDay"] as const).filter((k) => q[k] !== undefined).map((k) => ({ w: q[k]!, length: WINDOW_MS[k] }));
  if (windows.length === 0) return now - since < WINDOW_MS.fiveHour ? { limited: true, since } : { limited: false };
  const full = windows.filter(({ w, length }) => w.resetsAt > now && w.usedPct >= 100 && w.resetsAt - length < since).map(({ w }) => w.resetsAt);
  if (full.length > 0) return { limited: true, since, resetsAt: Math.max(...full) };
  // A window's last reset: its reset time once passed, else the start of its current period.
  const lastReset = Math.max(...windows.map(({ w, length }) => (w.resetsAt <= now ? w.resetsAt : w.resetsAt - length)));
  if (since <= lastReset) return { limited: false };
  const future = windows.map(({ w }) => w.resetsAt).filter((at) => at > now);
  return future.length > 0 ? { limited: true, since, resetsAt: Math.min(...future) } : { limited: true, since };
}

// ---------------------------------------------------------------------------------------
// The fleet's spend.

export type SpendRow = { day: number; nodeId: string } & UsageSums;

/** Spend per day (all laptops) and per laptop over the rows fleetSpend returned. */
export function spendTotals(rows: readonly SpendRow[]): {
  byDay: { day: number; costMicros: number; unpricedTokens: number; tokens: number }[];
  byNode: { nodeId: string; costMicros: number; unpricedTokens: number; tokens: number }[];
  total: { costMicros: number; unpricedTokens: number; tokens: number };
} {
  const days = new Map<number, { day: number; costMicros: number; unpricedTokens: number; tokens: number }>();
  const nodes = new Map<string, { nodeId: string; costMicros: number; unpricedTokens: number; tokens: number }>();
  const total = { costMicros: 0, unpricedTokens: 0, tokens: 0 };
  for (const r of rows) {
    const d = days.get(r.day) ?? { day: r.day, costMicros: 0, unpricedTokens: 0, tokens: 0 };
    const n = nodes.get(r.nodeId) ?? { nodeId: r.nodeId, costMicros: 0, unpricedTokens: 0, tokens: 0 };
    for (const into of [d, n, total]) {
      into.costMicros += r.costMicros;
      into.unpricedTokens += r.unpricedTokens;
      into.tokens += totalTokens(r);
    }
    days.set(r.day, d);
    nodes.set(r.nodeId, n);
  }
  return {
    byDay: [...days.values()].sort((a, b) => a.day - b.day),
    byNode: [...nodes.values()].sort((a, b) => b.costMicros - a.costMicros || b.tokens - a.tokens),
    total,
  };
}
