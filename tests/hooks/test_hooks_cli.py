"""`tina hooks install | uninstall | status` on real files (`tina.hooks.cli`), through argparse as
`tina` wires it; the daemon's status reply is faked."""

from __future__ import annotations

import argparse
import json
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tina.daemon import control
from tina.hooks import settings as hs
from tina.hooks.cli import add_hooks, doctor_check

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "settings"
COMMAND = "'/opt/tina venv/bin/tina' hook"

Run = Callable[..., tuple[int, str, str]]


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="tina")
    add_hooks(top.add_subparsers(dest="command", required=True))
    return top


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HOME (no CLAUDE_CONFIG_DIR, no tina config) and no daemon."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("TINA_CONFIG", str(home / "absent.toml"))

    def no_daemon(path: Path, timeout: float = 3.0) -> dict[str, Any]:
        raise control.ControlError(f"no daemon is running (no control socket at {path})")

    monkeypatch.setattr(control, "request_status", no_daemon)
    return home


@pytest.fixture
def run(home: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        args = parser().parse_args(["hooks", *argv])
        code = args.handler(args)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def copy_fixture(name: str, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FIXTURES / name, dest)
    return dest


def backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}{hs.BACKUP_INFIX}*"))


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def test_install_then_uninstall_on_a_users_settings(run: Run, tmp_path: Path) -> None:
    path = copy_fixture("user-with-hooks.json", tmp_path / "s" / "settings.json")
    path.chmod(0o640)
    original = path.read_bytes()

    code, out, err = run("install", "--settings", str(path), "--command", COMMAND)
    assert (code, err) == (0, "")
    assert f"--- {path} (before)" in out
    assert f'+            "command": {json.dumps(COMMAND)},' in out
    assert "installed tina's hooks for 15 events" in out
    [backup] = backups(path)
    assert str(backup) in out
    assert backup.read_bytes() == original
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    installed = json.loads(path.read_text())
    assert installed == hs.install(json.loads(original), COMMAND)
    assert list(installed) == list(json.loads(original))  # key order kept

    code, out, _ = run("install", "--settings", str(path), "--command", COMMAND)
    assert code == 0
    assert "already installed" in out
    assert "---" not in out
    assert backups(path) == [backup]  # no second backup
    assert json.loads(path.read_text()) == installed

    code, out, _ = run("uninstall", "--settings", str(path))
    assert code == 0
    assert "removed tina's hooks" in out
    assert len(backups(path)) == 2
    restored = json.loads(path.read_text())
    assert json.dumps(restored) == json.dumps(json.loads(original))  # values and key order

    code, out, _ = run("uninstall", "--settings", str(path))
    assert code == 0
    assert "nothing to remove" in out
    assert len(backups(path)) == 2


@pytest.mark.parametrize(
    "name",
    [
        "user-with-hooks.json",
        "other-tools.json",
        "disable-all-hooks.json",
        "empty.json",
        "empty-object.json",
        "four-space-indent.json",
        "stale-tina.json",
    ],
)
def test_uninstall_gives_back_each_fixture(run: Run, tmp_path: Path, name: str) -> None:
    path = copy_fixture(name, tmp_path / "settings.json")
    text = path.read_text()
    original = json.loads(text) if text.strip() else {}
    assert run("install", "--settings", str(path), "--command", COMMAND)[0] == 0
    assert hs.status(json.loads(path.read_text())).complete
    assert run("uninstall", "--settings", str(path))[0] == 0
    expected = hs.uninstall(original)  # stale-tina: the older install goes too
    assert json.dumps(json.loads(path.read_text())) == json.dumps(expected)


def test_the_original_indentation_is_kept(run: Run, tmp_path: Path) -> None:
    path = copy_fixture("four-space-indent.json", tmp_path / "settings.json")
    run("install", "--settings", str(path), "--command", COMMAND)
    assert '\n    "hooks": {\n        "SessionStart": [' in path.read_text()


