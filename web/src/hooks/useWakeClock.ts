// The time for deciding which "Needs you" items show: the page's shared clock, moved on by a
// timer at the moment the next snoozed item comes back, so it reappears then (not a second later,
// and also where no shared clock ticks). `clock` is injectable for tests.
import { useEffect, useState } from "react";
import { nextWake, type NeedLike } from "../lib/needs";
import { useNow } from "./useNow";

/** setTimeout takes at most a signed 32-bit delay (snoozes end within 7 days, well inside it). */
const MAX_DELAY = 2 ** 31 - 1;

export function useWakeClock(items: readonly Pick<NeedLike, "dismissed" | "snoozedUntil">[], clock: () => number = Date.now): number {
  const ticking = useNow();
  const [woke, setWoke] = useState(clock);
  const now = Math.max(woke, ticking);
  const next = nextWake(items, now);
  useEffect(() => {
    if (next === undefined) return;
    const delay = Math.max(0, next - clock());
    if (delay > MAX_DELAY) return;
    // At least `next`, so a timer that fires a hair early still wakes the item.
    const timer = setTimeout(() => setWoke(Math.max(clock(), next)), delay);
    return () => clearTimeout(timer);
  }, [next, clock]);
  return now;
}
