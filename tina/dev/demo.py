"""`tina demo`: the whole system offline, in one command.

A local backend (with fresh sign-in keys and an enrollment secret), a demo owner account,
simulated laptops (each a sandbox home with real git worktrees, tina-session, Claude Code
team and task files, a tmux server, a stand-in `claude` and its own daemon), the simulator
driving orchestrations on them the way the real tool does (`tina-session start` opens each
phase lead's tmux session and starts the stand-in, which makes the phase team, works through
its tasks and commits; `tina-session wait` follows it), and the dashboard. The first laptop's daemon runs in the foreground
with its live actor tree. Ctrl-C or `kill` stops everything it started, also in a background
job; if a part dies, the demo says which, stops the rest and exits with status 1.

One more laptop, mbp-old, shows what a person meets when something goes wrong: its daemon
registers and syncs an orchestration whose phase lead's terminal was closed; the demo's owner
sends that lead a message the way the dashboard does (signed in, over the sync protocol), the
laptop refuses it with its reason, and then mbp-old goes to sleep (its daemon stops). "Needs you"
lists the failed message, and the laptop once the backend calls it offline.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

import attrs
import structlog
import trio

from tina import push
from tina.convex.client import open_convex_client
from tina.convex.operator import Operator
from tina.dev import demo_shell
from tina.dev.backend import (
    REPO_ROOT,
    BackendError,
    BackendOptions,
    BackendProcess,
    dashboard_origins,
    free_port,
    password_sign_up,
)
from tina.dev.sim.driver import DEMO_LAPTOP_ENV, SimConfig, Simulator
from tina.dev.sim.sandbox import BIN, Laptop
from tina.log import configure_logging

log = structlog.get_logger("tina.demo")

DEMO_EMAIL = "demo@tina.dev"
WEB_DIR = REPO_ROOT / "web"
DEFAULT_DIR = REPO_ROOT / ".tina-demo"
# --continuous: what the simulator does for a person who does not answer, after this long.
CONTINUOUS_ANSWER_AFTER = 120.0


def add_demo(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the offline demo: backend, simulated laptops with daemons, dashboard",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--dir", type=Path, default=DEFAULT_DIR, help="work directory (wiped at start)"
    )
    parser.add_argument("--laptops", type=int, default=2, help="simulated laptops (default 2)")
    parser.add_argument(
        "--orchestrations", type=int, default=5, help="orchestrations to run (default 5)"
    )
    parser.add_argument(
        "--speed", type=float, default=1.0, help="simulation speed factor (default 1)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--backend-port", type=int, default=3210)
    parser.add_argument("--web-port", type=int, default=5173)
    parser.add_argument(
        "--offline-after",
        type=float,
        default=None,
        metavar="SECS",
        help="a laptop is offline this long after its last heartbeat (default: the backend's "
        "60 s); the laptops then heartbeat four times as often",
    )
    parser.add_argument(
        "--continuous",
        action="store_true",
        help="keep starting new orchestrations as others finish, so the demo never goes "
        f"static; a blocked phase is retried and a waiting plan approved after "
        f"{CONTINUOUS_ANSWER_AFTER:g} s if nobody answers first",
    )
    parser.add_argument(
        "--no-live", action="store_true", help="no live tree in the foreground; just wait"
    )
    parser.add_argument(
        "--cost-every",
        type=float,
        default=60.0,
        metavar="SECS",
        help="print a one-line summary of what the backend's functions cost this often "
        "(default 60 s; 0: only when the demo stops)",
    )
    parser.set_defaults(handler=run_demo)
    demo_shell.add_subcommands(parser, default_dir=DEFAULT_DIR)


def _node(*args: str) -> list[str]:
    return ["node", "--import", "tsx", *args]


def _start_web(
    work: Path, convex_url: str, port: int
) -> tuple[subprocess.Popen[bytes] | None, str | None]:
    dist = WEB_DIR / "dist"
    if not (WEB_DIR / "serve.ts").exists():
        return None, None
    built = (dist / "index.html").stat().st_mtime if (dist / "index.html").exists() else 0.0
    sources = [p for p in (WEB_DIR / "src").rglob("*") if p.is_file()] + [WEB_DIR / "index.html"]
    if any(p.stat().st_mtime > built for p in sources):
        print("building the dashboard...", flush=True)
        subprocess.run(
            ["npx", "vite", "build", "--config", str(WEB_DIR / "vite.config.ts")],
            cwd=REPO_ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    log_file = (work / "web.log").open("ab")
    proc = subprocess.Popen(
        _node(
            str(WEB_DIR / "serve.ts"),
            "--dir",
            str(dist),
            "--port",
            str(port),
            "--convex-url",
            convex_url,
        ),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=log_file,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # see _start_daemon
    )
    log_file.close()
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline().decode().strip()
    except BaseException:  # stopped while it starts
        _end(proc)
        raise
    if not line.startswith("ready "):
        _end(proc)
        return None, None
    return proc, line.split(" ", 1)[1]


def _end(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _start_daemon(lt: Laptop) -> subprocess.Popen[bytes]:
    """`lt.start_daemon(wait=False)`, in a session of its own like every part of the demo: a
    terminal's Ctrl-C, or a signal to the demo's process group, reaches the demo alone, which
    then stops the parts in order. A part that exits by itself has died."""
    with lt.daemon_log.open("ab") as log_file:
        lt.daemon = subprocess.Popen(
            [str(BIN / "tina"), "daemon", "run"],
            env=lt.env(),
            stdout=log_file,
            stderr=log_file,
            stdin=subprocess.DEVNULL,
            cwd=lt.root,
            start_new_session=True,
        )
    return lt.daemon


def sim_config(args: argparse.Namespace) -> SimConfig:
    """The simulation `tina demo` runs: every kind of "Needs you" item now and then; with
    --continuous, nothing waits for a person forever (the simulator answers after a while, as
    someone at the laptop would), so new orchestrations keep coming."""
    cfg = SimConfig.demo(seed=args.seed, speed=args.speed)
    if args.continuous:
        cfg = attrs.evolve(
            cfg,
            auto_retry_after=CONTINUOUS_ANSWER_AFTER / args.speed,
            auto_approve_after=CONTINUOUS_ANSWER_AFTER / args.speed,
        )
    return cfg


def run_demo(args: argparse.Namespace) -> int:
    configure_logging("quiet")
    stop = _StopSignals()
    try:
        return _run(args, stop)
    except KeyboardInterrupt:  # a signal before anything was started
        print(f"\nstopped ({stop.name}).", flush=True)
        return 0


def _run(args: argparse.Namespace, stop: _StopSignals) -> int:
    offline_after: float | None = args.offline_after
    if offline_after is not None and offline_after < MIN_OFFLINE_AFTER:
        print(f"--offline-after: at least {MIN_OFFLINE_AFTER:g} s", file=sys.stderr)
        return 2
    work: Path = args.dir.resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    (work / ".gitignore").write_text("*\n")
    secret = secrets.token_urlsafe(24)
    password = secrets.token_urlsafe(9)
    keys = work / "auth-keys"
    subprocess.run(
        _node(str(REPO_ROOT / "convex-local" / "make-auth-keys.ts"), "--files", str(keys)),
        cwd=REPO_ROOT,
        check=True,
    )
    env = {"TINA_ENROLLMENT_SECRET": secret}
    for name in ("JWT_PRIVATE_KEY", "JWKS"):
        env[name] = (keys / name).read_text().strip()
    # The dashboard's phones can subscribe to Web Push (nothing reaches a real push service
    # offline; the settings page and the service worker work as on a real deployment).
    vapid = push.generate("mailto:demo@tina.invalid")
    env.update(
        TINA_VAPID_PUBLIC_KEY=vapid.public_key,
        TINA_VAPID_PRIVATE_KEY=vapid.private_key,
        TINA_VAPID_SUBJECT=vapid.subject,
    )
    laptop_env = dict(DEMO_LAPTOP_ENV)
    if offline_after is not None:
        env["TINA_OFFLINE_AFTER_MS"] = str(round(offline_after * 1000))
        laptop_env["TINA_HEARTBEAT_SECS"] = f"{offline_after / 4:g}"

    # The backend lets in pages of the dashboard's origin only, so its port is chosen first.
    web_port = args.web_port or free_port()
    backend = BackendProcess(
        BackendOptions(
            port=args.backend_port,
            env=env,
            state_file=work / "convex-state.json",
            allow_origins=dashboard_origins(web_port),
        ),
        log_path=work / "backend.log",
    )
    laptops: list[Laptop] = []
    sleeper: Laptop | None = None
    web: subprocess.Popen[bytes] | None = None
    foreground: subprocess.Popen[bytes] | None = None
    try:
        print("starting the local Convex backend...", flush=True)
        url = backend.start()
        token = password_sign_up(url, DEMO_EMAIL, password)
        web, web_url = _start_web(work, url, web_port)
        names = ["mbp-alex", "mbp-sam", "studio-kim", "air-lee"]
        for i in range(max(1, args.laptops)):
            name = names[i] if i < len(names) else f"laptop-{i + 1}"
            lt = Laptop(work / name, name, url, enrollment_secret=secret, env=laptop_env)
            laptops.append(lt)  # closed when the demo stops, even if enrolling is cut short
            lt.enroll()
        sleeper = Laptop(work / SLEEPER, SLEEPER, url, enrollment_secret=secret, env=laptop_env)
        sleeper.enroll()
        _prepare_sleeper(sleeper)
        demo_shell.write_laptops(work, {lt.name: lt.env() for lt in [*laptops, sleeper]})
        for lt in laptops[1:]:
            _start_daemon(lt)
        _start_daemon(sleeper)
        first = laptops[0]
        print(
            _banner(
                url,
                web_url,
                password,
                laptops,
                offline_after,
                work=work,
                continuous=args.continuous,
            ),
            flush=True,
        )
        if args.no_live:
            _start_daemon(first)
        else:
            # The first laptop's daemon in the foreground: its live actor tree on this terminal.
            foreground = subprocess.Popen(
                [str(BIN / "tina"), "daemon", "debug"],
                env=first.env(),
                cwd=first.root,
                stdin=subprocess.DEVNULL,
                stderr=None,
                stdout=None,
                start_new_session=True,  # see _start_daemon
            )
            first.daemon = foreground
        # Every kind of "Needs you" item turns up: permission prompts, rate limits, teammates
        # asking their lead, plans to approve, idle teammates with open tasks, stalled ones;
        # mbp-old adds a failed action and an offline laptop.
        cfg = sim_config(args)
        sim = Simulator(laptops, orchestrations=args.orchestrations, cfg=cfg)
        parts = _parts(backend, web, work, laptops, live=foreground is not None)
        stories = [
            _Story(
                name=f"the story of {SLEEPER}",
                run=partial(_put_to_sleep, sleeper, url, token),
                log=work / f"{SLEEPER}.log",
            )
        ]
        if args.cost_every > 0:
            stories.append(
                _Story(
                    name="the cost meter",
                    run=partial(_print_costs, backend, args.cost_every),
                    log=work / "cost-meter.log",
                )
            )
        stop.hold()  # from here on, trio takes the signals
        died = trio.run(
            partial(
                _supervise,
                sim,
                parts,
                stop,
                work / "simulator.log",
                stories=stories,
                continuous=args.continuous,
            )
        )
        if died is not None:
            print(f"\n{died}", file=sys.stderr, flush=True)
            return 1
        return 0
    except KeyboardInterrupt:  # a signal while the demo was starting
        return 0
    finally:
        stop.hold()  # a signal now is noted, and cleanup goes on
        why = f" ({stop.name})" if stop.signum is not None else ""
        print(f"\nstopping the demo{why}...", flush=True)
        for lt in [*laptops, *([sleeper] if sleeper is not None else [])]:
            lt.close()
        if web is not None:
            _end(web)
        if backend.running:
            with contextlib.suppress(BackendError, OSError):
                print(cost_line(backend.metrics()), flush=True)
        backend.stop()
        print(f"stopped. Logs and state are in {work}", flush=True)


class _StopSignals:
    """SIGINT, SIGTERM and SIGHUP stop the demo, whatever their disposition when it started: a
    shell starts a background job (`make demo &`) with SIGINT ignored, and Python then never
    raises KeyboardInterrupt; SIGTERM would end the demo at once, leaving its parts behind.
    SIGHUP stays ignored under nohup. While the demo starts, a signal raises KeyboardInterrupt;
    once it runs, trio's receiver takes the signals (`hold`), and while it stops they are noted."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._raise = True
        self.signals = [signal.SIGINT, signal.SIGTERM]
        if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
            self.signals.append(signal.SIGHUP)
        for sig in self.signals:
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.note(signum)
        if self._raise:
            raise KeyboardInterrupt

    def note(self, signum: int) -> None:
        if self.signum is None:
            self.signum = signum

    def hold(self) -> None:
        self._raise = False

    @property
    def name(self) -> str:
        return "a signal" if self.signum is None else signal.Signals(self.signum).name