@pytest.mark.parametrize("name", ["array.json", "hooks-list.json", "hooks-event-object.json"])
@pytest.mark.parametrize("action", ["install", "uninstall"])
def test_a_refused_file_is_named_and_nothing_is_written(
    run: Run, tmp_path: Path, name: str, action: str
) -> None:
    path = copy_fixture(name, tmp_path / "settings.json")
    before = snapshot(tmp_path)
    code, out, err = run(action, "--settings", str(path), "--command", COMMAND)
    assert code == 1
    assert out == ""
    assert err.startswith(f"tina hooks: {path}: ")
    assert "expected" in err
    assert "nothing was changed" in err
    assert snapshot(tmp_path) == before


def test_dry_run_prints_the_diff_and_writes_nothing(run: Run, tmp_path: Path) -> None:
    path = copy_fixture("user-with-hooks.json", tmp_path / "settings.json")
    before = snapshot(tmp_path)
    code, out, _ = run("install", "--settings", str(path), "--command", COMMAND, "--dry-run")
    assert code == 0
    assert "dry run, nothing written" in out
    assert '+    "TeammateIdle": [' in out
    assert snapshot(tmp_path) == before
    run("install", "--settings", str(path), "--command", COMMAND)
    before = snapshot(tmp_path)
    code, out, _ = run("uninstall", "--settings", str(path), "--dry-run")
    assert code == 0
    assert '-    "TeammateIdle": [' in out
    assert snapshot(tmp_path) == before


def test_a_new_user_settings_file_is_private_and_has_no_backup(run: Run, home: Path) -> None:
    code, out, _ = run("install", "--command", COMMAND)
    assert code == 0
    path = home / ".claude" / "settings.json"
    assert "--- /dev/null" in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert backups(path) == []
    assert hs.status(json.loads(path.read_text())).complete
    # uninstall leaves an empty object, not a deleted file
    assert run("uninstall")[0] == 0
    assert json.loads(path.read_text()) == {}


