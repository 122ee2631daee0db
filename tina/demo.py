"""`tina demo`: the whole system offline, in one command.

A local backend (with fresh sign-in keys and an enrollment secret), a demo owner account,
simulated laptops (each a sandbox home with real git worktrees, tina-session, Claude Code
team and task files and a tmux server, and its own daemon), the simulator driving realistic
orchestrations on them, and the dashboard. The first laptop's daemon runs in the foreground
with its live actor tree. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import signal
import subprocess
from pathlib import Path
from types import FrameType
from typing import Any

import structlog
import trio

from tina.backend import (
    REPO_ROOT,
    BackendOptions,
    BackendProcess,
    dashboard_origins,
    free_port,
    password_sign_up,
)
from tina.log import configure_logging
from tina.sim.driver import SimConfig, Simulator
from tina.sim.sandbox import BIN, Laptop

log = structlog.get_logger("tina.demo")

DEMO_EMAIL = "demo@tina.dev"
WEB_DIR = REPO_ROOT / "web"


def add_demo(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the offline demo: backend, simulated laptops with daemons, dashboard",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--dir", type=Path, default=REPO_ROOT / ".tina-demo", help="work directory (wiped at start)"
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
        "--no-live", action="store_true", help="no live tree in the foreground; just wait"
    )
    parser.set_defaults(handler=run_demo)


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
    )
    log_file.close()
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().strip()
    if not line.startswith("ready "):
        proc.terminate()
        return None, None
    return proc, line.split(" ", 1)[1]


def run_demo(args: argparse.Namespace) -> int:
    configure_logging("quiet")
    # `kill` (SIGTERM) stops the demo as Ctrl-C does, cleaning up what it started (by default
    # SIGTERM ends the process at once, leaving the laptops' tmux servers and daemons behind).
    signal.signal(signal.SIGTERM, _sigterm_as_sigint)
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
    web: subprocess.Popen[bytes] | None = None
    foreground: subprocess.Popen[bytes] | None = None
    try:
        print("starting the local Convex backend...", flush=True)
        url = backend.start()
        password_sign_up(url, DEMO_EMAIL, password)
        web, web_url = _start_web(work, url, web_port)
        names = ["mbp-alex", "mbp-sam", "studio-kim", "air-lee"]
        for i in range(max(1, args.laptops)):
            name = names[i] if i < len(names) else f"laptop-{i + 1}"
            lt = Laptop(work / name, name, url, enrollment_secret=secret)
            lt.enroll()
            laptops.append(lt)
        for lt in laptops[1:]:
            lt.start_daemon(wait=False)
        first = laptops[0]
        print(_banner(url, web_url, password, laptops), flush=True)
        if args.no_live:
            first.start_daemon(wait=False)
        else:
            # The first laptop's daemon in the foreground: its live actor tree on this terminal.
            foreground = subprocess.Popen(
                [str(BIN / "tina"), "daemon", "debug"],
                env=first.env(),
                cwd=first.root,
                stdin=subprocess.DEVNULL,
                stderr=None,
                stdout=None,
            )
            first.daemon = foreground
        cfg = SimConfig(seed=args.seed, speed=args.speed)
        sim = Simulator(laptops, orchestrations=args.orchestrations, cfg=cfg)
        interrupted = False
        try:
            trio.run(_run_sim, sim)
        except* KeyboardInterrupt:  # trio hands it over inside an exception group
            interrupted = True
        if interrupted:
            return 0
        if not args.no_live and foreground is not None:
            print(
                "\nall simulated orchestrations finished (blocked ones wait for you); Ctrl-C to stop",
                flush=True,
            )
            foreground.wait()
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        print("\nstopping the demo...", flush=True)
        with _ignore_sigint():
            for lt in laptops:
                lt.close()
            if web is not None:
                web.terminate()
                web.wait(10)
            backend.stop()
        print(f"stopped. Logs and state are in {work}", flush=True)


def _sigterm_as_sigint(signum: int, frame: FrameType | None) -> None:
    signal.raise_signal(signal.SIGINT)  # whoever handles Ctrl-C (trio, or Python) takes it


async def _run_sim(sim: Simulator) -> None:
    await sim.run()


class _ignore_sigint:
    def __enter__(self) -> None:
        self._old = signal.signal(signal.SIGINT, signal.SIG_IGN)

    def __exit__(self, *exc: Any) -> None:
        signal.signal(signal.SIGINT, self._old)


def _banner(url: str, web_url: str | None, password: str, laptops: list[Laptop]) -> str:
    dash = web_url or "(the dashboard is not built yet: see web/README.md)"
    lines = [
        "",
        "tina demo is running",
        f"  dashboard        {dash}",
        f"  sign in as       {DEMO_EMAIL} / {password}",
        f"  Convex (local)   {url}",
        f"  laptops          {', '.join(lt.name for lt in laptops)} (simulated; each runs its own daemon)",
        "",
        "Try this in the dashboard:",
        "  - Needs attention: approve or reject a plan waiting at the approval gate (reject with feedback",
        "    sends the phase back to planning), retry a blocked phase",
        "  - open an orchestration: pause a phase, watch it turn paused, resume it",
        "  - send a message to an executor agent: it is typed into that agent's tmux pane",
        f"    (see it with: tmux -S {laptops[0].tmux_socket} attach)",
        "",
        "Below: the live actor tree of the first laptop's daemon. Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)
