// Tells Convex that someone is watching (presence:watch), so the laptops send usage in quick
// batches while a dashboard is on screen and only every 30 s otherwise. Only while `enabled`
// (signed in with a role), visible and live: a hidden tab watches nothing, and a call queued
// offline would replay late and hold the page with an "unsaved changes" prompt.
import { useMutation } from "convex/react";
import { useEffect, useState } from "react";
import { api } from "../api";
import { useConnectivity } from "../pwa/Connectivity";

/** Well inside the 30 s after which the server moves a watch on (convex/presence.ts PRESENCE). */
export const WATCH_EVERY_MS = 20_000;

const isVisible = () => document.visibilityState === "visible";

export function usePresence(enabled: boolean): void {
  const watch = useMutation(api.presence.watch);
  const live = useConnectivity().status === "live";
  const [visible, setVisible] = useState(isVisible);
  useEffect(() => {
    const onChange = () => setVisible(isVisible());
    document.addEventListener("visibilitychange", onChange);
    return () => document.removeEventListener("visibilitychange", onChange);
  }, []);
  useEffect(() => {
    if (!enabled || !visible || !live) return;
    // A failure costs the laptops only their quick pace until the next call.
    const call = () => void watch({}).catch((error: unknown) => console.debug("presence:watch failed", error));
    call();
    const timer = setInterval(call, WATCH_EVERY_MS);
    return () => clearInterval(timer);
  }, [enabled, visible, live, watch]);
}