def test_claude_config_dir_moves_the_user_settings(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude-config"))
    assert run("install", "--command", COMMAND)[0] == 0
    assert hs.status(
        json.loads((tmp_path / "claude-config" / "settings.json").read_text())
    ).complete


def test_project_settings(run: Run, tmp_path: Path, home: Path) -> None:
    project = tmp_path / "repo"
    project.mkdir()
    code, _, _ = run("install", "--project", str(project), "--command", COMMAND)
    assert code == 0
    assert hs.status(json.loads((project / ".claude" / "settings.json").read_text())).complete
    assert not (home / ".claude").exists()
    code, _, err = run("install", "--project", str(tmp_path / "missing"), "--command", COMMAND)
    assert code == 1
    assert "not a directory" in err


def test_the_permission_timeout_is_configurable_and_updated_in_place(
    run: Run, tmp_path: Path
) -> None:
    path = tmp_path / "settings.json"
    run("install", "--settings", str(path), "--command", COMMAND)
    run("install", "--settings", str(path), "--command", COMMAND, "--permission-timeout", "300")
    hooks = json.loads(path.read_text())["hooks"]
    assert hooks["PermissionRequest"] == [
        {"hooks": [{"type": "command", "command": COMMAND, "timeout": 300}]}
    ]
    assert hooks["Stop"][0]["hooks"][0]["timeout"] == 10
    with pytest.raises(SystemExit):
        parser().parse_args(["hooks", "install", "--permission-timeout", "0"])


def test_install_notes_that_disable_all_hooks_turns_them_off(run: Run, tmp_path: Path) -> None:
    path = copy_fixture("disable-all-hooks.json", tmp_path / "settings.json")
    code, out, _ = run("install", "--settings", str(path), "--command", COMMAND)
    assert code == 0
    assert "disableAllHooks is true" in out


def test_status_exit_codes_and_what_it_says(
    run: Run, tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = home / ".claude" / "settings.json"
    code, out, _ = run("status")
    assert code == 1
    assert f"{user}: no such file" in out
    assert "daemon: no daemon is running" in out
    assert "run `tina hooks install`" in out

    run("install", "--command", COMMAND)
    code, out, _ = run("status")
    assert code == 0
    assert f"{user}: installed for all 15 events" in out
    assert f"command: {COMMAND}" in out

    settings = json.loads(user.read_text())
    del settings["hooks"]["TaskCreated"]
    user.write_text(json.dumps(settings))
    code, out, _ = run("status")
    assert code == 1
    assert "installed for 14 of 15 events" in out
    assert "missing: TaskCreated" in out

    # the project's file supplies the missing event: Claude Code runs both files' hooks
    project = tmp_path / "repo"
    project.mkdir()
    run("install", "--project", str(project), "--command", COMMAND)
    code, out, _ = run("status", "--project", str(project))
    assert code == 0
    assert "together: all 15 events run tina's hook" in out

    settings["disableAllHooks"] = True
    settings["hooks"]["TaskCreated"] = [{"hooks": [{"type": "command", "command": COMMAND}]}]
    user.write_text(json.dumps(settings))
    code, out, _ = run("status")
    assert code == 1
    assert "disableAllHooks is true" in out

    code, out, _ = run("status", "--settings", str(FIXTURES / "hooks-list.json"))
    assert code == 1
    assert "cannot tell" in out
    assert '"hooks"' in out


def test_status_counts_an_explicit_command_as_tinas(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    run("install", "--settings", str(path), "--command", "my-fake-tina --hook")
    assert run("status", "--settings", str(path))[0] == 1
    assert run("status", "--settings", str(path), "--command", "my-fake-tina --hook")[0] == 0
    # and uninstall removes it only when told
    run("uninstall", "--settings", str(path))
    assert run("status", "--settings", str(path), "--command", "my-fake-tina --hook")[0] == 0
    run("uninstall", "--settings", str(path), "--command", "my-fake-tina --hook")
    assert json.loads(path.read_text()) == {}


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ({"tree": []}, "the daemon has received no hook events yet"),
        ({"hooks": {"events": 0, "last_at": None}}, "the daemon has received no hook events yet"),
        (
            {"hooks": {"events": 7, "last_at": 1_796_290_000_000}},
            "last hook event at 2026-12-03 09:26:40 UTC (7 since it started)",
        ),
    ],
)
def test_status_shows_when_the_daemon_last_heard_a_hook(
    run: Run, monkeypatch: pytest.MonkeyPatch, reply: dict[str, Any], expected: str
) -> None:
    asked: list[Path] = []

    def answer(path: Path, timeout: float = 3.0) -> dict[str, Any]:
        asked.append(path)
        return reply

    monkeypatch.setattr(control, "request_status", answer)
    _, out, _ = run("status")
    assert expected in out
    assert len(asked) == 1
    assert asked[0].name == "daemon.sock"


def test_doctor_check(run: Run, home: Path) -> None:
    ok, what, fix = doctor_check()
    assert not ok
    assert what.startswith("Claude Code hooks: not installed")
    assert fix == "run `tina hooks install`"
    run("install", "--command", COMMAND)
    assert doctor_check() == (
        True,
        f"Claude Code hooks: installed ({home / '.claude' / 'settings.json'})",
        "",
    )


def test_install_without_a_tina_executable_asks_for_command(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hs, "tina_executable", lambda: None)
    where = tmp_path / "s"
    code, _, err = run("install", "--settings", str(where / "settings.json"))
    assert code == 1
    assert "--command" in err
    assert not where.exists()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["hooks", "--help"], ["install", "uninstall", "status", "PermissionRequest"]),
        (
            ["hooks", "install", "--help"],
            [
                *("--project", "--settings", "--command", "--permission-timeout", "--dry-run"),
                *("CLAUDE_CONFIG_DIR", "backup", "get nothing new", "diff"),
            ],
        ),
        (["hooks", "uninstall", "--help"], ["--dry-run", "--command", "empty"]),
        (["hooks", "status", "--help"], ["Exit 0", "disableAllHooks", "--project"]),
    ],
)
def test_help_is_helpful(
    argv: list[str], words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parser().parse_args(argv)
    assert exit_.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for word in words:
        assert word in out, word
