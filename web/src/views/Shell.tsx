// The frame around every view: header with navigation, theme and account; a tab bar on phones.
import { useConvexConnectionState } from "convex/react";
import { useEffect, useRef, type ReactNode } from "react";
import { Button, cx } from "../components/ui";
import { nextTheme, useTheme, type ThemeChoice } from "../hooks/useTheme";
import { countText, documentTitle } from "../lib/needs";
import type { Route } from "../lib/routing";
import { useNeedsCount } from "./NeedsYou";
import s from "./Shell.module.css";

type NavItem = { key: "orchestrations" | "attention" | "fleet"; href: string; label: string; icon: ReactNode };

const ICONS = {
  list: (
    <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden>
      <path d="M8 6h13M8 12h13M8 18h13M3 6h.01M3 12h.01M3 18h.01" strokeLinecap="round" />
    </svg>
  ),
  bell: (
    <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden>
      <path d="M6 8a6 6 0 1 1 12 0c0 7 3 8 3 8H3s3-1 3-8M10 20a2 2 0 0 0 4 0" strokeLinecap="round" />
    </svg>
  ),
  /** A bell with a plus: where notifications are set up. */
  notifySettings: (
    <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden>
      <path d="M5 9a5 5 0 0 1 10 0c0 5.5 2.5 6.5 2.5 6.5h-15S5 14.5 5 9M8.5 19a1.5 1.5 0 0 0 3 0" strokeLinecap="round" />
      <path d="M18 3v6M21 6h-6" strokeLinecap="round" />
    </svg>
  ),
  laptop: (
    <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden>
      <rect x="4" y="5" width="16" height="11" rx="1.5" />
      <path d="M2 19h20" strokeLinecap="round" />
    </svg>
  ),
};

const NAV: NavItem[] = [
  { key: "orchestrations", href: "#/", label: "Orchestrations", icon: ICONS.list },
  { key: "attention", href: "#/attention", label: "Needs you", icon: ICONS.bell },
  { key: "fleet", href: "#/fleet", label: "Fleet", icon: ICONS.laptop },
];

const THEME_NAME: Record<ThemeChoice, string> = { system: "system", light: "light", dark: "dark" };
/** The theme button's name: what it is now and what a press makes it ("Theme: system; press for light"). */
export const themeLabel = (theme: ThemeChoice): string => `Theme: ${THEME_NAME[theme]}; press for ${THEME_NAME[nextTheme(theme)]}`;
const THEME_ICON: Record<ThemeChoice, string> = { system: "◐", light: "☀", dark: "☾" };

/**
 * How many items need this viewer; hidden (but still taking its space) at zero. Counted here on
 * this device's clock, so a snoozed item counts again the moment its snooze ends.
 */
function NeedsCount() {
  const n = useNeedsCount();
  return (
    <span className={cx(s.count, n === 0 && s.countZero)} aria-label={`${n} ${n === 1 ? "needs" : "need"} you`} data-testid="attention-count">
      {countText(n)}
    </span>
  );
}

/** The count in the browser tab's title too, so a tab in the background says when it is needed. */
function TitleCount() {
  const n = useNeedsCount();
  useEffect(() => {
    document.title = documentTitle(n);
  }, [n]);
  return null;
}

function ConnectionNote() {
  const state = useConvexConnectionState();
  if (state.isWebSocketConnected || !state.hasEverConnected) return null;
  return (
    <span className={s.connection} role="status">
      reconnecting…
    </span>
  );
}

export function Shell({ route, account, children }: { route: Route; account: ReactNode; children: ReactNode }) {
  const { theme, cycle } = useTheme();
  const current = route.name === "detail" ? "orchestrations" : route.name;
  const main = useRef<HTMLElement>(null);
  return (
    <div className={s.shell}>
      <TitleCount />
      {/* The first Tab stop: past the header to the page (a button, since the address's hash is the route). */}
      <button type="button" className={s.skip} onClick={() => main.current?.focus()} data-testid="skip-to-content">
        Skip to content
      </button>
      <header className={s.header}>
        <a className={s.brand} href="#/">
          <img src="./favicon.svg" alt="" width={24} height={24} />
          tina
        </a>
        <nav className={s.topNav} aria-label="Main">
          {NAV.map((item) => (
            <a key={item.key} href={item.href} className={cx(s.navLink, current === item.key && s.active)} aria-current={current === item.key ? "page" : undefined}>
              {item.label}
              {item.key === "attention" && <NeedsCount />}
            </a>
          ))}
        </nav>
        <span className={s.spacer} />
        <ConnectionNote />
        <a
          className={cx(s.iconLink, route.name === "notifications" && s.active)}
          href="#/notifications"
          aria-label="Notification settings"
          title="Notification settings"
          aria-current={route.name === "notifications" ? "page" : undefined}
        >
          {ICONS.notifySettings}
        </a>
        <Button kind="ghost" small onClick={cycle} aria-label={themeLabel(theme)} title={themeLabel(theme)}>
          <span aria-hidden>{THEME_ICON[theme]}</span>
        </Button>
        <div className={s.account}>{account}</div>
      </header>
      <main ref={main} className={s.main} tabIndex={-1}>
        {children}
      </main>
      <nav className={s.tabbar} aria-label="Main (tabs)">
        {NAV.map((item) => (
          <a key={item.key} href={item.href} className={cx(s.tab, current === item.key && s.active)} aria-current={current === item.key ? "page" : undefined}>
            {item.icon}
            {item.label}
            {item.key === "attention" && <NeedsCount />}
          </a>
        ))}
      </nav>
    </div>
  );
}

export const shellStyles = s;
