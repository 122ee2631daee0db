// This device's push subscription: whether the browser can have one, whether it has one, and
// turning it on (permission, pushManager.subscribe with the deployment's VAPID key, then
// notify:subscribe) and off (notify:unsubscribe, then the browser's unsubscribe).
import { useCallback, useEffect, useState } from "react";
import { errorText } from "../lib/errors";
import { deviceLabel, pushSupport, sameKey, subscriptionArgs, vapidKeyBytes, type PushEnv, type PushSupport, type SubscriptionArgs } from "../lib/push";

/** Whether a subscription was made for this VAPID key (false for a malformed key too). */
export function madeForKey(applicationServerKey: ArrayBuffer | null, vapidPublicKey: string): boolean {
  try {
    return sameKey(applicationServerKey, vapidKeyBytes(vapidPublicKey));
  } catch {
    return false;
  }
}

export type DeviceState =
  | { phase: "checking" }
  | { phase: "unsupported"; reason: Extract<PushSupport, { ok: false }>["reason"] }
  /** No service worker controls this app (the dev server, or it failed to register). */
  | { phase: "no-worker" }
  | { phase: "off"; permission: NotificationPermission }
  | { phase: "on"; endpoint: string; applicationServerKey: ArrayBuffer | null };

export type PushServer = {
  subscribe(args: { subscription: SubscriptionArgs; label: string }): Promise<{ deviceId: string }>;
  unsubscribe(args: { endpoint: string }): Promise<null>;
};

export function browserPushEnv(win: Window = window): PushEnv {
  const nav = win.navigator as Navigator & { standalone?: boolean };
  return {
    secure: win.isSecureContext !== false,
    serviceWorker: "serviceWorker" in nav && nav.serviceWorker !== undefined,
    pushManager: "PushManager" in win,
    notification: "Notification" in win,
    userAgent: nav.userAgent,
    standalone: nav.standalone === true || (typeof win.matchMedia === "function" && win.matchMedia("(display-mode: standalone)").matches),
  };
}

/** Where this device remembers the id notify:subscribe gave it, to mark "this device" in the list. */
export const DEVICE_ID_KEY = "tina.pushDeviceId";

function remember(deviceId: string | null): void {
  try {
    if (deviceId === null) localStorage.removeItem(DEVICE_ID_KEY);
    else localStorage.setItem(DEVICE_ID_KEY, deviceId);
  } catch {
    // private mode: the list just does not mark this device
  }
}

export function rememberedDeviceId(): string | null {
  try {
    return localStorage.getItem(DEVICE_ID_KEY);
  } catch {
    return null;
  }
}

async function registration(): Promise<ServiceWorkerRegistration | undefined> {
  return await navigator.serviceWorker.getRegistration(new URL("./", document.baseURI).href);
}

export function usePushDevice(server: PushServer): {
  state: DeviceState;
  busy: boolean;
  problem: string | null;
  enable(vapidPublicKey: string): Promise<void>;
  disable(): Promise<void>;
} {
  const [state, setState] = useState<DeviceState>({ phase: "checking" });
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    const support = pushSupport(browserPushEnv());
    if (!support.ok) return setState({ phase: "unsupported", reason: support.reason });
    const reg = await registration();
    if (reg === undefined) return setState({ phase: "no-worker" });
    const sub = await reg.pushManager.getSubscription();
    setState(
      sub === null
        ? { phase: "off", permission: Notification.permission }
        : { phase: "on", endpoint: sub.endpoint, applicationServerKey: sub.options.applicationServerKey },
    );
  }, []);

  useEffect(() => {
    // After the first paint ("checking"): the registration and subscription are read asynchronously.
    Promise.resolve()
      .then(refresh)
      .catch((error: unknown) => setProblem(messageOf(error)));
  }, [refresh]);

  const run = useCallback(
    async (work: () => Promise<void>) => {
      setBusy(true);
      setProblem(null);
      try {
        await work();
      } catch (error) {
        setProblem(messageOf(error));
      } finally {
        setBusy(false);
        await refresh().catch(() => undefined);
      }
    },
    [refresh],
  );

  const enable = useCallback(
    (vapidPublicKey: string) =>
      run(async () => {
        const key = vapidKeyBytes(vapidPublicKey);
        const permission = await Notification.requestPermission();
        if (permission !== "granted") {
          setState({ phase: "off", permission });
          return;
        }
        const reg = await registration();
        if (reg === undefined) throw new Error("tina's service worker is not running on this page; reload and try again");
        let sub = await reg.pushManager.getSubscription();
        // A subscription made for another key (the deployment's keys changed) cannot be reused:
        // the push service refuses what the new key signs.
        if (sub !== null && !sameKey(sub.options.applicationServerKey, key)) {
          await sub.unsubscribe();
          sub = null;
        }
        sub ??= await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
        try {
          const { deviceId } = await server.subscribe({ subscription: subscriptionArgs(sub.toJSON()), label: deviceLabel(navigator.userAgent) });
          remember(deviceId);
        } catch (error) {
          // The server did not take it: no subscription nobody sends to stays on the device.
          await sub.unsubscribe().catch(() => undefined);
          throw error;
        }
      }),
    [run, server],
  );

  const disable = useCallback(
    () =>
      run(async () => {
        const reg = await registration();
        const sub = reg === undefined ? null : await reg.pushManager.getSubscription();
        if (sub === null) return;
        // The server first: if it fails, nothing changed and the page says so.
        await server.unsubscribe({ endpoint: sub.endpoint });
        remember(null);
        await sub.unsubscribe();
      }),
    [run, server],
  );

  return { state, busy, problem, enable, disable };
}

function messageOf(error: unknown): string {
  if (error instanceof DOMException && error.name === "NotAllowedError") return "The browser refused: notifications are blocked for this site.";
  if (error instanceof DOMException && error.name === "AbortError") return "The browser's push service could not be reached; try again when online.";
  // Any other browser error is the browser's push machinery, not the server: say so in words.
  if (error instanceof DOMException) {
    console.warn("tina: the browser's push failed:", error);
    return "The browser could not set up push on this device. Reload and try again; ntfy or a webhook below work without it.";
  }
  return errorText(error);
}