@attrs.frozen(kw_only=True)
class _Part:
    """A process the demo started: `exited` returns its exit status once it has exited."""

    name: str
    exited: Callable[[], int | None]
    log: str


def _parts(
    backend: BackendProcess,
    web: subprocess.Popen[bytes] | None,
    work: Path,
    laptops: list[Laptop],
    *,
    live: bool,
) -> list[_Part]:
    parts = [
        _Part(
            name="the local Convex backend",
            exited=lambda: None if backend.running else backend.stop(),
            log=f"its log: {backend.log_path}",
        )
    ]
    if web is not None:
        parts.append(
            _Part(name="the dashboard server", exited=web.poll, log=f"its log: {work / 'web.log'}")
        )
    for i, lt in enumerate(laptops):
        assert lt.daemon is not None
        parts.append(
            _Part(
                name=f"the daemon of {lt.name}",
                exited=lt.daemon.poll,
                log="its output is above" if live and i == 0 else f"its log: {lt.daemon_log}",
            )
        )
    return parts


def _status(code: int) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit status {code}"


# How often the demo looks for parts that died: soon enough for a person watching.
POLL_INTERVAL = 0.2


@attrs.frozen(kw_only=True)
class _Story:
    """Something the demo does beside the simulation, once; if it fails, its traceback goes
    to `log` and the demo stops, as when the simulator fails."""

    name: str
    run: Callable[[], Awaitable[None]]
    log: Path


