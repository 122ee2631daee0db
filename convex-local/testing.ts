// Helpers for tests (vitest) that need a Convex backend over the wire.
//
//   // in this process (fast; use `// @vitest-environment node`):
//   const backend = await startLocalBackend();            // the repo's convex/
//   const t = wireTest(backend.url);                      // like convex-test's `t`
//   await t.mutation(api.items.add, { text: "hi" });
//   expect(await t.withIdentity({ subject: "u1" }).query(api.items.mine, {})).toEqual([...]);
//   await t.close();
//   await backend.close();
//
//   // as a child process (what `tina backend` runs):
//   const child = await spawnLocalBackend({ functionsDir, env: { KEY: "v" } });
//   await child.stop();
//
// The test-only endpoints need the start's token:
//   fetch(`${backend.url}/api/local/dump`, { method: "POST",
//     headers: { "Content-Type": "application/json", [LOCAL_TOKEN_HEADER]: backend.localToken } });
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ConvexClient } from "convex/browser";
import type { FunctionArgs, FunctionReference, FunctionReturnType, UserIdentity } from "convex/server";
import WebSocket from "ws";
import { DEFAULT_ALLOWED_ORIGINS, LOCAL_TOKEN_HEADER } from "./access.js";
import { REPO_FUNCTIONS_DIR, startLocalServer, type LocalServer, type LocalServerOptions } from "./local_server.js";

export { DEFAULT_ALLOWED_ORIGINS, LOCAL_TOKEN_HEADER, REPO_FUNCTIONS_DIR, type LocalServer, type LocalServerOptions };

/** `ws` as Convex clients take it in Node (`webSocketConstructor`): the browser's API, typed apart. */
export const nodeWebSocket = WebSocket as unknown as typeof globalThis.WebSocket;

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, "..");
export const SERVER_SCRIPT = path.join(HERE, "server.ts");
/** The fixture project of the contract tests. */
export const CONTRACT_FUNCTIONS_DIR = path.join(HERE, "contract", "convex");

/** Starts the server in this process on a free port (unless `port` is given). */
export async function startLocalBackend(options: LocalServerOptions = {}): Promise<LocalServer> {
  return await startLocalServer({ port: 0, ...options });
}

export type SpawnOptions = {
  functionsDir?: string;
  port?: number;
  host?: string;
  env?: Record<string, string>;
  pingMs?: number;
  trace?: boolean;
  /** Keep the database in this file across restarts (`--state-file`). */
  stateFile?: string;
  /** Verify user tokens against `auth.config.ts` (`--verify-tokens`). */
  verifyTokens?: boolean;
  /** Browser origins that may use the API (`--allow-origin`); default the demo dashboard's. */
  allowOrigins?: readonly string[];
  /** Where the server's stderr goes (default: this process's stderr). */
  stderr?: "inherit" | "pipe" | "ignore";
  /** How long to wait for `ready <url>`, ms. */
  readyTimeoutMs?: number;
};

export type SpawnedBackend = {
  url: string;
  port: number;
  /** This start's token for `/api/local/*` (header `LOCAL_TOKEN_HEADER`). */
  localToken: string;
  process: ChildProcess;
  /** SIGTERM, then wait for exit; resolves with the exit code (null if killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
};

/** Files the server reads at start: the functions' environment, and where to write its token. */
export type ServerFiles = { envFile?: string; localTokenFile?: string };

/**
 * The argv that runs the server as one process (no wrapper: its PID is the server's). The
 * functions' environment never goes on the command line (anyone on the machine can read it
 * there): `spawnLocalBackend` writes it to `files.envFile`.
 */
export function serverArgv(options: SpawnOptions = {}, files: ServerFiles = {}): string[] {
  if (Object.keys(options.env ?? {}).length > 0 && files.envFile === undefined) {
    throw new Error("serverArgv: pass the environment in an env file (spawnLocalBackend writes one)");
  }
  const argv = [process.execPath, "--import", "tsx", SERVER_SCRIPT, "--port", String(options.port ?? 0)];
  if (options.host !== undefined) argv.push("--host", options.host);
  argv.push("--functions", path.resolve(options.functionsDir ?? REPO_FUNCTIONS_DIR));
  if (files.envFile !== undefined) argv.push("--env-file", files.envFile);
  if (files.localTokenFile !== undefined) argv.push("--local-token-file", files.localTokenFile);
  for (const origin of options.allowOrigins ?? []) argv.push("--allow-origin", origin);
  if (options.pingMs !== undefined) argv.push("--ping-ms", String(options.pingMs));
  if (options.stateFile !== undefined) argv.push("--state-file", path.resolve(options.stateFile));
  if (options.verifyTokens) argv.push("--verify-tokens");
  if (options.trace) argv.push("--trace");
  return argv;
}

/**
 * Runs the server as a child process and waits for its `ready <url>` line. The environment
 * and the token pass through files in a private directory (0700) removed once it is ready.
 */
export function spawnLocalBackend(options: SpawnOptions = {}): Promise<SpawnedBackend> {
  const dir = mkdtempSync(path.join(tmpdir(), "convex-local-spawn-"));
  const files: ServerFiles = { localTokenFile: path.join(dir, "local-token") };
  if (Object.keys(options.env ?? {}).length > 0) {
    files.envFile = path.join(dir, "env.json");
    writeFileSync(files.envFile, JSON.stringify(options.env), { mode: 0o600 });
  }
  const cleanUp = (): void => rmSync(dir, { recursive: true, force: true });
  let command: string;
  let args: string[];
  try {
    [command, ...args] = serverArgv(options, files);
  } catch (error) {
    cleanUp();
    throw error;
  }
  // The repository root, so that `--import tsx` resolves from its node_modules.
  const child = spawn(command, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", options.stderr ?? "inherit"] });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const stop = async (signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return await exited;
  };
  return new Promise<SpawnedBackend>((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => {
      void stop("SIGKILL");
      reject(new Error(`local backend not ready after ${options.readyTimeoutMs ?? 20_000} ms`));
    }, options.readyTimeoutMs ?? 20_000);
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString();
      const match = /^ready (\S+)$/m.exec(buffered);
      if (match === null) return;
      clearTimeout(timer);
      child.stdout!.off("data", onData);
      child.stdout!.resume();
      const url = match[1];
      const localToken = readFileSync(files.localTokenFile!, "utf8").trim();
      resolve({ url, port: Number(new URL(url).port), localToken, process: child, stop });
    };
    child.stdout!.on("data", onData);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`local backend exited before ready (code ${code}, signal ${signal})`));
    });
  }).finally(cleanUp);
}

