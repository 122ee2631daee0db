// Page helpers for the dashboard tests: sign-in, waiting on live data, screenshots, layout shift.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { BrowserContext, Locator, Page } from "playwright-core";

export const ARTIFACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "test-artifacts", "web");

export const OWNER = { email: "owner@example.com", password: "correct horse battery staple" };

/** Counts layout shifts not caused by input (the Cumulative Layout Shift of the page since reset). */
export async function trackLayoutShift(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const w = window as unknown as { __cls: number; __shifts: string[] };
    w.__cls = 0;
    w.__shifts = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries() as (PerformanceEntry & { value: number; hadRecentInput: boolean; sources?: { node?: Node }[] })[]) {
        if (entry.hadRecentInput) continue;
        w.__cls += entry.value;
        const node = entry.sources?.[0]?.node as Element | undefined;
        w.__shifts.push(`${entry.value.toFixed(4)} ${node?.tagName ?? "?"}.${node?.className ?? ""}`);
      }
    }).observe({ type: "layout-shift", buffered: true });
  });
}

export async function layoutShift(page: Page): Promise<{ cls: number; shifts: string[] }> {
  return await page.evaluate(() => {
    const w = window as unknown as { __cls: number; __shifts: string[] };
    return { cls: w.__cls, shifts: w.__shifts };
  });
}

export async function resetLayoutShift(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __cls: number; __shifts: string[] };
    w.__cls = 0;
    w.__shifts = [];
  });
}

export async function signIn(page: Page, url: string, flow: "signIn" | "signUp", who = OWNER): Promise<void> {
  await page.goto(url);
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password", { exact: true }).fill(who.password);
  if (flow === "signUp") {
    await page.getByRole("button", { name: "New here? Create an account" }).click();
    await page.getByRole("button", { name: "Create account" }).click();
  } else {
    await page.getByRole("button", { name: "Sign in" }).click();
  }
  await page.getByTestId("whoami").filter({ hasText: "·" }).first().waitFor({ state: "attached" });
}

export function phaseItem(page: Page, phase: string, status?: string): Locator {
  return page.locator(`[data-testid="phase"][data-phase="${phase}"]${status ? `[data-status="${status}"]` : ""}`);
}

export async function openOrchestration(page: Page, url: string, feature: string): Promise<void> {
  await page.goto(url);
  await page.locator(`[data-testid="orchestration-row"][data-feature="${feature}"]`).click();
  await page.getByTestId("feature-name").filter({ hasText: feature }).waitFor();
  await page.getByTestId("phase").first().waitFor();
}

/** Marks the document, so a test can prove later that the page was not reloaded. */
export async function markDocument(page: Page): Promise<void> {
  await page.evaluate(() => ((window as unknown as { __e2eMark: string }).__e2eMark = "still-here"));
}

export async function documentStillMarked(page: Page): Promise<boolean> {
  return await page.evaluate(() => (window as unknown as { __e2eMark?: string }).__e2eMark === "still-here");
}

export async function screenshot(page: Page, name: string, fullPage = false): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  // Let fonts and the last transition settle: wait for two animation frames, not a fixed time.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await page.screenshot({ path: file, fullPage, animations: "disabled" });
  return file;
}

/** Adds a figure to test-artifacts/web/metrics.json (layout shift and the like, for the record). */
export async function writeMetric(name: string, value: number): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, "metrics.json");
  const current = JSON.parse(await readFile(file, "utf8").catch(() => "{}")) as Record<string, number>;
  current[name] = value;
  await writeFile(file, `${JSON.stringify(current, null, 2)}\n`);
}
