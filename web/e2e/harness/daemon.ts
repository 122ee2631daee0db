// The real laptop: `tina daemon run` over real files (tina.dev.sim.sandbox.Laptop: a sandbox home,
// real git worktrees from tina-session, Claude Code team/task files, its own tmux server),
// driven through daemon_laptop.py. Changes are written to disk; the daemon syncs them and runs
// operator actions with the real tina-session and tmux.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { HookResult, InboxEntry, JournalEvent, Laptop, OrchestrationFile, TeamFiles, TranscriptWritten } from "./laptop";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, "..", "..", "..");

export function pythonPath(): string {
  return process.env.TINA_PYTHON ?? path.join(REPO_ROOT, ".venv", "bin", "python");
}

type Reply = { id: number; result?: unknown; error?: string; trace?: string };

export class DaemonLaptop implements Laptop {
  readonly kind = "daemon" as const;
  readonly name: string;
  private child: ChildProcessWithoutNullStreams | null = null;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private stderr = "";

  constructor(private readonly options: { url: string; enrollmentSecret: string; name: string }) {
    this.name = options.name;
  }

  private async call<T>(method: string, ...params: unknown[]): Promise<T> {
    if (this.child === null) {
      const root = await mkdtemp(path.join(tmpdir(), `tina-e2e-${this.name}-`));
      const child = spawn(
        pythonPath(),
        [path.join(HERE, "daemon_laptop.py"), "--root", root, "--name", this.name, "--url", this.options.url, "--secret", this.options.enrollmentSecret],
        { cwd: REPO_ROOT, stdio: ["pipe", "pipe", "pipe"] },
      );
      child.stderr.on("data", (chunk: Buffer) => {
        this.stderr = (this.stderr + chunk.toString()).slice(-4000);
      });
      createInterface({ input: child.stdout }).on("line", (line) => {
        const reply = JSON.parse(line) as Reply;
        const waiter = this.waiting.get(reply.id);
        this.waiting.delete(reply.id);
        if (reply.error !== undefined) waiter?.reject(new Error(`${this.name}: ${reply.error}\n${reply.trace ?? ""}`));
        else waiter?.resolve(reply.result);
      });
      child.once("exit", (code) => {
        for (const w of this.waiting.values()) w.reject(new Error(`daemon_laptop.py (${this.name}) exited with ${code}: ${this.stderr}`));
        this.waiting.clear();
        this.child = null;
      });
      this.child = child;
    }
    const id = ++this.nextId;
    const reply = new Promise<T>((resolve, reject) => this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject }));
    this.child.stdin.write(`${JSON.stringify({ id, method, params })}\n`);
    return await reply;
  }

  async start(): Promise<void> {
    await this.call("start");
  }

  async writeOrchestration(state: OrchestrationFile): Promise<void> {
    await this.call("write_orchestration", state);
  }

  async readOrchestration(feature: string): Promise<OrchestrationFile> {
    return await this.call<OrchestrationFile>("read_orchestration", feature);
  }

  async writeTeam(team: TeamFiles): Promise<void> {
    await this.call("write_team", team);
  }

  async appendEvent(feature: string, event: JournalEvent): Promise<void> {
    await this.call("append_event", feature, event);
  }

  async appendTranscript(feature: string, teamDir: string, agent: string, messages: number, searches = 0): Promise<TranscriptWritten> {
    return await this.call<TranscriptWritten>("append_transcript", feature, teamDir, agent, messages, searches);
  }

  async reportQuota(feature: string, fiveHourPct: number, sevenDayPct: number): Promise<void> {
    await this.call("report_quota", feature, fiveHourPct, sevenDayPct);
  }

  async writePlan(feature: string, phase: string, markdown: string): Promise<void> {
    await this.call("write_plan", feature, phase, markdown);
  }

  async openLeadSession(feature: string, phase: string): Promise<string> {
    return await this.call<string>("open_lead_session", feature, phase);
  }

  async readInbox(teamDir: string, agent: string): Promise<InboxEntry[]> {
    return await this.call<InboxEntry[]>("read_inbox", teamDir, agent);
  }

  async appendInbox(teamDir: string, agent: string, entry: Omit<InboxEntry, "timestamp" | "read">): Promise<void> {
    await this.call("append_inbox", teamDir, agent, entry);
  }

  async writeInboxFile(teamDir: string, agent: string, content: string): Promise<void> {
    await this.call("write_inbox_file", teamDir, agent, content);
  }

  async markInboxRead(teamDir: string, agent: string): Promise<void> {
    await this.call("mark_inbox_read", teamDir, agent);
  }

  async startHook(feature: string, event: Record<string, unknown>, waitMs: number): Promise<number> {
    return await this.call<number>("start_hook", feature, event, waitMs);
  }

  async hookResult(handle: number): Promise<HookResult | null> {
    return await this.call<HookResult | null>("hook_result", handle);
  }

  async openPane(feature: string): Promise<string> {
    return await this.call<string>("open_pane", feature);
  }

  async capturePane(paneId: string): Promise<string> {
    return await this.call<string>("capture_pane", paneId);
  }

  async logTail(): Promise<string> {
    return await this.call<string>("log_tail").catch((e: unknown) => `(no log: ${String(e)})`);
  }

  async goOffline(): Promise<void> {
    await this.call("go_offline");
  }

  async stop(): Promise<void> {
    if (this.child === null) return;
    const child = this.child;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    await this.call("stop").catch(() => undefined);
    child.stdin.end();
    await exited;
  }
}
