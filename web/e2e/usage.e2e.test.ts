// Usage end to end (issue 22): Claude Code transcripts written on a laptop (the simulator's
// writer, realistic figures, the members' models) are read by the real daemon, priced, sent to
// the local backend and shown in headless Chromium: the card's cost, the detail page's breakdown
// by phase and agent with its chart, a budget that raises a "needs you" item when the spend
// reaches it, and the Fleet page's spend per laptop and the quota the status line reported, with
// a warning when close. axe-core at phone and desktop size. Tests in order, each building on the
// previous one. Needs the daemon laptop (the stand-in reads no transcripts).
import type { BrowserContext, Locator, Page } from "playwright-core";
import { beforeAll, describe, expect, test } from "vitest";
import type { StaticServer } from "../serve";
import { formatCost } from "../src/lib/usage";
import { expectAccessible } from "./harness/a11y";
import { dumpTables, eventually, type TestBackend } from "./harness/backend";
import { DESKTOP, PHONE, recordPageProblems, type TestBrowser } from "./harness/browser";
import { laptopKind, type Laptop } from "./harness/index";
import { screenshot, signIn } from "./harness/page";
import { orchestration, team } from "./harness/scenario";
import { useWorld } from "./harness/world";

const WORKTREES = "/home/dev/worktrees";
const FEATURE = "checkout-flow";
const TEAM_DIR = `${FEATURE}-phase-2`;
/** The daemon reads a changed transcript within about a second and sends at once; generous. */
const LIVE_MS = 30_000;

type Totals = { messages: number; input: number; output: number; cacheWrite: number; cacheRead: number; costMicros: number; unpricedTokens: number; budgetCrossedAt?: number };

let backend: TestBackend;
let web: StaticServer;
let browser: TestBrowser;
let alpha: Laptop;
let desktop: BrowserContext;
let page: Page;
let problems: string[] = [];
let phoneProblems: string[] = [];
let orchestrationId = "";
const written = { messages: 0, tokens: 0, searches: 0 };

const row = (p: Page): Locator => p.locator(`[data-testid="orchestration-row"][data-feature="${FEATURE}"]`);
const tokensOf = (t: Totals): number => t.input + t.output + t.cacheWrite + t.cacheRead;

/** The orchestration's totals in Convex once they count `messages` assistant messages. */
async function totalsCounting(messages: number): Promise<Totals> {
  return await eventually(async () => {
    const rows = ((await dumpTables(backend.url, "usageTotals")).usageTotals ?? []) as unknown as (Totals & { orchestrationId: string })[];
    const found = rows.find((r) => r.orchestrationId === orchestrationId);
    return found !== undefined && found.messages >= messages ? found : undefined;
  }, `${messages} assistant messages in ${FEATURE}'s usage`, LIVE_MS);
}

async function write(agent: string, messages: number, searches = 0): Promise<void> {
  const out = await alpha.appendTranscript(FEATURE, TEAM_DIR, agent, messages, searches);
  written.messages += out.messages;
  written.tokens += out.tokens;
  written.searches += out.searches;
}

/** The table rows of a breakdown (its row header, then its cells), as the page shows them. */
async function tableRows(p: Page, testId: string): Promise<string[][]> {
  return await p
    .getByTestId(testId)
    .locator("tbody tr")
    .evaluateAll((trs) => trs.map((tr) => Array.from(tr.children, (c) => (c.textContent ?? "").trim())));
}

