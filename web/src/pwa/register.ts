// The service worker's side in the page: registering it (production builds, secure origins
// only), and following the links it sends when a notification is tapped.

export type RegisterEnv = {
  /** import.meta.env.PROD */
  production: boolean;
  /** window.isSecureContext: https, or localhost / 127.0.0.1 / ::1 */
  secure: boolean;
  /** "serviceWorker" in navigator */
  supported: boolean;
};

/** Whether this page registers the worker: never in the dev server (it would cache its modules). */
export function shouldRegister(env: RegisterEnv): boolean {
  return env.production && env.secure && env.supported;
}

/** The message the worker posts to a window when a notification is tapped (public/sw.js). */
export type NavigateMessage = { type: "tina:navigate"; url: string };

export function isNavigateMessage(data: unknown): data is NavigateMessage {
  return (
    typeof data === "object" && data !== null && (data as { type?: unknown }).type === "tina:navigate" && typeof (data as { url?: unknown }).url === "string"
  );
}

/**
 * What the page does with a link from the worker: change the hash in place (the same page: the
 * live connection stays), load another page of the same origin, or nothing (another origin, a
 * malformed address, or a hash that is not one of the app's routes).
 */
export function pageNavigation(current: string, target: string): { kind: "hash"; hash: string } | { kind: "assign"; url: string } | null {
  let here: URL;
  let there: URL;
  try {
    here = new URL(current);
    there = new URL(target);
  } catch {
    return null;
  }
  if (here.origin !== there.origin || !there.hash.startsWith("#/")) return null;
  if (here.pathname === there.pathname && here.search === there.search) return { kind: "hash", hash: there.hash };
  return { kind: "assign", url: there.href };
}

/** The worker's address and scope: beside index.html, whatever path the app is served at. */
export function workerUrl(baseURI: string): { script: string; scope: string } {
  return { script: new URL("sw.js", baseURI).href, scope: new URL("./", baseURI).href };
}

/** Follows the worker's links; call once, early (before the app renders), in every build. */
export function listenForWorkerLinks(win: Window = window): void {
  const container = win.navigator.serviceWorker;
  if (container === undefined) return;
  container.addEventListener("message", (event: MessageEvent) => {
    if (!isNavigateMessage(event.data)) return;
    const next = pageNavigation(win.location.href, event.data.url);
    if (next === null) return;
    if (next.kind === "hash") win.location.hash = next.hash;
    else win.location.assign(next.url);
  });
  // Messages wait until the page says it listens (an addEventListener alone does not start them).
  container.startMessages();
}

/** Registers public/sw.js when this build and origin allow it; a failure is logged, never thrown. */
export async function registerServiceWorker(win: Window = window, production: boolean = import.meta.env.PROD): Promise<ServiceWorkerRegistration | undefined> {
  const env: RegisterEnv = { production, secure: win.isSecureContext, supported: "serviceWorker" in win.navigator };
  if (!shouldRegister(env)) return undefined;
  const { script, scope } = workerUrl(win.document.baseURI);
  try {
    // updateViaCache "none": sw.js and the sw-logic.js it imports are always checked with the host.
    return await win.navigator.serviceWorker.register(script, { scope, updateViaCache: "none" });
  } catch (error) {
    console.warn("tina: the service worker did not register; the app works without it, but not offline", error);
    return undefined;
  }
}
