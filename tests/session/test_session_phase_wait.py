"""`tina-session wait` and `status`: the lead's status.json, task progress, the last commit and
the phase's git range, with a real tmux server (private socket), real git and a temporary HOME."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tina.session.progress import truncate_bytes

from .conftest import git
from .phase_support import FEATURE, Env, env, needs_tmux, wait_for, worktree

__all__ = ["env", "worktree"]  # fixtures

pytestmark = needs_tmux
S1 = f"tina-{FEATURE}-phase-1"


def status_file(worktree: Path, phase: str = "1") -> Path:
    return worktree / ".claude" / "tina" / f"phase-{phase}" / "status.json"


def write_status(worktree: Path, doc: dict[str, Any], phase: str = "1") -> None:
    path = status_file(worktree, phase)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps(doc))
    temp.replace(path)


def write_task(home: Path, team_dir: str, task_id: str, **doc: Any) -> None:
    path = home / ".claude" / "tasks" / team_dir / f"{task_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"id": task_id, "description": "", **doc}))


def stderr_lines(worktree: Path, phase: str = "1", stream: str | None = None) -> str:
    lines = f"Waiting for phase {phase} completion...\nWatching: {status_file(worktree, phase)}\n"
    if stream is not None:
        lines += f"Streaming updates every {stream}s (tracking team: {FEATURE}-phase-{phase})\n"
    return lines


def commit(worktree: Path, message: str) -> str:
    git(worktree, "commit", "-q", "--allow-empty", "-m", message)
    return git(worktree, "rev-parse", "HEAD").strip()


def short(worktree: Path, sha: str) -> str:
    return git(worktree, "rev-parse", "--short", sha).strip()


def finish(proc: subprocess.Popen[str]) -> tuple[int, list[dict[str, Any]], str]:
    out, err = proc.communicate(timeout=90)
    return proc.returncode, [json.loads(line) for line in out.splitlines()], err


# --- wait -------------------------------------------------------------------------------------


def test_wait_returns_at_once_for_a_completed_phase(env: Env, worktree: Path) -> None:
    write_status(worktree, {"status": "complete", "git_range": "abc1234..def5678"})
    run = env.run("wait", "--feature", FEATURE, "--phase", "1")
    assert (run.code, run.out) == (0, '{"status":"complete","git_range":"abc1234..def5678"}\n')
    assert run.err == stderr_lines(worktree)
    stream = env.run("wait", "--feature", FEATURE, "--phase", "1", "--stream", "30")
    assert stream.code == 0 and stream.err == stderr_lines(worktree, stream="30")
    assert stream.json() == {"elapsed_secs": 0, "status": "complete", "git_range": "abc1234..def5678"}  # fmt: skip


@pytest.mark.parametrize("key", ["reason", "blocked_reason"])
def test_wait_reports_a_blocked_phase_with_its_reason(env: Env, worktree: Path, key: str) -> None:
    write_status(worktree, {"status": "blocked", key: "Verification gate failed", "gate": "verify"})
    run = env.run("wait", "--feature", FEATURE, "--phase", "1")
    assert (run.code, run.out) == (1, '{"status":"blocked","reason":"Verification gate failed"}\n')
    stream = env.run("wait", "--feature", FEATURE, "--phase", "1", "--stream", "5")
    assert stream.code == 1
    assert stream.json() == {
        "elapsed_secs": 0,
        "status": "blocked",
        "blocked_reason": "Verification gate failed",
    }


def test_wait_computes_the_git_range_the_lead_did_not_write(env: Env, worktree: Path) -> None:
    start = git(worktree, "rev-parse", "HEAD").strip()
    env.session(S1, "exec cat", worktree)
    proc = env.popen("wait", "--feature", FEATURE, "--phase", "1", "--timeout", "120")
    start_commit = status_file(worktree).with_name("start-commit")
    wait_for(start_commit.exists, what="the start commit")
    assert start_commit.read_text() == start + "\n"
    commit(worktree, "first step")
    head = commit(worktree, "second step")
    write_status(worktree, {"status": "complete", "started_at": "2026-02-07T16:00:00Z"})
    code, lines, err = finish(proc)
    assert code == 0, err
    assert lines == [{"status": "complete", "git_range": f"{short(worktree, start)}..{short(worktree, head)}"}]  # fmt: skip
    assert err == stderr_lines(worktree)


def test_wait_without_commits_reports_no_git_range(env: Env, worktree: Path) -> None:
    env.session(S1, "exec cat", worktree)
    proc = env.popen("wait", "--feature", FEATURE, "--phase", "1", "--timeout", "120")
    wait_for(status_file(worktree).with_name("start-commit").exists, what="the start commit")
    write_status(worktree, {"status": "complete"})
    code, lines, _ = finish(proc)
    assert (code, lines) == (0, [{"status": "complete"}])


def test_wait_times_out(env: Env, worktree: Path) -> None:
    env.session(S1, "exec cat", worktree)
    write_status(worktree, {"status": "executing", "heartbeat_at": "not a time"})
    run = env.run("wait", "--feature", FEATURE, "--phase", "1", "--timeout", "1")
    reason = f"Timeout waiting for Timed out waiting for {status_file(worktree)}"
    assert run.code == 2
    assert run.json() == {"status": "timeout", "reason": reason}
    assert run.err == stderr_lines(worktree) + f"Error: {reason}\n"


def test_wait_timeout_zero_in_stream_mode(env: Env, worktree: Path) -> None:
    env.session(S1, "exec cat", worktree)
    run = env.run("wait", "--feature", FEATURE, "--phase", "1", "--timeout", "0", "--stream", "1")
    assert run.code == 2
    lines = [json.loads(line) for line in run.out.splitlines()]
    assert lines[-1]["status"] == "timeout" and "elapsed_secs" not in lines[-1]


def test_wait_sees_a_missing_session_exactly(env: Env, worktree: Path, tmp_path: Path) -> None:
    env.session(f"{S1}0", "exec cat", tmp_path)  # tmux alone would match it by prefix
    env.session(f"{S1}_5", "exec cat", tmp_path)
    run = env.run("wait", "--feature", FEATURE, "--phase", "1", "--timeout", "60")
    assert run.code == 3
    assert run.json() == {"status": "session_died", "reason": f"tmux session '{S1}' no longer exists"}  # fmt: skip
    assert status_file(worktree).parent.is_dir()  # created for the lead


def test_wait_streams_progress_until_the_session_dies(env: Env, worktree: Path, home: Path) -> None:
    write_task(home, f"{FEATURE}-phase-1", "1", subject="Write the exporter", status="completed")
    write_task(home, f"{FEATURE}-phase-1", "2", subject="Test the exporter", status="in_progress")
    commit(worktree, "Add the CSV writer")
    env.session(S1, "exec cat", worktree)
    proc = env.popen("wait", "--feature", FEATURE, "--phase", "1", "--stream", "1")
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline())
    assert list(first) == [
        "elapsed_secs",
        "status",
        "tasks_complete",
        "tasks_total",
        "current_task",
        "last_commit",
    ]
    assert first == {
        "elapsed_secs": 0,
        "status": "waiting",
        "tasks_complete": 1,
        "tasks_total": 2,
        "current_task": "Test the exporter",
        "last_commit": "Add the CSV writer",
    }
    write_status(worktree, {"status": "executing"})
    while json.loads(proc.stdout.readline())["status"] != "executing":
        pass
    env.tmux("kill-session", "-t", f"={S1}")
    code, lines, err = finish(proc)
    assert code == 3, err
    assert lines[-1] == {
        "elapsed_secs": lines[-1]["elapsed_secs"],
        "status": "session_died",
        "blocked_reason": f"tmux session '{S1}' no longer exists",
    }
    assert all(line["status"] == "executing" for line in lines[:-1])
    assert err == stderr_lines(worktree, stream="1")


def test_wait_streams_the_final_line_of_a_completed_phase(
    env: Env, worktree: Path, home: Path
) -> None:
    write_task(home, f"{FEATURE}-phase-1", "1", subject="Write the exporter", status="completed")
    env.session(S1, "exec cat", worktree)
    proc = env.popen("wait", "--feature", FEATURE, "--phase", "1", "--stream", "60")
    assert proc.stdout is not None
    assert json.loads(proc.stdout.readline())["status"] == "waiting"
    write_status(worktree, {"status": "complete", "git_range": "a..b"})
    code, lines, _ = finish(proc)
    assert code == 0
    assert lines[-1] == {
        "elapsed_secs": lines[-1]["elapsed_secs"],
        "status": "complete",
        "tasks_complete": 1,
        "tasks_total": 1,
        "git_range": "a..b",
    }


def test_wait_for_an_uninitialized_feature(env: Env) -> None:
    run = env.run("wait", "--feature", "nobody", "--phase", "1")
    assert (run.code, run.out) == (1, "")
    assert run.err == "Error: Feature 'nobody' not initialized. Run 'tina-session init' first.\n"


def test_wait_rejects_a_fractional_timeout(env: Env, worktree: Path) -> None:
    run = env.run("wait", "--feature", FEATURE, "--phase", "1", "--timeout", "1.5")
    assert run.code == 2 and "usage:" in run.err


# --- status -----------------------------------------------------------------------------------


def test_status_without_a_file_or_tasks(env: Env, worktree: Path) -> None:
    run = env.run("status", "--feature", FEATURE, "--phase", "2")
    assert (run.code, run.err) == (0, "")
    assert run.out == '{"elapsed_secs":0,"status":"waiting","last_commit":"initial"}\n'


def test_status_of_an_unreadable_file(env: Env, worktree: Path) -> None:
    status_file(worktree).parent.mkdir(parents=True)
    status_file(worktree).write_text("{not json")
    assert env.run("status", "--feature", FEATURE, "--phase", "1").json()["status"] == "unknown"
    write_status(worktree, {"state": "complete"})
    assert env.run("status", "--feature", FEATURE, "--phase", "1").json()["status"] == "unknown"


def test_status_of_a_remediation_phase(env: Env, worktree: Path, home: Path) -> None:
    # Claude Code names the directory of team "billing-export-phase-1.5" with a dash.
    team_dir = f"{FEATURE}-phase-1-5"
    long_subject = "Réécrire l'exportateur de factures pour qu'il gère les devises étrangères"
    write_task(home, team_dir, "1", subject="Done", status="completed")
    write_task(home, team_dir, "10", subject="Later work", status="in_progress")
    write_task(home, team_dir, "3", subject=long_subject, status="in_progress")
    write_task(home, team_dir, "4", subject="Gone", status="deleted")
    write_task(home, team_dir, "5", subject="reviewer", status="in_progress", metadata={"_internal": True})  # fmt: skip
    (home / ".claude" / "tasks" / team_dir / "6.json").write_text("{}")
    (home / ".claude" / "tasks" / team_dir / ".lock").write_text("")
    subject = "Make the exporter handle every currency the finance team uses today"
    commit(worktree, subject)
    write_status(
        worktree,
        {"status": "blocked", "reason": "Complexity gate failed", "heartbeat_at": "yesterday"},
        phase="1.5",
    )
    run = env.run("status", "--feature", FEATURE, "--phase", "1.5")
    assert run.code == 0, run
    assert run.json() == {
        "elapsed_secs": 0,
        "status": "blocked",
        "tasks_complete": 1,
        "tasks_total": 3,
        "current_task": truncate_bytes(long_subject, limit=50, keep=47),
        "last_commit": subject.encode()[:57].decode() + "...",
        "blocked_reason": "Complexity gate failed",
    }
    assert list(run.json())[-1] == "blocked_reason"


def test_status_of_a_completed_phase_carries_its_git_range(env: Env, worktree: Path) -> None:
    write_status(worktree, {"status": "complete", "git_range": "a..b"})
    run = env.run("status", "--feature", FEATURE, "--phase", "1", "--team", "other-team")
    assert run.json() == {
        "elapsed_secs": 0,
        "status": "complete",
        "last_commit": "initial",
        "git_range": "a..b",
    }


def test_truncate_bytes_cuts_on_a_character_boundary() -> None:
    assert truncate_bytes("a" * 50, limit=50, keep=47) == "a" * 50
    assert truncate_bytes("a" * 51, limit=50, keep=47) == "a" * 47 + "..."
    text = "a" * 46 + "é" + "b" * 10  # é spans bytes 46-47: cut before it
    assert truncate_bytes(text, limit=50, keep=47) == "a" * 46 + "..."
