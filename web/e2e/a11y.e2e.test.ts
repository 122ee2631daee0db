// Accessibility and errors in words, in headless Chromium against the local backend and one
// laptop (the real daemon by default): axe-core finds no serious or critical violation on
// sign-in, the shell, Needs you and the notification settings (phone and desktop, light and
// dark); the keyboard reaches and works every control on the way (a visible focus ring, a dialog
// that opens with Enter, closes with Escape and gives focus back); a disabled button looks
// disabled and says why in words; no raw server error reaches the screen.
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { StaticServer } from "../serve";
import { expectAccessible } from "./harness/a11y";
import { dumpTables, eventually, type TestBackend } from "./harness/backend";
import { DESKTOP, PHONE, recordPageProblems, type TestBrowser } from "./harness/browser";
import { laptopKind, type Laptop } from "./harness/index";
import { screenshot, signIn } from "./harness/page";
import { useWorld } from "./harness/world";
import { awaitingApproval, orchestration } from "./harness/scenario";

const WORKTREES = "/home/dev/worktrees";
const LIVE_MS = 15_000; // generous: this machine may be busy

/** An item of the Needs you page, by kind. */
const need = (p: Page, kind: string) => p.locator(`[data-testid="need"][data-kind="${kind}"]`);

let backend: TestBackend;
let web: StaticServer;
let browser: TestBrowser;
let alpha: Laptop;
const contexts: BrowserContext[] = [];
let problems: string[] = [];

/** A fresh page at a size and colour scheme, signed in as the owner (made by the first test). */
async function signedInPage(viewport: { width: number; height: number }, colorScheme: "light" | "dark" = "light"): Promise<Page> {
  const context = await browser.context(viewport, { colorScheme });
  contexts.push(context);
  const page = await context.newPage();
  problems = recordPageProblems(page);
  await signIn(page, web.url, "signIn");
  return page;
}

/** Where keyboard focus is now, described for assertions and failure messages. */
async function focused(page: Page): Promise<{ tag: string; text: string; label: string; testid: string; outline: string; inDialog: boolean }> {
  return await page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (el === null) return { tag: "", text: "", label: "", testid: "", outline: "", inDialog: false };
    const style = getComputedStyle(el);
    return {
      tag: el.tagName.toLowerCase(),
      text: (el.innerText ?? "").trim(),
      label: el.getAttribute("aria-label") ?? "",
      testid: el.dataset.testid ?? "",
      outline: style.outlineStyle === "none" || style.outlineWidth === "0px" ? "none" : `${style.outlineStyle} ${style.outlineWidth}`,
      inDialog: el.closest('[role="dialog"]') !== null,
    };
  });
}

/** Presses Tab until focus is on what `matches` accepts; fails after `limit` presses. */
async function tabTo(page: Page, what: string, matches: (f: Awaited<ReturnType<typeof focused>>) => boolean, limit = 60): Promise<Awaited<ReturnType<typeof focused>>> {
  const seen: string[] = [];
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press("Tab");
    const f = await focused(page);
    seen.push(`${f.tag}:${f.testid || f.label || f.text.slice(0, 30)}`);
    if (matches(f)) return f;
  }
  throw new Error(`Tab never reached ${what}; it went through: ${seen.join(" → ")}`);
}