describe(`usage end to end (laptop: ${laptopKind()})`, () => {
  const world = useWorld(["alpha"], () => [...problems, ...phoneProblems]);
  beforeAll(async () => {
    ({ backend, web, browser } = world());
    [alpha] = world().laptops as [Laptop];
    const checkout = orchestration(FEATURE, WORKTREES);
    await alpha.writeOrchestration(checkout);
    const paneId = await alpha.openPane(FEATURE);
    await alpha.writeTeam(team(FEATURE, checkout.worktreePath, paneId));
    orchestrationId = await eventually(async () => {
      const rows = (await dumpTables(backend.url, "orchestrations")).orchestrations ?? [];
      const found = rows.find((o) => o.featureName === FEATURE);
      return found ? String(found._id) : undefined;
    }, `${FEATURE} in Convex`);
    // The team must be known before its lead's lines are read: usage is attributed as the daemon
    // knows things when it reads a line.
    await eventually(async () => ((await dumpTables(backend.url, "teams")).teams ?? []).some((t) => t.dirName === TEAM_DIR), `${TEAM_DIR} in Convex`);
    desktop = await browser.context(DESKTOP);
    page = await desktop.newPage();
    problems = recordPageProblems(page);
    await signIn(page, web.url, "signUp");
  }, 120_000);

  test("the lead's and an in-process teammate's transcripts: each message counted once, priced, the card's cost live", async () => {
    await page.goto(web.url);
    await row(page).waitFor({ timeout: LIVE_MS });
    expect(await row(page).getByTestId("card-cost").count()).toBe(0); // nothing spent yet
    await write("team-lead", 3); // one with a tool call: two lines, one message
    await write("reviewer", 2, 1); // looks something up on the web first
    const totals = await totalsCounting(written.messages);
    expect(totals.messages).toBe(written.messages); // the two-line messages counted once
    expect(tokensOf(totals)).toBe(written.tokens);
    expect(totals.unpricedTokens).toBe(0); // claude-opus-4-1 and claude-sonnet-4-5 have prices
    expect(totals.costMicros).toBeGreaterThan(0);
    await row(page).getByTestId("card-cost").filter({ hasText: formatCost(totals.costMicros) }).waitFor({ timeout: LIVE_MS });

    // More work: the card follows without a reload.
    await write("team-lead", 2);
    const more = await totalsCounting(written.messages);
    expect(more.costMicros).toBeGreaterThan(totals.costMicros);
    await row(page).getByTestId("card-cost").filter({ hasText: formatCost(more.costMicros) }).waitFor({ timeout: LIVE_MS });
  });

  test("the detail page: the total, by phase and by agent with the tokens of each kind, the chart", async () => {
    const totals = await totalsCounting(written.messages);
    await page.goto(`${web.url}#/o/${orchestrationId}`);
    const section = page.getByTestId("usage-section");
    await section.getByTestId("usage-total").filter({ hasText: formatCost(totals.costMicros) }).waitFor({ timeout: LIVE_MS });
    await expect(section.getByTestId("usage-total").innerText()).resolves.toContain(`in ${written.messages} messages`);
    await section.getByTestId("usage-chart").waitFor();
    expect(await section.getByTestId("usage-chart").locator("rect").count()).toBeGreaterThan(0);
    // The team is phase 2's: every message is that phase's.
    const phases = await tableRows(page, "usage-by-phase");
    expect(phases.map((r) => r[0])).toEqual(["2"]);
    expect(phases[0]![1]).toBe(formatCost(totals.costMicros)); // the cost first
    // The lead by its line's session, the teammate by its file under the lead's session.
    const agents = await tableRows(page, "usage-by-agent");
    expect(agents.map((r) => r[0]).sort()).toEqual(["reviewer · phase 2", "team-lead · phase 2"]);
    // The reviewer's web search: a column of its own (its cost is in the cost column).
    expect(written.searches).toBe(1);
    const headers = await section.getByTestId("usage-by-agent").locator("thead th").allInnerTexts();
    expect(headers.at(-1)).toBe("Web searches");
    const searches = Object.fromEntries(agents.map((r) => [r[0], r.at(-1)]));
    expect(searches).toEqual({ "reviewer · phase 2": "1", "team-lead · phase 2": "0" });
    await expect(section.getByTestId("usage-total").innerText()).resolves.toContain("1 web search");
    await expectAccessible(page, "usage on the detail page (desktop)");
    await section.scrollIntoViewIfNeeded();
    await screenshot(page, "usage-detail-desktop");
  });

  test("a budget below the spend: reached at once, a 'needs you' item of kind budget; cleared, it goes", async () => {
    const totals = await totalsCounting(written.messages);
    const form = page.getByTestId("budget-form");
    await form.getByTestId("budget-status").filter({ hasText: "none set" }).waitFor();
    await form.getByRole("textbox").fill("0.01");
    await form.getByRole("button", { name: "Set budget" }).click();
    await form.getByTestId("budget-status").filter({ hasText: `${formatCost(totals.costMicros)} of $0.01` }).waitFor({ timeout: LIVE_MS });
    await form.getByTestId("budget-status").filter({ hasText: "reached" }).waitFor({ timeout: LIVE_MS });

    // A second tab on "Needs you" shows the item; it goes there, live, once the budget is cleared.
    const attention = await desktop.newPage();
    try {
      const tabProblems = recordPageProblems(attention);
      await attention.goto(`${web.url}#/attention`);
      const item = attention.locator('[data-testid="need"][data-kind="budget"]').filter({ hasText: FEATURE });
      await item.waitFor({ timeout: LIVE_MS });
      await expect(item.innerText()).resolves.toContain("$0.01");
      await expectAccessible(attention, "needs you with a budget item (desktop)");

      await form.getByRole("button", { name: "Clear budget" }).click();
      await form.getByTestId("budget-status").filter({ hasText: "none set" }).waitFor({ timeout: LIVE_MS });
      await item.waitFor({ state: "detached", timeout: LIVE_MS });
      expect(tabProblems).toEqual([]);
    } finally {
      await attention.close();
    }
  });

  test("the Fleet page: today's spend on this laptop, its quota from the status line, a warning when close", async () => {
    const totals = await totalsCounting(written.messages);
    await alpha.reportQuota(FEATURE, 85, 41.2);
    await page.goto(`${web.url}#/fleet`);
    const spend = page.getByTestId("fleet-spend");
    await spend.getByTestId("fleet-spend-total").filter({ hasText: formatCost(totals.costMicros) }).waitFor({ timeout: LIVE_MS });
    const laptops = await tableRows(page, "fleet-spend-laptops");
    expect(laptops).toEqual([["alpha", expect.any(String), formatCost(totals.costMicros)]]);
    const quota = page.locator('[data-testid="quota-account"][data-node="alpha"][data-account="~/.claude"]');
    const fiveHour = quota.locator('[data-testid="quota-window"][data-window="fiveHour"]');
    await fiveHour.waitFor({ timeout: LIVE_MS });
    await expect(fiveHour.getAttribute("data-state")).resolves.toBe("warning");
    await expect(fiveHour.innerText()).resolves.toContain("85% used, close to the limit");
    const sevenDay = quota.locator('[data-testid="quota-window"][data-window="sevenDay"]');
    await expect(sevenDay.innerText()).resolves.toContain("41.2% used");
    await expect(quota.innerText()).resolves.toContain("The Claude account of ~/.claude");
    await expectAccessible(page, "fleet usage and quota (desktop)");
    await screenshot(page, "usage-fleet-desktop", true);
  });

  test("at phone size: the card's cost, the breakdown and the quota fit and pass axe", async () => {
    const totals = await totalsCounting(written.messages);
    const phone = await browser.context(PHONE);
    try {
      const p = await phone.newPage();
      phoneProblems = recordPageProblems(p);
      await signIn(p, web.url, "signIn");
      await row(p).getByTestId("card-cost").filter({ hasText: formatCost(totals.costMicros) }).waitFor({ timeout: LIVE_MS });
      await p.goto(`${web.url}#/o/${orchestrationId}`);
      await p.getByTestId("usage-by-agent").waitFor({ timeout: LIVE_MS });
      // Nothing wider than the screen: wide tables scroll inside their own region.
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await expectAccessible(p, "usage on the detail page (phone)");
      await p.getByTestId("usage-section").scrollIntoViewIfNeeded();
      await screenshot(p, "usage-detail-phone");
      await p.goto(`${web.url}#/fleet`);
      await p.locator('[data-testid="quota-account"][data-node="alpha"]').waitFor({ timeout: LIVE_MS });
      await expectAccessible(p, "fleet usage and quota (phone)");
      await screenshot(p, "usage-fleet-phone", true);
    } finally {
      await phone.close();
    }
  });
});