async def _supervise(
    sim: Simulator,
    parts: list[_Part],
    stop: _StopSignals,
    sim_log: Path,
    *,
    stories: Sequence[_Story] = (),
    continuous: bool = False,
) -> str | None:
    """Runs the simulation and the stories, then waits, until a signal (returns None) or until
    a part dies, the simulator or a story fails (returns what happened)."""
    died: str | None = None
    with trio.open_signal_receiver(*stop.signals) as received:
        if stop.signum is not None:  # arrived while trio took over
            return None
        async with trio.open_nursery() as nursery:

            def end(why: str | None, reason: str) -> None:
                nonlocal died
                if not nursery.cancel_scope.cancel_called:
                    died = why
                    nursery.cancel_scope.cancel(f"demo stopping: {reason}")

            async def signals() -> None:
                async for signum in received:
                    stop.note(signum)
                    end(None, stop.name)
                    return

            async def watch() -> None:
                while True:
                    for part in parts:
                        code = part.exited()
                        if code is not None:
                            why = f"{part.name} exited unexpectedly ({_status(code)})"
                            end(f"{why}; {part.log}", why)
                            return
                    await trio.sleep(POLL_INTERVAL)

            async def simulate() -> None:
                try:
                    await sim.run(continuous=continuous)
                except Exception as exc:  # the simulator is a part too
                    await trio.Path(sim_log).write_text("".join(traceback.format_exception(exc)))
                    end(f"the simulator failed; its traceback: {sim_log}", "the simulator failed")
                    return
                print(
                    "\nall simulated orchestrations finished (blocked ones wait for you); "
                    "Ctrl-C to stop",
                    flush=True,
                )

            async def tell(story: _Story) -> None:
                try:
                    await story.run()
                except Exception as exc:
                    await trio.Path(story.log).write_text("".join(traceback.format_exception(exc)))
                    end(f"{story.name} failed; its traceback: {story.log}", f"{story.name} failed")

            nursery.start_soon(signals)
            nursery.start_soon(watch)
            nursery.start_soon(simulate)
            for story in stories:
                nursery.start_soon(tell, story, name=story.name)
    return died


