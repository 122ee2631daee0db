"""The few git operations ``tina-session init`` needs (argv only, never a shell)."""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = [
    "GitError",
    "add_worktree",
    "branch_exists",
    "ensure_ignored",
    "is_valid_branch_name",
    "repo_toplevel",
]

_TIMEOUT = 60.0


class GitError(Exception):
    """A git command failed; ``detail`` is what git said (its stderr), or the message."""

    code = "git_failed"

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = message if detail is None else detail


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    argv = ["git", *args]
    try:
        return subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, timeout=_TIMEOUT, check=False
        )
    except FileNotFoundError:
        raise GitError("git is not installed (not found on PATH)") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"`{' '.join(argv)}` timed out after {_TIMEOUT:.0f} s") from None


def _describe(result: subprocess.CompletedProcess[str]) -> str:
    detail = (result.stderr or result.stdout).strip()
    return f"exit status {result.returncode}" + (f": {detail}" if detail else "")


def repo_toplevel(path: Path) -> Path | None:
    """The top of the git work tree containing ``path``, or ``None`` if it is not in one."""
    result = _git("-C", str(path), "rev-parse", "--show-toplevel")
    if result.returncode != 0:
        return None
    return Path(result.stdout.strip())


def is_valid_branch_name(repo: Path, name: str) -> bool:
    if not name or name.startswith("-"):
        return False
    return _git("-C", str(repo), "check-ref-format", "--branch", name).returncode == 0


def branch_exists(repo: Path, branch: str) -> bool:
    result = _git("-C", str(repo), "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}")
    return result.returncode == 0


def ensure_ignored(repo: Path, entry: str = ".worktrees") -> bool:
    """Make sure ``entry`` is git-ignored in ``repo``; returns True if ``.gitignore`` changed."""
    result = _git("-C", str(repo), "check-ignore", "-q", entry)
    if result.returncode == 0:
        return False
    if result.returncode != 1:
        raise GitError(f"git check-ignore failed: {_describe(result)}")
    gitignore = repo / ".gitignore"
    existing = gitignore.read_text() if gitignore.exists() else ""
    lines = {line.strip() for line in existing.splitlines()}
    if entry in lines or f"{entry}/" in lines or f"/{entry}" in lines:
        return False
    prefix = "" if not existing or existing.endswith("\n") else "\n"
    with gitignore.open("a") as handle:
        handle.write(f"{prefix}{entry}\n")
    return True


def add_worktree(repo: Path, worktree: Path, branch: str) -> None:
    """``git worktree add <worktree> -b <branch>`` from the repository's HEAD."""
    result = _git("-C", str(repo), "worktree", "add", str(worktree), "-b", branch)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip() or _describe(result)
        raise GitError(f"git worktree add failed ({_describe(result)})", detail)
