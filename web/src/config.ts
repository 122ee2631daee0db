// Where the Convex deployment is. The same build serves any deployment:
//   1. `config.json` next to index.html, `{ "convexUrl": "https://…" }` (written by the demo
//      server, or by whoever hosts the files, at deploy time, no rebuild), else
//   2. VITE_CONVEX_URL, fixed at build time.

export type RuntimeConfig = { convexUrl: string; source: "config.json" | "VITE_CONVEX_URL" };

export function isDeploymentUrl(value: unknown): value is string {
  if (typeof value !== "string" || value === "") return false;
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:";
  } catch {
    return false;
  }
}

/** Reads `config.json`; anything missing or malformed (an HTML fallback page, say) counts as absent. */
export async function fetchRuntimeConfig(fetchFn: typeof fetch, base: string): Promise<string | undefined> {
  try {
    const response = await fetchFn(new URL("config.json", base).toString(), { cache: "no-store" });
    if (!response.ok) return undefined;
    const body: unknown = await response.json();
    const url = typeof body === "object" && body !== null ? (body as { convexUrl?: unknown }).convexUrl : undefined;
    return isDeploymentUrl(url) ? url : undefined;
  } catch {
    return undefined;
  }
}

export async function resolveConfig(
  fetchFn: typeof fetch,
  base: string,
  buildTimeUrl: string | undefined,
): Promise<RuntimeConfig | undefined> {
  const runtime = await fetchRuntimeConfig(fetchFn, base);
  if (runtime !== undefined) return { convexUrl: runtime, source: "config.json" };
  if (isDeploymentUrl(buildTimeUrl)) return { convexUrl: buildTimeUrl, source: "VITE_CONVEX_URL" };
  return undefined;
}
