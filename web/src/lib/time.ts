// Times as people read them: relative ("3 min ago") with the absolute time beside it.
// Pure functions; `now` is always passed in so views tick from one clock.

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * "just now", "12 s ago", "5 min ago", "3 h ago", "2 d ago"; "in 4 min", "in 4 h 59 min" for the
 * future (what is ahead, a quota's reset, is waited for: its minutes count). `ahead`: a time
 * expected in the future (a reset), whose last minute counts down ("in 40 s"); otherwise a time
 * under a minute ahead is taken for clock skew between this device and the deployment.
 */
export function formatRelative(at: number, now: number, { ahead = false }: { ahead?: boolean } = {}): string {
  const delta = now - at;
  const future = delta < 0;
  const abs = Math.abs(delta);
  if (ahead && future && abs < MINUTE) return abs < SECOND ? "just now" : `in ${Math.ceil(abs / SECOND)} s`;
  if (abs < 5 * SECOND || (future && abs < MINUTE)) return "just now";
  let text: string;
  if (abs < MINUTE) text = `${Math.floor(abs / SECOND)} s`;
  else if (abs < HOUR) text = `${Math.floor(abs / MINUTE)} min`;
  else if (abs < DAY) {
    const minutes = Math.floor((abs % HOUR) / MINUTE);
    text = `${Math.floor(abs / HOUR)} h`;
    if (future && minutes > 0) text += ` ${String(minutes).padStart(2, "0")} min`;
  }
  else text = `${Math.floor(abs / DAY)} d`;
  return future ? `in ${text}` : `${text} ago`;
}

/** Absolute local time, e.g. "21 Nov 2026, 14:03:09". */
export function formatAbsolute(at: number, locale?: string, timeZone?: string): string {
  return new Intl.DateTimeFormat(locale ?? "en-GB", {
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
    ...(timeZone ? { timeZone } : {}),
  }).format(at);
}

/** A duration in ms as "45 s", "12 min", "1 h 05 min", "2 d 3 h". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "–";
  if (ms < MINUTE) return `${Math.floor(ms / SECOND)} s`;
  if (ms < HOUR) return `${Math.floor(ms / MINUTE)} min`;
  if (ms < DAY) {
    const h = Math.floor(ms / HOUR);
    const m = Math.floor((ms % HOUR) / MINUTE);
    return `${h} h ${String(m).padStart(2, "0")} min`;
  }
  const d = Math.floor(ms / DAY);
  const h = Math.floor((ms % DAY) / HOUR);
  return `${d} d ${h} h`;
}

/** Whole minutes as a duration ("0 min" stays "0 min"; "< 1 min" when under a minute but live). */
export function formatMinutes(mins: number): string {
  return formatDuration(mins * MINUTE);
}

/** Elapsed time of something that started at `start` and may have finished at `end`. */
export function elapsed(start: number, end: number | undefined, now: number): number {
  return Math.max(0, (end ?? now) - start);
}

/** How often a relative label starting at `at` needs re-rendering to stay right. */
export function tickInterval(at: number, now: number): number {
  const abs = Math.abs(now - at);
  if (abs < MINUTE) return SECOND;
  if (abs < HOUR) return 15 * SECOND;
  return MINUTE;
}
