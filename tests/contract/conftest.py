"""The contract harness: the original skills' and agents' exact command lines against our CLI.

``Skills`` plays the ``orchestrate`` skill (the orchestrator) and the ``phase-executor`` agent:
it runs their command lines, as written in the reference (§4.1), through ``bash -c`` with the
variables set, which is how the skills run them, and parses the results as they do (``jq -r
'.action'``, the worktree path on stdout, exit codes, the last JSON line of ``wait``). Everything
happens in a temporary HOME, a real git repository and an isolated tmux server
(``TINA_TMUX_SOCKET``), with the stand-in ``claude`` first on PATH playing the phase lead.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest

from tina.dev.sim import standin_claude

T = TypeVar("T")

VENV_BIN = Path(sys.executable).parent
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Contract Test",
    "GIT_AUTHOR_EMAIL": "contract@tina.invalid",
    "GIT_COMMITTER_NAME": "Contract Test",
    "GIT_COMMITTER_EMAIL": "contract@tina.invalid",
}
DESIGN_NAME = "2026-02-07-billing-export-design.md"
FAST_LEAD = {"tasks": 2, "step_secs": 0.02}


def poll(fn: Callable[[], T | None], *, timeout: float = 30.0, what: str = "condition") -> T:
    """``fn()`` once it returns something other than None/False; fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@attrs.frozen
class Wait:
    """What the phase-executor gets from ``tina-session wait``: the exit code and its lines."""

    code: int
    lines: list[dict[str, Any]]
    stderr: str

    @property
    def last(self) -> dict[str, Any]:
        assert self.lines, f"wait printed nothing (exit {self.code}): {self.stderr}"
        return self.lines[-1]