// Standard OIDC claims by the UserIdentity attribute Convex derives from them.
const CLAIM_BY_ATTRIBUTE: Record<string, string> = {
  subject: "sub",
  issuer: "iss",
  givenName: "given_name",
  familyName: "family_name",
  preferredUsername: "preferred_username",
  profileUrl: "profile",
  pictureUrl: "picture",
  emailVerified: "email_verified",
  birthday: "birthdate",
  timezone: "zoneinfo",
  language: "locale",
  phoneNumber: "phone_number",
  phoneNumberVerified: "phone_number_verified",
  updatedAt: "updated_at",
};

/**
 * An unsigned JWT whose claims give this identity (the local backend decodes
 * tokens without verifying them, unless started with `verifyTokens`, which
 * refuses these). Defaults follow convex-test's
 * `withIdentity`: issuer `https://convex.test`, a subject derived from the
 * attributes; `tokenIdentifier` is always `<issuer>|<subject>`.
 */
export function identityToken(identity: Partial<UserIdentity>): string {
  const { tokenIdentifier: _ignored, ...attributes } = identity;
  const claims: Record<string, unknown> = {
    iss: "https://convex.test",
    sub: `subject-${createHash("sha256").update(JSON.stringify(attributes)).digest("hex").slice(0, 12)}`,
  };
  for (const [attribute, value] of Object.entries(attributes)) {
    if (value !== undefined) claims[CLAIM_BY_ATTRIBUTE[attribute] ?? attribute] = value;
  }
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${encode({ alg: "none", typ: "JWT" })}.${encode(claims)}.`;
}

/**
 * A convex-test-like accessor whose calls go over the wire (WebSocket, the
 * official `ConvexClient`), so a function test can run end to end:
 *
 *   const t = wireTest(backend.url);
 *   await t.mutation(api.nodes.register, { ... });
 *   const asUser = t.withIdentity({ subject: "user-1", name: "Ada" });
 *   expect(await asUser.query(api.orchestrations.list, {})).toEqual([...]);
 *   await t.close();  // closes the clients of every derived accessor too
 *
 * Only public functions can be called (as from any client); there is no
 * `run` (direct database access) and no fake timers.
 */
export type WireTest = {
  query<Q extends FunctionReference<"query">>(ref: Q, args?: FunctionArgs<Q>): Promise<FunctionReturnType<Q>>;
  mutation<M extends FunctionReference<"mutation">>(ref: M, args?: FunctionArgs<M>): Promise<FunctionReturnType<M>>;
  action<A extends FunctionReference<"action">>(ref: A, args?: FunctionArgs<A>): Promise<FunctionReturnType<A>>;
  /** An accessor whose calls carry this identity (a token, confirmed by the server before the first call). */
  withIdentity(identity: Partial<UserIdentity>): WireTest;
  /** The underlying client, e.g. for `onUpdate` subscriptions. */
  client(): Promise<ConvexClient>;
  close(): Promise<void>;
};

export function wireTest(url: string): WireTest {
  const clients: ConvexClient[] = [];
  const make = (token: string | null): WireTest => {
    let ready: Promise<ConvexClient> | undefined;
    const client = (): Promise<ConvexClient> => {
      ready ??= (async () => {
        const created = new ConvexClient(url, { webSocketConstructor: nodeWebSocket });
        clients.push(created);
        if (token !== null) {
          const confirmed = await new Promise<boolean>((resolve) => created.setAuth(async () => token, resolve));
          if (!confirmed) throw new Error("the local backend refused the identity token");
        }
        return created;
      })();
      return ready;
    };
    return {
      query: async (ref, args) => await (await client()).query(ref, args ?? ({} as FunctionArgs<typeof ref>)),
      mutation: async (ref, args) => await (await client()).mutation(ref, args ?? ({} as FunctionArgs<typeof ref>)),
      action: async (ref, args) => await (await client()).action(ref, args ?? ({} as FunctionArgs<typeof ref>)),
      withIdentity: (identity) => make(identityToken(identity)),
      client,
      close: async () => {
        await Promise.all(clients.splice(0).map((c) => c.close()));
      },
    };
  };
  return make(null);
}
