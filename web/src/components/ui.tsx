// Small building blocks shared by every view: badges, times, placeholders, panels, messages.
import { Component, useEffect, useId, useRef, useState, type ErrorInfo as ReactErrorInfo, type ReactNode } from "react";
import { describeError, errorSummary } from "../lib/errors";
import type { Tone } from "../lib/status";
import { formatAbsolute, formatRelative } from "../lib/time";
import { useNow } from "../hooks/useNow";
import s from "./ui.module.css";

export function cx(...names: (string | false | null | undefined)[]): string {
  return names.filter(Boolean).join(" ");
}

export function Badge({ tone, children, dot, title }: { tone: Tone; children: ReactNode; dot?: boolean; title?: string }) {
  return (
    <span className={cx(s.badge, s[tone])} title={title}>
      {dot && <span className={s.dot} aria-hidden />}
      {children}
    </span>
  );
}

/**
 * A time shown relative ("3 min ago"); the exact time on hover, for screen readers, and on a
 * tap or Enter (phones have no hover): the relative text and the exact time toggle in place.
 * `plain` renders text only, for places inside a link (a button may not sit inside a link).
 */
export function Time({
  at,
  prefix,
  plain,
  ahead,
  testId = "time",
}: {
  at: number;
  prefix?: string;
  plain?: boolean;
  /** A time expected in the future (a reset): its last minute counts down in seconds. */
  ahead?: boolean;
  testId?: string;
}) {
  const now = useNow();
  const [exact, setExact] = useState(false);
  const absolute = formatAbsolute(at);
  const relative = formatRelative(at, now, { ahead });
  const stamp = (
    <time dateTime={new Date(at).toISOString()}>
      {prefix}
      {exact ? absolute : relative}
    </time>
  );
  if (plain) {
    return (
      <span className={s.time} title={absolute} data-testid={testId}>
        {stamp}
        <span className="visually-hidden">, {absolute}</span>
      </span>
    );
  }
  return (
    <button
      type="button"
      className={cx(s.time, s.timeButton)}
      title={absolute}
      aria-label={exact ? `${prefix ?? ""}${absolute}, show relative` : `${prefix ?? ""}${relative}, ${absolute}, show exact`}
      data-testid={testId}
      onClick={(e) => {
        e.stopPropagation();
        setExact((x) => !x);
      }}
    >
      {stamp}
    </button>
  );
}

/** A placeholder the size of what will replace it, so nothing moves when data arrives. */
export function Skeleton({ width = "100%", height = 16, style }: { width?: number | string; height?: number | string; style?: React.CSSProperties }) {
  return <span className={s.skeleton} style={{ width, height, ...style }} aria-hidden />;
}

export function Panel({
  title,
  actions,
  children,
  flush,
  minHeight,
  id,
  label,
}: {
  title?: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
  flush?: boolean;
  minHeight?: number;
  id?: string;
  label?: string;
}) {
  return (
    <section className={s.panel} aria-label={label} id={id} style={minHeight ? { minHeight } : undefined}>
      {(title !== undefined || actions !== undefined) && (
        <header className={s.panelHeader}>
          {typeof title === "string" ? <h2>{title}</h2> : title}
          {actions}
        </header>
      )}
      <div className={flush ? s.panelFlush : s.panelBody}>{children}</div>
    </section>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className={s.empty} role="status">
      <strong>{title}</strong>
      {children}
    </div>
  );
}

/**
 * A failed load in words: what happened ("The server refused: …" for our own refusals, a sentence
 * of ours for anything else; never the raw error) and what to do. "Check your connection" only
 * when the connection is actually down.
 */
