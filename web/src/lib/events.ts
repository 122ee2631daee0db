// The event timeline: newest first, loaded page by page and followed live. Pure.
import type { Tone } from "./status";

/** Page sizes of `events:listEvents`: a first page, then bigger pages while following. */
export const FIRST_PAGE = 50;
export const NEXT_PAGE = 100;
/** Beyond this many loaded events the timeline stops following on its own and offers a button. */
export const AUTO_LOAD_CAP = 1000;

/** Keep loading on our own while the loaded part is small; beyond the cap, the operator decides. */
export function shouldAutoLoad(status: string, loaded: number, cap = AUTO_LOAD_CAP): boolean {
  return status === "CanLoadMore" && loaded < cap;
}

export function eventTone(eventType: string): Tone {
  if (/error|fail|blocked|stop|reject|gaps/.test(eventType)) return "danger";
  if (/paused|approval|warning|retry/.test(eventType)) return "warning";
  if (/complete|pass|approved|resumed|done/.test(eventType)) return "success";
  if (/start|spawn|execute|review|plan/.test(eventType)) return "progress";
  return "neutral";
}

/** Event detail is stored as JSON text; show it pretty when it parses, as it is otherwise. */
export function formatDetail(detail: string | undefined): string | undefined {
  if (detail === undefined || detail === "") return undefined;
  try {
    const value: unknown = JSON.parse(detail);
    if (value !== null && typeof value === "object" && Object.keys(value).length === 0) return undefined;
    return JSON.stringify(value, null, 2);
  } catch {
    return detail;
  }
}

/** Newest first; ties keep the order they arrived in (stable). */
export function newestFirst<T extends { recordedAt: number }>(events: readonly T[]): T[] {
  return events
    .map((e, i) => ({ e, i }))
    .sort((a, b) => b.e.recordedAt - a.e.recordedAt || b.i - a.i)
    .map(({ e }) => e);
}
