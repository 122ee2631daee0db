// Headless Chromium through playwright-core (the system's Chromium; nothing is downloaded).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-quic",
  "--no-first-run",
  "--disable-component-update",
  "--disable-sync",
];

export const PHONE = { width: 390, height: 844 } as const;
export const DESKTOP = { width: 1440, height: 900 } as const;

export type TestBrowser = {
  browser: Browser;
  /** A fresh context (own storage) at a viewport; phones get touch and a phone's pixel ratio. */
  context(viewport: { width: number; height: number }, options?: { colorScheme?: "light" | "dark" }): Promise<BrowserContext>;
  close(): Promise<void>;
};

export async function launchBrowser(): Promise<TestBrowser> {
  // `launch` gives every run a fresh temporary profile (user-data-dir) and removes it on close.
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
    headless: true,
  });
  return {
    browser,
    async context(viewport, options = {}) {
      const phone = viewport.width < 600;
      const context = await browser.newContext({
        viewport,
        deviceScaleFactor: phone ? 2 : 1,
        isMobile: phone,
        hasTouch: phone,
        colorScheme: options.colorScheme ?? "light",
      });
      // A step that cannot happen fails with its locator in the message, well before the test's timeout.
      context.setDefaultTimeout(10_000);
      return context;
    },
    async close() {
      await browser.close();
    },
  };
}

/** Collects console errors and failed requests, so a test can show what went wrong in the page. */
export function recordPageProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  return problems;
}

/**
 * A browser with a real (temporary) profile rather than an incognito-like context: what the
 * installable-app tests need, since Chromium reports a page in an off-the-record profile as not
 * installable and refuses it notifications. The profile directory is removed on close.
 */
export async function launchWithProfile(viewport: { width: number; height: number }): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = await mkdtemp(path.join(tmpdir(), "tina-e2e-profile-"));
  const phone = viewport.width < 600;
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
    headless: true,
    viewport,
    deviceScaleFactor: phone ? 2 : 1,
    isMobile: phone,
    hasTouch: phone,
    colorScheme: "light",
  });
  context.setDefaultTimeout(10_000);
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
