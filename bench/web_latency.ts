// Dashboard latency, measured in headless Chromium against the local backend:
//   1. a change on the laptop → visible in the open page (p50 / p99), and
//   2. an action tapped in the page → its handler started on the laptop (p50 / p99).
//
//   node --import tsx bench/web_latency.ts [--iterations N] [--record]
//
// The laptop is the e2e harness's (web/e2e/harness): the stand-in by default, the real
// daemon with TINA_E2E_LAPTOP=daemon once it exists. --record writes the results into
// docs/benchmarks.md between the web-latency markers. Needs a build (the script builds).
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { ConvexHttpClient } from "convex/browser";
import { build } from "vite";
import { api } from "../web/src/api";
import { startStaticServer } from "../web/serve";
import { startBackend } from "../web/e2e/harness/backend";
import { DESKTOP, launchBrowser } from "../web/e2e/harness/browser";
import { laptopKind, makeLaptop } from "../web/e2e/harness/index";
import { openOrchestration, phaseItem, signIn } from "../web/e2e/harness/page";
import { orchestration, team } from "../web/e2e/harness/scenario";
import { REPO_ROOT, type Stats, machine, ms, now, record, stats } from "./_common";

const WARMUP = 10;



async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { iterations: { type: "string", default: "200" }, record: { type: "boolean", default: false } },
  });
  const iterations = Number(values.iterations);
  const machineText = machine();
  process.env.NODE_ENV = "production";
  await build({ configFile: path.join(REPO_ROOT, "web", "vite.config.ts"), mode: "production", logLevel: "warn" });

  const backend = await startBackend();
  const web = await startStaticServer({ convexUrl: backend.url });
  const browser = await launchBrowser();
  const laptop = makeLaptop({ url: backend.url, enrollmentSecret: backend.enrollmentSecret, name: "bench" });
  try {
    await laptop.start();
    const state = orchestration("latency", "/home/dev/worktrees");
    await laptop.writeOrchestration(state);
    const files = team("latency", state.worktreePath, undefined);
    await laptop.writeTeam(files);

    const context = await browser.context(DESKTOP);
    const page = await context.newPage();
    await signIn(page, web.url, "signUp");
    await openOrchestration(page, web.url, "latency");
    try {
      await page.getByTestId("task").first().waitFor({ timeout: 30_000 });
    } catch (error) {
      process.stderr.write(`the team's tasks never showed; the laptop's log:\n${await laptop.logTail()}\n`);
      throw error;
    }

    // 1. change on the laptop → visible. The page notes when a text first shows, at the frame
    // that paints it (MutationObserver, then the next animation frame).
    await page.evaluate(() => {
      const w = window as unknown as { __seen: Map<string, number>; __want: string | null };
      w.__seen = new Map();
      w.__want = null;
      new MutationObserver(() => {
        const want = w.__want;
        if (want === null || w.__seen.has(want) || !document.body.textContent?.includes(want)) return;
        w.__seen.set(want, -1);
        requestAnimationFrame(() => w.__seen.set(want, performance.timeOrigin + performance.now()));
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    const visible: number[] = [];
    for (let i = 0; i < WARMUP + iterations; i++) {
      const token = `bench-change-${i}`;
      await page.evaluate((t) => ((window as unknown as { __want: string }).__want = t), token);
      files.tasks[2] = { ...files.tasks[2]!, subject: `Refresh tokens (${token})` };
      const t0 = now();
      await laptop.writeTeam(files);
      const shown = await page.waitForFunction(
        (t) => {
          const at = (window as unknown as { __seen: Map<string, number> }).__seen.get(t);
          return at !== undefined && at > 0 ? at : null;
        },
        token,
        { polling: "raf", timeout: 10_000 },
      );
      const t1 = (await shown.jsonValue()) as number;
      if (i >= WARMUP) visible.push(t1 - t0);
    }
    process.stderr.write(`measured ${iterations} changes\n`);

    // 2. tapped → handler started. Pause (with its confirmation: the tap is the confirm) and
    // resume (no confirmation), alternately; the handler start is the action's `startedAt`,
    // which the laptop sets with markActionRunning right before it runs the handler.
    await page.evaluate(() => {
      const w = window as unknown as { __taps: number[] };
      w.__taps = [];
      document.addEventListener("click", (e) => w.__taps.push(performance.timeOrigin + e.timeStamp), { capture: true });
    });
    const token = await page.evaluate(() => {
      for (let i = 0; i < localStorage.length; i++) {
        const key = localStorage.key(i)!;
        if (key.startsWith("__convexAuthJWT")) return localStorage.getItem(key);
      }
      return null;
    });
    if (!token) throw new Error("no auth token in the page's storage");
    const reader = new ConvexHttpClient(backend.url);
    reader.setAuth(token);
    const orchestrationId = (await reader.query(api.orchestrations.listOrchestrations, {})).active[0]!._id;
    const handled: number[] = [];
    const queued: number[] = [];
    const claimed: number[] = [];
    const started: number[] = [];
    const actions = Math.max(2, Math.round(iterations / 2) * 2);
    for (let i = 0; i < WARMUP + actions; i++) {
      const pausing = i % 2 === 0;
      await page.getByTestId(pausing ? "control-pause" : "control-resume").click();
      if (pausing) await page.getByTestId("confirm").click();
      const tap = await page.evaluate(() => (window as unknown as { __taps: number[] }).__taps.at(-1)!);
      await phaseItem(page, "2", pausing ? "paused" : "executing").waitFor({ timeout: 10_000 });
      const newest = (await reader.query(api.actions.listActions, { orchestrationId, limit: 1 }))[0]!;
      if (newest.startedAt === undefined) throw new Error(`action ${newest._id} has no startedAt`);
      if (i >= WARMUP) {
        handled.push(newest.startedAt - tap);
        queued.push(newest.createdAt - tap);
        claimed.push((newest.claimedAt ?? newest.startedAt) - newest.createdAt);
        started.push(newest.startedAt - (newest.claimedAt ?? newest.startedAt));
      }
      // Wait for the tracker to settle so the next tap finds the controls enabled.
      await page.locator('[data-testid="action-tracker"][data-status="completed"]').waitFor({ timeout: 10_000 });
    }
    process.stderr.write(`measured ${actions} actions\n`);

    const parts = { queued: stats(queued), claimed: stats(claimed), started: stats(started) };
    const section = report(stats(visible), stats(handled), parts, iterations, `${machineText}, ${os.loadavg()[0]!.toFixed(1)} at the end)`);
    process.stdout.write(`${section}\n`);
    if (values.record) record("web-latency", "Dashboard: change → visible, tap → handler started", section);
  } finally {
    await laptop.stop();
    await browser.close();
    await web.close();
    await backend.stop();
  }
}


function report(
  visible: Stats,
  handled: Stats,
  parts: { queued: Stats; claimed: Stats; started: Stats },
  iterations: number,
  machineText: string,
): string {
  const kind = laptopKind();
  const laptopText =
    kind === "stand-in"
      ? "the **stand-in laptop** of the e2e harness (`web/e2e/harness/standin.ts`): a change is its `syncTeam` mutation, " +
        "sent the moment the change is made, so the figure has **no file watching or parsing in it**; the action handler " +
        "starts after the stand-in's subscription sees the action and it calls `claimAction` and `markActionRunning`"
      : "the **real daemon** (`tina daemon run`, through `web/e2e/harness/daemon.ts` and `tina.dev.sim.sandbox`) over real " +
        "files in a sandbox home: a change is one task file of a Claude Code team written atomically, which the daemon " +
        "notices, parses and syncs; actions are run by the daemon";
  return [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machineText}.`,
    "",
    `\`node --import tsx bench/web_latency.ts --iterations ${iterations}\`. Everything on one machine: the local backend`,
    "(its own process), the built dashboard served by `web/serve.ts`, headless Chromium (1440 × 900, signed in,",
    `on the orchestration's detail page) and ${laptopText}.`,
    "",
    "- **change → visible**: from the laptop starting the change (a task's subject) to the animation frame that",
    "  first paints the new text in the page (a MutationObserver in the page, then `requestAnimationFrame`).",
    "- **tapped → handler started**: from the click event of the final tap in the page (the confirm button for pause,",
    "  the button itself for resume) to the action's `startedAt`: the backend's time of `markActionRunning`, which the",
    "  laptop awaits right before it starts the handler (the daemon's handler runs `tina-session orchestrate advance`).",
    "  One action at a time, pause and resume alternating.",
    `- ${WARMUP} warm-up rounds of each are not counted. Milliseconds.`,
    "",
    "| Measure | n | p50 | p90 | p99 | max | target (p99) |",
    "|---|---:|---:|---:|---:|---:|---:|",
    `| change → visible in the page | ${visible.n} | ${ms(visible.p50)} | ${ms(visible.p90)} | ${ms(visible.p99)} | ${ms(visible.max)} | ≤ 300 |`,
    `| tapped → handler started on the laptop | ${handled.n} | ${ms(handled.p50)} | ${ms(handled.p90)} | ${ms(handled.p99)} | ${ms(handled.max)} | ≤ 250 |`,
    "",
    "Where the tap's time goes (server timestamps of the action; p50 / p99):",
    `tap → queued (\`submitAction\` committed) ${ms(parts.queued.p50)} / ${ms(parts.queued.p99)};`,
    `queued → claimed (the laptop's subscription is told, it claims) ${ms(parts.claimed.p50)} / ${ms(parts.claimed.p99)};`,
    `claimed → handler started ${ms(parts.started.p50)} / ${ms(parts.started.p99)}.`,
    "The local backend runs one transaction at a time and, after a commit, re-runs the subscribed queries whose read",
    "set it touched one after the other (docs/local-backend.md), so the laptop's subscription and mutations wait",
    "behind the page's queries; that is most of queued → claimed and claimed → started here. A Convex deployment",
    "runs them in parallel.",
  ].join("\n");
}


await main();
