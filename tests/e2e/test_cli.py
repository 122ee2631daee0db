"""The daemon's command line as a person meets it: the live debug tree in a real terminal
(tmux), `status`, `doctor`, and a SIGHUP config reload."""

from __future__ import annotations

import json
import re
import shlex
import signal

import pytest

from tests.dashboard_api import eventually
from tina.dev.backend import BackendProcess
from tina.dev.sim.sandbox import BIN, Laptop

pytestmark = pytest.mark.timeout(120)


def test_debug_shows_the_live_actor_tree_in_a_terminal(
    backend: BackendProcess, laptop: Laptop
) -> None:
    laptop.enroll()
    laptop.init_orchestration("terminal", phases=1)
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in laptop.env().items())
    laptop.tmux(
        "new-session",
        "-d",
        "-s",
        "debug",
        "-x",
        "160",
        "-y",
        "60",
        f"env {env} {BIN / 'tina'} daemon debug",
    )
    screen = eventually(
        lambda: (
            (s := laptop.capture("debug"))
            and "connection=connected" in s
            and "wt:terminal" in s
            and s
        ),
        timeout=30,
    )
    for expected in (
        "tina daemon",
        "convex  running",
        "syncer  running",
        "claude  running",
        "recent log lines",
        "node.registered",
    ):
        assert expected in screen, screen
    laptop.tmux("send-keys", "-t", "debug", "C-c")
    eventually(
        lambda: laptop.status() is None, timeout=20
    )  # the control socket is gone: it stopped


def test_status_and_doctor(backend: BackendProcess, laptop: Laptop) -> None:
    laptop.start_daemon()
    out = laptop.run([str(BIN / "tina"), "daemon", "status"]).stdout
    for actor in (
        "convex",
        "watch",
        "syncer",
        "presence",
        "claude",
        "worktrees",
        "discovery",
        "dispatcher",
        "listener",
    ):
        assert f"{actor}  running" in out, out
    assert re.search(r"cpu\s+\d+\.\d s", out), out  # the daemon's CPU time so far
    shown = json.loads(laptop.run([str(BIN / "tina"), "daemon", "status", "--json"]).stdout)
    used = shown["process"]
    assert used["cpu_user_s"] + used["cpu_system_s"] > 0 and used["peak_rss_mb"] > 10, used
    # Started by hand, not as a service: both say so, and it is no failure.
    assert "service: systemd user unit tina-daemon.service not installed" in out, out
    doctor = laptop.run([str(BIN / "tina"), "daemon", "doctor"], check=False)
    assert doctor.returncode == 0, doctor.stdout
    assert "ok   connectivity and credential:" in doctor.stdout
    assert "ok   service: systemd user unit tina-daemon.service not installed" in doctor.stdout
    # Claude Code hooks are optional: not installed is a note with the fix, not a failure.
    assert "note Claude Code hooks:" in doctor.stdout, doctor.stdout
    assert "tina hooks install" in doctor.stdout
    assert "FAIL" not in doctor.stdout
    laptop.stop_daemon()
    stopped = laptop.run([str(BIN / "tina"), "daemon", "status"], check=False)
    assert stopped.returncode == 1
    assert "no daemon is running" in stopped.stderr


def test_sighup_reloads_the_config_and_keeps_running_on_a_bad_one(
    backend: BackendProcess, laptop: Laptop
) -> None:
    config = laptop.root / "config.toml"
    config.write_text("debounce_ms = 30\n")
    proc = laptop.start_daemon()
    first = laptop.wait_daemon_ready()["info"]["instance"]

    def count(event: str) -> int:
        return sum(1 for e in laptop.log_events() if e.get("event") == event)

    config.write_text("debounce_ms = 40\n")
    proc.send_signal(signal.SIGHUP)
    eventually(lambda: count("config.reloaded") == 1)

    def restarted() -> bool:
        status = laptop.wait_daemon_ready()  # the stopping daemon answers too, until it is gone
        return bool(status["info"]["instance"] != first)

    eventually(restarted)
    # A second hangup while the first one's restart is stopping the daemon: not the default
    # action (which ends the process), a reload like the first.
    proc.send_signal(signal.SIGHUP)
    eventually(lambda: count("config.reloaded") == 2, interval=0.002)  # the restart has begun
    proc.send_signal(signal.SIGHUP)
    eventually(lambda: count("config.reloaded") == 3, timeout=20)
    assert proc.poll() is None, laptop.log_tail()
    laptop.wait_daemon_ready()
    config.write_text("debounce_ms = 'fast'\n")
    proc.send_signal(signal.SIGHUP)
    eventually(lambda: count("config.reload_failed") == 1)
    laptop.wait_daemon_ready()
    assert laptop.stop_daemon() == 0  # it was still running, and stopped cleanly