describe(`accessibility and errors in words (laptop: ${laptopKind()})`, () => {
  const world = useWorld(["alpha"], () => problems);
  beforeAll(async () => {
    ({ backend, web, browser } = world());
    [alpha] = world().laptops as [Laptop];
    // Two things that need the operator: a plan waiting for approval, and a blocked phase.
    await alpha.writeOrchestration(awaitingApproval(orchestration("checkout-flow", WORKTREES)));
    await alpha.writePlan("checkout-flow", "2", "# Phase 2: checkout\n\n### Task 1: Wire the login endpoint\n");
    const search = orchestration("search-index", WORKTREES);
    await alpha.writeOrchestration({
      ...search,
      status: "blocked",
      phases: { ...search.phases, "2": { status: "blocked", blockedReason: "tests failed twice", planPath: "docs/plans/search-index-phase-2.md" } },
    });
    await eventually(async () => {
      const rows = (await dumpTables(backend.url, "orchestrations")).orchestrations ?? [];
      return rows.some((o) => o.featureName === "search-index" && o.status === "blocked") && rows.some((o) => o.featureName === "checkout-flow" && o.status === "planning");
    }, "alpha's orchestrations in Convex");
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled(contexts.map((c) => c.close()));
  });

  test("sign-in: accessible on a phone and a desktop, light and dark; the first account is made by keyboard", async () => {
    for (const [viewport, size] of [
      [PHONE, "phone"],
      [DESKTOP, "desktop"],
    ] as const) {
      for (const scheme of ["light", "dark"] as const) {
        const context = await browser.context(viewport, { colorScheme: scheme });
        contexts.push(context);
        const page = await context.newPage();
        await page.goto(web.url);
        await page.getByLabel("Email").waitFor();
        await expectAccessible(page, `sign-in (${size}, ${scheme})`);
        if (size === "phone" && scheme === "light") await screenshot(page, "signin-phone");
        await context.close();
      }
    }
    // The first account, made with the keyboard only: Tab between the fields, Enter on the buttons.
    const context = await browser.context(DESKTOP);
    contexts.push(context);
    const page = await context.newPage();
    problems = recordPageProblems(page);
    await page.goto(web.url);
    await page.getByLabel("Email").waitFor();
    await tabTo(page, "the switch to creating an account", (f) => f.text === "New here? Create an account");
    await page.keyboard.press("Enter");
    await page.getByRole("button", { name: "Create account" }).waitFor();
    await page.getByLabel("Email").focus();
    await page.keyboard.type("owner@example.com");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.getAttribute("name")), "Tab goes from the email to the password").toBe("password");
    await page.keyboard.type("correct horse battery staple");
    await page.keyboard.press("Enter");
    await page.getByTestId("whoami").filter({ hasText: "·" }).first().waitFor({ state: "attached", timeout: LIVE_MS });
    await context.close();
  });

  test("sign-in: a wrong password is said in words, nothing raw from the server", async () => {
    const context = await browser.context(PHONE);
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(web.url);
    await page.getByLabel("Email").fill("owner@example.com");
    await page.getByLabel("Password", { exact: true }).fill("not the password at all");
    await page.getByRole("button", { name: "Sign in" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor({ timeout: LIVE_MS });
    expect((await alert.innerText()).trim()).toBe("Wrong email or password.");
    await expectAccessible(page, "sign-in with its error (phone, light)");
    await context.close();
  });

  test("the shell and Needs you: accessible at both sizes, light and dark", async () => {
    for (const [viewport, size] of [
      [PHONE, "phone"],
      [DESKTOP, "desktop"],
    ] as const) {
      for (const scheme of ["light", "dark"] as const) {
        const page = await signedInPage(viewport, scheme);
        await page.goto(`${web.url}#/attention`);
        await need(page, "plan_approval").waitFor({ timeout: LIVE_MS });
        await need(page, "blocked_phase").waitFor({ timeout: LIVE_MS });
        await expectAccessible(page, `Needs you (${size}, ${scheme})`);
        // An item's plan opened, with its Approve button.
        await need(page, "plan_approval").getByTestId("need-plan-toggle").click();
        await need(page, "plan_approval").getByRole("heading", { name: "Phase 2: checkout" }).waitFor({ timeout: LIVE_MS });
        await expectAccessible(page, `Needs you with a plan open (${size}, ${scheme})`);
        if (scheme === "light") await screenshot(page, `attention-${size}`);
        // The orchestrations list inside the same shell.
        await page.goto(`${web.url}#/`);
        await page.getByTestId("orchestration-row").first().waitFor({ timeout: LIVE_MS });
        await expectAccessible(page, `the shell on the orchestrations list (${size}, ${scheme})`);
        await page.context().close();
      }
    }
  });

  test("notification settings: accessible at both sizes, light and dark", async () => {
    for (const [viewport, size] of [
      [PHONE, "phone"],
      [DESKTOP, "desktop"],
    ] as const) {
      for (const scheme of ["light", "dark"] as const) {
        const page = await signedInPage(viewport, scheme);
        await page.goto(`${web.url}#/notifications`);
        await page.getByRole("heading", { name: "Notifications", level: 1 }).waitFor();
        await page.locator('[data-testid="push-device"]:not([data-phase="checking"])').first().waitFor({ timeout: LIVE_MS });
        await expectAccessible(page, `notification settings (${size}, ${scheme})`);
        if (size === "desktop" && scheme === "light") await screenshot(page, "notifications-desktop", true);
        await page.context().close();
      }
    }
  });

  test("a disabled button looks disabled (no fill, dashed outline) and says why in words", async () => {
    const page = await signedInPage(DESKTOP);
    await page.goto(`${web.url}#/notifications`);
    // No ntfy topic yet: its test button is disabled, with the reason under it.
    const test = page.getByRole("button", { name: "Send test" }).and(page.locator(":disabled")).first();
    await test.waitFor({ timeout: LIVE_MS });
    const look = await test.evaluate((el) => {
      const s = getComputedStyle(el);
      const id = el.getAttribute("aria-describedby") ?? "";
      const reason = id ? document.getElementById(id.split(" ").pop()!) : null;
      const r = reason?.getBoundingClientRect();
      return {
        background: s.backgroundColor,
        border: s.borderTopStyle,
        cursor: s.cursor,
        reason: reason?.textContent ?? "",
        reasonShown: r !== undefined && r.width > 0 && r.height > 0 && getComputedStyle(reason!).visibility !== "hidden",
      };
    });
    expect(look.background).toBe("rgba(0, 0, 0, 0)");
    expect(look.border).toBe("dashed");
    expect(look.cursor).toBe("not-allowed");
    expect(look.reason).not.toBe("");
    expect(look.reasonShown).toBe(true);
    await page.context().close();
  });

  test("keyboard: Tab reaches the navigation and a Needs-you action; a dialog opens with Enter, closes with Escape, focus returns", async () => {
    const page = await signedInPage(DESKTOP);
    await page.goto(`${web.url}#/attention`);
    await need(page, "plan_approval").waitFor({ timeout: LIVE_MS });
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    // The first Tab stop skips the header, shown only while it has focus.
    await page.keyboard.press("Tab");
    const skip = await focused(page);
    expect(skip.testid).toBe("skip-to-content");
    expect(skip.outline).not.toBe("none");
    expect(await page.getByTestId("skip-to-content").isVisible()).toBe(true);
    // The navigation, with a visible focus ring.
    const nav = await tabTo(page, "the Needs you link in the navigation", (f) => f.tag === "a" && f.text.startsWith("Needs you"));
    expect(nav.outline, "a visible focus ring on the navigation").not.toBe("none");
    // The item's plan, opened with Enter.
    const toggle = await tabTo(page, "the plan approval's Read the plan", (f) => f.testid === "need-plan-toggle" && f.text.startsWith("Read the plan to approve"));
    expect(toggle.outline, "a visible focus ring on a button").not.toBe("none");
    await page.keyboard.press("Enter");
    const item = need(page, "plan_approval");
    await item.getByRole("heading", { name: "Phase 2: checkout" }).waitFor({ timeout: LIVE_MS });
    const approve = item.getByTestId("need-approve");
    await expect.poll(() => approve.isEnabled(), { timeout: LIVE_MS }).toBe(true);
    // Approve plan: Enter opens the confirmation, focus goes into it, Escape closes it and focus comes back.
    await tabTo(page, "Approve plan", (f) => f.testid === "need-approve");
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    expect((await focused(page)).inDialog, "focus moves into the dialog").toBe(true);
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    expect((await focused(page)).testid, "focus returns to the button that opened the dialog").toBe("need-approve");
    // Space works as well as Enter, and Tab stays in reach of the dialog's buttons.
    await page.keyboard.press(" ");
    await dialog.waitFor();
    const cancel = await tabTo(page, "the dialog's buttons", (f) => f.inDialog && f.text === "Cancel", 6);
    expect(cancel.outline).not.toBe("none");
    await page.keyboard.press("Enter");
    await dialog.waitFor({ state: "detached" });
    expect((await focused(page)).testid).toBe("need-approve");
    // Skip to content: Enter moves focus past the header to the page.
    await page.getByTestId("skip-to-content").focus();
    await page.keyboard.press("Enter");
    expect((await focused(page)).tag).toBe("main");
    await page.keyboard.press("Tab");
    const next = await focused(page);
    expect(next.tag === "main" || (await page.evaluate(() => document.querySelector("header")?.contains(document.activeElement) ?? false))).toBe(false);
    await page.context().close();
  });

  test("theme and icon-only controls have names; the theme button works by keyboard and the dark theme has a focus ring", async () => {
    const page = await signedInPage(DESKTOP);
    await page.goto(`${web.url}#/attention`);
    await need(page, "plan_approval").waitFor({ timeout: LIVE_MS });
    await page.getByRole("link", { name: "Notification settings" }).waitFor();
    const theme = page.getByRole("button", { name: /^Theme: / });
    await theme.focus();
    await page.keyboard.press("Enter"); // system → light
    await page.keyboard.press("Enter"); // light → dark
    await expect.poll(() => page.evaluate(() => document.documentElement.dataset.theme)).toBe("dark");
    expect((await focused(page)).outline).not.toBe("none");
    await expectAccessible(page, "Needs you, dark theme chosen by keyboard");
    await page.context().close();
  });

  test("errors in words: an unknown orchestration in the address shows no raw server text and no false connection hint", async () => {
    const page = await signedInPage(PHONE);
    for (const id of ["nope", "k57aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]) {
      await page.goto(`${web.url}#/o/${id}`);
      await page.locator("main").getByText(/not found|couldn't load/i).first().waitFor({ timeout: LIVE_MS });
      const text = await page.locator("main").innerText();
      for (const raw of ["Validator", "ArgumentValidationError", "Request ID", "Server Error", "Uncaught", "Expected ID"]) expect(text).not.toContain(raw);
      expect(text).not.toMatch(/check your connection/i);
    }
    await page.context().close();
  });
});
