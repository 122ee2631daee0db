// The HTTP side of the server: Convex's function API under `/api/`, and the
// HTTP actions of `convex/http.ts` for every other path.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { JSONValue } from "convex/values";
import { isJsonContentType, LOCAL_TOKEN_HEADER, type AccessPolicy } from "./access.js";
import { DECODE_ONLY, TokenError, type Identity, type TokenAuth } from "./auth.js";
import { encodeTs } from "./encoding.js";
import { LocalRequestError, type LocalBackend, type Logger, type Outcome } from "./backend.js";
import type { FunctionKind } from "./modules.js";

/** The status Convex uses when a function ran and failed. */
export const STATUS_FUNCTION_FAILED = 560;

const MAX_BODY_BYTES = 64 * 1024 * 1024;

const FUNCTION_ENDPOINTS: Record<string, FunctionKind | "any"> = {
  "/api/query": "query",
  "/api/query_at_ts": "query",
  "/api/mutation": "mutation",
  "/api/action": "action",
  "/api/function": "any",
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, "PayloadTooLarge", "Request body too large"));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  if (status === STATUS_FUNCTION_FAILED) res.statusMessage = "Function Failed";
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}

// Test-only endpoints of this backend (no real deployment has them).
const LOCAL_ENDPOINTS = new Set([
  "/api/local/reset",
  "/api/local/dump",
  "/api/local/run",
  "/api/local/metrics",
  "/api/local/metrics/reset",
]);

/**
 * The identity of an `Authorization` header. `Bearer <jwt>` is decoded, or
 * verified with `--verify-tokens`; `Convex <admin key>` is accepted as an
 * admin without identity (admin keys are not checked).
 */
export async function identityFromHeader(
  header: string | undefined,
  tokens: TokenAuth = DECODE_ONLY,
): Promise<Identity | null> {
  if (header === undefined || header === "") return null;
  const [scheme, ...rest] = header.trim().split(/\s+/);
  const credential = rest.join(" ");
  if (scheme.toLowerCase() === "bearer") return await tokens.identity(credential);
  if (scheme === "Convex") return null;
  throw new TokenError(`Unsupported Authorization scheme ${scheme}`);
}

async function requestIdentity(req: IncomingMessage, backend: LocalBackend): Promise<Identity | null> {
  try {
    return await identityFromHeader(req.headers.authorization, backend.tokens);
  } catch (error) {
    throw new HttpError(401, "Unauthenticated", (error as Error).message);
  }
}

function parseJsonBody(body: Buffer, emptyAs?: unknown): Record<string, unknown> {
  if (body.length === 0 && emptyAs !== undefined) return emptyAs as Record<string, unknown>;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    throw new HttpError(400, "BadJsonBody", "The request body is not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new HttpError(400, "BadRequest", "The request body must be a JSON object");
  }
  return parsed as Record<string, unknown>;
}

/** `args` is a one-element array for /api/query & co. and a bare object elsewhere; both are accepted. */
function argsOf(request: Record<string, unknown>): JSONValue {
  return (Array.isArray(request.args) ? (request.args[0] ?? {}) : (request.args ?? {})) as JSONValue;
}

function functionReply(outcome: Outcome): { status: number; body: Record<string, unknown> } {
  if (outcome.ok) return { status: 200, body: { status: "success", value: outcome.value, logLines: [] } };
  return {
    status: STATUS_FUNCTION_FAILED,
    body: {
      status: "error",
      errorMessage: outcome.message,
      ...(outcome.errorData !== undefined ? { errorData: outcome.errorData } : {}),
      logLines: [],
    },
  };
}

/** CORS for a browser origin the server let through (the access policy refused the others). */
function setCorsHeaders(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader("Vary", "Origin");
  const origin = req.headers.origin;
  if (origin === undefined) return;
  res.setHeader("Access-Control-Allow-Origin", origin);
  res.setHeader("Access-Control-Allow-Credentials", "true");
}

export type HttpContext = {
  backend: LocalBackend;
  /** This server's own origin, e.g. `http://127.0.0.1:3210`. */
  origin: string;
  /** Who may call what; the server already refused foreign `Host`s and origins. */
  access: AccessPolicy;
  log: Logger;
  trace?: Logger;
};

export async function handleHttpRequest(
  req: IncomingMessage,
  res: ServerResponse,
  context: HttpContext,
): Promise<void> {
  const url = new URL(req.url ?? "/", context.origin);
  try {
    if (url.pathname.startsWith("/api/")) {
      await handleApi(req, res, url, context);
    } else {
      await handleHttpAction(req, res, url, context);
    }
  } catch (error) {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (error instanceof HttpError) {
      sendJson(res, error.status, { code: error.code, message: error.message });
    } else {
      context.log(`${req.method} ${url.pathname} failed: ${(error as Error)?.stack ?? error}`);
      sendJson(res, 500, { code: "InternalServerError", message: String(error) });
    }
  }
}

