"""A home, a git worktree with a phase plan, and the stand-in `claude` on PATH: where the
stand-in Claude Code runs in the simulator's tests."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tina.dev.sim import standin_claude

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}


class StandinWorld:
    PLAN = "# Phase 1\n\n### Task 1: Add the parser\n"
    RUN_TIMEOUT = 60.0

    def __init__(self, root: Path, **env: str) -> None:
        self.root = root
        self.home = root / "home"
        (self.home / ".claude").mkdir(parents=True)
        self.bin = root / "bin"
        self.claude = standin_claude.install(self.bin)
        self.worktree = root / "wt"
        self.worktree.mkdir()
        self.scenario_path = root / "scenario.json"
        self.env = {
            "PATH": f"{self.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "GIT_CONFIG_NOSYSTEM": "1",
            "TINA_STANDIN_SCENARIO": str(self.scenario_path),
            **env,
            **GIT_ENV,
        }
        self.git("init", "-q", "-b", "main")
        (self.worktree / "README.md").write_text("hi\n")
        self.git("add", "README.md")
        self.git("commit", "-q", "-m", "initial")
        self.plan = self.worktree / "docs" / "plans" / "2026-02-07-f-phase-1.md"
        self.plan.parent.mkdir(parents=True)
        self.plan.write_text(self.PLAN)

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(self.worktree), *args],
            env=self.env, capture_output=True, text=True, check=True, timeout=60,
        ).stdout  # fmt: skip

    def scenario(self, doc: Any) -> None:
        self.scenario_path.write_text(json.dumps(doc))

    def run(
        self, *lines: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """The stand-in over a pipe, `lines` on its stdin, until it exits."""
        return subprocess.run(
            [str(self.claude), "--dangerously-skip-permissions"],
            input="".join(f"{line}\n" for line in lines), cwd=self.worktree,
            env={**self.env, **(env or {})}, capture_output=True, text=True,
            timeout=self.RUN_TIMEOUT, check=False,
        )  # fmt: skip
