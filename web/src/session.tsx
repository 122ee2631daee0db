// Who is using the dashboard: their name and role, from the signed-in session.
import { createContext, useContext } from "react";
import type { Role } from "./lib/controls";

export type Me = { userId?: string; name: string; email?: string; role: Role };

const MeContext = createContext<Me | undefined>(undefined);

export const MeProvider = MeContext.Provider;

/** The signed-in user; undefined while loading. */
export function useMe(): Me | undefined {
  return useContext(MeContext);
}
