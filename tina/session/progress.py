"""What ``tina-session wait`` and ``status`` report about a phase: the lead's ``status.json``,
the team's task progress, the last commit and the phase's git range.

Read-only, synchronous, every file through :mod:`tina.local.files` (regular files only, capped).
The readers are deliberately more tolerant than the original's (``reference/tina-session-cli.md``
§2.4, §2.6):

* ``status.json`` needs only a string ``status``. The reason of a blocked phase comes from
  ``reason`` (what the team-lead skill writes) or ``blocked_reason`` (what the original read);
  any other field, ``heartbeat_at`` included, is ignored, so a malformed timestamp no longer
  makes the whole file unreadable.
* Task progress looks in ``~/.claude/tasks/<team>`` and, when that is missing, in Claude Code's
  sanitized directory name (``.`` → ``-``); it skips Claude Code's internal teammate-tracker tasks
  (``metadata._internal``) and deleted tasks.
* When the lead wrote no ``git_range``, the range is computed from the commit the worktree was at
  when the phase started (``phase-<P>/start-commit``, recorded by ``start`` or else by the first
  ``wait``) to ``HEAD``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import attrs

from ..local import paths
from ..local.errors import ReadError
from ..local.files import PHASE_STATUS_MAX, TASK_MAX, read_file
from ..local.names import team_dir_name

__all__ = [
    "START_COMMIT_FILE",
    "TERMINAL",
    "PhaseFile",
    "TaskProgress",
    "git_range_since_start",
    "head_commit",
    "last_commit",
    "read_phase_file",
    "record_start_commit",
    "start_commit_path",
    "task_progress",
    "truncate_bytes",
]

TERMINAL = frozenset({"complete", "blocked"})
START_COMMIT_FILE = "start-commit"
_GIT_TIMEOUT = 30.0
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def truncate_bytes(text: str, *, limit: int, keep: int) -> str:
    """``text`` if it is at most ``limit`` UTF-8 bytes, else its first ``keep`` bytes (cut on a
    character boundary) followed by ``...``."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    return data[:keep].decode("utf-8", "ignore") + "..."


# --- status.json ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PhaseFile:
    """What ``status.json`` says: ``status`` is ``waiting`` (no file), ``unknown`` (unreadable)
    or the file's own status."""

    status: str
    git_range: str | None = None
    reason: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


def _string(doc: dict[str, Any], key: str) -> str | None:
    value = doc.get(key)
    return value if isinstance(value, str) else None


def read_phase_file(path: Path) -> PhaseFile:
    try:
        found = read_file(path, limit=PHASE_STATUS_MAX)
    except ReadError:
        return PhaseFile(status="unknown")
    if found is None:
        return PhaseFile(status="waiting")
    try:
        doc = json.loads(found.data)
    except ValueError:
        return PhaseFile(status="unknown")
    if not isinstance(doc, dict) or not isinstance(doc.get("status"), str):
        return PhaseFile(status="unknown")
    return PhaseFile(
        status=doc["status"],
        git_range=_string(doc, "git_range"),
        reason=_string(doc, "reason") or _string(doc, "blocked_reason"),
    )


# --- tasks ------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TaskProgress:
    complete: int
    total: int
    current: str | None


def _task_dir(team: str) -> Path | None:
    if not os.environ.get("HOME") and not os.environ.get(paths.CLAUDE_DIR_ENV):
        return None  # the original reported nothing without HOME
    base = paths.tasks_dir()
    for name in dict.fromkeys((team, team_dir_name(team))):
        if (base / name).is_dir():
            return base / name
    return None


def _id_key(task_id: str) -> tuple[int, int, str]:
    return (0, int(task_id), "") if task_id.isdigit() else (1, 0, task_id)


def _is_internal(doc: dict[str, Any]) -> bool:
    metadata = doc.get("metadata")
    return isinstance(metadata, dict) and metadata.get("_internal") is True


def task_progress(team: str) -> TaskProgress | None:
    """Counts of the team's tasks and the subject of the in-progress one with the lowest id;
    None when there is no task to count."""
    directory = _task_dir(team)
    if directory is None:
        return None
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return None
    total = complete = 0
    running: list[tuple[tuple[int, int, str], str]] = []
    for name in names:
        if not name.endswith(".json") or name.startswith("."):
            continue
        try:
            found = read_file(directory / name, limit=TASK_MAX)
            doc = json.loads(found.data) if found is not None else None
        except (ReadError, ValueError):
            continue
        if not isinstance(doc, dict):
            continue
        subject, status = doc.get("subject"), doc.get("status")
        if not isinstance(subject, str) or not isinstance(status, str):
            continue
        if status == "deleted" or _is_internal(doc):
            continue
        total += 1
        if status == "completed":
            complete += 1
        elif status == "in_progress":
            task_id = doc.get("id")
            key = _id_key(task_id if isinstance(task_id, str) else name.removesuffix(".json"))
            running.append((key, subject))
    if total == 0:
        return None
    current = min(running)[1] if running else None
    return TaskProgress(
        complete=complete,
        total=total,
        current=None if current is None else truncate_bytes(current, limit=50, keep=47),
    )


# --- git --------------------------------------------------------------------------------------


def _git(worktree: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(worktree), *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=_GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None


def last_commit(worktree: Path) -> str | None:
    """The subject of the worktree's last commit, cut to 57 bytes + ``...`` past 60 bytes."""
    out = _git(worktree, "log", "-1", "--format=%s", "--no-walk")
    subject = (out or "").rstrip("\n")
    return truncate_bytes(subject, limit=60, keep=57) if subject else None


def head_commit(worktree: Path) -> str | None:
    out = _git(worktree, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    return out.strip() if out and out.strip() else None


def start_commit_path(worktree: Path, phase: str) -> Path:
    return paths.phase_status_path(worktree, phase).with_name(START_COMMIT_FILE)


def record_start_commit(worktree: Path, phase: str) -> None:
    """Remember the worktree's HEAD as the phase's first commit, unless already recorded (a
    restarted phase keeps the commit it first started from). Best effort: never raises."""
    path = start_commit_path(worktree, phase)
    if path.exists():
        return
    head = head_commit(worktree)
    if head is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError:
        return
    try:
        os.write(fd, (head + "\n").encode())
    finally:
        os.close(fd)


def git_range_since_start(worktree: Path, phase: str) -> str | None:
    """``<start>..<HEAD>`` (abbreviated) when HEAD moved since the phase started, else None."""
    try:
        found = read_file(start_commit_path(worktree, phase), limit=1024)
    except ReadError:
        return None
    start = found.data.decode("ascii", "replace").strip() if found is not None else ""
    head = head_commit(worktree)
    if not _SHA.fullmatch(start) or head is None or head == start:
        return None
    ends = [_git(worktree, "rev-parse", "--short", sha) for sha in (start, head)]
    if ends[0] is None or ends[1] is None:
        return None
    return f"{ends[0].strip()}..{ends[1].strip()}"
