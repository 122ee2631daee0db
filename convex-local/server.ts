// The local Convex-compatible backend as one process:
//
//   node --import tsx convex-local/server.ts [--port N] [--host H]
//        [--functions DIR] [--env KEY=VALUE ...] [--env-file PATH] [--state-file PATH]
//        [--allow-origin ORIGIN ...] [--local-token-file PATH] [--verify-tokens] [--trace]
//
// Prints exactly one line on stdout, `ready <url>`, once clients can connect;
// everything else goes to stderr. SIGTERM, SIGINT or SIGHUP stop it cleanly
// (exit 0). For tests, demos and development only: data lives in memory (or
// in --state-file) and tokens are decoded, not verified, unless
// --verify-tokens (docs/local-backend.md). Not a security boundary, but a page
// in the laptop's browser cannot use it: see access.ts.
import { Console } from "node:console";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { AccessConfigError, DEFAULT_ALLOWED_ORIGINS, LOCAL_TOKEN_HEADER, parseOriginPattern } from "./access.js";
import { LocalTokenFileError, REPO_FUNCTIONS_DIR, startLocalServer } from "./local_server.js";
import { InternalsChangedError } from "./persist.js";
import { StateFileError } from "./state_file.js";
import { AuthConfigError } from "./verify.js";

const USAGE = `usage: server.ts [--port N] [--host H] [--functions DIR] [--env KEY=VALUE ...] [--env-file PATH]
                 [--state-file PATH] [--allow-origin ORIGIN ...] [--local-token-file PATH]
                 [--verify-tokens] [--trace]
  --port N                 port to listen on; 0 picks a free one (default 3210)
  --host H                 address to listen on (default 127.0.0.1)
  --functions DIR          Convex functions folder (default: the repository's convex/)
  --env KEY=VALUE          environment variable for the functions (repeatable; visible in ps:
                           put secrets in --env-file)
  --env-file PATH          a JSON object {"KEY": "value", ...} of environment variables for the
                           functions (keep it private: mode 0600)
  --state-file PATH        keep the database in this file across restarts (default: memory only)
  --allow-origin ORIGIN    a browser origin (scheme://host:port, or scheme://host:* for any port)
                           that may use the API (repeatable; default ${DEFAULT_ALLOWED_ORIGINS.join(" and ")},
                           the demo dashboard's); the server's own origin always may, other pages never
  --local-token-file PATH  write this start's token for /api/local/* (header ${LOCAL_TOKEN_HEADER})
                           to PATH, mode 0600 (default: a new private temporary directory, named on stderr)
  --verify-tokens          verify user tokens against the functions' auth.config.ts
  --trace                  log every protocol message to stderr
  --ping-ms N              interval of protocol Pings (default 15000)
  --exit-on-stdin-close    stop when stdin closes (set by a parent process that may die)`;

export const DEFAULT_PORT = 3210;

function fail(message: string): never {
  process.stderr.write(`convex-local: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseCommandLine(argv: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        functions: { type: "string" },
        env: { type: "string", multiple: true },
        "env-file": { type: "string" },
        "state-file": { type: "string" },
        "allow-origin": { type: "string", multiple: true },
        "local-token-file": { type: "string" },
        "verify-tokens": { type: "boolean" },
        trace: { type: "boolean" },
        "ping-ms": { type: "string" },
        "exit-on-stdin-close": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    fail((error as Error).message);
  }
  if (parsed.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const port = parsed.port === undefined ? DEFAULT_PORT : Number(parsed.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`invalid --port ${parsed.port}`);
  const pingMs = parsed["ping-ms"] === undefined ? 15_000 : Number(parsed["ping-ms"]);
  if (!Number.isInteger(pingMs) || pingMs <= 0) fail(`invalid --ping-ms ${parsed["ping-ms"]}`);
  const env: Record<string, string> = {};
  const envFile = parsed["env-file"];
  if (envFile !== undefined) Object.assign(env, readEnvFile(envFile));
  for (const assignment of parsed.env ?? []) {
    const eq = assignment.indexOf("=");
    if (eq <= 0) fail(`invalid --env ${assignment}: expected KEY=VALUE`);
    env[assignment.slice(0, eq)] = assignment.slice(eq + 1);
  }
  const stateFile = parsed["state-file"];
  if (stateFile === "") fail("invalid --state-file: empty path");
  const allowOrigins = parsed["allow-origin"];
  for (const origin of allowOrigins ?? []) {
    try {
      parseOriginPattern(origin);
    } catch (error) {
      if (error instanceof AccessConfigError) fail(`invalid --allow-origin: ${error.message}`);
      throw error;
    }
  }
  const localTokenFile = parsed["local-token-file"];
  if (localTokenFile === "") fail("invalid --local-token-file: empty path");
  return {
    allowOrigins,
    localTokenFile: localTokenFile === undefined ? undefined : path.resolve(localTokenFile),
    stateFile,
    verifyTokens: parsed["verify-tokens"] ?? false,
    port,
    host: parsed.host ?? "127.0.0.1",
    functionsDir: parsed.functions ?? REPO_FUNCTIONS_DIR,
    env,
    trace: parsed.trace ?? false,
    pingMs,
    exitOnStdinClose: parsed["exit-on-stdin-close"] ?? false,
  };
}

/** The functions' environment from an --env-file: a JSON object of strings. */
function readEnvFile(file: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    fail(`invalid --env-file ${file}: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    fail(`invalid --env-file ${file}: expected a JSON object of strings`);
  }
  for (const [key, value] of Object.entries(parsed)) {
    if (key === "" || key.includes("=") || typeof value !== "string") {
      fail(`invalid --env-file ${file}: ${JSON.stringify(key)} must be a name with a string value`);
    }
  }
  return parsed as Record<string, string>;
}

