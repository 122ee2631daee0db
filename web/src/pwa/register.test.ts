import { describe, expect, test } from "vitest";
import { isNavigateMessage, pageNavigation, shouldRegister, workerUrl } from "./register";

describe("registering the service worker", () => {
  test("only a production build on a secure origin that has service workers", () => {
    expect(shouldRegister({ production: true, secure: true, supported: true })).toBe(true);
    expect(shouldRegister({ production: false, secure: true, supported: true })).toBe(false);
    expect(shouldRegister({ production: true, secure: false, supported: true })).toBe(false);
    expect(shouldRegister({ production: true, secure: true, supported: false })).toBe(false);
  });

  test("the worker sits beside index.html, at any path", () => {
    expect(workerUrl("https://tina.example.com/app/index.html")).toEqual({ script: "https://tina.example.com/app/sw.js", scope: "https://tina.example.com/app/" });
    expect(workerUrl("http://127.0.0.1:5173/#/fleet")).toEqual({ script: "http://127.0.0.1:5173/sw.js", scope: "http://127.0.0.1:5173/" });
  });
});

describe("a tapped notification's link, in the page", () => {
  test("the worker's message, and nothing else", () => {
    expect(isNavigateMessage({ type: "tina:navigate", url: "https://x/#/attention" })).toBe(true);
    expect(isNavigateMessage({ type: "tina:navigate" })).toBe(false);
    expect(isNavigateMessage({ type: "other", url: "x" })).toBe(false);
    expect(isNavigateMessage("tina:navigate")).toBe(false);
    expect(isNavigateMessage(null)).toBe(false);
  });

  test("the same page: the hash changes in place (the live connection stays)", () => {
    expect(pageNavigation("https://t.example/app/#/fleet", "https://t.example/app/#/attention?item=prompt%3Ap1")).toEqual({
      kind: "hash",
      hash: "#/attention?item=prompt%3Ap1",
    });
  });

  test("another page of the app: loaded", () => {
    expect(pageNavigation("https://t.example/app/index.html#/", "https://t.example/app/#/attention")).toEqual({ kind: "assign", url: "https://t.example/app/#/attention" });
  });

  test("another origin, or not one of the app's routes: ignored", () => {
    expect(pageNavigation("https://t.example/app/#/", "https://evil.example/app/#/attention")).toBeNull();
    expect(pageNavigation("https://t.example/app/#/", "https://t.example/app/")).toBeNull();
    expect(pageNavigation("https://t.example/app/#/", "javascript:alert(1)")).toBeNull();
    expect(pageNavigation("https://t.example/app/#/", "not a url")).toBeNull();
  });
});
