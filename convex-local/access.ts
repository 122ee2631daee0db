// Who may talk to the local backend. It runs on laptops where a browser also runs, and any
// page in that browser can send requests to 127.0.0.1: the backend must tell its own
// clients from a hostile page.
//
// - Browser origins: a request or WebSocket whose `Origin` is neither on the allowlist (the
//   dashboard's origins) nor the backend's own is refused outright; requests without an
//   `Origin` come from programs (the official clients, the daemon), not from pages.
// - `Host`: only loopback names (and the `--host` name), so a page whose DNS name was rebound
//   to 127.0.0.1 (it sends `Host: evil.example`) is refused. Any port: a TLS terminator or a
//   tunnel on loopback forwards requests that name its own port, and a rebinding page cannot
//   send a loopback name whatever its port.
// - `/api/local/*`: a random token per start, sent as `X-Tina-Local-Token`.
// - JSON bodies must say `application/json`: a browser sends text/plain or form bodies
//   cross-origin without a preflight, a JSON content type never.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, renameSync, rmSync, writeFileSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";

/** The header that carries the per-start token of `/api/local/*`. */
export const LOCAL_TOKEN_HEADER = "X-Tina-Local-Token";

/** The demo dashboard's origins (`web/serve.ts` and Vite's dev server on port 5173). */
export const DEFAULT_ALLOWED_ORIGINS: readonly string[] = ["http://127.0.0.1:5173", "http://localhost:5173"];

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"];
const WILDCARD_HOSTS = new Set(["", "0.0.0.0", "::", "[::]"]);

export class AccessConfigError extends Error {}

/** One allowed origin: `scheme://host[:port]`, or `scheme://host:*` for every port of that host. */
export type OriginPattern = { scheme: string; hostname: string; port: string | "*" };

function defaultPort(scheme: string): string {
  return scheme === "https:" ? "443" : "80";
}

/** Parses an `--allow-origin` value; throws AccessConfigError for anything but an origin. */
export function parseOriginPattern(text: string): OriginPattern {
  const anyPort = text.endsWith(":*");
  const base = anyPort ? text.slice(0, -2) : text;
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new AccessConfigError(`invalid origin ${JSON.stringify(text)}: expected scheme://host[:port]`);
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") {
    throw new AccessConfigError(`invalid origin ${JSON.stringify(text)}: expected http(s)://host[:port]`);
  }
  // An origin has no path, query, fragment or credentials (a trailing `/` is tolerated).
  if (url.pathname !== "/" || url.search || url.hash || url.username || url.password) {
    throw new AccessConfigError(`invalid origin ${JSON.stringify(text)}: an origin has no path`);
  }
  if (anyPort && url.port !== "") {
    throw new AccessConfigError(`invalid origin ${JSON.stringify(text)}: a port and :*`);
  }
  return { scheme: url.protocol, hostname: url.hostname, port: anyPort ? "*" : url.port || defaultPort(url.protocol) };
}

function parseOrigin(origin: string): { scheme: string; hostname: string; port: string } | null {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return null; // "null" (sandboxed frames, file: pages) and garbage
  }
  // Browsers send exactly the origin's serialization; anything else is not a page's origin.
  if (url.origin !== origin) return null;
  return { scheme: url.protocol, hostname: url.hostname, port: url.port || defaultPort(url.protocol) };
}

/** The loopback names (and the listening host, unless a wildcard), bracketed as in a Host header. */
function ownHostnames(listenHost: string): string[] {
  const names = [...LOOPBACK_NAMES];
  if (!WILDCARD_HOSTS.has(listenHost)) {
    const bracketed = listenHost.includes(":") && !listenHost.startsWith("[") ? `[${listenHost}]` : listenHost;
    names.push(bracketed.toLowerCase());
  }
  return names;
}

export type AccessPolicyOptions = {
  /** Browser origins allowed besides the backend's own (default DEFAULT_ALLOWED_ORIGINS). */
  allowOrigins?: readonly string[];
  /** The address the server listens on (`--host`); its name is accepted in `Host`. */
  listenHost: string;
};

export type Refusal = { status: number; code: string; message: string };

/** The access rules of one server; `bind(port)` once the port is known. */
export class AccessPolicy {
  readonly localToken: string;
  private readonly patterns: OriginPattern[];
  private readonly hostnames: string[];
  private port = "";

  constructor(options: AccessPolicyOptions) {
    this.patterns = (options.allowOrigins ?? DEFAULT_ALLOWED_ORIGINS).map(parseOriginPattern);
    this.hostnames = ownHostnames(options.listenHost);
    this.localToken = randomBytes(32).toString("base64url");
  }

  bind(port: number): void {
    this.port = String(port);
  }

  /** Whether a `Host` header names this server: a loopback (or the `--host`) name, any port. */
  hostAllowed(host: string | undefined): boolean {
    if (host === undefined) return false;
    const match = /^(\[[^\]]*\]|[^:]*)(?::\d+)?$/.exec(host.trim().toLowerCase());
    return match !== null && this.hostnames.includes(match[1]);
  }

  /** Whether a browser `Origin` may use the API: the backend's own, or an allowed one. */
  originAllowed(origin: string): boolean {
    const parsed = parseOrigin(origin);
    if (parsed === null) return false;
    const { scheme, hostname, port } = parsed;
    if (scheme === "http:" && port === this.port && this.hostnames.includes(hostname)) return true;
    return this.patterns.some(
      (p) => p.scheme === scheme && p.hostname === hostname && (p.port === "*" || p.port === port),
    );
  }

  /** Why a request (or WebSocket upgrade) must be refused before anything else, or null. */
  refusal(headers: IncomingHttpHeaders): Refusal | null {
    if (!this.hostAllowed(headers.host)) {
      return {
        status: 403,
        code: "ForbiddenHost",
        message: "This local backend answers only to localhost, 127.0.0.1 or [::1]",
      };
    }
    const origin = headers.origin;
    if (origin !== undefined && !this.originAllowed(origin)) {
      return {
        status: 403,
        code: "ForbiddenOrigin",
        message: `Origin ${origin} is not allowed (see --allow-origin)`,
      };
    }
    return null;
  }

  /** Whether a request carries this start's `/api/local/*` token (compared in constant time). */
  localTokenMatches(header: string | string[] | undefined): boolean {
    if (typeof header !== "string") return false;
    const digest = (text: string) => createHash("sha256").update(text).digest();
    return timingSafeEqual(digest(header.trim()), digest(this.localToken));
  }
}

/** Whether a Content-Type header is JSON (`application/json`, parameters allowed). */
export function isJsonContentType(header: string | undefined): boolean {
  return header !== undefined && header.split(";")[0].trim().toLowerCase() === "application/json";
}

/** Writes the token to `file` (mode 0600, replaced atomically). */
export function writeTokenFile(file: string, token: string): void {
  const tmp = `${file}.tmp`;
  rmSync(tmp, { force: true });
  writeFileSync(tmp, `${token}\n`, { mode: 0o600, flag: "wx" });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}
