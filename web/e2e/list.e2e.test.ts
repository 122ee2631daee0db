// The orchestration list in headless Chromium against the local backend and laptops (the real
// daemon by default, see harness/index.ts): each card tells its state at a glance (a chip of its
// own for a plan awaiting approval, blocked and paused; the laptop's state in words; the phase's
// tasks done and its stage; labelled times; the last activity), what needs you comes first, a
// task done on the laptop moves its card live, and search and sort are kept in the address.
// axe-core on the list at both sizes. One backend; tests in order, each building on the last.
import type { BrowserContext, Locator, Page } from "playwright-core";
import { beforeAll, describe, expect, test } from "vitest";
import type { StaticServer } from "../serve";
import { expectAccessible } from "./harness/a11y";
import { dumpTables, eventually, type TestBackend } from "./harness/backend";
import { DESKTOP, PHONE, recordPageProblems, type TestBrowser } from "./harness/browser";
import { laptopKind, type Laptop } from "./harness/index";
import { documentStillMarked, markDocument, screenshot, signIn } from "./harness/page";
import { useWorld } from "./harness/world";
import { awaitingApproval, orchestration, team } from "./harness/scenario";

const WORKTREES = "/home/dev/worktrees";
const MIN = 60_000;
// Generous: the machine may be busy. A live update normally shows well within a second.
const WAIT_MS = 20_000;

let backend: TestBackend;
let web: StaticServer;
let browser: TestBrowser;
let alpha: Laptop;
let bravo: Laptop;
let desktop: BrowserContext;
let page: Page;
let problems: string[] = [];

const row = (p: Page, feature: string): Locator => p.locator(`[data-testid="orchestration-row"][data-feature="${feature}"]`);
const features = async (p: Page): Promise<string[]> =>
  await p.getByTestId("orchestration-row").evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.feature ?? ""));

