from __future__ import annotations

import plistlib
from pathlib import Path

import pytest

from tests.offline_daemon import offline_daemon, shutdown_budget
from tina.daemon import service
from tina.daemon.service import launchd
from tina.daemon.service.launchd import LaunchdAgent


def test_rendered_plist_is_valid_and_complete(tmp_path: Path) -> None:
    data = launchd.render("/opt/tina venv/bin/tina", tmp_path, tmp_path / "Logs", "/a&b:/usr/bin")
    plist = plistlib.loads(data)
    assert plist["Label"] == "dev.tina.daemon"
    assert plist["ProgramArguments"] == ["/opt/tina venv/bin/tina", "daemon", "run"]
    assert plist["KeepAlive"] is True
    assert plist["RunAtLoad"] is True
    assert plist["EnvironmentVariables"] == {"PATH": "/a&b:/usr/bin", "HOME": str(tmp_path)}
    assert plist["StandardErrorPath"] == str(tmp_path / "Logs" / "daemon.log")


def test_exit_timeout_covers_the_daemons_ordered_shutdown(tmp_path: Path) -> None:
    budget = shutdown_budget(offline_daemon(tmp_path))
    plist = plistlib.loads(launchd.render("/t", tmp_path, tmp_path, "/b"))
    assert plist["ExitTimeOut"] >= budget + 10


def test_install_on_linux_prints_what_it_would_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(launchd.sys, "platform", "linux")
    agent = LaunchdAgent()
    outcome = agent.install()
    assert outcome.code == 0
    assert outcome.lines[0].startswith("not macOS")
    assert any("launchctl bootstrap gui/" in line for line in outcome.lines)
    assert not agent.path.exists()
    outcome = agent.uninstall(dry_run=True)
    assert outcome.code == 0
    assert outcome.lines[0].startswith("dry run")


PRINTED = """gui/501/dev.tina.daemon = {
\tactive count = 1
\tpath = /Users/a/Library/LaunchAgents/dev.tina.daemon.plist
\tstate = running

\tprogram = /Users/a/tina/.venv/bin/tina
\tendpoints = {
\t\tstate = active
\t}
\tpid = 8123
\truns = 3
\tlast exit code = 1
}
"""


def test_the_state_comes_from_launchctl_print() -> None:
    state = launchd.parse_print(PRINTED)
    assert state.active is True
    assert state.summary == "running, pid 8123, 3 runs, last exit code 1"
    stopped = launchd.parse_print("gui/501/dev.tina.daemon = {\n\tstate = not running\n}\n")
    assert stopped.active is False and stopped.summary == "not running"


def test_doctor_compares_the_plist_with_what_install_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(launchd.sys, "platform", "linux")  # no launchctl: state unknown
    agent = LaunchdAgent(tina="/new venv/bin/tina")
    agent.path.parent.mkdir(parents=True)
    agent.path.write_bytes(LaunchdAgent(tina="/old venv/bin/tina").render())
    stale = [c for c in service.checks(agent) if not c.ok]
    assert any("/old venv/bin/tina" in c.what and "/new venv/bin/tina" in c.what for c in stale)
