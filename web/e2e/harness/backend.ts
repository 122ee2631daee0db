// The local Convex-compatible backend as a child process, with fresh Convex Auth keys and the
// enrollment secret laptops use. It verifies the dashboard's tokens (signature, issuer,
// audience, expiry) against convex/auth.config.ts, as a real deployment does. Its log goes
// to stderr only with TINA_E2E_BACKEND_LOG=1.
import { randomBytes } from "node:crypto";
import { LOCAL_TOKEN_HEADER, spawnLocalBackend, type SpawnedBackend } from "../../../convex-local/testing";
import { makeAuthKeys } from "../../../convex-local/make-auth-keys";

export type TestBackend = SpawnedBackend & { enrollmentSecret: string };

/**
 * The browser origins the backend lets in: the dashboard's static server (web/serve.ts) on
 * 127.0.0.1, on whatever port it gets, since the tests start it after the backend.
 */
export const DASHBOARD_ORIGINS = ["http://127.0.0.1:*"];

// The tests name a backend by its URL; its test-only endpoints need that start's token.
const tokens = new Map<string, string>();

function localHeaders(url: string): Record<string, string> {
  const token = tokens.get(url);
  if (token === undefined) throw new Error(`no backend started by startBackend() at ${url}`);
  return { "Content-Type": "application/json", [LOCAL_TOKEN_HEADER]: token };
}

/** Every document of some tables (the local backend's test-only `/api/local/dump`). */
export async function dumpTables(url: string, ...tables: string[]): Promise<Record<string, Record<string, unknown>[]>> {
  const response = await fetch(`${url}/api/local/dump`, {
    method: "POST",
    headers: localHeaders(url),
    body: JSON.stringify({ tables }),
  });
  if (!response.ok) throw new Error(`dump: HTTP ${response.status}`);
  return ((await response.json()) as { tables: Record<string, Record<string, unknown>[]> }).tables;
}

/** Runs any function, internal ones too (the local backend's test-only `/api/local/run`). */
export async function runFunction(url: string, fn: string, args: Record<string, unknown>): Promise<unknown> {
  const response = await fetch(`${url}/api/local/run`, {
    method: "POST",
    headers: localHeaders(url),
    body: JSON.stringify({ path: fn, args }),
  });
  if (!response.ok) throw new Error(`run ${fn}: HTTP ${response.status} ${await response.text()}`);
  return await response.json();
}

/** Polls until `check` returns something truthy (every 25 ms), or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function startBackend(): Promise<TestBackend> {
  const enrollmentSecret = `e2e-${randomBytes(12).toString("hex")}`;
  const backend = await spawnLocalBackend({
    env: { TINA_ENROLLMENT_SECRET: enrollmentSecret, ...makeAuthKeys() },
    verifyTokens: true,
    allowOrigins: DASHBOARD_ORIGINS,
    stderr: process.env.TINA_E2E_BACKEND_LOG === "1" ? "inherit" : "ignore",
    readyTimeoutMs: 30_000,
  });
  tokens.set(backend.url, backend.localToken);
  const stop: SpawnedBackend["stop"] = async (signal) => {
    tokens.delete(backend.url);
    return await backend.stop(signal);
  };
  return { ...backend, stop, enrollmentSecret };
}