# --- the cost meter ----------------------------------------------------------------------------


def _amount(n: float) -> str:
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.0f}"


def _megabytes(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def cost_line(report: dict[str, Any]) -> str:
    """One line of what the backend's functions cost (``BackendProcess.metrics()``): calls by
    kind, documents and bytes read and written, errors, and the busiest functions."""
    totals = report["totals"]
    minutes = max(0.0, (time.time() * 1000 - float(report["since"])) / 60_000)
    functions: dict[str, dict[str, int]] = report["functions"]
    runs = {
        name: sum(c[k] for k in ("calls", "rerun", "scheduled", "cron"))
        for name, c in functions.items()
    }
    busiest = sorted(runs.items(), key=lambda item: (-item[1], item[0]))[:3]
    top = ", ".join(f"{name} {_amount(n)}" for name, n in busiest if n > 0)
    all_runs = sum(runs.values())
    return (
        f"[cost {minutes:.0f} min] {_amount(all_runs)} function calls "
        f"({_amount(totals['calls'])} calls, {_amount(totals['rerun'])} query re-runs, "
        f"{_amount(totals['scheduled'])} scheduled, {_amount(totals['cron'])} cron), "
        f"read {_amount(totals['documentsRead'])} docs / {_megabytes(totals['bytesRead'])}, "
        f"wrote {_amount(totals['documentsWritten'])} docs / {_megabytes(totals['bytesWritten'])}, "
        f"{totals['errors']} errors" + (f"; busiest: {top}" if top else "")
    )


async def _print_costs(backend: BackendProcess, every: float) -> None:
    """Prints :func:`cost_line` every ``every`` seconds (a failed read is skipped)."""
    while True:
        await trio.sleep(every)
        try:
            report = await trio.to_thread.run_sync(backend.metrics)
        except (BackendError, OSError):
            continue
        print(cost_line(report), flush=True)


# --- mbp-old: a failed action, then an offline laptop ------------------------------------------

SLEEPER = "mbp-old"
SLEEPER_FEATURE = "nightly-backup"
SLEEPER_TEAM = f"{SLEEPER_FEATURE}-phase-1"
# The backend's offline threshold when the demo sets none (convex/model/nodes.ts), and its least.
OFFLINE_AFTER_DEFAULT = 120.0
MIN_OFFLINE_AFTER = 2.0
# How long mbp-old's daemon may take to sync its team and to answer the message.
SLEEPER_TIMEOUT = 120.0


def _prepare_sleeper(lt: Laptop) -> None:
    """mbp-old's files, before its daemon starts: an orchestration in phase 1 whose lead's
    terminal was closed. Claude Code leaves the team's directory behind; the lead's tmux
    session (`tina-session start`'s) is gone, and the laptop never runs a tmux server."""
    worktree = lt.init_orchestration(SLEEPER_FEATURE, phases=1)
    lt.advance(SLEEPER_FEATURE, "validation", "validation_pass")
    lt.write_team(
        SLEEPER_TEAM,
        [
            {"name": "team-lead", "agentType": "team-lead", "tmuxPaneId": ""},
            {"name": "worker", "isActive": False},
        ],
        cwd=worktree,
    )


async def _put_to_sleep(lt: Laptop, url: str, token: str) -> None:
    """The demo's owner, signed in as the dashboard is (the sync protocol, with the session's
    token), waits for mbp-old's team, messages its lead in the phase's tmux session (the
    dashboard's default way to reach a phase lead), and sees the laptop refuse it: the session
    is gone. Then mbp-old goes to sleep: its daemon stops, and its heartbeats with it."""
    with trio.fail_after(SLEEPER_TIMEOUT):
        async with open_convex_client(url, auth_token=token) as client:
            owner = Operator(client)
            orchestration = await owner.active_orchestration(lt.name, SLEEPER_FEATURE)
            team = await owner.phase_team(orchestration, SLEEPER_TEAM, "team-lead")
            action_id = await owner.send_message(
                team,
                "team-lead",
                "Are you still there? The backup window closes at 6.",
                via="lead_session",
            )
            action = await owner.action_outcome(orchestration, action_id)
        if action["status"] != "failed":
            raise RuntimeError(f"the message to {lt.name}'s phase lead did not fail: {action}")
        # A laptop that goes to sleep says nothing (a clean stop would sign off at once): it shows
        # offline once the deployment's threshold has passed since its last call.
        await trio.to_thread.run_sync(lt.stop_daemon, signal.SIGKILL)


def _columns(rows: list[tuple[str, str]]) -> list[str]:
    width = max(len(left) for left, _ in rows) + 2
    return [f"{left.ljust(width)}{right}" for left, right in rows]


def _banner(
    url: str,
    web_url: str | None,
    password: str,
    laptops: list[Laptop],
    offline_after: float | None = None,
    *,
    work: Path | None = None,
    continuous: bool = False,
) -> str:
    dash = web_url or "(the dashboard is not built yet: see web/README.md)"
    first = laptops[0].name
    others = [lt.name for lt in laptops[1:]] + [SLEEPER]
    at = "" if work is None or work == DEFAULT_DIR.resolve() else f"--dir {work} "
    offline = f"{offline_after or OFFLINE_AFTER_DEFAULT:g} s"
    lines = [
        "",
        "tina demo is running",
        f"  dashboard        {dash}",
        f"  sign in as       {DEMO_EMAIL} / {password}",
        f"  Convex (local)   {url}",
        f"  laptops          {', '.join(lt.name for lt in laptops)} (simulated; each runs its own daemon)",
        "",
        "Try this in the dashboard:",
        "  - Needs you: read the plan waiting at the approval gate, approve it or reject it with",
        "    feedback (the phase goes back to planning), retry a phase its lead blocked (a new lead starts)",
        "  - Needs you also lists what the phase leads' teams wait for: a permission prompt (answer it",
        "    within 20 s), a teammate asking its lead, a plan to approve, a rate limit, an idle teammate",
        "    with open tasks, a stalled one",
        f"  - {SLEEPER} refused a message to its phase lead and went to sleep: Needs you shows both (offline after {offline})",
        "  - open an orchestration: pause a phase, watch it turn paused, resume it; see who is working,",
        "    idle or shut down, and the team's conversation (assignments, idle notifications, shutdowns)",
        "  - message an agent: the orchestrator's agents in their tmux panes, a phase lead in its tmux",
        "    session, an in-process teammate through its inbox (it shows read when picked up)",
        "  - costs: each card shows what its agents have spent (from their transcripts); its page breaks",
        "    it down by phase and agent and takes a budget; Fleet shows spend per day and each quota",
        "",
        "A terminal on a demo laptop, as on a real one (in another terminal, from this folder):",
        *_columns(
            [
                (f"  .venv/bin/tina demo shell {at}{first}", f"a shell with {first}'s environment"),
                ("      tina daemon status", "its daemon and actor tree"),
                ("      tina-session list", "its orchestrations"),
                (
                    '      tmux -S "$TINA_TMUX_SOCKET" attach',
                    "its agents' panes (Ctrl-b d detaches)",
                ),
                (f'  eval "$(.venv/bin/tina demo env {at}{first})"', "the same, in this shell"),
            ]
        ),
        f"  the other laptops: {', '.join(others)}",
        "",
        *(
            [
                "Continuous: new orchestrations start as others finish; a blocked phase is",
                f"retried and a waiting plan approved after {CONTINUOUS_ANSWER_AFTER:g} s "
                "(at speed 1) if you do not answer first.",
                "",
            ]
            if continuous
            else []
        ),
        "Below: the live actor tree of the first laptop's daemon. Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)
