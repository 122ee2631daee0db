"""A simulated laptop: a sandbox home directory with real git repositories, real
`tina-session` calls, Claude Code team and task files, an isolated tmux server, and a real
`tina daemon` process enrolled against a Convex backend.

Used by the end-to-end tests, the benchmarks and the demo. Nothing here touches the real
home directory or the user's tmux server: every path lives under `root`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
GIT_ENV = {
    "GIT_AUTHOR_NAME": "tina sim",
    "GIT_AUTHOR_EMAIL": "sim@tina.invalid",
    "GIT_COMMITTER_NAME": "tina sim",
    "GIT_COMMITTER_EMAIL": "sim@tina.invalid",
}


class SandboxError(Exception):
    pass


def _write_json(path: Path, doc: Any) -> None:
    """Atomic, like Claude Code and tina-session: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, path)


class Laptop:
    """One simulated laptop. `root` is its whole world."""

    def __init__(
        self, root: Path, name: str, convex_url: str, *, enrollment_secret: str | None = None
    ) -> None:
        self.root = root
        self.name = name
        self.convex_url = convex_url
        self.enrollment_secret = enrollment_secret
        self.home = root / "home"
        self.claude = self.home / ".claude"
        self.state_dir = root / "state"
        self.repos = root / "repos"
        # AF_UNIX paths are short: keep the tmux socket near the filesystem root.
        self._tmux_dir = Path(tempfile.mkdtemp(prefix="tina-tmux-"))
        self.tmux_socket = str(self._tmux_dir / "tmux.sock")
        self.daemon: subprocess.Popen[bytes] | None = None
        self.daemon_log = root / "daemon.log"
        for d in (
            self.home,
            self.claude / "teams",
            self.claude / "tasks",
            self.state_dir,
            self.repos,
        ):
            d.mkdir(parents=True, exist_ok=True)

    # --- environment ----------------------------------------------------------------------------

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {
            "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "TINA_CONVEX_URL": self.convex_url,
            "TINA_NODE_NAME": self.name,
            "TINA_STATE_DIR": str(self.state_dir),
            "TINA_CLAUDE_DIR": str(self.claude),
            "TINA_TMUX_SOCKET": self.tmux_socket,
            "TINA_CONFIG": str(self.root / "config.toml"),  # absent: environment only
            "TINA_HEARTBEAT_SECS": os.environ.get("TINA_SIM_HEARTBEAT_SECS", "30"),
            **GIT_ENV,
        }
        if extra:
            env.update(extra)
        return env

    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        timeout: float = 60,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            env=self.env(env),
            timeout=timeout,
            cwd=cwd or self.root,
            check=False,
        )
        if check and proc.returncode != 0:
            raise SandboxError(
                f"{argv[0]} {' '.join(argv[1:3])} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}"
            )
        return proc

    def tina_session(self, *args: str, check: bool = True) -> dict[str, Any]:
        proc = self.run([str(BIN / "tina-session"), *args], check=check)
        try:
            out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        except (json.JSONDecodeError, IndexError):
            raise SandboxError(
                f"tina-session {' '.join(args)}: no JSON on stdout: {proc.stdout!r} {proc.stderr!r}"
            ) from None
        return out

    # --- orchestrations -------------------------------------------------------------------------

    def make_repo(self, name: str) -> Path:
        repo = self.repos / name
        if not repo.exists():
            repo.mkdir(parents=True)
            self.run(["git", "init", "-q", "-b", "main"], cwd=repo)
            (repo / "docs").mkdir()
            (repo / "docs" / "design.md").write_text(f"# {name}\n\nA design for the simulator.\n")
            (repo / "README.md").write_text(f"{name}\n")
            self.run(["git", "add", "."], cwd=repo)
            self.run(["git", "commit", "-q", "-m", "initial"], cwd=repo)
        return repo

    def init_orchestration(
        self,
        feature: str,
        *,
        phases: int = 2,
        repo: str | None = None,
        require_plan_approval: bool = False,
    ) -> Path:
        repo_path = self.make_repo(repo or f"repo-{feature}")
        args = [
            "init",
            "--feature",
            feature,
            "--cwd",
            str(repo_path),
            "--design-doc",
            str(repo_path / "docs" / "design.md"),
            "--total-phases",
            str(phases),
        ]
        if require_plan_approval:
            args.append("--require-plan-approval")
        out = self.tina_session(*args)
        return Path(out["worktree_path"])

    def advance(
        self, feature: str, phase: str, event: str, *, check: bool = True, **flags: str
    ) -> dict[str, Any]:
        args = ["orchestrate", "advance", "--feature", feature, "--phase", phase, "--event", event]
        for key, value in flags.items():
            args += [f"--{key.replace('_', '-')}", value]
        return self.tina_session(*args, check=check)

    def write_plan(self, worktree: Path, feature: str, phase: str) -> Path:
        plan = worktree / "docs" / "plans" / f"2026-11-21-{feature}-phase-{phase}.md"
        plan.parent.mkdir(parents=True, exist_ok=True)
        plan.write_text(f"# Phase {phase} plan\n")
        return plan

    # --- Claude Code files ---------------------------------------------------------------------

    def write_team(self, team: str, members: Sequence[Mapping[str, Any]], *, cwd: Path) -> Path:
        dir_name = team.replace(".", "-")
        now = int(time.time() * 1000)
        doc = {
            "name": team,
            "description": f"team {team}",
            "createdAt": now,
            "leadAgentId": f"team-lead@{team}",
            "leadSessionId": "00000000-0000-4000-8000-000000000000",
            "members": [
                {
                    "agentId": f"{m['name']}@{team}",
                    "name": m["name"],
                    "agentType": m.get("agentType", "general-purpose"),
                    "model": m.get("model", "claude-opus-4-6"),
                    "joinedAt": now,
                    "tmuxPaneId": m.get("tmuxPaneId", "in-process"),
                    "cwd": str(cwd),
                    "subscriptions": [],
                }
                for m in members
            ],
        }
        path = self.claude / "teams" / dir_name / "config.json"
        _write_json(path, doc)
        return path

    def write_task(
        self,
        team: str,
        task_id: str,
        *,
        subject: str,
        status: str = "pending",
        owner: str | None = None,
        blocked_by: Sequence[str] = (),
        description: str = "",
        metadata: Any = None,
    ) -> Path:
        dir_name = team.replace(".", "-")
        doc: dict[str, Any] = {
            "id": task_id,
            "subject": subject,
            "description": description or subject,
            "activeForm": f"Working on {subject}",
            "status": status,
            "owner": owner,
            "blocks": [],
            "blockedBy": list(blocked_by),
        }
        if metadata is not None:
            doc["metadata"] = metadata
        path = self.claude / "tasks" / dir_name / f"{task_id}.json"
        _write_json(path, doc)
        return path

    def remove_team(self, team: str) -> None:
        dir_name = team.replace(".", "-")
        shutil.rmtree(self.claude / "teams" / dir_name, ignore_errors=True)
        shutil.rmtree(self.claude / "tasks" / dir_name, ignore_errors=True)

    # --- tmux -----------------------------------------------------------------------------------

    def tmux(self, *args: str, check: bool = True) -> str:
        return self.run(["tmux", "-S", self.tmux_socket, *args], check=check).stdout.strip()

    def open_pane(self, session: str, cwd: Path, command: str = "cat") -> str:
        """A detached tmux session running `command` in `cwd` (an agent works in its worktree,
        and the daemon checks that before it types); returns its pane id (`%N`)."""
        self.tmux(
            "new-session", "-d", "-s", session, "-c", str(cwd), "-x", "200", "-y", "50", command
        )
        return self.tmux("display-message", "-p", "-t", session, "#{pane_id}")

    def capture(self, pane: str) -> str:
        return self.tmux("capture-pane", "-p", "-t", pane)

    # --- the daemon -----------------------------------------------------------------------------

    @property
    def credential_file(self) -> Path:
        return self.home / ".config" / "tina" / "credential.json"

    def enroll(self) -> None:
        if self.enrollment_secret is None:
            raise SandboxError("no enrollment secret for this laptop")
        self.run(
            [str(BIN / "tina"), "daemon", "enroll"],
            env={"TINA_ENROLLMENT_SECRET": self.enrollment_secret},
        )

    def start_daemon(
        self, *, wait: bool = True, timeout: float = 20, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        if not self.credential_file.exists():
            self.enroll()
        log = self.daemon_log.open("ab")
        self.daemon = subprocess.Popen(
            [str(BIN / "tina"), "daemon", "run"],
            env=self.env(env),
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            cwd=self.root,
        )
        log.close()
        if wait:
            self.wait_daemon_ready(timeout)
        return self.daemon

    def status(self) -> dict[str, Any] | None:
        from tina import control

        try:
            return control.request_status(self.state_dir / "daemon.sock", timeout=2)
        except control.ControlError:
            return None

    def wait_daemon_ready(self, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.daemon is not None and self.daemon.poll() is not None:
                raise SandboxError(
                    f"the daemon exited with {self.daemon.returncode}; log: {self.daemon_log}\n{self.log_tail()}"
                )
            status = self.status()
            if status is not None and status.get("info", {}).get("connection") == "connected":
                return status
            time.sleep(0.05)
        raise SandboxError(f"the daemon was not ready within {timeout} s; log:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.daemon_log.read_text().splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def log_events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.daemon_log.read_text().splitlines() if self.daemon_log.exists() else []:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def stop_daemon(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int | None:
        proc, self.daemon = self.daemon, None
        if proc is None or proc.poll() is not None:
            return None if proc is None else proc.returncode
        proc.send_signal(sig)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(5)

    def close(self) -> None:
        self.stop_daemon()
        if shutil.which("tmux"):
            subprocess.run(
                ["tmux", "-S", self.tmux_socket, "kill-server"], capture_output=True, check=False
            )
        shutil.rmtree(self._tmux_dir, ignore_errors=True)

    def __enter__(self) -> Laptop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
