import { expect, test, vi } from "vitest";
import { isDeploymentUrl, resolveConfig } from "./config";

const BASE = "https://dash.example.com/tina/index.html";

function fakeFetch(status: number, body: string) {
  return vi.fn(async () => new Response(body, { status, headers: { "Content-Type": "application/json" } })) as unknown as typeof fetch;
}

test("config.json next to index.html wins over the build-time URL", async () => {
  const f = fakeFetch(200, JSON.stringify({ convexUrl: "http://127.0.0.1:41234" }));
  expect(await resolveConfig(f, BASE, "https://happy-otter-123.convex.cloud")).toEqual({ convexUrl: "http://127.0.0.1:41234", source: "config.json" });
  expect(vi.mocked(f).mock.calls[0]![0]).toBe("https://dash.example.com/tina/config.json");
});

test("a missing or malformed config.json falls back to VITE_CONVEX_URL", async () => {
  const env = "https://happy-otter-123.convex.cloud";
  expect(await resolveConfig(fakeFetch(404, "nope"), BASE, env)).toEqual({ convexUrl: env, source: "VITE_CONVEX_URL" });
  // A static host's HTML fallback page.
  expect(await resolveConfig(fakeFetch(200, "<!doctype html>"), BASE, env)).toEqual({ convexUrl: env, source: "VITE_CONVEX_URL" });
  expect(await resolveConfig(fakeFetch(200, JSON.stringify({ convexUrl: "javascript:alert(1)" })), BASE, env)).toEqual({ convexUrl: env, source: "VITE_CONVEX_URL" });
  const offline = vi.fn(async () => {
    throw new TypeError("network down");
  }) as unknown as typeof fetch;
  expect(await resolveConfig(offline, BASE, env)).toEqual({ convexUrl: env, source: "VITE_CONVEX_URL" });
});

test("no deployment anywhere", async () => {
  expect(await resolveConfig(fakeFetch(404, ""), BASE, undefined)).toBeUndefined();
  expect(await resolveConfig(fakeFetch(404, ""), BASE, "")).toBeUndefined();
});

test("deployment URLs are http(s)", () => {
  expect(isDeploymentUrl("https://a.convex.cloud")).toBe(true);
  expect(isDeploymentUrl("ftp://a")).toBe(false);
  expect(isDeploymentUrl("a.convex.cloud")).toBe(false);
  expect(isDeploymentUrl(42)).toBe(false);
});
