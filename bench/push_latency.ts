// Push latency (issue 20): an item created on a laptop → the push request received by the
// push service, p50 / p99, on the local backend.
//
//   node --import tsx bench/push_latency.ts [--items N] [--laptop daemon|node] [--record]
//
// Everything on one machine: the local backend (its own process, with VAPID keys), a signed-in
// user with one subscribed device on the push-service stand-in (convex-local/test/push_service.ts:
// it checks the VAPID JWT and decrypts every message, as in the tests), and a laptop:
//
//   daemon (default)  the real daemon through the e2e harness (web/e2e/harness/daemon.ts): each
//                     item is a Claude Code PermissionRequest hook (`tina hook`) on the laptop,
//                     which the daemon opens as a permission prompt; the clock starts when the
//                     hook is started.
//   node              a laptop node calling needs:syncLaptop over the real protocol; the clock
//                     starts when the mutation is sent.
//
// The clock stops when the stand-in receives the push request's headers. Items are created one
// at a time (the next once the previous one's push arrived). --record writes the results into
// docs/benchmarks.md between the push-latency markers.
import { randomBytes, randomUUID } from "node:crypto";
import os from "node:os";
import { parseArgs } from "node:util";
import { ConvexHttpClient } from "convex/browser";
import { makeFunctionReference } from "convex/server";
import webpush from "web-push";
import { api } from "../convex/_generated/api.js";
import { makeAuthKeys } from "../convex-local/make-auth-keys.js";
import { spawnLocalBackend } from "../convex-local/testing.js";
import { PushService, type PushRecord } from "../convex-local/test/push_service.js";
import { DaemonLaptop } from "../web/e2e/harness/daemon.js";
import { orchestration } from "../web/e2e/harness/scenario.js";
import { type Stats, machine, ms, now, record, stats } from "./_common";

const WARMUP = 5;
const TARGET_P99_MS = 1000;
/** How long each hook waits for an answer before it gives up (the daemon then settles the prompt). */
const HOOK_WAIT_MS = 1500;



type Show = { op: string; tag: string; body?: string };

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      items: { type: "string", default: "120" },
      laptop: { type: "string", default: "daemon" },
      record: { type: "boolean", default: false },
    },
  });
  const items = Number(values.items);
  const mode = values.laptop === "node" ? "node" : "daemon";
  if (!Number.isInteger(items) || items < 1) throw new Error("--items: a positive whole number");
  const machineText = machine();

  const push = await PushService.start();
  const vapid = webpush.generateVAPIDKeys();
  const enrollmentSecret = `bench-${randomBytes(12).toString("hex")}`;
  const backend = await spawnLocalBackend({
    env: {
      TINA_ENROLLMENT_SECRET: enrollmentSecret,
      ...makeAuthKeys(),
      TINA_VAPID_PUBLIC_KEY: vapid.publicKey,
      TINA_VAPID_PRIVATE_KEY: vapid.privateKey,
      TINA_VAPID_SUBJECT: "mailto:bench@example.com",
    },
    stderr: process.env.TINA_BENCH_BACKEND_LOG === "1" ? "inherit" : "ignore",
    readyTimeoutMs: 30_000,
  });
  const laptop = mode === "daemon" ? new DaemonLaptop({ url: backend.url, enrollmentSecret, name: "bench" }) : null;
  try {
    const anonymous = new ConvexHttpClient(backend.url);
    const signedIn = (await anonymous.action(makeFunctionReference<"action">("auth:signIn"), {
      provider: "password",
      params: { email: "owner@example.com", password: "correct horse battery staple", flow: "signUp" },
    })) as { tokens: { token: string } | null };
    const user = new ConvexHttpClient(backend.url);
    user.setAuth(signedIn.tokens!.token);
    const phone = push.subscription();
    await user.mutation(api.notify.subscribe, { subscription: { endpoint: phone.endpoint, keys: phone.keys }, label: "bench phone" });

    const waitForShow = (match: (p: Show) => boolean, what: string): Promise<PushRecord> =>
      push.waitFor((m) => {
        const p = m.payload as Show;
        return p.op === "show" && match(p);
      }, what, 15_000);

    const samples: number[] = [];
    // Only with the daemon: the prompt's openedAt (Convex's clock, when openPrompt committed) → received.
    const serverSide: number[] = [];
    let create: (i: number) => Promise<{ t0: number; received: PushRecord; token: string }>;
    if (laptop !== null) {
      await laptop.start();
      const state = orchestration("pushbench", "/home/dev/worktrees");
      await laptop.writeOrchestration(state);
      create = async (i) => {
        const token = `bench-${i}-${randomUUID().slice(0, 8)}`;
        const event = {
          session_id: randomUUID(),
          transcript_path: "/home/dev/.claude/projects/-home-dev-shop/bench.jsonl",
          hook_event_name: "PermissionRequest",
          permission_mode: "default",
          tool_name: "Bash",
          tool_input: { command: `echo ${token}`, description: token },
          permission_suggestions: [],
        };
        const t0 = now();
        await laptop.startHook("pushbench", event, HOOK_WAIT_MS);
        const received = await waitForShow((p) => p.body?.includes(token) === true, `the push for hook ${i}`);
        return { t0, received, token };
      };
    } else {
      const node = new ConvexHttpClient(backend.url);
      const enrolled = await node.mutation(api.nodes.enrollNode, { enrollmentSecret, name: "bench", os: "linux" });
      await node.mutation(api.nodes.registerNode, { nodeToken: enrolled.credential, os: "linux" });
      create = async (i) => {
        const token = `stall:bench-${i}`;
        const t0 = now();
        await node.mutation(api.needs.syncLaptop, {
          nodeToken: enrolled.credential,
          items: [{ key: token, kind: "stalled", since: Date.now(), title: `executor-${i} went quiet`, detail: token }],
          sessions: [],
        });
        const received = await waitForShow((p) => p.tag === `laptop:${enrolled.nodeId}:${token}`, `the push for item ${i}`);
        return { t0, received, token };
      };
    }

    for (let i = 0; i < WARMUP + items; i++) {
      const { t0, received, token } = await create(i);
      if (i < WARMUP) continue;
      samples.push(received.receivedAt - t0);
      if (laptop !== null) {
        const open = await user.query(api.prompts.listOpen, {});
        const prompt = [...open.open, ...open.recent].find((p) => p.description === token);
        if (prompt !== undefined) serverSide.push(received.receivedAt - prompt.openedAt);
      }
    }
    if (push.refused.length > 0) throw new Error(`the push service refused requests: ${JSON.stringify(push.refused.slice(0, 3))}`);
    process.stderr.write(`measured ${items} items\n`);
    const section = report(mode, stats(samples), serverSide.length > 0 ? stats(serverSide) : undefined, items, `${machineText}, ${os.loadavg()[0]!.toFixed(1)} at the end)`);
    process.stdout.write(`${section}\n`);
    if (values.record) record("push-latency", "Push: item created on a laptop → push received", section);
  } finally {
    await laptop?.stop();
    await backend.stop();
    await push.close();
  }
}


