"""`make demo` as a person meets it: `tina demo` comes up (backend, dashboard, simulated laptops
with their daemons, the simulator) and stops everything it started however it is stopped: Ctrl-C,
`kill` (SIGTERM), also when it runs as a shell's background job (which starts with SIGINT
ignored), and when one of its parts dies (it says which, and exits non-zero); and its "Needs
you" list shows the message a laptop refused and that laptop once it went to sleep."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import psutil
import pytest
import trio

from tests.dashboard_api import Api
from tina.dev import demo as demo_module
from tina.dev.sim.driver import FEATURES
from tina.dev.sim.sandbox import BIN

pytestmark = pytest.mark.timeout(300)

LAPTOPS = 2


def _listening(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=5).close()
    except OSError:
        return False
    return True


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _tmux_up(tmux_socket: str) -> bool:
    return subprocess.run(["tmux", "-S", tmux_socket, "ls"], capture_output=True).returncode == 0


def _as_background_job() -> None:
    """What a shell does to a job it starts in the background (`make demo &`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGQUIT, signal.SIG_IGN)


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def _node_name(proc: psutil.Process) -> str | None:
    try:
        name: str | None = proc.environ().get("TINA_NODE_NAME")
    except psutil.Error:
        return None
    return name


@attrs.define
class Demo:
    proc: subprocess.Popen[str]
    banner: str = ""
    # Every process the demo started (its daemons and servers run in sessions of their own).
    parts: dict[str, psutil.Process] = attrs.Factory(dict)
    tmux_sockets: list[str] = attrs.Factory(list)

    def url(self, label: str) -> str:
        found = re.search(rf"{label}\s+(http://\S+)", self.banner)
        assert found, self.banner
        return found.group(1)

    def wait_for_parts(self, live: bool) -> None:
        """Until the backend, the dashboard server and every laptop's daemon run (mbp-old's
        daemon runs only for a while: it is a part while it does, not counted)."""
        deadline = time.monotonic() + 60
        while True:
            children = psutil.Process(self.proc.pid).children(recursive=True)
            daemons = [c for c in children if re.search(r"tina daemon (run|debug)$", _cmdline(c))]
            for c in daemons:
                if _node_name(c) == demo_module.SLEEPER:
                    self.parts[f"sleeping daemon {c.pid}"] = c
            daemons = [c for c in daemons if f"sleeping daemon {c.pid}" not in self.parts]
            for c in children:
                line = _cmdline(c)
                if "convex-local/server.ts" in line:
                    self.parts["backend"] = c
                elif "web/serve.ts" in line:
                    self.parts["dashboard"] = c
            for c in daemons:
                kind = "foreground daemon" if _cmdline(c).endswith("debug") else "daemon"
                self.parts[f"{kind} {c.pid}"] = c
            if len(daemons) == LAPTOPS and {"backend", "dashboard"} <= set(self.parts):
                break
            assert self.proc.poll() is None, "the demo ended early"
            assert time.monotonic() < deadline, f"parts missing: {sorted(self.parts)}"
            time.sleep(0.2)
        if live:
            assert any(k.startswith("foreground daemon") for k in self.parts), self.parts
        for proc in daemons:
            self.tmux_sockets.append(proc.environ()["TINA_TMUX_SOCKET"])

    def everything_stopped(self) -> None:
        left = {name: p.pid for name, p in self.parts.items() if _alive(p)}
        assert not left, f"still running: {left}"
        assert not _answers(self.url("dashboard"))
        assert not _listening(self.url(r"Convex \(local\)"))
        assert not [s for s in self.tmux_sockets if _tmux_up(s)]


