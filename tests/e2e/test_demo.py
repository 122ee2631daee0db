"""`make demo` as a person meets it: `tina demo` comes up (backend, dashboard, a simulated laptop
with its daemon) and `kill` (SIGTERM) stops everything it started, as Ctrl-C does."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tina.sim.sandbox import BIN

pytestmark = pytest.mark.timeout(240)


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


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_demo_comes_up_and_a_signal_stops_everything(tmp_path: Path, sig: int) -> None:
    demo = subprocess.Popen(
        [
            str(BIN / "tina"),
            "demo",
            "--no-live",
            "--dir",
            str(tmp_path / "demo"),
            "--laptops",
            "1",
            "--orchestrations",
            "1",
            "--speed",
            "5",
            "--backend-port",
            "0",
            "--web-port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a failed test can stop the demo and everything it started
    )
    assert demo.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 180  # may build the dashboard first
        while not any("Ctrl-C stops everything" in line for line in lines):
            assert time.monotonic() < deadline, "".join(lines)
            line = demo.stdout.readline()
            assert line, "the demo ended early:\n" + "".join(lines)
            lines.append(line)
        banner = "".join(lines)
        dashboard = re.search(r"dashboard\s+(http://\S+)", banner)
        convex = re.search(r"Convex \(local\)\s+(http://\S+)", banner)
        tmux = re.search(r"tmux -S (\S+) attach", banner)
        assert dashboard and convex and tmux, banner
        assert _answers(dashboard.group(1)), banner
        assert _listening(convex.group(1)), banner
        tmux_socket = tmux.group(1)
        # The simulated agents start in the laptop's tmux server once the simulation gets there.
        deadline = time.monotonic() + 120
        while subprocess.run(["tmux", "-S", tmux_socket, "ls"], capture_output=True).returncode:
            assert time.monotonic() < deadline, "no agent ever started in tmux"
            time.sleep(0.5)

        demo.send_signal(sig)
        rest, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGTERM)
            try:
                demo.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()
        demo.stdout.close()
        with contextlib.suppress(ProcessLookupError):  # whatever a broken demo left behind
            os.killpg(demo.pid, signal.SIGKILL)
    assert demo.returncode == 0, banner + rest
    assert "stopped." in rest and "Traceback" not in rest, rest
    assert not _answers(dashboard.group(1))
    assert not _listening(convex.group(1))
    assert subprocess.run(["tmux", "-S", tmux_socket, "ls"], capture_output=True).returncode != 0