async function main(): Promise<void> {
  const options = parseCommandLine(process.argv.slice(2));
  const stderr = (line: string): void => {
    process.stderr.write(`convex-local: ${line}\n`);
  };
  // Functions' console output must not mix with the `ready` line on stdout.
  globalThis.console = new Console({ stdout: process.stderr, stderr: process.stderr });

  // Without --local-token-file the token goes to a private directory of our own.
  let tokenDir: string | null = null;
  let localTokenFile = options.localTokenFile;
  if (localTokenFile === undefined) {
    tokenDir = mkdtempSync(path.join(tmpdir(), "convex-local-"));
    localTokenFile = path.join(tokenDir, "local-token");
  }
  const removeTokenDir = (): void => {
    if (tokenDir !== null) rmSync(tokenDir, { recursive: true, force: true });
  };

  let server;
  try {
    server = await startLocalServer({
      functionsDir: options.functionsDir,
      port: options.port,
      host: options.host,
      env: options.env,
      pingMs: options.pingMs,
      stateFile: options.stateFile,
      verifyTokens: options.verifyTokens,
      allowOrigins: options.allowOrigins,
      localTokenFile,
      log: stderr,
      trace: options.trace ? stderr : undefined,
    });
  } catch (error) {
    const expected =
      error instanceof StateFileError ||
      error instanceof AuthConfigError ||
      error instanceof InternalsChangedError ||
      error instanceof LocalTokenFileError;
    stderr(`failed to start: ${expected ? error.message : ((error as Error)?.stack ?? error)}`);
    removeTokenDir();
    process.exit(1);
  }

  let stopping = false;
  const stop = (reason: string): void => {
    if (stopping) {
      // A second Ctrl-C does not wait.
      if (reason === "SIGINT") process.exit(130);
      return;
    }
    stopping = true;
    stderr(`stopping (${reason})`);
    const force = setTimeout(() => process.exit(1), 5_000);
    force.unref();
    void server
      .close()
      .finally(removeTokenDir)
      .then(
        () => process.exit(0),
        (error: unknown) => {
          stderr(`error while stopping: ${error}`);
          process.exit(1);
        },
      );
  };
  // A bug in one request must not take the backend (and every test using it) down.
  process.on("unhandledRejection", (reason) => {
    stderr(`unhandled rejection: ${(reason as Error)?.stack ?? reason}`);
  });
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    process.on(signal, () => stop(signal));
  }
  if (options.exitOnStdinClose) {
    process.stdin.on("end", () => stop("stdin closed"));
    process.stdin.on("error", () => stop("stdin closed"));
    process.stdin.resume();
  }

  const storage = options.stateFile === undefined ? "in memory" : `state in ${options.stateFile}`;
  const tokens = options.verifyTokens ? "tokens verified against auth.config.ts" : "tokens decoded, not verified";
  stderr(`serving ${options.functionsDir} at ${server.url} (${storage}; ${tokens}; not a security boundary)`);
  const origins = options.allowOrigins ?? DEFAULT_ALLOWED_ORIGINS;
  stderr(`browser origins allowed: ${origins.join(", ")}; the /api/local/* token is in ${localTokenFile}`);
  process.stdout.write(`ready ${server.url}\n`);
}

await main();
