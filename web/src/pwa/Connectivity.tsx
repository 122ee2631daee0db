// The page's one answer to "is this live?": an offline notice over every view, the page behind
// it dimmed and paused (no tap acts on data that may have changed), and a screen for a start
// with no network at all. See lib/connectivity.ts for the rules.
import type { ConvexReactClient } from "convex/react";
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import { cx } from "../components/ui";
import { connectivity, FIRST_CONNECT_GRACE_MS, OFFLINE_GRACE_MS, offlineText, type Connectivity } from "../lib/connectivity";
import { formatAbsolute } from "../lib/time";
import signIn from "../views/SignIn.module.css";
import s from "./connectivity.module.css";

const ConnectivityContext = createContext<Connectivity>({ status: "live" });

/** Whether what the page shows is live (always "live" outside LiveOnly, e.g. in component tests). */
export function useConnectivity(): Connectivity {
  return useContext(ConnectivityContext);
}

type Observed = { online: boolean; connected: boolean; hasEverConnected: boolean; downSince: number | null };

type ConnectionSource = Pick<ConvexReactClient, "connectionState" | "subscribeToConnectionState">;

/** Follows the device's network and the Convex client's WebSocket. */
export function useLiveConnectivity(
  client: ConnectionSource,
  graceMs: number = OFFLINE_GRACE_MS,
  firstGraceMs: number = FIRST_CONNECT_GRACE_MS,
  clock: () => number = Date.now,
): Connectivity {
  const [observed, setObserved] = useState<Observed>(() => {
    const c = client.connectionState();
    const online = navigator.onLine;
    return { online, connected: c.isWebSocketConnected, hasEverConnected: c.hasEverConnected, downSince: online && c.isWebSocketConnected ? null : clock() };
  });
  const [now, setNow] = useState(clock);
  const update = useCallback(
    (patch: Partial<Observed>) =>
      setObserved((prev) => {
        const next = { ...prev, ...patch };
        const live = next.online && next.connected;
        const downSince = live ? null : (prev.downSince ?? clock());
        if (next.online === prev.online && next.connected === prev.connected && next.hasEverConnected === prev.hasEverConnected && downSince === prev.downSince) return prev;
        return { ...next, downSince };
      }),
    [clock],
  );
  useEffect(() => {
    const onOnline = () => update({ online: true });
    const onOffline = () => update({ online: false });
    window.addEventListener("online", onOnline);
    window.addEventListener("offline", onOffline);
    const unsubscribe = client.subscribeToConnectionState((c) => update({ connected: c.isWebSocketConnected, hasEverConnected: c.hasEverConnected }));
    // A change between the first render and this subscription is not lost: read both once more.
    void Promise.resolve().then(() => {
      const c = client.connectionState();
      update({ online: navigator.onLine, connected: c.isWebSocketConnected, hasEverConnected: c.hasEverConnected });
    });
    return () => {
      window.removeEventListener("online", onOnline);
      window.removeEventListener("offline", onOffline);
      unsubscribe();
    };
  }, [client, update]);
  // `now` only moves on the timer below: a connection that just dropped counts as "connecting"
  // until its grace period ends, then the timer renders it offline.
  const state = connectivity({ ...observed, now: Math.max(now, observed.downSince ?? now) }, graceMs, firstGraceMs);
  const wakeAt = state.status === "connecting" ? state.offlineAt : null;
  useEffect(() => {
    if (wakeAt === null) return;
    // Run, the timer means its time has come, whatever the wall clock says a moment before it
    // (timers and Date.now() are different clocks): else the page would stay "connecting".
    const timer = setTimeout(() => setNow(Math.max(clock(), wakeAt)), Math.max(0, wakeAt - clock()));
    return () => clearTimeout(timer);
  }, [wakeAt, clock]);
  return state;
}

const OFFLINE_ICON = (
  <svg className={s.icon} viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden>
    <path d="M2 8.8a15 15 0 0 1 20 0M5 12.5a10 10 0 0 1 14 0M8.5 16a5 5 0 0 1 7 0M12 20h.01M3 3l18 18" strokeLinecap="round" />
  </svg>
);

export function OfflineNotice({ state }: { state: Extract<Connectivity, { status: "offline" }> }) {
  const text = offlineText(state, (at) => formatAbsolute(at));
  return (
    <div className={s.banner} role="status" aria-live="polite" data-testid="offline" data-device-offline={state.deviceOffline}>
      {OFFLINE_ICON}
      <div>
        <strong>{text.title}</strong>
        <p>{text.detail}</p>
      </div>
    </div>
  );
}

/** The app under the live-data rule: offline, the notice shows and the page behind it is dimmed and inert. */
export function LiveOnly({ client, children, graceMs, firstGraceMs }: { client: ConnectionSource; children: ReactNode; graceMs?: number; firstGraceMs?: number }) {
  const state = useLiveConnectivity(client, graceMs, firstGraceMs);
  const offline = state.status === "offline";
  return (
    <ConnectivityContext.Provider value={state}>
      <div className={cx(s.app, offline && s.stale)} inert={offline} data-connectivity={state.status}>
        {children}
      </div>
      {offline && <OfflineNotice state={state} />}
    </ConnectivityContext.Provider>
  );
}

/** A start with no network: the page cannot even learn its deployment (config.json). */
export function OfflineStart() {
  return (
    <main className={signIn.wrap}>
      <div className={signIn.card} role="status" data-testid="offline" data-device-offline="true">
        <div className={signIn.brand}>
          <img src="./favicon.svg" alt="" width={28} height={28} />
          tina
        </div>
        <h1>You are offline</h1>
        <p className={signIn.lead}>tina shows only live data, so there is nothing to show without a connection. It connects by itself when the network is back.</p>
      </div>
    </main>
  );
}
