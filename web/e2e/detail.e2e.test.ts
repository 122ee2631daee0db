// The orchestration detail page in headless Chromium against the local backend and a laptop (the
// real daemon by default; see harness/index.ts), at phone and desktop sizes, checked by axe-core:
// only the controls that apply, each saying what it does; waiting for approval apart from
// planning; a stopped phase's time; the message box's counter, reason and retry, and the sent
// text in the history; "not found" for an unknown id; the header's repository and branch with the
// worktree path on a tap; event titles that wrap. One backend; tests in order, each building on
// what the previous one left (issue 21, points 1, 3, 6, 7, 8).
import type { BrowserContext, Page } from "playwright-core";
import { beforeAll, describe, expect, test } from "vitest";
import type { StaticServer } from "../serve";
import { expectAccessible } from "./harness/a11y";
import { dumpTables, eventually, type TestBackend } from "./harness/backend";
import { DESKTOP, PHONE, recordPageProblems, type TestBrowser } from "./harness/browser";
import { laptopKind, type Laptop } from "./harness/index";
import { phaseItem, screenshot, signIn } from "./harness/page";
import { useWorld } from "./harness/world";
import { awaitingApproval, orchestration, team } from "./harness/scenario";

const WORKTREES = "/home/dev/worktrees";
const LIVE_MS = 10_000; // generous: four helpers share a small machine
const MIN = 60_000;
const LONG_TITLE = "Phase 2 execution started: the executor picked up the plan for the checkout flow and its rollback";

let backend: TestBackend;
let web: StaticServer;
let browser: TestBrowser;
let alpha: Laptop;
let desktop: BrowserContext;
let page: Page;
let problems: string[] = [];
const ids: Record<string, string> = {};

/** The Convex id of an orchestration, once the laptop has synced it. */
async function orchestrationId(feature: string, status?: string): Promise<string> {
  return await eventually(async () => {
    const rows = (await dumpTables(backend.url, "orchestrations")).orchestrations ?? [];
    const row = rows.find((o) => o.featureName === feature && (status === undefined || o.status === status));
    return row ? String(row._id) : undefined;
  }, `${feature} in Convex`);
}

async function openDetail(p: Page, feature: string): Promise<void> {
  await p.goto(`${web.url}#/o/${ids[feature]}`);
  await p.getByTestId("feature-name").filter({ hasText: feature }).waitFor({ timeout: LIVE_MS });
  await p.getByTestId("phase").first().waitFor({ timeout: LIVE_MS });
}

/** Every event title shows whole: nothing cut off or hidden by an ellipsis. */
async function titlesWhole(p: Page): Promise<string[]> {
  return await p.locator('[data-testid="event"] strong').evaluateAll((els) =>
    els
      .filter((el) => {
        const style = getComputedStyle(el);
        return style.textOverflow === "ellipsis" || style.whiteSpace === "nowrap" || el.scrollWidth > el.clientWidth + 1;
      })
      .map((el) => el.textContent ?? ""),
  );
}

