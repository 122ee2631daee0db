import { useEffect, useState } from "react";
import { parseRoute, type Route } from "../lib/routing";

/** The current route, following the address's hash. */
export function useRoute(): Route {
  const [hash, setHash] = useState(() => window.location.hash);
  useEffect(() => {
    const onChange = () => {
      setHash(window.location.hash);
      window.scrollTo({ top: 0 });
    };
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return parseRoute(hash);
}

export function navigate(to: string): void {
  window.location.hash = to.replace(/^#/, "");
}