class Skills:
    """One orchestration world: HOME, the project repo, the tmux server, the stand-in lead."""

    def __init__(self, root: Path, tmux_dir: Path, phases: int) -> None:
        self.root = root
        self.home = root / "home"
        self.claude_dir = self.home / ".claude"
        self.claude_dir.mkdir(parents=True)
        self.bin = root / "bin"
        standin_claude.install(self.bin)
        if not (VENV_BIN / "tina-session").exists():  # pragma: no cover - pip -e installs it
            script = self.bin / "tina-session"
            script.write_text(
                f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m tina.session "$@"\n'
            )
            script.chmod(0o755)
        self.socket = str(tmux_dir / "tmux.sock")
        path = f"{self.bin}:{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}"
        self.env = {
            "PATH": path,
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "SHELL": "/bin/sh",
            "TERM": "xterm-256color",
            "GIT_CONFIG_NOSYSTEM": "1",
            "TINA_TMUX_SOCKET": self.socket,
            **GIT_ENV,
        }
        # tmux starts a login shell in each pane, and /etc/profile resets PATH; a user's
        # ~/.profile puts `claude` back (as an installer adds ~/.local/bin).
        (self.home / ".profile").write_text(f"PATH={shlex.quote(path)}\nexport PATH\n")
        self.repo = root / "acme"
        self._make_repo(phases)
        self.feature = ""
        self.worktree = Path()
        self.scenario({"default": FAST_LEAD})

    # -- setup ------------------------------------------------------------------------------------

    def _make_repo(self, phases: int) -> None:
        self.repo.mkdir()
        self.git(self.repo, "init", "-q", "-b", "main")
        design = self.repo / "docs" / "designs" / DESIGN_NAME
        design.parent.mkdir(parents=True)
        body = "".join(
            f"## Phase {n}: part {n}\n\nBuild part {n}.\n\n" for n in range(1, phases + 1)
        )
        design.write_text(f"# Billing export\n\n{body}")
        self.design_doc = design
        self.git(self.repo, "add", ".")
        self.git(self.repo, "commit", "-q", "-m", "design")

    def git(self, where: Path, *args: str) -> str:
        result = subprocess.run(
            ["git", "-C", str(where), *args],
            env=self.env, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        return result.stdout

    def scenario(self, doc: dict[str, Any]) -> None:
        """The stand-in's scenario, at its default place ``~/.claude/tina-standin.json``."""
        (self.claude_dir / standin_claude.SCENARIO_NAME).write_text(json.dumps(doc))

    def standin_log(self) -> list[dict[str, Any]]:
        path = self.claude_dir / standin_claude.LOG_NAME
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line]

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-S", self.socket, *args],
            env=self.env, capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip

    # -- running skill lines ----------------------------------------------------------------------

    def sh(
        self, script: str, variables: Mapping[str, str], *, timeout: float = 90
    ) -> subprocess.CompletedProcess[str]:
        """``script`` through ``bash -c`` in the project root, with the skill's variables set."""
        return subprocess.run(
            ["bash", "-c", script],
            cwd=self.repo,
            env={**self.env, **variables},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def tina(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        """A tina-session command the skills do not run (a check made by the test)."""
        return subprocess.run(
            ["tina-session", *args],
            cwd=self.repo, env=self.env, capture_output=True, text=True, timeout=timeout,
            check=False,
        )  # fmt: skip

    # -- the orchestrate skill --------------------------------------------------------------------

    def init(self) -> Path:
        """STEP 1 and STEP 1c of the orchestrate skill, verbatim."""
        script = (
            'TOTAL_PHASES=$(grep -cE "^##+ Phase [0-9]" "$DESIGN_DOC")\n'
            "FEATURE_NAME=$(basename \"$DESIGN_DOC\" | sed 's/^[0-9-]*//; s/-design\\.md$//')\n"
            "WORKTREE_PATH=$(tina-session init \\\n"
            '  --feature "$FEATURE_NAME" \\\n'
            '  --cwd "$PWD" \\\n'
            '  --design-doc "$DESIGN_DOC" \\\n'
            '  --branch "tina/$FEATURE_NAME" \\\n'
            '  --total-phases "$TOTAL_PHASES")\n'
            "status=$?\n"
            'printf \'%s\\n%s\\n%s\' "$FEATURE_NAME" "$TOTAL_PHASES" "$WORKTREE_PATH"\n'
            "exit $status\n"
        )
        result = self.sh(script, {"DESIGN_DOC": str(self.design_doc.relative_to(self.repo))})
        assert result.returncode == 0, f"init failed: {result.stdout!r} {result.stderr!r}"
        feature, _total, worktree = result.stdout.split("\n", 2)
        assert "\n" not in worktree, f"init printed more than the worktree path: {worktree!r}"
        self.feature = feature
        self.worktree = Path(worktree)
        return self.worktree

    def next(self) -> dict[str, Any]:
        script = (
            'NEXT_ACTION=$(tina-session orchestrate next --feature "$FEATURE_NAME")\n'
            "status=$?\n"
            "printf '%s' \"$NEXT_ACTION\"\n"
            "exit $status\n"
        )
        result = self.sh(script, {"FEATURE_NAME": self.feature})
        assert result.returncode == 0, f"orchestrate next failed: {result.stderr!r}"
        return self._action(result.stdout)

    def advance(
        self,
        phase: str,
        event: str,
        *,
        plan_path: str | None = None,
        git_range: str | None = None,
        issues: str | None = None,
    ) -> dict[str, Any]:
        """The skill's CLI delegation pattern, then ``jq -r '.action'`` as it dispatches."""
        extra = ""
        variables = {"FEATURE_NAME": self.feature, "PHASE": phase, "EVENT_TYPE": event}
        if plan_path is not None:
            extra += ' \\\n  --plan-path "$PLAN_PATH"'
            variables["PLAN_PATH"] = plan_path
        if git_range is not None:
            extra += ' \\\n  --git-range "$GIT_RANGE"'
            variables["GIT_RANGE"] = git_range
        if issues is not None:
            extra += ' \\\n  --issues "$ISSUES"'
            variables["ISSUES"] = issues
        script = (
            "NEXT_ACTION=$(tina-session orchestrate advance \\\n"
            '  --feature "$FEATURE_NAME" \\\n'
            '  --phase "$PHASE" \\\n'
            f'  --event "$EVENT_TYPE"{extra})\n'
            "status=$?\n"
            "ACTION=$(echo \"$NEXT_ACTION\" | jq -r '.action')\n"
            'printf \'%s\\n%s\' "$ACTION" "$NEXT_ACTION"\n'
            "exit $status\n"
        )
        result = self.sh(script, variables)
        assert result.returncode == 0, (
            f"advance --phase {phase} --event {event} failed: {result.stdout!r} {result.stderr!r}"
        )
        action, _, raw = result.stdout.partition("\n")
        parsed = self._action(raw)
        assert parsed["action"] == action
        return parsed

    @staticmethod
    def _action(raw: str) -> dict[str, Any]:
        """The bare action object, compact, on one line (reference §5.2)."""
        assert "\n" not in raw, f"expected one line, got {raw!r}"
        parsed = json.loads(raw)
        assert isinstance(parsed, dict) and "action" in parsed, raw
        assert json.dumps(parsed, ensure_ascii=False, separators=(",", ":")) == raw, raw
        return parsed

    def write_plan(self, phase: str, tasks: int = 2) -> str:
        """What the phase planner does: a plan under docs/plans, committed; returns its path."""
        plans = self.worktree / "docs" / "plans"
        plans.mkdir(parents=True, exist_ok=True)
        path = plans / f"{date.today().isoformat()}-{self.feature}-phase-{phase}.md"
        body = "".join(
            f"### Task {n}: piece {n} of phase {phase}\n\n**Model:** haiku\n\nDo it.\n\n"
            for n in range(1, tasks + 1)
        )
        path.write_text(
            f"# Phase {phase} plan\n\n{body}## Complexity Budget\n\n"
            "| Metric | Limit |\n|---|---|\n| Max lines per file | 400 |\n"
            "| Max total implementation lines | 2000 |\n"
        )
        self.git(self.worktree, "add", "--", str(path))
        self.git(self.worktree, "commit", "-q", "-m", f"plan phase {phase}")
        return str(path)

    # -- the phase-executor agent -----------------------------------------------------------------

    def start(self, phase: str, plan_path: str) -> subprocess.CompletedProcess[str]:
        """Step 1, verbatim; the agent looks at the exit code only."""
        return self.sh(
            'tina-session start --feature "$FEATURE_NAME" --phase "$PHASE_NUM" --plan "$PLAN_PATH"',
            {"FEATURE_NAME": self.feature, "PHASE_NUM": phase, "PLAN_PATH": plan_path},
        )

    def wait(self, phase: str, *, stream: int | None = 1, timeout: int | None = 60) -> Wait:
        """Step 2. ``stream=30, timeout=1800`` is the agent's exact line; tests use shorter."""
        line = 'tina-session wait --feature "$FEATURE_NAME" --phase "$PHASE_NUM"'
        if stream is not None:
            line += f" --stream {stream}"
        if timeout is not None:
            line += f" --timeout {timeout}"
        result = self.sh(line, {"FEATURE_NAME": self.feature, "PHASE_NUM": phase}, timeout=100)
        lines = []
        for raw in result.stdout.splitlines():
            value = json.loads(raw)  # one JSON object per line, nothing else
            assert isinstance(value, dict), raw
            lines.append(value)
        return Wait(result.returncode, lines, result.stderr)

    def execute(self, phase: str, plan_path: str) -> str:
        """The whole phase-executor, with the orchestrator's events; returns the git range."""
        started = self.start(phase, plan_path)
        assert started.returncode == 0, (
            f"start --phase {phase} exited {started.returncode}: "
            f"{started.stdout!r} {started.stderr!r}"
        )
        assert self.advance(phase, "execute_started")["action"] == "wait"
        done = self.wait(phase)
        assert done.code == 0, (
            f"wait --phase {phase} exited {done.code}: {done.lines} {done.stderr!r}; "
            f"start had printed {started.stdout!r}"
        )
        assert done.last["status"] == "complete"
        git_range = done.last.get("git_range")
        assert isinstance(git_range, str) and ".." in git_range, done.last
        return git_range

    def commit_subjects(self, git_range: str) -> list[str]:
        return self.git(self.worktree, "log", "--format=%s", git_range).splitlines()

    def init_lines(self) -> list[str]:
        return [
            e["line"]
            for e in self.standin_log()
            if e["event"] == "input" and e["line"].startswith("/tina:team-lead-init")
        ]


@pytest.fixture
def make_skills(tmp_path: Path) -> Iterator[Callable[..., Skills]]:
    for tool in ("jq", "tmux", "git", "bash"):
        if shutil.which(tool) is None:
            pytest.skip(
                f"{tool} is not installed: the contract suite runs the skills' command lines "
                f"with it (scripts/ensure-system-deps.sh installs it)"
            )
    # AF_UNIX socket paths are short (104-108 bytes): keep the server's socket near the root.
    tmux_dir = Path(tempfile.mkdtemp(prefix="tina-ct-"))
    made: list[Skills] = []

    def make(phases: int = 1) -> Skills:
        assert not made, "one world per test"
        skills = Skills(tmp_path, tmux_dir, phases)
        made.append(skills)
        return skills

    try:
        yield make
    finally:
        for skills in made:
            skills.tmux("kill-server")
            # The original's init auto-starts a daemon (pid file under this HOME); stop ours.
            if any(skills.home.glob(".local/share/tina/daemon.pid")):
                skills.tina("daemon", "stop", timeout=30)
        shutil.rmtree(tmux_dir, ignore_errors=True)