describe(`detail page end to end (laptop: ${laptopKind()})`, () => {
  const world = useWorld(["alpha"], () => problems);
  beforeAll(async () => {
    ({ backend, web, browser } = world());
    [alpha] = world().laptops as [Laptop];
    const checkout = orchestration("checkout-flow", WORKTREES);
    await alpha.writeOrchestration(checkout);
    const paneId = await alpha.openPane("checkout-flow");
    await alpha.writeTeam(team("checkout-flow", checkout.worktreePath, paneId));
    await alpha.appendEvent("checkout-flow", { type: "execute_started", summary: LONG_TITLE, phase: "2" });
    // A finished one: nothing left to control.
    const done = orchestration("search-index", WORKTREES);
    const now = Date.now();
    await alpha.writeOrchestration({
      ...done,
      status: "complete",
      currentPhase: 3,
      completedAt: now - 5 * MIN,
      phases: Object.fromEntries(
        ["1", "2", "3"].map((n, i) => [
          n,
          {
            status: "complete" as const,
            planningStartedAt: now - (90 - 25 * i) * MIN,
            executionStartedAt: now - (80 - 25 * i) * MIN,
            reviewStartedAt: now - (70 - 25 * i) * MIN,
            completedAt: now - (65 - 25 * i) * MIN,
            planningMins: 10,
            executionMins: 10,
            reviewMins: 5,
            durationMins: 25,
          },
        ]),
      ),
    });
    [ids["checkout-flow"], ids["search-index"]] = await Promise.all([orchestrationId("checkout-flow"), orchestrationId("search-index", "complete")]);
    desktop = await browser.context(DESKTOP);
    page = await desktop.newPage();
    problems = recordPageProblems(page);
    await signIn(page, web.url, "signUp");
  }, 120_000);

  test("desktop: the header names repository and branch, the worktree path is one tap away; only Pause applies, and says what it does", async () => {
    await openDetail(page, "checkout-flow");
    const repo = (await page.getByTestId("detail-repo").innerText()).replace(/\s+/g, " ").trim();
    expect(repo).toMatch(/^(repository )?[\w.-]+ · (branch )?tina\/checkout-flow$/);
    const worktree = page.getByTestId("detail-worktree");
    const path = worktree.locator("code");
    expect(await path.isVisible()).toBe(false);
    await worktree.getByText("Worktree path").click();
    await path.waitFor({ state: "visible" });
    expect((await path.innerText()).trim()).toMatch(/checkout-flow$/);
    await worktree.getByText("Worktree path").click();
    await path.waitFor({ state: "hidden" });

    const controls = page.getByRole("region", { name: "Controls" });
    await controls.getByTestId("control-pause").waitFor({ timeout: LIVE_MS });
    expect(await controls.locator("[data-control]").evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.control))).toEqual(["pause"]);
    await expect(controls.getByTestId("help-pause").innerText()).resolves.toContain("Stops phase 2 at its next step until someone resumes it");
    await page.getByTestId("event").filter({ hasText: LONG_TITLE }).waitFor({ timeout: LIVE_MS });
    expect(await titlesWhole(page)).toEqual([]);
    await expectAccessible(page, "detail (desktop)");
    await screenshot(page, "detail-desktop", true);
  });

  test("a plan awaiting approval: the wait is its own stage, apart from planning; approve, reject and pause say what they do", async () => {
    const state = await alpha.readOrchestration("checkout-flow");
    const now = Date.now();
    await alpha.writePlan("checkout-flow", "2", "# Phase 2: checkout\n\n### Task 1: Wire the login endpoint\n");
    const waiting = awaitingApproval(state);
    await alpha.writeOrchestration({ ...waiting, phases: { ...waiting.phases, "2": { ...waiting.phases["2"]!, planningStartedAt: now - 27 * MIN, planningMins: 12 } } });
    const phase2 = phaseItem(page, "2", "awaiting_approval");
    await phase2.waitFor({ timeout: LIVE_MS });
    await expect(phase2.locator('[data-stage="planning"]').innerText()).resolves.toMatch(/Planning\s+12 min/);
    await expect(phase2.locator('[data-stage="approval"]').innerText()).resolves.toMatch(/Waiting for approval\s+1[45] min …/);
    // The wait's start is a time with its exact value on a tap.
    const since = phase2.getByTestId("phase-awaiting").getByTestId("time");
    const relative = (await since.innerText()).trim();
    await since.click();
    await expect(since.innerText()).resolves.not.toBe(relative);
    const controls = page.getByRole("region", { name: "Controls" });
    await controls.getByTestId("control-approve_plan").waitFor({ timeout: LIVE_MS });
    expect(await controls.locator("[data-control]").evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.control))).toEqual([
      "approve_plan",
      "reject_plan",
      "pause",
    ]);
    await expect(controls.getByTestId("help-approve_plan").innerText()).resolves.toContain("Starts executing phase 2 with the plan shown above.");
    await expect(controls.getByTestId("help-reject_plan").innerText()).resolves.toContain("back to planning with your feedback");
    // The feedback box counts to its limit and keeps what is typed beyond it; Reject says why it is off.
    await controls.getByTestId("control-reject_plan").click();
    const feedback = page.getByTestId("reject-feedback");
    await feedback.fill("x".repeat(4001));
    expect((await feedback.inputValue()).length).toBe(4001);
    await expect(page.getByTestId("feedback-count").innerText()).resolves.toBe("4,001 / 4,000 characters");
    expect(await page.getByTestId("confirm").isDisabled()).toBe(true);
    await expect(page.getByRole("dialog").innerText()).resolves.toContain("at most 4000 characters (4001 now)");
    await expectAccessible(page, "reject dialog (desktop)");
    await page.getByRole("button", { name: "Cancel" }).click();
  });

  test("a phase blocked during execution shows its execution time until it stopped; only Retry applies", async () => {
    const state = await alpha.readOrchestration("checkout-flow");
    const now = Date.now();
    await alpha.writeOrchestration({
      ...state,
      status: "blocked",
      phases: {
        ...state.phases,
        "2": { status: "blocked", planPath: "docs/plans/checkout-flow-phase-2.md", planningStartedAt: now - 40 * MIN, planningMins: 12, executionStartedAt: now - 20 * MIN, blockedReason: "tests failed twice" },
      },
    });
    const phase2 = phaseItem(page, "2", "blocked");
    await phase2.waitFor({ timeout: LIVE_MS });
    const execution = (await phase2.locator('[data-stage="execution"]').innerText()).trim();
    expect(execution).toMatch(/Execution\s+(19|20|21) min, then blocked/);
    const controls = page.getByRole("region", { name: "Controls" });
    await controls.getByTestId("control-retry").waitFor({ timeout: LIVE_MS });
    expect(await controls.locator("[data-control]").evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.control))).toEqual(["retry"]);
    await expect(controls.getByTestId("help-retry").innerText()).resolves.toContain("blocked step again with a fresh agent");
    await expectAccessible(page, "blocked phase (desktop)");
  });

  test("a message: counter and limit, the reason Send is off in words, the text kept after a failure with Retry, the sent text in the history", async () => {
    await alpha.writeInboxFile("checkout-flow-phase-2", "tester", '{"not": "an inbox"}');
    await page.locator('[data-testid="member"][data-agent="tester"] [data-testid="message-open"]').click();
    const box = page.getByTestId("message-text");
    const send = page.getByTestId("message-send");
    // Empty: Send is off and says why, as text on the screen.
    expect(await send.isDisabled()).toBe(true);
    await expect(page.getByRole("dialog").innerText()).resolves.toContain("write something to send");
    await box.fill("y".repeat(4001));
    await expect(page.getByTestId("message-count").innerText()).resolves.toBe("4,001 / 4,000 characters");
    expect((await box.inputValue()).length).toBe(4001);
    expect(await send.isDisabled()).toBe(true);
    await expect(page.getByRole("dialog").innerText()).resolves.toContain("at most 4000 characters (4001 now)");
    const text = `Are you there? (${Date.now()})`;
    await box.fill(text);
    await send.click();
    await page.locator('[role="dialog"] [data-testid="action-tracker"][data-status="failed"]').waitFor({ timeout: LIVE_MS });
    expect(await box.inputValue()).toBe(text);
    await expect(send.innerText()).resolves.toBe("Retry");
    await page.getByRole("button", { name: "Cancel" }).click();
    const row = page.locator('[data-testid="action"][data-type="send_message"][data-status="failed"]').first();
    await row.waitFor({ timeout: LIVE_MS });
    await expect(row.getByTestId("action-text").innerText()).resolves.toBe(text);
    const delivery = (await row.getByTestId("action-delivery").innerText()).trim();
    expect(delivery).toMatch(/^failed: /);
    // The failure is said once, not twice.
    expect((await row.innerText()).split(delivery.slice("failed: ".length)).length - 1).toBe(1);
  });

  test("phone: a paused phase offers Resume and Retry, each saying how it differs; short header, worktree path on a tap, titles that wrap", async () => {
    const state = await alpha.readOrchestration("checkout-flow");
    const now = Date.now();
    await alpha.writeOrchestration({
      ...state,
      status: "executing",
      phases: {
        ...state.phases,
        "2": { status: "paused", pausedFrom: "executing", planPath: "docs/plans/checkout-flow-phase-2.md", planningStartedAt: now - 40 * MIN, planningMins: 12, executionStartedAt: now - 20 * MIN },
      },
    });
    const phone = await browser.context(PHONE);
    try {
      const p = await phone.newPage();
      await signIn(p, web.url, "signIn");
      await openDetail(p, "checkout-flow");
      await phaseItem(p, "2", "paused").waitFor({ timeout: LIVE_MS });
      await expect(phaseItem(p, "2").locator('[data-stage="execution"]').innerText()).resolves.toMatch(/Execution\s+(19|20|21) min, then paused/);
      const controls = p.getByRole("region", { name: "Controls" });
      await controls.getByTestId("control-resume").waitFor({ timeout: LIVE_MS });
      expect(await controls.locator("[data-control]").evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.control))).toEqual(["resume", "retry"]);
      await expect(controls.getByTestId("help-resume").innerText()).resolves.toBe("Continues phase 2 where it stopped (execution), keeping the work done so far.");
      await expect(controls.getByTestId("help-retry").innerText()).resolves.toBe("Instead of continuing, starts execution of phase 2 again from its beginning with a fresh agent.");
      expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
      const worktree = p.getByTestId("detail-worktree");
      expect(await worktree.locator("code").isVisible()).toBe(false);
      // The header (back link to progress bar) takes well under half the screen.
      const header = await p.locator("header").filter({ has: p.getByTestId("feature-name") }).boundingBox();
      expect(header!.height).toBeLessThan(PHONE.height / 2);
      await p.getByTestId("event").filter({ hasText: LONG_TITLE }).waitFor({ timeout: LIVE_MS });
      expect(await titlesWhole(p)).toEqual([]);
      await expectAccessible(p, "detail (phone)");
      await screenshot(p, "detail-phone");
      await worktree.getByText("Worktree path").tap().catch(async () => await worktree.getByText("Worktree path").click());
      await worktree.locator("code").waitFor({ state: "visible" });
      expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    } finally {
      await phone.close();
    }
  });

  test("phone, dark theme: the detail page passes axe-core too", async () => {
    const phone = await browser.context(PHONE, { colorScheme: "dark" });
    try {
      const p = await phone.newPage();
      await signIn(p, web.url, "signIn");
      await openDetail(p, "checkout-flow");
      await p.getByTestId("control-resume").waitFor({ timeout: LIVE_MS });
      await p.getByTestId("event").filter({ hasText: LONG_TITLE }).waitFor({ timeout: LIVE_MS });
      await expectAccessible(p, "detail (phone, dark)");
    } finally {
      await phone.close();
    }
  });

  test("phone: a finished orchestration shows no controls, only what came of it", async () => {
    const phone = await browser.context(PHONE);
    try {
      const p = await phone.newPage();
      await signIn(p, web.url, "signIn");
      await openDetail(p, "search-index");
      await p.getByTestId("detail-finished").waitFor({ timeout: LIVE_MS });
      expect(await p.getByRole("region", { name: "Controls" }).count()).toBe(0);
      expect(await p.locator('[data-testid^="control-"]').count()).toBe(0);
      await expect(p.getByTestId("detail-finished").innerText()).resolves.toBe("search-index is complete: nothing is left to approve, pause or retry.");
      await expectAccessible(p, "finished detail (phone)");
      await screenshot(p, "detail-finished-phone");
    } finally {
      await phone.close();
    }
  });

  test("phone: an unknown or malformed id says 'Orchestration not found' with the way back, no raw error", async () => {
    const phone = await browser.context(PHONE);
    try {
      const p = await phone.newPage();
      await signIn(p, web.url, "signIn");
      for (const id of ["not-an-id", ids["checkout-flow"]!.replace(/.$/, (c) => (c === "a" ? "b" : "a")), "jd7" + "0".repeat(29)]) {
        await p.goto(`${web.url}#/o/${id}`);
        await p.getByTestId("detail-notfound").waitFor({ timeout: LIVE_MS });
        const text = await p.locator("main, body").first().innerText();
        expect(text).toContain("Orchestration not found");
        expect(text).not.toMatch(/Validator|Expected ID|Check your connection|Server Error/i);
      }
      await expectAccessible(p, "not found (phone)");
      await screenshot(p, "detail-notfound-phone");
      await p.getByRole("link", { name: "Back to all orchestrations" }).click();
      await p.waitForURL((u) => u.hash === "#/" || u.hash === "");
    } finally {
      await phone.close();
    }
  });

  test("the page logged nothing unexpected", () => {
    expect(problems.filter((p) => !/Failed to load resource|WebSocket/.test(p))).toEqual([]);
  });
});
