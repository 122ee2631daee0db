"""The status-line script's rate limits: written beside the context metrics, never failing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tina.session.statusline import script_text
from tina.usage.quota import parse_rate_limits

RATE_LIMITS = {
    "five_hour": {"used_percentage": 23.5, "resets_at": 1738425600},
    "seven_day": {"used_percentage": 41.2, "resets_at": 1738857600},
}


def _run(tmp_path: Path, status: Any) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "statusline.sh"
    if not script.exists():
        script.write_text(script_text(sys.executable))
        script.chmod(0o755)
    where = tmp_path / "pane"
    where.mkdir(exist_ok=True)
    return subprocess.run(
        [str(script)], input=status if isinstance(status, str) else json.dumps(status),
        cwd=where, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def _limits(tmp_path: Path) -> Path:
    return tmp_path / "pane" / ".claude" / "tina" / "rate-limits.json"


@pytest.mark.timeout(60)
def test_rate_limits_are_written_as_given_with_the_time(tmp_path: Path) -> None:
    done = _run(tmp_path, {"context_window": {"used_percentage": 10}, "rate_limits": RATE_LIMITS})
    assert (done.returncode, done.stdout, done.stderr) == (0, "ctx:10%\n", "")
    written = json.loads(_limits(tmp_path).read_text())
    assert {k: written[k] for k in RATE_LIMITS} == RATE_LIMITS
    observed = parse_rate_limits(_limits(tmp_path).read_bytes(), now_ms=2_000_000_000_000)
    assert observed is not None
    assert observed.five_hour is not None and observed.seven_day is not None
    assert (observed.five_hour.used_pct, observed.five_hour.resets_at) == (23.5, 1738425600000)
    assert observed.seven_day.resets_at == 1738857600000
    assert not [p.name for p in _limits(tmp_path).parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.timeout(60)
def test_only_valid_windows_are_written_and_none_means_no_file(tmp_path: Path) -> None:
    done = _run(tmp_path, {"rate_limits": {"five_hour": {"used_percentage": "x"}}})
    assert (done.returncode, done.stdout) == (0, "ctx:0%\n")
    assert not _limits(tmp_path).exists()  # nothing valid: no file (and no rate limits: none)
    half = {"seven_day": RATE_LIMITS["seven_day"], "five_hour": {"used_percentage": 5}}
    assert _run(tmp_path, {"rate_limits": half}).returncode == 0
    written = json.loads(_limits(tmp_path).read_text())
    assert set(written) == {"seven_day", "timestamp"}


@pytest.mark.timeout(60)
def test_a_directory_that_cannot_be_made_still_prints_the_line(tmp_path: Path) -> None:
    claude = tmp_path / "pane" / ".claude"
    claude.mkdir(parents=True)
    (claude / "tina").write_text("a file where the directory should be")  # fails even as root
    done = _run(tmp_path, {"rate_limits": RATE_LIMITS, "context_window": {"used_percentage": 7}})
    assert (done.returncode, done.stdout, done.stderr) == (0, "ctx:7%\n", "")
    assert (claude / "tina").read_text() == "a file where the directory should be"


@pytest.mark.timeout(60)
def test_the_same_windows_again_leave_the_file_alone(tmp_path: Path) -> None:
    assert _run(tmp_path, {"rate_limits": RATE_LIMITS}).returncode == 0
    first = _limits(tmp_path).stat()
    assert _run(tmp_path, {"rate_limits": RATE_LIMITS}).returncode == 0
    again = _limits(tmp_path).stat()
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)  # not rewritten
    moved = {**RATE_LIMITS, "five_hour": {"used_percentage": 24.0, "resets_at": 1738425600}}
    assert _run(tmp_path, {"rate_limits": moved}).returncode == 0
    assert json.loads(_limits(tmp_path).read_text())["five_hour"]["used_percentage"] == 24.0


@pytest.mark.timeout(60)
def test_the_sessions_transcript_names_the_account_and_a_new_one_rewrites_the_file(
    tmp_path: Path,
) -> None:
    """The config dir of the session's transcript is the account (each keeps its own login):
    `CLAUDE_CONFIG_DIR=~/.claude-work claude` reports that account's windows, not the laptop's."""
    work = tmp_path / ".claude-work" / "projects" / "-repo" / "s1.jsonl"
    status = {"rate_limits": RATE_LIMITS, "transcript_path": str(work)}
    assert _run(tmp_path, status).returncode == 0
    assert json.loads(_limits(tmp_path).read_text())["transcript_path"] == str(work)
    observed = parse_rate_limits(
        _limits(tmp_path).read_bytes(), now_ms=2_000_000_000_000, home=tmp_path
    )
    assert observed is not None and observed.account == "~/.claude-work"
    # Another session (same windows, another account) is written; a path too long is left out.
    other = tmp_path / ".claude" / "projects" / "-repo" / "s2.jsonl"
    assert _run(tmp_path, {**status, "transcript_path": str(other)}).returncode == 0
    assert json.loads(_limits(tmp_path).read_text())["transcript_path"] == str(other)
    assert _run(tmp_path, {**status, "transcript_path": "/" + "x" * 4096}).returncode == 0
    assert "transcript_path" not in json.loads(_limits(tmp_path).read_text())
