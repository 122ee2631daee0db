// A private tmux server for the tests: agents' panes that operator messages are typed into.
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export class Tmux {
  private constructor(
    readonly socket: string,
    private readonly dir: string,
  ) {}

  /** Starts a tmux server on its own socket with one session. */
  static async start(): Promise<Tmux> {
    const dir = await mkdtemp(path.join(tmpdir(), "tina-e2e-tmux-"));
    const tmux = new Tmux(path.join(dir, "tmux.sock"), dir);
    await tmux.cmd("new-session", "-d", "-s", "agents", "-x", "200", "-y", "50", "cat");
    return tmux;
  }

  async cmd(...args: string[]): Promise<string> {
    const { stdout } = await run("tmux", ["-S", this.socket, ...args], { env: { ...process.env, TMUX: "" } });
    return stdout;
  }

  /** A new pane running `cat`, so whatever is typed into it stays visible; returns its id ("%3"). */
  async newPane(): Promise<string> {
    const out = await this.cmd("new-window", "-d", "-t", "agents", "-P", "-F", "#{pane_id}", "cat");
    return out.trim();
  }

  /** Types text into a pane and presses Enter (argv only, never a shell). */
  async type(paneId: string, text: string): Promise<void> {
    await this.cmd("send-keys", "-t", paneId, "-l", text);
    await this.cmd("send-keys", "-t", paneId, "Enter");
  }

  async capture(paneId: string): Promise<string> {
    return await this.cmd("capture-pane", "-p", "-J", "-t", paneId);
  }

  async hasPane(paneId: string): Promise<boolean> {
    const out = await this.cmd("list-panes", "-a", "-F", "#{pane_id}");
    return out.split("\n").includes(paneId);
  }

  async stop(): Promise<void> {
    await this.cmd("kill-server").catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}
