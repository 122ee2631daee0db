// The Fleet page and the audit log in headless Chromium against the local backend and real
// daemons (issue 21, points 4 and 5): each laptop's backlog in words and its orchestrations,
// a dangerous and confirmed Revoke, and the audit log one row per action with its outcome in
// words, filters and a short device. axe-core on each screen at phone and desktop size.
// One backend, one signed-in page; tests in order, each building on the previous one.
import type { BrowserContext, Locator, Page } from "playwright-core";
import { beforeAll, describe, expect, test } from "vitest";
import type { StaticServer } from "../serve";
import { expectAccessible } from "./harness/a11y";
import { dumpTables, eventually, type TestBackend } from "./harness/backend";
import { DESKTOP, PHONE, recordPageProblems, type TestBrowser } from "./harness/browser";
import { laptopKind, type Laptop } from "./harness/index";
import { openOrchestration, screenshot, signIn } from "./harness/page";
import { useWorld } from "./harness/world";
import { orchestration, team } from "./harness/scenario";

const WORKTREES = "/home/dev/worktrees";
const LIVE_MS = 10_000;
/** The daemon reports a changed health one heartbeat interval later. */
const HEALTH_MS = 60_000;

let backend: TestBackend;
let web: StaticServer;
let browser: TestBrowser;
let alpha: Laptop;
let bravo: Laptop;
let charlie: Laptop | undefined;
let desktop: BrowserContext;
let page: Page;
let problems: string[] = [];

const card = (p: Page, laptop: string): Locator => p.locator(`[data-testid="node-card"][data-node="${laptop}"]`);
const entry = (p: Page): Locator => p.getByTestId("audit-entry");