export function ErrorMessage({ error, onRetry, what }: { error: unknown; onRetry?: () => void; what: string }) {
  const info = describeError(error);
  return (
    <div className={s.error} role="alert" data-testid="error-message" data-kind={info.kind}>
      <p>
        <strong>Couldn't load {what}.</strong> {errorSummary(info)}
      </p>
      <p>{info.hint}</p>
      {onRetry && (
        <button type="button" className={cx(s.button, s.small)} onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

type BoundaryProps = { what: string; children: ReactNode; resetKey?: unknown };

/** Catches a failed query (useQuery throws) so one broken panel never blanks the page. */
export class QueryBoundary extends Component<BoundaryProps, { error: unknown; key: unknown }> {
  override state: { error: unknown; key: unknown } = { error: null, key: this.props.resetKey };

  static getDerivedStateFromError(error: unknown) {
    return { error };
  }

  static getDerivedStateFromProps(props: BoundaryProps, state: { error: unknown; key: unknown }) {
    return props.resetKey !== state.key ? { error: null, key: props.resetKey } : null;
  }

  override componentDidCatch(error: unknown, info: ReactErrorInfo) {
    console.error(`tina: ${this.props.what} failed`, error, info.componentStack);
  }

  override render() {
    if (this.state.error !== null) {
      return <ErrorMessage error={this.state.error} what={this.props.what} onRetry={() => this.setState({ error: null })} />;
    }
    return this.props.children;
  }
}

export function ProgressBar({ fraction, label }: { fraction: number; label: string }) {
  const pct = Math.round(Math.min(1, Math.max(0, fraction)) * 100);
  return (
    <div className={s.progressTrack} role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} aria-label={label}>
      <div className={s.progressFill} style={{ width: `${pct}%` }} />
    </div>
  );
}

export type ButtonKind = "default" | "primary" | "danger" | "ghost";

/**
 * A button. A disabled one looks disabled (no fill, dashed outline, muted text), and when it has a
 * `disabledReason` the reason is visible text under it (a disabled button takes no focus and
 * phones have no hover, so a tooltip alone would hide it), tied to the button by
 * aria-describedby. `reason="none"` leaves the reason to the caller (e.g. one `Reason` line for a
 * row of buttons).
 */
export function Button({
  kind = "default",
  small,
  disabledReason,
  reason = "below",
  children,
  ...rest
}: React.ButtonHTMLAttributes<HTMLButtonElement> & {
  kind?: ButtonKind;
  small?: boolean;
  disabledReason?: string;
  reason?: "below" | "none";
}) {
  const reasonId = useId();
  const disabled = rest.disabled || disabledReason !== undefined;
  const shown = disabledReason !== undefined && reason === "below";
  const describedBy = cx(rest["aria-describedby"], shown && reasonId) || undefined;
  const button = (
    <button
      type="button"
      {...rest}
      disabled={disabled}
      aria-describedby={describedBy}
      title={disabledReason ?? rest.title}
      className={cx(
        s.button,
        kind === "primary" && s.primary,
        kind === "danger" && s.dangerButton,
        kind === "ghost" && s.ghost,
        small && s.small,
        rest.className,
      )}
    >
      {children}
    </button>
  );
  if (!shown) return button;
  return (
    <span className={s.withReason}>
      {button}
      <Reason id={reasonId}>{disabledReason}</Reason>
    </span>
  );
}

/** Why a control is unavailable, as a visible line of text (see `Button`'s `disabledReason`). */
export function Reason({ id, children }: { id?: string; children: ReactNode }) {
  return (
    <span id={id} className={s.reason} data-testid="disabled-reason">
      {children}
    </span>
  );
}

/** What inside a dialog takes focus: the first field, else a button marked data-autofocus, else the first button. */
const FIRST_FOCUS = ["textarea:not(:disabled)", "input:not(:disabled)", "select:not(:disabled)", "button[data-autofocus]:not(:disabled)", "button:not(:disabled)"];
const FOCUSABLE = 'a[href], button:not(:disabled), input:not(:disabled), select:not(:disabled), textarea:not(:disabled), [tabindex]:not([tabindex="-1"])';

/**
 * A modal question. Escape or the backdrop cancels; focus starts on the first field (else the
 * first button), Tab and Shift+Tab stay inside it, and focus goes back to what opened it on close.
 */
export function Dialog({
  title,
  children,
  onClose,
  labelledBy = "dialog-title",
}: {
  title: string;
  children: ReactNode;
  onClose: () => void;
  labelledBy?: string;
}) {
  const ref = useRef<HTMLDivElement>(null);
  // The latest onClose, so a new function each render neither re-runs the effect nor moves focus.
  const close = useRef(onClose);
  useEffect(() => {
    close.current = onClose;
  }, [onClose]);
  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null;
    const root = ref.current;
    let first: HTMLElement | null = null;
    for (const selector of FIRST_FOCUS) {
      first = root?.querySelector<HTMLElement>(selector) ?? null;
      if (first !== null) break;
    }
    (first ?? root)?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        e.stopPropagation();
        close.current();
        return;
      }
      if (e.key !== "Tab" || root === null) return;
      const all = Array.from(root.querySelectorAll<HTMLElement>(FOCUSABLE));
      if (all.length === 0) {
        e.preventDefault();
        return;
      }
      const at = all.indexOf(document.activeElement as HTMLElement);
      if (e.shiftKey && (at <= 0 || !root.contains(document.activeElement))) {
        e.preventDefault();
        all[all.length - 1]!.focus();
      } else if (!e.shiftKey && (at === all.length - 1 || !root.contains(document.activeElement))) {
        e.preventDefault();
        all[0]!.focus();
      }
    };
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("keydown", onKey);
      if (previous?.isConnected) previous.focus();
    };
  }, []);
  return (
    <div className={s.backdrop} onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div ref={ref} className={s.dialog} role="dialog" aria-modal="true" aria-labelledby={labelledBy} tabIndex={-1}>
        <h2 id={labelledBy}>{title}</h2>
        {children}
      </div>
    </div>
  );
}

export const ui = s;
