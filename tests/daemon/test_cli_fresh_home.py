"""`tina daemon status` and `doctor` on a laptop where nothing has run yet: they say what to do,
and folders Claude Code or tina-session make on first use are notes, not failures."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from tina import cli


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    """`doctor` configures logging for the process (errors only): the tests after these must
    find structlog's defaults again, as tests/daemon/test_log.py leaves them."""
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = []


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TINA_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("TINA_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TINA_CLAUDE_DIR", str(tmp_path / "home" / ".claude"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    (tmp_path / "home").mkdir()
    return tmp_path


def test_status_without_a_daemon_says_how_to_start_one(
    fresh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["daemon", "status"]) == 1
    err = capsys.readouterr().err
    assert "no daemon is running" in err
    assert "`tina daemon run`" in err and "`tina daemon install`" in err


def test_doctor_on_a_fresh_home_notes_the_folders_made_on_first_use(
    fresh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.main(["daemon", "doctor"])
    out = capsys.readouterr().out
    claude = fresh / "home" / ".claude"
    for label, path in (
        ("claude dir", claude),
        ("teams", claude / "teams"),
        ("tasks", claude / "tasks"),
        ("tina sessions", claude / "tina-sessions"),
    ):
        assert f"note {label}: {path} does not exist yet" in out, out
        assert f"FAIL {label}:" not in out
    assert "creates it on first use" in out
    # A folder that exists is an ok line.
    (claude / "teams").mkdir(parents=True)
    cli.main(["daemon", "doctor"])
    assert f"ok   teams: {claude / 'teams'}" in capsys.readouterr().out


def test_debug_draws_the_live_tree_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Piped or redirected, `tina daemon debug` prints plain log lines (the live tree printed
    nothing after its banner there)."""
    from tina.daemon import cli as daemon_cli

    runs: list[bool] = []

    def fake_run(args: object, *, mode: str, live: bool) -> int:
        runs.append(live)
        return 0

    monkeypatch.setattr(daemon_cli, "_run", fake_run)
    for tty, argv in ((False, []), (True, []), (True, ["--plain"])):
        monkeypatch.setattr(sys.stderr, "isatty", lambda tty=tty: tty)
        assert cli.main(["daemon", "debug", *argv]) == 0
    assert runs == [False, True, False]


def test_doctor_notes_a_claude_config_dir_of_this_shell_the_daemon_is_not_told_of(
    fresh: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    work = fresh / "home" / ".claude-work"
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(work))
    cli.main(["daemon", "doctor"])
    out = capsys.readouterr().out
    assert f"note this shell's CLAUDE_CONFIG_DIR is {work}" in out, out
    assert f'set claude_config_dir = "{work}" in {fresh / "absent.toml"}' in out
    monkeypatch.setenv("TINA_CLAUDE_CONFIG_DIR", str(work))  # told: nothing to say
    cli.main(["daemon", "doctor"])
    assert "CLAUDE_CONFIG_DIR is" not in capsys.readouterr().out