async function handleApi(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  { backend, access, trace }: HttpContext,
): Promise<void> {
  if (LOCAL_ENDPOINTS.has(url.pathname)) {
    // Test-only endpoints are for programs, never for pages (not even the dashboard's): no
    // CORS, no request from a browser origin, and this start's token.
    if (req.method === "OPTIONS" || req.headers.origin !== undefined) {
      throw new HttpError(403, "ForbiddenOrigin", `${url.pathname} is not for web pages`);
    }
    if (!access.localTokenMatches(req.headers[LOCAL_TOKEN_HEADER.toLowerCase()])) {
      throw new HttpError(
        401,
        "Unauthenticated",
        `${url.pathname} needs this start's token in the ${LOCAL_TOKEN_HEADER} header`,
      );
    }
  } else {
    setCorsHeaders(req, res);
  }
  if (req.method === "OPTIONS") {
    res.writeHead(204, {
      "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
      "Access-Control-Allow-Headers":
        req.headers["access-control-request-headers"] ?? "Content-Type, Authorization, Convex-Client",
      "Access-Control-Max-Age": "86400",
    });
    res.end();
    return;
  }
  const kind = FUNCTION_ENDPOINTS[url.pathname];
  const known = kind !== undefined || url.pathname === "/api/query_ts" || LOCAL_ENDPOINTS.has(url.pathname);
  if (!known) {
    throw new HttpError(404, "NotFound", `No endpoint ${url.pathname} on this local backend`);
  }
  if (url.pathname === "/api/local/metrics") {
    // What each function cost since the start or the last reset (metering.ts).
    if (req.method !== "GET") throw new HttpError(405, "MethodNotAllowed", `${url.pathname} takes GET`);
    sendJson(res, 200, backend.metrics());
    return;
  }
  if (req.method !== "POST") {
    throw new HttpError(405, "MethodNotAllowed", `${url.pathname} takes POST`);
  }
  const body = await readBody(req);
  if (body.length > 0 && !isJsonContentType(req.headers["content-type"])) {
    // A page may POST text/plain or a form anywhere without a preflight; JSON it may not.
    throw new HttpError(415, "UnsupportedMediaType", "Send the body as Content-Type: application/json");
  }
  trace?.(`http in ${url.pathname} ${body.toString()}`);
  if (url.pathname === "/api/query_ts") {
    sendJson(res, 200, { ts: encodeTs(await backend.refresh()) });
    return;
  }
  if (url.pathname === "/api/local/reset") {
    await backend.reset();
    sendJson(res, 200, { status: "success" });
    return;
  }
  if (url.pathname === "/api/local/metrics/reset") {
    backend.resetMetrics();
    sendJson(res, 200, { status: "success" });
    return;
  }
  if (url.pathname === "/api/local/dump") {
    const { tables } = parseJsonBody(body, {});
    if (tables !== undefined && !(Array.isArray(tables) && tables.every((t) => typeof t === "string"))) {
      throw new HttpError(400, "BadRequest", "`tables` must be an array of table names");
    }
    let dumped: Record<string, JSONValue[]>;
    try {
      dumped = await backend.dump(tables as string[] | undefined);
    } catch (error) {
      if (error instanceof LocalRequestError) throw new HttpError(400, "BadRequest", error.message);
      throw error;
    }
    sendJson(res, 200, { tables: dumped });
    return;
  }

  const request = parseJsonBody(body);
  if (typeof request.path !== "string") {
    throw new HttpError(400, "BadRequest", "The request body needs a string `path`");
  }
  const args = argsOf(request);
  const identity = await requestIdentity(req, backend);
  const outcome =
    url.pathname === "/api/local/run"
      ? await backend.runInternal(request.path, args, identity)
      : await backend.runPublic(kind!, request.path, args, identity);
  if (kind !== "query") {
    // Mutations (and actions calling them) are published to subscribers first.
    await backend.refresh();
  }
  const reply = functionReply(outcome);
  trace?.(`http out ${JSON.stringify(reply.body)}`);
  sendJson(res, reply.status, reply.body);
}

async function handleHttpAction(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  { backend }: HttpContext,
): Promise<void> {
  const method = req.method ?? "GET";
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  }
  const hasBody = method !== "GET" && method !== "HEAD";
  const body = hasBody ? new Uint8Array(await readBody(req)) : undefined;
  const request = new Request(url, { method, headers, body });
  let identity: Identity | null = null;
  try {
    identity = await identityFromHeader(req.headers.authorization, backend.tokens);
  } catch {
    // HTTP actions read their own headers; an unusable token just means no identity.
  }
  const response = await backend.runHttpAction(request, identity);
  const outHeaders: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") outHeaders[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) outHeaders["set-cookie"] = cookies;
  const payload = Buffer.from(await response.arrayBuffer());
  delete outHeaders["content-length"];
  delete outHeaders["transfer-encoding"];
  outHeaders["content-length"] = String(payload.length);
  if (response.statusText) {
    res.writeHead(response.status, response.statusText, outHeaders);
  } else {
    res.writeHead(response.status, outHeaders);
  }
  res.end(method === "HEAD" ? undefined : payload);
}
