// What the TypeScript benchmarks share: percentiles, the machine line, and recording a section
// into docs/benchmarks.md between its markers (as bench/_common.py does for the Python ones).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const BENCHMARKS_MD = path.join(REPO_ROOT, "docs", "benchmarks.md");

export type Stats = { p50: number; p90: number; p99: number; max: number; n: number };

/** Nearest-rank percentiles of `samples` (at least one). */
export function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1]!, n: sorted.length };
}

/** Wall-clock ms with sub-ms precision (the same clock as Date.now() elsewhere on the machine). */
export const now = (): number => performance.timeOrigin + performance.now();

export const ms = (v: number): string => v.toFixed(1);

/** The machine, ending with the load at the start; the caller closes it with the load at the end. */
export function machine(): string {
  const cpus = os.cpus();
  return (
    `${cpus[0]?.model ?? "unknown CPU"} × ${cpus.length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()}, ` +
    `Node ${process.version} (1-minute load average ${os.loadavg()[0]!.toFixed(1)} at the start`
  );
}

/**
 * Writes `section` into docs/benchmarks.md between `<!-- name:start -->` and `<!-- name:end -->`,
 * or appends it under `heading` when the markers are not there yet.
 */
export function record(name: string, heading: string, section: string): void {
  const [start, end] = [`<!-- ${name}:start -->`, `<!-- ${name}:end -->`];
  const block = `${start}\n${section}\n${end}`;
  let text = existsSync(BENCHMARKS_MD) ? readFileSync(BENCHMARKS_MD, "utf8") : "# Benchmarks\n";
  if (text.includes(start) && text.includes(end)) {
    text = text.slice(0, text.indexOf(start)) + block + text.slice(text.indexOf(end) + end.length);
  } else {
    text = `${text.trimEnd()}\n\n## ${heading}\n\n${block}\n`;
  }
  writeFileSync(BENCHMARKS_MD, text);
}
