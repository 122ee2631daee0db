from __future__ import annotations

import plistlib
from pathlib import Path

import pytest

from tina import launchd


def test_rendered_plist_is_valid_and_complete(tmp_path: Path) -> None:
    data = launchd.render("/opt/tina venv/bin/tina", tmp_path, tmp_path / "Logs", "/a&b:/usr/bin")
    plist = plistlib.loads(data)
    assert plist["Label"] == "dev.tina.daemon"
    assert plist["ProgramArguments"] == ["/opt/tina venv/bin/tina", "daemon", "run"]
    assert plist["KeepAlive"] is True
    assert plist["RunAtLoad"] is True
    assert plist["EnvironmentVariables"] == {"PATH": "/a&b:/usr/bin", "HOME": str(tmp_path)}
    assert plist["StandardErrorPath"] == str(tmp_path / "Logs" / "daemon.log")
    assert plist["ExitTimeOut"] > 20


def test_install_on_linux_prints_what_it_would_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(launchd.sys, "platform", "linux")
    code, lines = launchd.install()
    assert code == 0
    assert lines[0].startswith("not macOS")
    assert any("launchctl bootstrap gui/" in line for line in lines)
    assert not launchd.plist_path().exists()
    code, lines = launchd.uninstall(dry_run=True)
    assert code == 0
    assert lines[0].startswith("dry run")
