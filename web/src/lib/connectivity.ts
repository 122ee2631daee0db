// Whether what the page shows is live. The data comes only from Convex subscriptions, so when
// the device is offline, or the Convex connection has been down for more than a few seconds,
// nothing on screen can be trusted as current: the page says so and stops offering actions.

/** How long a dropped connection may take to come back before the page calls itself offline. */
export const OFFLINE_GRACE_MS = 4_000;

/**
 * How long the first connection may take (a phone on a slow network): until then there is no
 * data on screen to distrust, only placeholders.
 */
export const FIRST_CONNECT_GRACE_MS = 10_000;

export type ConnectivityInput = {
  /** navigator.onLine */
  online: boolean;
  /** the Convex client's WebSocket is connected */
  connected: boolean;
  /** the client has been connected at least once since the page loaded */
  hasEverConnected: boolean;
  /** when the connection was last seen down (the page's start until it first connects); null while connected */
  downSince: number | null;
  now: number;
};

export type Connectivity =
  | { status: "live" }
  /** Down for less than the grace period: still shown as it is (the header says "reconnecting…"). */
  | { status: "connecting"; offlineAt: number }
  /** Offline: `since` is when it was last live (or the page's start, if it never was). */
  | { status: "offline"; since: number; everLive: boolean; deviceOffline: boolean };

export function connectivity(input: ConnectivityInput, graceMs: number = OFFLINE_GRACE_MS, firstGraceMs: number = FIRST_CONNECT_GRACE_MS): Connectivity {
  const since = input.downSince ?? input.now;
  if (!input.online) return { status: "offline", since, everLive: input.hasEverConnected, deviceOffline: true };
  if (input.connected) return { status: "live" };
  const grace = input.hasEverConnected ? graceMs : firstGraceMs;
  if (input.now - since >= grace) return { status: "offline", since, everLive: input.hasEverConnected, deviceOffline: false };
  return { status: "connecting", offlineAt: since + grace };
}

/** The offline notice, in words: what happened and why nothing on screen is current. */
export function offlineText(state: Extract<Connectivity, { status: "offline" }>, formatTime: (at: number) => string): { title: string; detail: string } {
  const what = state.deviceOffline ? "This device is offline" : "tina cannot reach its deployment";
  if (!state.everLive) {
    return { title: what, detail: "tina shows only live data, so there is nothing to show yet. It connects by itself when it can." };
  }
  return {
    title: `${what} (since ${formatTime(state.since)})`,
    detail: "Nothing here is current and actions are paused. tina reconnects by itself and shows live data again.",
  };
}
