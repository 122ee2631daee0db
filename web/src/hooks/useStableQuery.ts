// A query whose arguments change (another range picked) reads undefined until the new result
// arrives; a view that then showed a placeholder would blank and jump back. This keeps the last
// result, with the arguments it was for, marked stale, until the new one comes (convex's
// "useStableQuery" pattern, kept in state rather than a ref so that it reads nothing mutable during
// render).
import { useQuery } from "convex/react";
import type { FunctionArgs, FunctionReference, FunctionReturnType } from "convex/server";
import { useState } from "react";

export type StableResult<Query extends FunctionReference<"query">> = {
  result: FunctionReturnType<Query>;
  /** The arguments `result` answers, the ones asked for unless `stale`. */
  args: FunctionArgs<Query>;
  /** An older result, shown while the one for the current arguments loads. */
  stale: boolean;
};

/** The query's result, or while it loads again the last one it had; undefined only before the first. */
export function useStableQuery<Query extends FunctionReference<"query">>(query: Query, args: FunctionArgs<Query>): StableResult<Query> | undefined {
  const result: FunctionReturnType<Query> | undefined = useQuery(query, args);
  const [last, setLast] = useState<{ result: FunctionReturnType<Query>; args: FunctionArgs<Query> } | undefined>(undefined);
  // Convex keeps a result's identity until it changes, so this updates once per new result.
  if (result !== undefined && result !== last?.result) setLast({ result, args });
  if (result !== undefined) return { result, args, stale: false };
  return last === undefined ? undefined : { ...last, stale: true };
}
