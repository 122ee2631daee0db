// @vitest-environment node
// The demo's static server: files from the build, config.json from the command line, nothing
// outside the build folder.
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { resolveUnder, startStaticServer, type StaticServer } from "../serve";

let outer: string;
let dir: string;
let server: StaticServer;

beforeAll(async () => {
  outer = await mkdtemp(path.join(tmpdir(), "tina-serve-"));
  dir = path.join(outer, "dist");
  await mkdir(path.join(dir, "assets"), { recursive: true });
  await writeFile(path.join(outer, "secret.txt"), "not for the web");
  await writeFile(path.join(dir, "index.html"), "<!doctype html><title>tina</title>");
  await writeFile(path.join(dir, "assets", "index-abc.js"), "console.log(1)");
  await writeFile(path.join(dir, "config.json"), JSON.stringify({ convexUrl: "https://from-file.example" }));
  server = await startStaticServer({ dir, convexUrl: "http://127.0.0.1:3210" });
});

afterAll(async () => {
  await server.close();
  await rm(outer, { recursive: true, force: true });
});

/** A raw GET (no URL normalisation, so `..` reaches the server as sent). */
function get(rawPath: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: server.port, path: rawPath, method: "GET" }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

test("index.html at the root, revalidated on every load", async () => {
  const r = await get("/");
  expect(r.status).toBe(200);
  expect(r.body).toContain("<title>tina</title>");
  expect(r.headers["content-type"]).toMatch(/text\/html/);
  expect(r.headers["cache-control"]).toBe("no-cache");
});

test("hashed assets are cached for good", async () => {
  const r = await get("/assets/index-abc.js");
  expect(r.status).toBe(200);
  expect(r.headers["content-type"]).toMatch(/javascript/);
  expect(r.headers["cache-control"]).toContain("immutable");
});

test("config.json comes from --convex-url, over the file in the build", async () => {
  const r = await get("/config.json");
  expect(JSON.parse(r.body)).toEqual({ convexUrl: "http://127.0.0.1:3210" });
  expect(r.headers["cache-control"]).toBe("no-store");
});

test("nothing outside the build folder, and unknown files are 404", async () => {
  for (const sneaky of ["/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt", "/..%5csecret.txt"]) {
    const r = await get(sneaky);
    expect(r.status, sneaky).not.toBe(200);
    expect(r.body, sneaky).not.toContain("not for the web");
  }
  expect((await get("/nope.js")).status).toBe(404);
  expect(resolveUnder("/srv/dist", "/../x")).toBeNull();
  expect(resolveUnder("/srv/dist", "/%00")).toBeNull();
  expect(resolveUnder("/srv/dist", "/a/b.js")).toBe(path.resolve("/srv/dist/a/b.js"));
});
