// Lighthouse's installable-app audits against the built dashboard, in the system Chromium:
//
//   node --import tsx bench/pwa_lighthouse.ts [--no-build] [--record]
//
// Lighthouse 12 removed the PWA category; this runs Lighthouse 11 (11.7.1, pinned, a dev
// dependency), the last one that has it. It builds the dashboard (unless --no-build), starts the
// local backend and web/serve.ts as the e2e tests do, starts Chromium with a fresh profile and a
// DevTools port, and runs the "pwa" category on a phone's screen. It prints each audit and exits
// non-zero when the installability audit fails. --record writes the result into
// docs/benchmarks.md between the pwa-lighthouse markers.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import lighthouse from "lighthouse";
import { build } from "vite";
import { startStaticServer } from "../web/serve";
import { startBackend } from "../web/e2e/harness/backend";
import { CHROMIUM_ARGS } from "../web/e2e/harness/browser";
import { REPO_ROOT, record } from "./_common";


/** The parts of Lighthouse's result this script reads. */
type Audit = { id: string; title: string; score: number | null; scoreDisplayMode: string; explanation?: string; details?: { items?: { reason?: string }[] } };
type Lhr = { lighthouseVersion: string; userAgent: string; runWarnings: string[]; categories: Record<string, { auditRefs: { id: string; group?: string }[] } | undefined>; audits: Record<string, Audit | undefined> };

/** Chromium with a DevTools port (Lighthouse connects to it) and a throwaway profile. */
async function startChromium(): Promise<{ port: number; stop(): Promise<void> }> {
  const profile = await mkdtemp(path.join(os.tmpdir(), "tina-lighthouse-"));
  const child: ChildProcess = spawn(
    process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    [...CHROMIUM_ARGS, "--remote-debugging-port=0", `--user-data-dir=${profile}`, "about:blank"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`Chromium gave no DevTools port within 20 s:\n${seen.slice(-2000)}`)), 20_000);
    child.stderr!.on("data", (chunk: Buffer) => {
      seen += chunk.toString("utf8");
      const match = /DevTools listening on ws:\/\/[^:]+:(\d+)\//.exec(seen);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`Chromium exited (${code}) before it listened:\n${seen.slice(-2000)}`));
    });
  });
  return {
    port,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      await rm(profile, { recursive: true, force: true });
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { record: { type: "boolean", default: false }, "no-build": { type: "boolean", default: false } } });
  if (!values["no-build"]) {
    process.env.NODE_ENV = "production";
    await build({ configFile: path.join(REPO_ROOT, "web", "vite.config.ts"), mode: "production", logLevel: "warn" });
  }
  const backend = await startBackend();
  const web = await startStaticServer({ convexUrl: backend.url });
  const chromium = await startChromium();
  try {
    const result = await lighthouse(web.url, {
      port: chromium.port,
      output: "json",
      logLevel: "error",
      onlyCategories: ["pwa"],
      formFactor: "mobile",
    });
    if (result === undefined) throw new Error("Lighthouse returned no result");
    const lhr = result.lhr as unknown as Lhr;
    const category = lhr.categories.pwa;
    if (category === undefined) throw new Error(`Lighthouse ${lhr.lighthouseVersion} has no PWA category (it went in 12.0): install 11.7.1`);
    const rows = category.auditRefs
      .map((ref) => ({ ref, audit: lhr.audits[ref.id] }))
      .filter((r): r is { ref: { id: string; group?: string }; audit: Audit } => r.audit !== undefined && r.audit.scoreDisplayMode !== "manual");
    const installable = lhr.audits["installable-manifest"];
    const section = report(lhr, rows);
    process.stdout.write(`${section}\n`);
    if (values.record) record("pwa-lighthouse", "Dashboard: Lighthouse's installable-app audits", section);
    if (installable?.score !== 1) {
      process.stderr.write(`pwa_lighthouse.ts: not installable: ${installable === undefined ? "no installable-manifest audit" : why(installable) || "no reason given"}\n`);
      process.exitCode = 1;
    }
  } finally {
    await chromium.stop();
    await web.close();
    await backend.stop();
  }
}

/** Why an audit failed: its explanation, or the reasons it lists (installable-manifest's). */
function why(audit: Audit): string {
  const reasons = (audit.details?.items ?? []).map((i) => i.reason).filter((r): r is string => typeof r === "string" && r !== "");
  return [audit.explanation, ...reasons].filter(Boolean).join(" ").replace(/\s+/g, " ");
}

function verdict(audit: Audit): string {
  if (audit.scoreDisplayMode === "notApplicable") return "not applicable";
  if (audit.scoreDisplayMode === "informative") return "informative";
  const reason = why(audit);
  return audit.score === 1 ? "pass" : `**fail**${reason ? `: ${reason}` : ""}`;
}

function report(lhr: Lhr, rows: { ref: { id: string; group?: string }; audit: Audit }[]): string {
  const cpus = os.cpus();
  const machine = `${cpus[0]?.model ?? "unknown CPU"} × ${cpus.length}, ${os.type()} ${os.release()}, Node ${process.version}`;
  const chrome = /(?:HeadlessChrome|Chrome)\/([\d.]+)/.exec(lhr.userAgent)?.[1] ?? "unknown";
  return [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine}, with Lighthouse ${lhr.lighthouseVersion} in Chromium ${chrome} (headless, a phone's screen).`,
    "",
    "`node --import tsx bench/pwa_lighthouse.ts`: the built dashboard served by `web/serve.ts` for the local backend, Lighthouse's",
    "PWA category (the last Lighthouse that has it; 12.0 removed it). The manual checks of the category are left out.",
    "",
    "| Audit | Group | Result |",
    "|---|---|---|",
    ...rows.map(({ ref, audit }) => `| ${audit.title} (\`${audit.id}\`) | ${ref.group ?? ""} | ${verdict(audit)} |`),
    ...(lhr.runWarnings.length > 0 ? ["", `Lighthouse's warnings: ${lhr.runWarnings.join("; ")}`] : []),
  ].join("\n");
}


await main();