describe(`the orchestration list end to end (laptop: ${laptopKind()})`, () => {
  const world = useWorld(["bravo", "alpha"], () => problems);
  beforeAll(async () => {
    ({ backend, web, browser } = world());
    [bravo, alpha] = world().laptops as [Laptop, Laptop];
    const now = Date.now();
    // bravo: one blocked orchestration, then its daemon stops: offline.
    const search = orchestration("search-index", WORKTREES, now - 30 * MIN);
    await bravo.writeOrchestration({
      ...search,
      status: "blocked",
      phases: { ...search.phases, "2": { ...search.phases["2"]!, status: "blocked", blockedReason: "tests failed twice" } },
    });
    await eventually(
      async () => (await dumpTables(backend.url, "orchestrations")).orchestrations!.some((o) => o.featureName === "search-index" && o.status === "blocked"),
      "bravo's orchestration in Convex",
      WAIT_MS,
    );
    await bravo.goOffline();
    // alpha: a plan awaiting approval, a paused phase, and one executing with its phase team.
    await alpha.writeOrchestration(awaitingApproval(orchestration("billing-export", WORKTREES, now - 20 * MIN)));
    const payments = orchestration("payments", WORKTREES, now - 10 * MIN);
    await alpha.writeOrchestration({
      ...payments,
      status: "paused",
      phases: { ...payments.phases, "2": { ...payments.phases["2"]!, status: "paused", pausedFrom: "executing", blockedReason: "paused by operator" } },
    });
    const checkout = orchestration("checkout-flow", WORKTREES, now);
    await alpha.writeOrchestration(checkout);
    await alpha.writeTeam(team("checkout-flow", checkout.worktreePath, undefined));

    desktop = await browser.context(DESKTOP);
    page = await desktop.newPage();
    problems = recordPageProblems(page);
    await signIn(page, web.url, "signUp");
  }, 120_000);

  test("each card tells its state at a glance, and what needs you comes first", async () => {
    const checkout = row(page, "checkout-flow");
    await checkout.getByTestId("progress").filter({ hasText: "1 of 4 tasks done" }).waitFor({ timeout: WAIT_MS });
    await row(page, "search-index").getByTestId("laptop-state").filter({ hasText: "bravo · offline" }).waitFor({ timeout: WAIT_MS });
    await row(page, "payments").filter({ hasText: "Paused" }).waitFor({ timeout: WAIT_MS });
    await row(page, "billing-export").filter({ hasText: "Awaiting approval" }).waitFor({ timeout: WAIT_MS });
    // Awaiting approval and blocked (newest first: laptops stamp the start when they create an
    // orchestration), then paused, then the rest.
    expect(await features(page)).toEqual(["billing-export", "search-index", "payments", "checkout-flow"]);

    const billing = await row(page, "billing-export").innerText();
    expect(billing).toContain("Awaiting approval");
    expect(billing).not.toContain("Planning");
    expect(billing).toContain("phase 2 of 3 · awaiting approval");
    expect(billing).toContain("Phase 2: plan awaiting approval");
    expect(await row(page, "search-index").innerText()).toContain("Blocked");
    expect(await row(page, "payments").innerText()).toContain("Paused");

    const text = await checkout.innerText();
    expect(text).toContain("Executing");
    expect(text).toContain("alpha · online");
    expect(text).toContain("phase 2 of 3 · executing · 1 of 4 tasks done");
    expect(text).toMatch(/running \d+ (s|min)/);
    expect(text).toMatch(/started (just now|\d+ s ago|\d+ min ago)/);
    // The exact time is there for hover and screen readers (a card is a link: no button inside).
    await expect(checkout.getByTestId("times").getByTestId("time").getAttribute("title")).resolves.toMatch(/^\d{1,2} \w{3} \d{4}, \d\d:\d\d:\d\d$/);
    expect(await checkout.getByRole("button").count()).toBe(0);

    // The last activity follows the laptop's journal.
    await alpha.appendEvent("checkout-flow", { type: "execute_started", summary: "Phase 2 execution started", phase: "2" });
    await checkout.getByTestId("last-activity").filter({ hasText: "Phase 2 execution started" }).waitFor({ timeout: WAIT_MS });
    expect(await checkout.getByTestId("last-activity").innerText()).toMatch(/^Last activity (just now|\d+ s ago)\b.*: Phase 2 execution started$/s);

    await expectAccessible(page, "orchestrations (desktop)");
    await screenshot(page, "orchestrations-desktop");
  });

  test("a task done on the laptop moves its card's progress and last activity, without a reload", async () => {
    await markDocument(page);
    const checkout = row(page, "checkout-flow");
    await expect(checkout.getByRole("progressbar").getAttribute("aria-valuenow")).resolves.toBe(String(Math.round((1 + 1 / 4) * (100 / 3))));
    const state = await alpha.readOrchestration("checkout-flow");
    const files = team("checkout-flow", state.worktreePath, undefined);
    files.tasks[1] = { ...files.tasks[1]!, status: "completed" };
    await alpha.writeTeam(files);
    await checkout.getByTestId("progress").filter({ hasText: "2 of 4 tasks done" }).waitFor({ timeout: WAIT_MS });
    // Phase 1 done and half of phase 2, of 3 phases.
    await expect(checkout.getByRole("progressbar").getAttribute("aria-valuenow")).resolves.toBe("50");
    await checkout.getByTestId("last-activity").filter({ hasText: "executor-1 completed “Wire the login endpoint”" }).waitFor({ timeout: WAIT_MS });
    expect(await documentStillMarked(page)).toBe(true);
  });

  test("search and sort are kept in the address and survive a reload", async () => {
    const box = page.getByLabel("Search", { exact: true });
    await box.fill("bravo");
    await page.waitForFunction(() => window.location.hash.includes("q=bravo"));
    expect(await features(page)).toEqual(["search-index"]);
    await page.getByRole("combobox", { name: /^Sort/ }).selectOption("name");
    await page.waitForURL(/sort=name/);
    expect(page.url()).toContain("q=bravo");
    await page.reload();
    await row(page, "search-index").waitFor({ timeout: WAIT_MS });
    await expect(page.getByLabel("Search", { exact: true }).inputValue()).resolves.toBe("bravo");
    expect(await features(page)).toEqual(["search-index"]);
    // By branch, then nothing: it says so and offers to clear.
    await page.getByLabel("Search", { exact: true }).fill("tina/pay");
    await row(page, "payments").waitFor();
    expect(await features(page)).toEqual(["payments"]);
    await page.getByLabel("Search", { exact: true }).fill("no-such-thing");
    await page.getByText("Nothing matches “no-such-thing”.").waitFor();
    await page.getByRole("button", { name: "Clear search" }).click();
    await row(page, "checkout-flow").waitFor();
    expect(await features(page)).toEqual(["billing-export", "checkout-flow", "payments", "search-index"]);
    expect(page.url()).not.toContain("q=");
    await page.getByRole("combobox", { name: /^Sort/ }).selectOption("needs");
    await page.waitForURL((url) => !url.hash.includes("sort="));
    expect(await features(page)).toEqual(["billing-export", "search-index", "payments", "checkout-flow"]);
  });

  test("on a phone: the same at a glance, nothing wider than the screen, accessible in both themes", async () => {
    for (const scheme of ["light", "dark"] as const) {
      const phone = await browser.context(PHONE, { colorScheme: scheme });
      try {
        const p = await phone.newPage();
        await signIn(p, web.url, "signIn");
        await row(p, "checkout-flow").getByTestId("progress").filter({ hasText: "2 of 4 tasks done" }).waitFor({ timeout: WAIT_MS });
        await row(p, "search-index").waitFor();
        expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
        const billing = await row(p, "billing-export").innerText();
        expect(billing).toContain("Awaiting approval");
        expect(billing).toContain("alpha · online");
        expect(await row(p, "search-index").innerText()).toContain("bravo · offline");
        await expectAccessible(p, `orchestrations (phone, ${scheme})`);
        if (scheme === "light") await screenshot(p, "orchestrations-phone");
      } finally {
        await phone.close();
      }
    }
  });
});
