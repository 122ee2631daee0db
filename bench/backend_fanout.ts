// Fan-out latency of the local backend: one writer's mutation -> every
// subscriber's update, for 1, 10 and 50 subscribers (official ConvexClients,
// one WebSocket each, in this process; the server is its own process).
//
//   node --import tsx bench/backend_fanout.ts [--iterations N] [--record]
//
// --record writes the results into docs/benchmarks.md (between the
// backend-fanout markers), with the date and the machine.
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ConvexClient } from "convex/browser";
import WebSocket from "ws";
import { api } from "../convex-local/contract/convex/_generated/api.js";
import { CONTRACT_FUNCTIONS_DIR, LOCAL_TOKEN_HEADER, spawnLocalBackend, type SpawnedBackend } from "../convex-local/testing.js";

const SUBSCRIBER_COUNTS = [1, 10, 50];
const WARMUP = 20;
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BENCHMARKS_MD = path.join(REPO_ROOT, "docs", "benchmarks.md");
const START = "<!-- backend-fanout:start -->";
const END = "<!-- backend-fanout:end -->";

type Stats = { median: number; p90: number; p99: number; max: number; n: number };

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return { median: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1], n: sorted.length };
}

function newClient(url: string): ConvexClient {
  return new ConvexClient(url, { webSocketConstructor: WebSocket as any });
}

async function measure({ url, localToken }: SpawnedBackend, subscribers: number, iterations: number) {
  // Each row starts from an empty database, and its workload (one counter
  // document) does not grow as it runs, so rows differ only in subscribers.
  const reset = await fetch(`${url}/api/local/reset`, { method: "POST", headers: { [LOCAL_TOKEN_HEADER]: localToken } });
  if (!reset.ok) throw new Error(`reset: HTTP ${reset.status}`);
  const name = `fanout-${subscribers}`;
  const writer = newClient(url);
  const clients = Array.from({ length: subscribers }, () => newClient(url));
  // The count every subscriber must see next, and when each one saw it.
  let expected = 0;
  let arrivals: number[] = [];
  let allArrived: () => void = () => {};
  const unsubscribes = clients.map((client) =>
    client.onUpdate(api.ticks.get, { name }, (count) => {
      if (count === expected) {
        arrivals.push(performance.now());
        if (arrivals.length === subscribers) allArrived();
      }
    }),
  );
  // Wait until every subscriber has its first result.
  await new Promise<void>((resolve) => {
    allArrived = resolve;
    if (arrivals.length === subscribers) resolve();
  });

  const perSubscriber: number[] = [];
  const lastSubscriber: number[] = [];
  const roundTrip: number[] = [];
  for (let i = 1; i <= WARMUP + iterations; i++) {
    expected = i;
    arrivals = [];
    const everyone = new Promise<void>((resolve) => (allArrived = resolve));
    const sent = performance.now();
    const done = writer.mutation(api.ticks.bump, { name }).then(() => performance.now());
    await everyone;
    const acknowledged = await done;
    if (i > WARMUP) {
      for (const arrival of arrivals) perSubscriber.push(arrival - sent);
      lastSubscriber.push(Math.max(...arrivals) - sent);
      roundTrip.push(acknowledged - sent);
    }
  }
  for (const unsubscribe of unsubscribes) unsubscribe();
  await Promise.all([writer, ...clients].map((client) => client.close()));
  return {
    subscribers,
    perSubscriber: stats(perSubscriber),
    lastSubscriber: stats(lastSubscriber),
    roundTrip: stats(roundTrip),
  };
}

function machine(): string {
  const cpus = os.cpus();
  const memory = Math.round(os.totalmem() / 2 ** 30);
  const load = os.loadavg()[0].toFixed(1);
  return (
    `${cpus[0]?.model ?? "unknown CPU"} × ${cpus.length}, ${memory} GiB RAM, ${os.type()} ${os.release()}, ` +
    `Node ${process.version} (1-minute load average ${load} at the start)`
  );
}

const ms = (value: number) => value.toFixed(1);

function report(
  results: Awaited<ReturnType<typeof measure>>[],
  iterations: number,
  machineText: string,
): string {
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machineText}.`,
    "",
    `\`node --import tsx bench/backend_fanout.ts --iterations ${iterations}\`: the server runs as its own process`,
    "(`convex-local/server.ts`, contract fixture functions, emptied before each row); one writer",
    "`ConvexClient` sends `ticks:bump` (increments one counter document), N subscriber `ConvexClient`s",
    "(one WebSocket each, all in the benchmark process) watch `ticks:get` of that counter.",
    `${iterations} mutations per row after ${WARMUP} warm-up ones, one at a time. Latency runs from sending`,
    "the mutation to a subscriber's `onUpdate` with the new count, in milliseconds; \"last subscriber\" is",
    "when all N had it. Client and server share the machine's cores.",
    "",
    "| Subscribers | per subscriber median | p90 | p99 | last subscriber median | p90 | p99 | writer's mutation round trip median |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of results) {
    lines.push(
      `| ${r.subscribers} | ${ms(r.perSubscriber.median)} | ${ms(r.perSubscriber.p90)} | ${ms(r.perSubscriber.p99)} | ` +
        `${ms(r.lastSubscriber.median)} | ${ms(r.lastSubscriber.p90)} | ${ms(r.lastSubscriber.p99)} | ${ms(r.roundTrip.median)} |`,
    );
  }
  return lines.join("\n");
}

function record(section: string): void {
  const block = `${START}\n${section}\n${END}`;
  let text = existsSync(BENCHMARKS_MD)
    ? readFileSync(BENCHMARKS_MD, "utf8")
    : "# Benchmarks\n\nResults of the scripts in `bench/`. Re-run a script with `--record` to update its section.\n";
  if (text.includes(START) && text.includes(END)) {
    text = text.slice(0, text.indexOf(START)) + block + text.slice(text.indexOf(END) + END.length);
  } else {
    text = `${text.trimEnd()}\n\n## Local backend: mutation → subscriber fan-out\n\n${block}\n`;
  }
  writeFileSync(BENCHMARKS_MD, text);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { iterations: { type: "string", default: "200" }, record: { type: "boolean", default: false } },
  });
  const iterations = Number(values.iterations);
  const machineText = machine();
  const server = await spawnLocalBackend({ functionsDir: CONTRACT_FUNCTIONS_DIR });
  try {
    const results = [];
    for (const subscribers of SUBSCRIBER_COUNTS) {
      results.push(await measure(server, subscribers, iterations));
      process.stderr.write(`measured ${subscribers} subscriber(s)\n`);
    }
    const section = report(results, iterations, machineText);
    process.stdout.write(`${section}\n`);
    if (values.record) record(section);
  } finally {
    await server.stop();
  }
}

await main();
