// One clock for every relative time on the page, so labels tick together and cheaply.
import { createContext, useContext, useEffect, useState, type ReactNode } from "react";

const NowContext = createContext<number | null>(null);

export function NowProvider({ children, intervalMs = 1000 }: { children: ReactNode; intervalMs?: number }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return <NowContext.Provider value={now}>{children}</NowContext.Provider>;
}

/** The shared clock (ms); outside a provider, the time this component first rendered. */
export function useNow(): number {
  const [mounted] = useState(() => Date.now());
  return useContext(NowContext) ?? mounted;
}