@pytest.fixture
def start_demo(tmp_path: Path) -> Iterator[Callable[..., Demo]]:
    started: list[Demo] = []

    def start(*, background: bool, live: bool = False, extra: Sequence[str] = ()) -> Demo:
        proc = subprocess.Popen(
            [
                str(BIN / "tina"),
                "demo",
                *([] if live else ["--no-live"]),
                "--dir",
                str(tmp_path / "demo"),
                "--laptops",
                str(LAPTOPS),
                "--orchestrations",
                str(LAPTOPS),
                "--speed",
                "5",
                "--backend-port",
                "0",
                "--web-port",
                "0",
                *extra,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group, as a shell's job has
            preexec_fn=_as_background_job if background else None,
        )
        demo = Demo(proc)
        started.append(demo)
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 180  # may build the dashboard first
        while not any("Ctrl-C stops everything" in line for line in lines):
            assert time.monotonic() < deadline, "".join(lines)
            line = proc.stdout.readline()
            assert line, "the demo ended early:\n" + "".join(lines)
            lines.append(line)
        demo.banner = "".join(lines)
        assert _answers(demo.url("dashboard")), demo.banner
        assert _listening(demo.url(r"Convex \(local\)")), demo.banner
        demo.wait_for_parts(live)
        return demo

    try:
        yield start
    finally:  # whatever a failed test or a broken demo left behind
        for demo in started:
            if demo.proc.poll() is None:
                os.killpg(demo.proc.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    demo.proc.wait(60)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(demo.proc.pid, signal.SIGKILL)
            demo.proc.wait()
            for part in demo.parts.values():
                with contextlib.suppress(psutil.Error):
                    part.kill()
            for tmux_socket in demo.tmux_sockets:
                subprocess.run(["tmux", "-S", tmux_socket, "kill-server"], capture_output=True)
            if demo.proc.stdout is not None:
                demo.proc.stdout.close()


@pytest.mark.parametrize(
    ("sig", "background"),
    [
        (signal.SIGINT, False),  # Ctrl-C in the terminal
        (signal.SIGINT, True),  # `kill -INT` to `make demo &`
        (signal.SIGTERM, True),  # `kill` to `make demo &`
    ],
    ids=["SIGINT", "SIGINT-background-job", "SIGTERM-background-job"],
)
def test_a_signal_stops_everything(
    start_demo: Callable[..., Demo], sig: signal.Signals, background: bool
) -> None:
    demo = start_demo(background=background)
    # The simulated agents start in the laptops' tmux servers once the simulation gets there.
    assert 'tmux -S "$TINA_TMUX_SOCKET" attach' in demo.banner, demo.banner
    deadline = time.monotonic() + 120
    while not any(_tmux_up(s) for s in demo.tmux_sockets):
        assert time.monotonic() < deadline, "no agent ever started in tmux"
        assert demo.proc.poll() is None, "the demo ended early"
        time.sleep(0.5)

    demo.proc.send_signal(sig)
    rest, _ = demo.proc.communicate(timeout=90)
    assert demo.proc.returncode == 0, demo.banner + rest
    assert f"stopping the demo ({sig.name})" in rest, rest
    assert "stopped." in rest and "Traceback" not in rest, rest
    demo.everything_stopped()


@pytest.mark.parametrize(
    ("part", "named"),
    [
        ("backend", r"the local Convex backend exited unexpectedly .*; its log: \S+backend\.log"),
        ("foreground daemon", r"the daemon of mbp-alex exited unexpectedly \(killed by SIGKILL\)"),
    ],
    ids=["backend", "foreground-daemon"],
)
def test_when_a_part_dies_the_demo_says_which_and_stops_the_rest(
    start_demo: Callable[..., Demo], part: str, named: str
) -> None:
    demo = start_demo(background=True, live=part == "foreground daemon")
    (victim,) = [p for name, p in demo.parts.items() if name.startswith(part)]
    victim.kill()
    rest, _ = demo.proc.communicate(timeout=90)
    assert demo.proc.returncode == 1, demo.banner + rest
    assert re.search(named, rest), rest
    assert "stopped." in rest and "Traceback" not in rest, rest
    demo.everything_stopped()


class _FailingSimulator:
    async def run(self, *, continuous: bool = False) -> None:
        raise RuntimeError("the simulation broke")


async def test_the_simulator_failing_stops_the_demo_and_keeps_its_traceback(tmp_path: Path) -> None:
    handlers = {
        sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    try:
        stop = demo_module._StopSignals()
        stop.hold()
        never = demo_module._Part(name="a part", exited=lambda: None, log="")
        with trio.fail_after(10):
            died = await demo_module._supervise(
                _FailingSimulator(),  # type: ignore[arg-type]
                [never],
                stop,
                tmp_path / "simulator.log",
            )
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert died == f"the simulator failed; its traceback: {tmp_path / 'simulator.log'}"
    assert "RuntimeError: the simulation broke" in (tmp_path / "simulator.log").read_text()


def _sign_in(url: str, email: str, password: str) -> Api:
    return Api(url).signed_in(email, password)


def test_needs_you_shows_a_refused_message_and_the_laptop_that_went_to_sleep(
    start_demo: Callable[..., Demo],
) -> None:
    # The backend calls a laptop offline 6 s after its last call (not 120).
    demo = start_demo(background=True, extra=["--offline-after", "6"])
    sleeper = demo_module.SLEEPER
    assert re.search(rf"{sleeper} refused a message .* \(offline after 6 s\)", demo.banner)
    creds = re.search(r"sign in as\s+(\S+) / (\S+)", demo.banner)
    assert creds, demo.banner
    owner = _sign_in(demo.url(r"Convex \(local\)"), creds.group(1), creds.group(2))

    def mine(items: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
        return next((i for i in items if i["kind"] == kind and i["nodeName"] == sleeper), None)

    def went_to_sleep(items: list[dict[str, Any]]) -> dict[str, Any] | None:
        # A laptop enrolled whose daemon has not registered yet is offline too, since 0 (no
        # heartbeat): this one was online, and its heartbeats stopped.
        item = mine(items, "offline_laptop")
        return item if item is not None and item["since"] > 0 else None

    deadline = time.monotonic() + 60
    while True:
        items = owner.query("needs:needsYou")["items"]
        failed, offline = mine(items, "failed_action"), went_to_sleep(items)
        if failed and offline:
            break
        assert demo.proc.poll() is None, "the demo ended early"
        assert time.monotonic() < deadline, [(i["kind"], i.get("nodeName")) for i in items]
        time.sleep(0.5)
    # The laptop's own reason: its phase lead's tmux session is gone.
    assert failed["title"] == "A message to team-lead failed", failed
    assert (failed["actionType"], failed["actionStatus"]) == ("send_message", "failed"), failed
    assert "no longer exists; reach it through its inbox" in failed["actionError"], failed
    assert failed["featureName"] == demo_module.SLEEPER_FEATURE, failed
    assert offline["title"] == f"{sleeper} is offline", offline
    assert not offline["nodeOnline"]
    # Its daemon stopped; the demo goes on, and stops as ever.
    children = psutil.Process(demo.proc.pid).children(recursive=True)
    assert not [c for c in children if _node_name(c) == sleeper and _alive(c)]
    demo.proc.send_signal(signal.SIGTERM)
    rest, _ = demo.proc.communicate(timeout=90)
    assert demo.proc.returncode == 0, demo.banner + rest
    assert "Traceback" not in rest, rest
    demo.everything_stopped()


def test_a_terminal_on_a_demo_laptop_and_a_demo_that_keeps_going(
    start_demo: Callable[..., Demo], tmp_path: Path
) -> None:
    demo = start_demo(background=True, extra=["--continuous", "--speed", "10"])
    work = tmp_path / "demo"
    first = re.search(r"laptops\s+(\S+),", demo.banner)
    assert first, demo.banner
    name = first.group(1)
    # The banner says how, with this demo's work directory.
    assert f"tina demo shell --dir {work} {name}" in demo.banner, demo.banner
    assert f'eval "$(.venv/bin/tina demo env --dir {work} {name})"' in demo.banner
    assert "Continuous: new orchestrations start as others finish" in demo.banner

    def on_laptop(*command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "tina"), "demo", "shell", "--dir", str(work), name, "--", *command],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    # `tina daemon status` reaches that laptop's daemon, as on a real laptop.
    status = on_laptop(str(BIN / "tina"), "daemon", "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["info"]["node"] == name, status.stdout
    # Its tmux server is the one the demo's daemon of that laptop uses.
    env = on_laptop("env")
    socket_line = [ln for ln in env.stdout.splitlines() if ln.startswith("TINA_TMUX_SOCKET=")]
    assert socket_line and socket_line[0].split("=", 1)[1] in demo.tmux_sockets, env.stdout
    # tina-session lists its orchestrations: a second one once the first finished (each laptop
    # runs one at a time here; --continuous starts the next).
    seen: set[str] = set()
    deadline = time.monotonic() + 240
    while len(seen) < 2:
        listed = on_laptop(str(BIN / "tina-session"), "list")
        assert listed.returncode == 0, listed.stderr
        seen |= {f for f in FEATURES if re.search(rf"^{re.escape(f)}\s", listed.stdout, re.M)}
        assert demo.proc.poll() is None, "the demo ended early"
        assert time.monotonic() < deadline, f"only {seen} after 240 s"
        time.sleep(1)
    # An unknown laptop is named, with the ones there are.
    wrong = subprocess.run(
        [str(BIN / "tina"), "demo", "env", "--dir", str(work), "nope"],
        capture_output=True,
        text=True,
    )
    assert wrong.returncode == 1
    assert "no demo laptop named 'nope'" in wrong.stderr and name in wrong.stderr
