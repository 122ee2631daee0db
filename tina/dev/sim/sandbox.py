"""A simulated laptop: a sandbox home directory with real git repositories, real
`tina-session` calls, Claude Code team and task files, an isolated tmux server, a stand-in
`claude` on its PATH, and a real `tina daemon` process enrolled against a Convex backend.

Used by the end-to-end tests, the benchmarks and the demo. Nothing here touches the real
home directory, the user's tmux server or a real `claude`: every path lives under `root`.

`tina-session start` types `claude --dangerously-skip-permissions` into a tmux pane. The pane's
shell gets the sandbox's environment (the sandbox's tmux server is started by a command run
with it), and `SHELL` names a sandbox shell that reads no profile: a login shell would read
`/etc/profile`, which may reset `PATH` and find a real `claude` instead of the stand-in
(`tina.dev.sim.standin_claude`, scripted per laptop with `write_standin_scenario`).
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
import uuid
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
    """A command in the sandbox failed: `returncode` and its message (`Error: ...` on stderr)."""

    def __init__(self, message: str, *, returncode: int | None = None) -> None:
        super().__init__(message)
        self.returncode = returncode


def error_message(proc: subprocess.CompletedProcess[str]) -> str:
    """What a failed command said: tina-session's `Error: <message>` lines (a message may
    span lines), else its last stderr or stdout line."""
    err = proc.stderr.strip()
    if "Error: " in err:
        return err[err.index("Error: ") + len("Error: ") :].strip()
    lines = (err or proc.stdout.strip()).splitlines()
    return lines[-1].strip() if lines else f"exit status {proc.returncode}"


# The sandbox's login shell: no profile, no rc file, so the pane keeps the sandbox's PATH. bash
# runs `-c CMD` as CMD itself (dash stays as its parent, and a pane whose command is a shell is
# refused as an agent's pane).
_SHELL = """#!/bin/sh
# A tmux pane's shell in a tina sandbox: the sandbox's environment, no profile.
if [ -x /bin/bash ]; then
    exec /bin/bash --noprofile --norc "$@"
fi
exec /bin/sh "$@"
"""


def _write_json(path: Path, doc: Any) -> None:
    """Atomic, like Claude Code and tina-session: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, path)


_PLAN = """\
# {feature}: phase {phase} plan

**Goal:** deliver phase {phase} of `{feature}` behind a feature flag, with tests first.

**Architecture:** a new service module behind the existing API layer; no schema change outside
the migration in Task 1.

### Task 1: Write the migration

**Files:** `db/migrations/`, `db/schema.sql`

- Add the table and its index; the migration must be reversible.
- Test: migrate up, down, up again on a copy of the fixture database.

### Task 2: Add the API endpoint

**Files:** `api/routes.py`, `tests/api/`

- Validate the input at the edge; answer 422 with the field name on bad input.
- Test the happy path and each refusal.

### Task 3: Cover edge cases with tests

- Empty input, the largest allowed input, a concurrent second request.
"""


