// One HTTP + WebSocket server in front of a LocalBackend. `server.ts` runs it
// as a process; `testing.ts` starts it inside a test.
import { rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { WebSocketServer, type WebSocket } from "ws";
import { AccessPolicy, writeTokenFile } from "./access.js";
import { LocalBackend, type Logger } from "./backend.js";
import { originFor } from "./encoding.js";
import { handleHttpRequest } from "./http_api.js";
import { SessionStore, SyncConnection } from "./sync.js";

/** The repository's own `convex/` folder, the default functions. */
export const REPO_FUNCTIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "convex");

const SYNC_PATH = /^\/api\/([^/]+\/)?sync$/;

/** The `localTokenFile` could not be written. */
export class LocalTokenFileError extends Error {}

export type LocalServerOptions = {
  /** The Convex functions folder (holding `_generated`); default the repo's `convex/`. */
  functionsDir?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  /** Environment variables for the functions, set on `process.env` before they load. */
  env?: Record<string, string>;
  /** Application-level Ping interval, ms (Convex sends one about every 15 s). */
  pingMs?: number;
  /** Backstop interval for noticing commits nothing announced, ms. */
  pollMs?: number;
  /** Run the jobs of `crons.ts` (default true). */
  crons?: boolean;
  /** Keep the database in this file across restarts; default memory only. */
  stateFile?: string;
  /** Debounce of state file writes after a commit, ms (default 50). */
  stateSaveDelayMs?: number;
  /** Verify user tokens against the functions' `auth.config.ts` (default: decode only). */
  verifyTokens?: boolean;
  /**
   * Browser origins (`scheme://host:port`, or `scheme://host:*`) that may use the API besides
   * the server's own; default the demo dashboard's (`DEFAULT_ALLOWED_ORIGINS`).
   */
  allowOrigins?: readonly string[];
  /** Write this start's `/api/local/*` token to this file (mode 0600); removed on close. */
  localTokenFile?: string;
  /** Operational messages (errors, start, stop). */
  log?: Logger;
  /** When set, every protocol message in and out is logged here. */
  trace?: Logger;
};

export type LocalServer = {
  /** The deployment URL clients use, e.g. `http://127.0.0.1:3210`. */
  url: string;
  port: number;
  host: string;
  backend: LocalBackend;
  /** This start's token for `/api/local/*` (header `X-Tina-Local-Token`). */
  localToken: string;
  /** Number of open sync sockets. */
  connections(): number;
  close(): Promise<void>;
};

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

export async function startLocalServer(options: LocalServerOptions = {}): Promise<LocalServer> {
  const host = options.host ?? "127.0.0.1";
  const log = options.log ?? (() => {});
  const functionsDir = path.resolve(options.functionsDir ?? REPO_FUNCTIONS_DIR);
  const env = { ...options.env };
  for (const [key, value] of Object.entries(env)) process.env[key] = value;

  let backend: LocalBackend | null = null;
  let origin = "";
  const sessions = new SessionStore();
  const connections = new Set<SyncConnection>();
  const access = new AccessPolicy({ allowOrigins: options.allowOrigins, listenHost: host });
  const httpServer = createServer((req, res) => {
    const refusal = access.refusal(req.headers);
    if (refusal !== null) {
      const text = JSON.stringify({ code: refusal.code, message: refusal.message });
      res.writeHead(refusal.status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
      res.end(text);
      req.resume();
      return;
    }
    if (backend === null) {
      res.writeHead(503, { "Content-Type": "text/plain" }).end("Starting");
      return;
    }
    void handleHttpRequest(req, res, { backend, origin, access, log, trace: options.trace });
  });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  httpServer.on("upgrade", (req, socket, head) => {
    const refusal = access.refusal(req.headers);
    if (refusal !== null) {
      socket.end(`HTTP/1.1 ${refusal.status} Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    const pathname = new URL(req.url ?? "/", "http://local").pathname;
    if (backend === null || !SYNC_PATH.test(pathname)) {
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
      return;
    }
    const ready = backend;
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const connection = new SyncConnection(ws, { backend: ready, sessions, log, trace: options.trace });
      connections.add(connection);
      ws.on("close", () => connections.delete(connection));
    });
  });

  await listen(httpServer, options.port ?? 0, host);
  const port = (httpServer.address() as AddressInfo).port;
  access.bind(port);
  origin = originFor(host, port);
  // Convex sets these to the deployment's own origins; Convex Auth uses the
  // site URL as its token issuer. Only known now that the port is.
  if (env.CONVEX_SITE_URL === undefined) process.env.CONVEX_SITE_URL = origin;
  if (env.CONVEX_CLOUD_URL === undefined) process.env.CONVEX_CLOUD_URL = origin;

  try {
    backend = await LocalBackend.load({
      functionsDir,
      pollMs: options.pollMs,
      crons: options.crons,
      stateFile: options.stateFile,
      stateSaveDelayMs: options.stateSaveDelayMs,
      verifyTokens: options.verifyTokens,
      log,
    });
  } catch (error) {
    await new Promise((resolve) => httpServer.close(resolve));
    throw error;
  }
  const loaded = backend;
  const tokenFile = options.localTokenFile;
  if (tokenFile !== undefined) {
    try {
      writeTokenFile(tokenFile, access.localToken);
    } catch (error) {
      await new Promise((resolve) => httpServer.close(resolve));
      await loaded.close();
      throw new LocalTokenFileError(`cannot write the local token file ${tokenFile}: ${(error as Error).message}`);
    }
  }

  const timers = [
    setInterval(() => {
      for (const connection of connections) connection.ping();
    }, options.pingMs ?? 15_000),
    setInterval(() => sessions.sweep(), 60_000),
  ];
  for (const timer of timers) timer.unref();

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      for (const timer of timers) clearInterval(timer);
      for (const connection of connections) connection.close(1001, "Server shutting down");
      // Give close frames a moment, then drop whatever is left.
      await new Promise((resolve) => setTimeout(resolve, 50).unref());
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      const closed = new Promise((resolve) => httpServer.close(resolve));
      httpServer.closeAllConnections();
      await closed;
      await loaded.close();
      if (tokenFile !== undefined) rmSync(tokenFile, { force: true });
    })();
    return closing;
  };

  return {
    url: origin,
    port,
    host,
    backend: loaded,
    localToken: access.localToken,
    connections: () => connections.size,
    close,
  };
}
