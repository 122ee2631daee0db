"""`tina-session daemon start | stop | status | run` (reference §3.22) against a real
`tina daemon run` in an isolated home, state directory and config.

The daemon needs no backend to run: it points at a closed local port, keeps backing off, and
answers on its control socket all the same.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

from tina.daemon import control, credentials
from tina.daemon.service.systemd import UNIT

VENV_BIN = Path(sys.executable).parent
FAKE_SYSTEMCTL = Path(__file__).parents[1] / "daemon" / "fake_systemctl.py"


@attrs.frozen
class Done:
    code: int
    out: str
    err: str


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


class Machine:
    """An isolated HOME, config and state directory for one daemon."""

    def __init__(self, root: Path, state: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir(exist_ok=True)  # the package conftest may have made it
        self.state = state  # short: AF_UNIX paths are limited to about 100 bytes
        self.socket = state / "daemon.sock"
        self.credential = root / "credential.json"
        url = f"http://127.0.0.1:{_closed_port()}"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "TINA_CONFIG": str(root / "config.toml"),  # absent: environment only
            "TINA_STATE_DIR": str(state),
            "TINA_CLAUDE_DIR": str(self.home / ".claude"),
            "TINA_CREDENTIAL_FILE": str(self.credential),
            "TINA_CONVEX_URL": url,
            "TINA_TMUX_SOCKET": str(state / "tmux.sock"),
        }
        credentials.save(
            self.credential,
            credentials.Credential(convex_url=url, node_id="n1", node_name="lap", token="t" * 32),
        )

    def tina_session(self, *args: str, timeout: float = 120) -> Done:
        proc = subprocess.run(
            [str(VENV_BIN / "tina-session"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Done(proc.returncode, proc.stdout, proc.stderr)

    def answering_pid(self) -> int | None:
        try:
            return control.daemon_pid(self.socket, timeout=2)
        except control.ControlError:
            return None

    def kill_leftover(self) -> None:
        pid = self.answering_pid()
        if pid:
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    with tempfile.TemporaryDirectory(prefix="tina-d-") as state:
        m = Machine(tmp_path, Path(state) / "state")
        try:
            yield m
        finally:
            m.kill_leftover()


def eventually(check: Callable[[], object], timeout: float = 30.0) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {timeout} s"
        time.sleep(0.05)


def _pid_of(line: str, prefix: str) -> int:
    assert line.startswith(prefix + " (pid ") and line.endswith(")\n"), line
    return int(line[len(prefix) + 6 : -2])


def test_start_status_stop(machine: Machine) -> None:
    done = machine.tina_session("daemon", "start")
    assert done.code == 0 and done.err == "", done
    pid = _pid_of(done.out, "Daemon started")
    assert machine.answering_pid() == pid
    assert os.getsid(pid) == pid  # detached: its own session, out of reach of our terminal
    assert (machine.state / "daemon.log").exists()

    status = machine.tina_session("daemon", "status")
    assert (status.code, status.out, status.err) == (0, f"Daemon is running (pid {pid})\n", "")

    again = machine.tina_session("daemon", "start")
    assert (again.code, again.out, again.err) == (
        1,
        "",
        f"Error: Daemon already running (pid {pid})\n",
    )

    stopped = machine.tina_session("daemon", "stop")
    assert (stopped.code, stopped.out, stopped.err) == (0, "Daemon stopped\n", "")
    assert machine.answering_pid() is None
    assert not machine.socket.exists()  # it shut down in order and removed its socket
    log = [json.loads(line) for line in (machine.state / "daemon.log").read_text().splitlines()]
    assert log[-1]["event"] == "daemon.stopped"

    after = machine.tina_session("daemon", "status")
    assert (after.code, after.out) == (1, "Daemon is not running\n")


def test_nothing_running_and_stale_state(machine: Machine) -> None:
    assert machine.tina_session("daemon", "status").out == "Daemon is not running\n"
    # A socket left by a daemon that was killed, and the original CLI's pid file naming a live
    # process (this one): neither is a running daemon.
    machine.state.mkdir(parents=True)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(machine.socket))
    stale.close()
    legacy = machine.home / ".local" / "share" / "tina" / "daemon.pid"
    legacy.parent.mkdir(parents=True)
    legacy.write_text(str(os.getpid()))

    status = machine.tina_session("daemon", "status")
    assert (status.code, status.out, status.err) == (1, "Daemon is not running\n", "")
    stop = machine.tina_session("daemon", "stop")
    assert (stop.code, stop.out, stop.err) == (1, "", "Error: Daemon is not running\n")

    started = machine.tina_session("daemon", "start")  # the stale socket is replaced
    assert started.code == 0, started
    assert machine.tina_session("daemon", "stop").code == 0


def test_start_reports_a_daemon_that_exits_at_once(machine: Machine) -> None:
    machine.credential.unlink()
    done = machine.tina_session("daemon", "start")
    assert done.code == 1 and done.out == ""
    assert done.err.startswith("Error: the daemon exited at once with status 2; its log: ")
    assert "no node credential" in done.err


def test_run_is_the_daemon_in_the_foreground(machine: Machine) -> None:
    proc = subprocess.Popen(
        [str(VENV_BIN / "tina-session"), "daemon", "run"],
        env=machine.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # exec: the daemon is this very process.
        eventually(lambda: machine.answering_pid() == proc.pid or proc.poll() is not None)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        second = machine.tina_session("daemon", "run")
        assert (second.code, second.err) == (1, f"Error: Daemon already running (pid {proc.pid})\n")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stderr:
            proc.stderr.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the systemd user unit")
def test_an_installed_service_is_asked_and_stopped_through_its_manager(
    machine: Machine, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    systemctl = bin_dir / "systemctl"
    systemctl.write_text(
        f"#!{sys.executable}\nimport runpy\n"
        f"runpy.run_path({str(FAKE_SYSTEMCTL)!r}, run_name='__main__')\n"
    )
    systemctl.chmod(0o755)
    unit = machine.home / ".config" / "systemd" / "user" / UNIT
    unit.parent.mkdir(parents=True)
    unit.write_text("[Service]\nExecStart=/bin/true\n")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that no longer runs: the service's daemon is "stopped" at once
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "state.json").write_text(
        json.dumps(
            {
                "loaded": {UNIT: unit.read_text()},
                "active": {UNIT: {"content": unit.read_text(), "pid": gone.pid}},
                "next_pid": 4000,
                "restarts": {},
            }
        )
    )
    machine.env.update(PATH=f"{bin_dir}:{machine.env['PATH']}", FAKE_SYSTEMCTL_DIR=str(fake))

    status = machine.tina_session("daemon", "status")
    assert (status.code, status.out) == (0, f"Daemon is running (pid {gone.pid})\n")
    stop = machine.tina_session("daemon", "stop")
    assert (stop.code, stop.out, stop.err) == (0, "Daemon stopped\n", "")
    calls = [json.loads(line) for line in (fake / "calls.jsonl").read_text().splitlines()]
    assert ["--user", "stop", UNIT] in calls
    assert machine.tina_session("daemon", "status").code == 1


@pytest.mark.parametrize("name", ["start", "stop", "status", "run"])
def test_help_has_an_example(machine: Machine, name: str) -> None:
    done = machine.tina_session("daemon", name, "--help")
    assert done.code == 0 and f"examples:\n  tina-session daemon {name}" in done.out