class Laptop:
    """One simulated laptop. `root` is its whole world."""

    def __init__(
        self,
        root: Path,
        name: str,
        convex_url: str,
        *,
        enrollment_secret: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.root = root
        self.name = name
        self.convex_url = convex_url
        self.enrollment_secret = enrollment_secret
        self.extra_env = dict(env or {})  # laid over `env()`'s defaults (the demo's settings)
        self.home = root / "home"
        self.claude = self.home / ".claude"
        self.state_dir = root / "state"
        self.repos = root / "repos"
        self.bin = root / "bin"  # first on PATH: the stand-in `claude`, the sandbox shell
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
            self.bin,
        ):
            d.mkdir(parents=True, exist_ok=True)
        from .standin_claude import install

        install(self.bin)
        self.shell = self.bin / "sandbox-shell"
        self.shell.write_text(_SHELL)
        self.shell.chmod(0o755)
        # Claude Code logged in, each laptop to an account of its own (`login` changes it).
        self.login(str(uuid.uuid5(uuid.NAMESPACE_URL, f"tina-sim:{name}")))

    def login(self, account_uuid: str, config_dir: Path | None = None) -> Path:
        """Log `config_dir` (``~/.claude`` when not given) in to the Claude account `account_uuid`
        as Claude Code keeps a login: ``oauthAccount`` in its global config file (``~/.claude.json``
        for the default config dir, ``<config dir>/.claude.json`` for another), among settings
        of its own. Returns the file."""
        config = config_dir or self.claude
        path = self.home / ".claude.json" if config == self.claude else config / ".claude.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "numStartups": 3,
            "hasCompletedOnboarding": True,
            "projects": {str(self.repos): {"allowedTools": [], "hasTrustDialogAccepted": True}},
            "oauthAccount": {
                "accountUuid": account_uuid,
                "emailAddress": f"{self.name}@tina.invalid",
                "organizationUuid": str(
                    uuid.uuid5(uuid.NAMESPACE_URL, f"tina-sim-org:{account_uuid}")
                ),
                "displayName": self.name,
            },
        }
        path.write_text(json.dumps(doc, indent=2))
        return path

    # --- environment ----------------------------------------------------------------------------

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {
            "PATH": f"{self.bin}:{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(self.home),
            "SHELL": str(self.shell),  # tmux's default-shell, taken when its server starts
            "LANG": "C.UTF-8",
            "TINA_CONVEX_URL": self.convex_url,
            "TINA_NODE_NAME": self.name,
            "TINA_STATE_DIR": str(self.state_dir),
            "TINA_CLAUDE_DIR": str(self.claude),
            "TINA_TMUX_SOCKET": self.tmux_socket,
            "TINA_CONFIG": str(self.root / "config.toml"),  # absent: environment only
            "TINA_HEARTBEAT_SECS": os.environ.get("TINA_SIM_HEARTBEAT_SECS", "30"),
            **GIT_ENV,
            **self.extra_env,
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
            name = Path(argv[0]).name
            raise SandboxError(
                f"{name} {' '.join(argv[1:3])} failed ({proc.returncode}): {error_message(proc)}",
                returncode=proc.returncode,
            )
        return proc

    def tina_session(
        self, *args: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Runs `tina-session` in the sandbox. With `check`, a non-zero exit raises
        `SandboxError` with its `Error:` message and exit status."""
        return self.run([str(BIN / "tina-session"), *args], check=check, timeout=timeout)

    def session_json(self, *args: str, check: bool = True) -> dict[str, Any] | None:
        """A `tina-session` command that prints one JSON object (`orchestrate next/advance`: the
        bare action; `status`; `state show --format json`): that object. Without `check`, a
        failed command gives `None`."""
        proc = self.tina_session(*args, check=check)
        if proc.returncode != 0:
            return None
        try:
            out = json.loads(proc.stdout)
        except json.JSONDecodeError:
            raise SandboxError(
                f"tina-session {' '.join(args[:2])}: no JSON object on stdout: {proc.stdout!r}"
            ) from None
        if not isinstance(out, dict):
            raise SandboxError(f"tina-session {' '.join(args[:2])}: not an object: {out!r}")
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
            "--branch",
            f"tina/{feature}",
            "--total-phases",
            str(phases),
        ]
        if require_plan_approval:
            args.append("--require-plan-approval")
        # The skill's `WORKTREE_PATH=$(tina-session init ...)`: one plain line.
        lines = self.tina_session(*args).stdout.strip().splitlines()
        if not lines:
            raise SandboxError(f"tina-session init --feature {feature}: no worktree path printed")
        return Path(lines[-1])

    def advance(
        self, feature: str, phase: str, event: str, *, check: bool = True, **flags: str
    ) -> dict[str, Any] | None:
        """`orchestrate advance`: the next action, or `None` when refused (without `check`)."""
        args = ["orchestrate", "advance", "--feature", feature, "--phase", phase, "--event", event]
        for key, value in flags.items():
            args += [f"--{key.replace('_', '-')}", value]
        return self.session_json(*args, check=check)

    def next_action(self, feature: str) -> dict[str, Any]:
        """`orchestrate next`: the bare action object."""
        out = self.session_json("orchestrate", "next", "--feature", feature)
        assert out is not None  # checked
        return out

    def write_plan(self, worktree: Path, feature: str, phase: str) -> Path:
        """A plan as the planner writes one: goal, tasks (`### Task N: ...`, which the stand-in
        lead turns into its team's tasks)."""
        plan = worktree / "docs" / "plans" / f"2026-11-21-{feature}-phase-{phase}.md"
        plan.parent.mkdir(parents=True, exist_ok=True)
        plan.write_text(_PLAN.format(feature=feature, phase=phase), encoding="utf-8")
        return plan

    # --- the stand-in claude ----------------------------------------------------------------

    @property
    def claude_settings(self) -> Path:
        """The user's Claude Code settings, where `tina hooks install` puts tina's hooks."""
        return self.claude / "settings.json"

    def install_hooks(self) -> None:
        """`tina hooks install`, as a user runs it: `<tina> hook` for each of its events in the
        sandbox's `~/.claude/settings.json` (the stand-in leads run them as Claude Code does)."""
        self.run([str(BIN / "tina"), "hooks", "install"])

    @property
    def standin_scenario(self) -> Path:
        """Where the stand-in `claude` reads its script (`tina.dev.sim.standin_claude`)."""
        return self.claude / "tina-standin.json"

    def write_standin_scenario(self, scenario: Mapping[str, Any]) -> Path:
        """What the stand-in phase leads launched from now on do: `{"default": {...},
        "phases": {"1": {...} or [launch1, launch2, ...]}}`."""
        _write_json(self.standin_scenario, dict(scenario))
        return self.standin_scenario

    @staticmethod
    def phase_session(feature: str, phase: str) -> str:
        """The tmux session `tina-session start` creates for a phase (dots become `_`)."""
        from tina.local.names import phase_tmux_session

        return phase_tmux_session(feature, phase)

    # --- Claude Code files ---------------------------------------------------------------------

    def write_team(
        self,
        team: str,
        members: Sequence[Mapping[str, Any]],
        *,
        cwd: Path,
        lead_session_id: str = "00000000-0000-4000-8000-000000000000",
        config_dir: Path | None = None,
    ) -> Path:
        """A team's config, in Claude Code's config dir (`config_dir`: a `CLAUDE_CONFIG_DIR` of
        its own; else `~/.claude`); a member's `isActive` is written when given (Claude Code
        writes it on teammates: false while idle), and its `backendType`."""
        dir_name = team.replace(".", "-")
        now = int(time.time() * 1000)
        doc = {
            "name": team,
            "description": f"team {team}",
            "createdAt": now,
            "leadAgentId": f"team-lead@{team}",
            "leadSessionId": lead_session_id,
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
                    **({"isActive": m["isActive"]} if "isActive" in m else {}),
                    **({"backendType": m["backendType"]} if "backendType" in m else {}),
                }
                for m in members
            ],
        }
        path = (config_dir or self.claude) / "teams" / dir_name / "config.json"
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
        from tina.daemon import control

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
