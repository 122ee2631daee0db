// A tiny static server for the built dashboard (web/dist), for the demo and the tests.
//
//   node --import tsx web/serve.ts [--dir web/dist] [--port 0] [--host 127.0.0.1] [--convex-url URL]
//
// Prints one line on stdout, `ready <url>`, once it listens. With --convex-url it answers
// `/config.json` with `{"convexUrl": URL}`, so one build can point at a backend on any port
// without rebuilding. Node's standard library only; not meant for production (any static host
// serves web/dist; see web/README.md).
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".map": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".webmanifest": "application/manifest+json",
};

export const DEFAULT_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "dist");

export type StaticServerOptions = { dir?: string; port?: number; host?: string; convexUrl?: string };
export type StaticServer = { url: string; port: number; server: Server; close(): Promise<void> };

/** The file under `root` that a request path names, or null when it would leave `root`. */
export function resolveUnder(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes("\0")) return null;
  const relative = decoded === "/" || decoded === "" ? "index.html" : decoded.replace(/^\/+/, "");
  const full = path.resolve(root, relative);
  return full === root || full.startsWith(root + path.sep) ? full : null;
}

export async function startStaticServer(options: StaticServerOptions = {}): Promise<StaticServer> {
  const root = path.resolve(options.dir ?? DEFAULT_DIR);
  const info = await stat(path.join(root, "index.html")).catch(() => null);
  if (info === null) throw new Error(`${root}/index.html is missing: build first (npx vite build --config web/vite.config.ts)`);
  const config = options.convexUrl === undefined ? null : JSON.stringify({ convexUrl: options.convexUrl });

  const server = createServer((req, res) => {
    const send = (status: number, body: string, type = "text/plain; charset=utf-8") => {
      res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body), "Cache-Control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "method not allowed");
    const urlPath = new URL(req.url ?? "/", "http://local").pathname;
    if (config !== null && urlPath === "/config.json") return send(200, config, TYPES[".json"]);
    const file = resolveUnder(root, urlPath);
    if (file === null) return send(400, "bad path");
    stat(file).then(
      (st) => {
        if (!st.isFile()) return send(404, "not found");
        const hashed = urlPath.startsWith("/assets/");
        res.writeHead(200, {
          "Content-Type": TYPES[path.extname(file)] ?? "application/octet-stream",
          "Content-Length": st.size,
          // Hashed bundles never change; index.html and config.json always revalidate.
          "Cache-Control": hashed ? "public, max-age=31536000, immutable" : "no-cache",
          "X-Content-Type-Options": "nosniff",
        });
        if (req.method === "HEAD") return res.end();
        createReadStream(file).pipe(res);
      },
      () => send(404, "not found"),
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host ?? "127.0.0.1";
  const shown = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  return {
    url: `http://${shown.includes(":") ? `[${shown}]` : shown}:${port}/`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: "string" },
      port: { type: "string" },
      host: { type: "string" },
      "convex-url": { type: "string" },
    },
    strict: true,
  });
  const port = values.port === undefined ? 5173 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`serve.ts: invalid --port ${values.port}\n`);
    process.exit(2);
  }
  const running = await startStaticServer({
    port,
    ...(values.dir ? { dir: values.dir } : {}),
    ...(values.host ? { host: values.host } : {}),
    ...(values["convex-url"] ? { convexUrl: values["convex-url"] } : {}),
  });
  process.stderr.write(`serve.ts: serving ${values.dir ?? DEFAULT_DIR}${values["convex-url"] ? ` for ${values["convex-url"]}` : ""}\n`);
  process.stdout.write(`ready ${running.url}\n`);
  const stop = () => void running.close().then(() => process.exit(0));
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, stop);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`serve.ts: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
