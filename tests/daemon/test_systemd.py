"""`tina daemon install|uninstall|status|doctor` on Linux: the systemd user unit.

The unit's text is checked line by line and by `systemd-analyze verify` where it exists. A real
`systemctl --user` cannot run here (no user manager), so install and the rest are driven against
a stand-in (`fake_systemctl.py`) first on PATH that keeps the real contract.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.offline_daemon import offline_daemon, shutdown_budget
from tina import cli
from tina.daemon import service
from tina.daemon.service import systemd
from tina.daemon.service.systemd import UNIT, SystemdUserService

FAKE = Path(__file__).with_name("fake_systemctl.py")


def _lines(data: bytes) -> list[str]:
    return [line for line in data.decode().splitlines() if line and not line.startswith("#")]


def test_the_unit_runs_tina_with_a_path_restarts_on_failure_and_logs_to_the_journal() -> None:
    lines = _lines(systemd.render("/opt/tina venv/bin/tina", "/opt/tina venv/bin:/usr/bin"))
    for expected in (
        "[Service]",
        "Type=exec",
        'ExecStart="/opt/tina venv/bin/tina" daemon run',
        'Environment="PATH=/opt/tina venv/bin:/usr/bin"',
        "Restart=on-failure",
        "RestartSec=10",
        "TimeoutStopSec=60",
        "StandardError=journal",
        "NoNewPrivileges=yes",
        "PrivateTmp=no",
        "WantedBy=default.target",
    ):
        assert expected in lines, expected
    assert not [line for line in lines if "@" in line]


def test_percent_quotes_and_backslashes_are_escaped_for_systemd() -> None:
    lines = _lines(systemd.render("/opt/100%/bin/tina", '/a"b:/c\\d:/e%f'))
    assert 'ExecStart="/opt/100%%/bin/tina" daemon run' in lines
    assert 'Environment="PATH=/a\\"b:/c\\\\d:/e%%f"' in lines


@pytest.mark.parametrize(
    "tina",
    [
        "bin/tina",
        "/opt/it's/tina",
        '/opt/"x"/tina',
        "/opt/a\\b/tina",
        "/opt/a\nb/tina",
        "/opt//tina",
    ],
)
def test_a_path_systemd_cannot_run_is_refused(tina: str) -> None:
    with pytest.raises(service.ServiceError, match="tina"):
        systemd.render(tina, "/usr/bin")


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is missing (scripts/ensure-system-deps.sh installs it)",
)
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    # A real executable at an awkward path: verify fails unless ExecStart names exactly it.
    tina = tmp_path / "venv 100%q $HOME" / "bin" / "tina"
    tina.parent.mkdir(parents=True)
    tina.write_text("#!/bin/sh\n")
    tina.chmod(0o755)
    unit = tmp_path / "units" / UNIT
    unit.parent.mkdir()
    unit.write_bytes(systemd.render(str(tina), f"{tina.parent}:/usr/bin:/bin"))
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    done = subprocess.run(
        ["systemd-analyze", "verify", "--user", str(unit)],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr


def test_the_stop_timeout_covers_the_daemons_ordered_shutdown(tmp_path: Path) -> None:
    budget = shutdown_budget(offline_daemon(tmp_path))
    (timeout,) = re.findall(r"^TimeoutStopSec=(\d+)$", systemd.render("/t", "/b").decode(), re.M)
    assert int(timeout) >= budget + 10


# --- install, uninstall, status, doctor against a stand-in systemctl ----------------------------


class Fake:
    def __init__(self, root: Path) -> None:
        self.root = root

    def calls(self) -> list[list[str]]:
        path = self.root / "calls.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        return [json.loads(line) for line in lines]

    def state(self) -> dict[str, object]:
        data: dict[str, object] = json.loads((self.root / "state.json").read_text())
        return data

    def active(self) -> dict[str, dict[str, object]]:
        active = self.state()["active"]
        assert isinstance(active, dict)
        return active

    def run(self, *args: str) -> None:
        subprocess.run(["systemctl", "--user", *args], check=True, capture_output=True)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home dir"  # a space: every path goes to systemctl as one argument
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return home


@pytest.fixture
def fake(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Fake:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    systemctl = bin_dir / "systemctl"
    systemctl.write_text(
        f"#!{sys.executable}\nimport runpy\nrunpy.run_path({str(FAKE)!r}, run_name='__main__')\n"
    )
    systemctl.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SYSTEMCTL_DIR", str(tmp_path / "fake"))
    monkeypatch.delenv("FAKE_SYSTEMCTL_NO_BUS", raising=False)
    return Fake(tmp_path / "fake")


def _tina(tmp_path: Path, name: str) -> str:
    tina = tmp_path / name / "bin" / "tina"
    tina.parent.mkdir(parents=True)
    tina.write_text("#!/bin/sh\n")
    tina.chmod(0o755)
    return str(tina)


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if not p.is_dir()]


def test_install_starts_the_unit_and_uninstall_leaves_nothing_behind(
    fake: Fake, home: Path
) -> None:
    svc = SystemdUserService()
    old_umask = os.umask(0o077)
    try:
        installed = svc.install()
    finally:
        os.umask(old_umask)
    assert installed.code == 0, installed.lines
    unit = home / ".config" / "systemd" / "user" / UNIT
    assert svc.path == unit
    assert unit.read_bytes() == svc.render()
    assert stat.S_IMODE(unit.stat().st_mode) == 0o644
    assert f'ExecStart="{Path(sys.executable).parent / "tina"}" daemon run' in _lines(
        unit.read_bytes()
    )
    assert fake.calls() == [
        ["--user", "show", "--property=Version"],
        ["--user", "daemon-reload"],
        ["--user", "enable", UNIT],
        ["--user", "restart", UNIT],
    ]
    assert fake.active()[UNIT]["content"] == unit.read_text()
    state = svc.state()
    assert state.active is True
    assert "active (running)" in state.summary and "enabled" in state.summary
    assert all(c.ok for c in service.checks(svc)), service.checks(svc)

    removed = svc.uninstall()
    assert removed.code == 0, removed.lines
    assert _files(home) == []
    assert fake.active() == {}
    assert fake.calls()[-3:] == [
        ["--user", "stop", UNIT],
        ["--user", "disable", UNIT],
        ["--user", "daemon-reload"],
    ]
    assert svc.state().active is False


def test_install_again_replaces_the_unit_and_restarts_the_daemon(
    fake: Fake, home: Path, tmp_path: Path
) -> None:
    first = SystemdUserService(tina=_tina(tmp_path, "old venv"))
    assert first.install().code == 0
    pid = fake.active()[UNIT]["pid"]
    second = SystemdUserService(tina=_tina(tmp_path, "new venv"))
    assert second.install().code == 0
    assert second.path.read_bytes() == second.render()
    running = fake.active()[UNIT]
    assert running["pid"] != pid
    assert running["content"] == second.path.read_text()  # reloaded, then restarted
    assert [p.name for p in _files(home)] == [UNIT, UNIT]  # the unit and its enable symlink


def test_xdg_config_home_is_where_the_unit_goes(
    fake: Fake, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "my config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    svc = SystemdUserService()
    assert svc.install().code == 0
    assert (config / "systemd" / "user" / UNIT).exists()
    assert svc.uninstall().code == 0
    assert _files(config) == [] and _files(home) == []


def test_doctor_finds_a_unit_left_stale_by_a_moved_venv(fake: Fake, tmp_path: Path) -> None:
    old = _tina(tmp_path, "old venv")
    assert SystemdUserService(tina=old).install().code == 0
    new = _tina(tmp_path, "new venv")
    checks = service.checks(SystemdUserService(tina=new))
    stale = [c for c in checks if not c.ok]
    assert len(stale) == 1, checks
    assert old in stale[0].what and new in stale[0].what and "ExecStart" in stale[0].what
    assert "tina daemon install" in stale[0].fix


def test_doctor_and_status_report_a_stopped_service(fake: Fake) -> None:
    svc = SystemdUserService()
    assert svc.install().code == 0
    fake.run("stop", UNIT)
    assert svc.state().active is False
    assert "inactive (dead)" in svc.state().summary
    failed = [c for c in service.checks(svc) if not c.ok]
    assert len(failed) == 1 and "inactive (dead)" in failed[0].what, failed
    assert f"systemctl --user start {UNIT}" in failed[0].fix


def test_not_installed_is_no_failure_and_uninstall_has_nothing_to_do(fake: Fake) -> None:
    svc = SystemdUserService()
    (check,) = service.checks(svc)
    assert check.ok and "not installed" in check.what
    assert "not installed" in svc.state().summary
    outcome = svc.uninstall()
    assert outcome.code == 0 and "not installed" in outcome.lines[0]
    assert fake.calls() == []


def test_without_a_user_manager_install_says_what_to_do_and_writes_nothing(
    fake: Fake, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SYSTEMCTL_NO_BUS", "1")
    outcome = SystemdUserService().install()
    assert outcome.code == 1
    text = "\n".join(outcome.lines)
    assert "Failed to connect to bus" in text and "loginctl enable-linger" in text, text
    assert _files(home) == []


def test_uninstall_without_a_user_manager_keeps_the_unit_and_says_so(
    fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = SystemdUserService()
    assert svc.install().code == 0
    monkeypatch.setenv("FAKE_SYSTEMCTL_NO_BUS", "1")
    outcome = svc.uninstall()
    assert outcome.code == 1 and "loginctl enable-linger" in "\n".join(outcome.lines)
    assert svc.path.exists()
    (broken,) = [c for c in service.checks(svc) if not c.ok]
    assert "Failed to connect to bus" in broken.what


def test_without_systemctl_install_says_so(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    outcome = SystemdUserService(tina=_tina(tmp_path, "venv")).install()
    assert outcome.code == 1 and "systemctl" in outcome.lines[0], outcome.lines
    assert _files(home) == []


def test_dry_run_prints_the_steps_and_the_unit_and_does_nothing(fake: Fake, home: Path) -> None:
    svc = SystemdUserService()
    outcome = svc.install(dry_run=True)
    assert outcome.code == 0
    text = "\n".join(outcome.lines)
    assert f"systemctl --user enable {UNIT}" in text and svc.render().decode() in text
    assert fake.calls() == [] and _files(home) == []


def test_the_cli_installs_shows_and_uninstalls_the_service(
    fake: Fake,
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("TINA_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TINA_CONFIG", str(tmp_path / "absent.toml"))
    assert cli.main(["daemon", "install"]) == 0
    assert f"installed {home / '.config' / 'systemd' / 'user' / UNIT}" in capsys.readouterr().out
    assert cli.main(["daemon", "status"]) == 1  # no daemon answers on the control socket here
    out = capsys.readouterr()
    assert re.search(rf"service: systemd user unit {UNIT}: active \(running\), pid \d+", out.out)
    assert "no daemon is running" in out.err
    cli.main(["daemon", "doctor"])
    assert re.search(r"ok +service: .*/user/tina-daemon.service matches", capsys.readouterr().out)
    assert cli.main(["daemon", "uninstall"]) == 0
    assert _files(home) == []