function report(mode: "daemon" | "node", total: Stats, server: Stats | undefined, items: number, machineText: string): string {
  const laptopText =
    mode === "daemon"
      ? "the **real daemon** (`tina daemon run` through the e2e harness, `web/e2e/harness/daemon.ts`): each item is a Claude " +
        "Code `PermissionRequest` hook (`tina hook`, a new process) that the daemon opens as a permission prompt; the clock " +
        "starts when the harness starts the hook"
      : "a **laptop node** calling `needs:syncLaptop` over the real protocol (no daemon, no file watching); the clock starts " +
        "when the mutation is sent";
  const rows = [
    `| item created on the laptop → push received | ${total.n} | ${ms(total.p50)} | ${ms(total.p90)} | ${ms(total.p99)} | ${ms(total.max)} | ≤ ${TARGET_P99_MS} |`,
  ];
  if (server !== undefined) {
    rows.push(`| prompt committed in Convex → push received | ${server.n} | ${ms(server.p50)} | ${ms(server.p90)} | ${ms(server.p99)} | ${ms(server.max)} | |`);
  }
  return [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machineText}.`,
    "",
    `\`node --import tsx bench/push_latency.ts --laptop ${mode} --items ${items}\`. Everything on one machine: the local`,
    "backend (its own process, with VAPID keys), one signed-in user with one device subscribed on the push-service",
    "stand-in (`convex-local/test/push_service.ts`, which checks the VAPID JWT and decrypts each message as a browser",
    `would), and ${laptopText}.`,
    "",
    "- The clock stops when the stand-in receives the push request. Between the two: the trigger's coalescing window",
    "  (250 ms: `notify:evaluate` runs once for a burst of changes), the evaluation, the Node action (`web-push`: the",
    "  RFC 8291 encryption and the VAPID JWT) and the HTTP request.",
    `- Items one at a time; ${WARMUP} warm-up items are not counted. Milliseconds.`,
    "",
    "| Measure | n | p50 | p90 | p99 | max | target (p99) |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...rows,
  ].join("\n");
}


await main();