describe(`fleet and audit log end to end (laptop: ${laptopKind()})`, () => {
  const world = useWorld(["bravo", "alpha"], () => problems);
  beforeAll(async () => {
    ({ backend, web, browser } = world());
    // bravo syncs one finished and one blocked orchestration, then its daemon stops.
    [bravo, alpha] = world().laptops as [Laptop, Laptop];
    const search = orchestration("search-index", WORKTREES);
    await bravo.writeOrchestration({ ...search, status: "blocked", phases: { ...search.phases, "2": { status: "blocked", blockedReason: "tests failed twice" } } });
    const done = orchestration("audit-export", WORKTREES);
    await bravo.writeOrchestration({ ...done, status: "complete", currentPhase: 3, phases: { "1": { ...done.phases["1"]!, status: "complete" } } });
    // Both as written (a first sync may come before the last write): only then does it stop.
    const synced = async () => {
      const rows = (await dumpTables(backend.url, "orchestrations")).orchestrations!;
      const status = (feature: string) => rows.find((o) => o.featureName === feature)?.status;
      return status("search-index") === "blocked" && status("audit-export") === "complete";
    };
    await eventually(synced, "bravo's orchestrations in Convex, blocked and complete");
    await bravo.goOffline();
    const checkout = orchestration("checkout-flow", WORKTREES);
    await alpha.writeOrchestration(checkout);
    const paneId = await alpha.openPane("checkout-flow");
    await alpha.writeTeam(team("checkout-flow", checkout.worktreePath, paneId));

    desktop = await browser.context(DESKTOP);
    page = await desktop.newPage();
    problems = recordPageProblems(page);
    await signIn(page, web.url, "signUp");
  }, 120_000);

  test("each laptop: its backlog in words (in sync, no 'lag' since the last change), its orchestrations active and in all", async () => {
    await page.goto(`${web.url}#/fleet`);
    const a = card(page, "alpha");
    await a.getByTestId("node-backlog").filter({ hasText: /^in sync$/ }).waitFor({ timeout: HEALTH_MS });
    await a.getByTestId("node-orchestrations").filter({ hasText: "1 active · 1 in all" }).waitFor({ timeout: LIVE_MS });
    const b = card(page, "bravo");
    await b.filter({ hasText: "offline" }).waitFor({ timeout: LIVE_MS });
    await b.getByTestId("node-orchestrations").filter({ hasText: "1 active · 2 in all" }).waitFor({ timeout: LIVE_MS });
    await b.getByTestId("node-backlog").filter({ hasText: "when last seen" }).waitFor();
    const text = await page.locator("main").innerText();
    expect(text).not.toMatch(/Sync lag/i);
    // The count leads to the list filtered by that laptop.
    await b.getByTestId("node-orchestrations").getByRole("link").click();
    await page.waitForURL(/#\/\?laptop=/);
    await page.locator('[data-testid="orchestration-row"][data-feature="search-index"]').waitFor({ timeout: LIVE_MS });
    expect(await page.locator('[data-testid="orchestration-row"][data-feature="checkout-flow"]').count()).toBe(0);
    await page.goto(`${web.url}#/fleet`);
    await card(page, "alpha").getByTestId("node-backlog").filter({ hasText: /^in sync$/ }).waitFor({ timeout: LIVE_MS });
    await expectAccessible(page, "fleet (desktop)");
    await screenshot(page, "fleet-desktop");
  });

  test("Revoke looks dangerous, asks first naming the laptop and what revoking does, and only then revokes", async () => {
    charlie = await world().addLaptop("charlie");
    const c = card(page, "charlie");
    await c.filter({ hasText: "online" }).waitFor({ timeout: LIVE_MS });
    const revoke = c.getByRole("button", { name: "Revoke charlie" });
    expect(await revoke.getAttribute("class")).toMatch(/danger/);
    await revoke.click();
    const dialog = page.getByRole("dialog", { name: "Revoke charlie?" });
    await dialog.waitFor();
    const said = await dialog.innerText();
    expect(said).toContain("credential stops working");
    expect(said).toContain("actions queued for it are cancelled");
    await expectAccessible(page, "revoke confirmation (desktop)");
    // Escape (or Cancel) changes nothing.
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    expect((await dumpTables(backend.url, "nodes")).nodes!.find((n) => n.name === "charlie")!.revokedAt).toBeUndefined();
    await revoke.click();
    await dialog.getByRole("button", { name: "Revoke charlie" }).click();
    await c.filter({ hasText: "revoked" }).waitFor({ timeout: LIVE_MS });
    expect(await c.getByRole("button", { name: "Revoke charlie" }).count()).toBe(0);
    await charlie.stop();
    charlie = undefined;
  });

  test("the audit log: one row per action with its outcome in words; a failed message never reads as completed", async () => {
    // One action that works (pause) and one that fails (a message to an inbox the laptop refuses).
    await openOrchestration(page, web.url, "checkout-flow");
    await page.getByTestId("control-pause").click();
    await page.getByTestId("confirm").click();
    await page.locator('[data-testid="action"][data-type="pause"][data-status="completed"]').waitFor({ timeout: LIVE_MS });
    await alpha.writeInboxFile("checkout-flow-phase-2", "tester", '{"not": "an inbox"}');
    await page.locator('[data-testid="member"][data-agent="tester"] [data-testid="message-open"]').click();
    await page.getByTestId("message-text").fill("are you there?");
    await page.getByTestId("message-send").click();
    await page.locator('[role="dialog"] [data-testid="action-tracker"][data-status="failed"]').waitFor({ timeout: LIVE_MS });
    await page.getByRole("button", { name: "Cancel" }).click();

    await page.goto(`${web.url}#/account`);
    const message = entry(page).filter({ hasText: "Message to tester" });
    await page.locator('[data-testid="audit-entry"][data-outcome="failed"]').filter({ hasText: "Message to tester" }).waitFor({ timeout: LIVE_MS });
    // One row for the message: its claim and outcome are on it, not rows of their own.
    expect(await message.count()).toBe(1);
    const row = await message.innerText();
    expect(row).toContain("tester.json is not an inbox");
    expect(await message.getByTestId("audit-outcome").textContent()).toMatch(/^failed: tester\.json is not an inbox/);
    expect(row).toContain("Chrome on Linux");
    expect(row).toContain("on alpha");
    await page.locator('[data-testid="audit-entry"][data-outcome="done"]').filter({ hasText: /^Pause/ }).waitFor({ timeout: LIVE_MS });
    const log = await page.getByRole("list", { name: "Audit entries" }).innerText();
    for (const raw of ["send_message", "action.completed", "action.claimed", "user.invited", "Mozilla", "alpha · alpha", "node.enrolled"]) {
      expect(log).not.toContain(raw);
    }
    await entry(page).filter({ hasText: 'Revoked laptop "charlie"' }).waitFor();
    await expectAccessible(page, "account (desktop)");
    await screenshot(page, "account-desktop");
  });

  test("the audit log filters by outcome, kind, laptop and who", async () => {
    const outcome = page.getByRole("combobox", { name: "Outcome" });
    await outcome.selectOption("failed");
    await eventually(async () => {
      const outcomes = await entry(page).evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.outcome));
      return outcomes.length > 0 && outcomes.every((o) => o === "failed");
    }, "only failed rows", LIVE_MS);
    expect(await entry(page).filter({ hasText: "Message to tester" }).count()).toBe(1);
    await outcome.selectOption("");
    await page.getByRole("combobox", { name: "Kind" }).selectOption("laptop");
    await eventually(async () => {
      const kinds = await entry(page).evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.kind));
      return kinds.length >= 4 && kinds.every((k) => k === "laptop");
    }, "only laptop rows (three enrolled, one revoked)", LIVE_MS);
    await page.getByRole("combobox", { name: "Laptop" }).selectOption({ label: "charlie" });
    await eventually(async () => (await entry(page).count()) === 2, "charlie's enrollment and revocation", LIVE_MS);
    await page.getByRole("combobox", { name: "Laptop" }).selectOption("");
    await page.getByRole("combobox", { name: "Kind" }).selectOption("");
    await page.getByRole("combobox", { name: "Who" }).selectOption({ label: "owner@example.com" });
    await eventually(async () => {
      const texts = await entry(page).allInnerTexts();
      return texts.length >= 3 && texts.every((t) => t.includes("owner@example.com"));
    }, "only the owner's rows", LIVE_MS);
    await page.getByRole("combobox", { name: "Who" }).selectOption("");
  });

  test("older entries come a page at a time, with Load more", async () => {
    // Each invitation is an entry of its own: enough of them for a second page.
    const form = page.getByRole("form", { name: "Invite someone" });
    for (let i = 0; i < 24; i++) {
      await form.getByRole("textbox").fill(`person-${i}@example.com`);
      await form.getByRole("button", { name: "Invite" }).click();
      await page.getByTestId("invite").filter({ hasText: `person-${i}@example.com` }).waitFor({ timeout: LIVE_MS });
    }
    const more = page.getByRole("button", { name: "Load more" });
    await more.waitFor({ timeout: LIVE_MS });
    const first = await entry(page).count();
    expect(first).toBeLessThanOrEqual(25);
    // The oldest entries (the laptops' enrollments) are on a later page.
    expect(await entry(page).filter({ hasText: 'Laptop "alpha" enrolled' }).count()).toBe(0);
    while (await more.isVisible()) {
      await more.click();
      await eventually(async () => (await entry(page).count()) > first || !(await more.isVisible()), "a further page", LIVE_MS);
    }
    await entry(page).filter({ hasText: 'Laptop "alpha" enrolled' }).waitFor({ timeout: LIVE_MS });
    await entry(page).filter({ hasText: "Invited person-0@example.com as operator" }).waitFor();
  });

  test("phone: fleet and account at 390 × 844, accessible in both themes, nothing wider than the screen", async () => {
    for (const scheme of ["light", "dark"] as const) {
      const phone = await browser.context(PHONE, { colorScheme: scheme });
      const p = await phone.newPage();
      await signIn(p, web.url, "signIn");
      await p.goto(`${web.url}#/fleet`);
      await card(p, "alpha").getByTestId("node-orchestrations").filter({ hasText: "active" }).waitFor({ timeout: LIVE_MS });
      expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
      await expectAccessible(p, `fleet (phone, ${scheme})`);
      if (scheme === "light") await screenshot(p, "fleet-phone");
      await p.goto(`${web.url}#/account`);
      // The actions alone: the invitations of the test before fill the first page otherwise.
      await p.getByRole("combobox", { name: "Kind" }).selectOption("action");
      await entry(p).filter({ hasText: "Message to tester" }).waitFor({ timeout: LIVE_MS });
      expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
      await expectAccessible(p, `account (phone, ${scheme})`);
      if (scheme === "light") {
        await p.getByRole("heading", { name: "Audit log" }).evaluate((h) => h.scrollIntoView({ block: "start" }));
        await screenshot(p, "account-phone");
      }
      await phone.close();
    }
  });
});
