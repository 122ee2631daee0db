"""The handler table: tina-session transitions and message delivery to tmux panes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs
import structlog
import trio

from tina.local import ReadError, read_team_config
from tina.log import SECRET_VALUES

from ._model import Action, ActionRejected, ActionResult, build_cli_args, truncate

log = structlog.get_logger("tina.actions")

DEFAULT_PATH = "/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"


def usable_path() -> str:
    """launchd gives agents a minimal PATH; put our own bin dir and the usual ones first."""
    own = str(Path(sys.executable).parent)
    return f"{own}:{DEFAULT_PATH}"


@attrs.frozen(kw_only=True)
class HandlerEnv:
    """Everything a handler may use: nothing else leaks from the daemon's environment."""

    claude_dir: Path
    tina_session: str = "tina-session"
    tmux_socket: str | None = None
    timeout: float = 120.0
    env: Mapping[str, str] = attrs.field(factory=dict)

    @classmethod
    def build(
        cls,
        *,
        claude_dir: Path,
        tina_session: str,
        tmux_socket: str | None,
        timeout: float,
    ) -> HandlerEnv:
        env = {
            "PATH": usable_path(),
            "HOME": os.environ.get("HOME", str(Path.home())),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "TINA_CLAUDE_DIR": str(claude_dir),
        }
        if tmux_socket:
            env["TINA_TMUX_SOCKET"] = tmux_socket
        if "TMUX_TMPDIR" in os.environ:
            env["TMUX_TMPDIR"] = os.environ["TMUX_TMPDIR"]
        return cls(
            claude_dir=claude_dir,
            tina_session=tina_session,
            tmux_socket=tmux_socket,
            timeout=timeout,
            env=env,
        )

    def tmux(self, *args: str) -> list[str]:
        argv = ["tmux"]
        if self.tmux_socket:
            argv += (
                ["-S", self.tmux_socket] if "/" in self.tmux_socket else ["-L", self.tmux_socket]
            )
        return [*argv, *args]


def _clean(output: bytes) -> str:
    return truncate(SECRET_VALUES.sub("***", output.decode("utf-8", "replace")).strip())


async def _run(argv: Sequence[str], henv: HandlerEnv) -> subprocess.CompletedProcess[bytes]:
    with trio.fail_after(henv.timeout):
        return await trio.run_process(
            list(argv),
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            env=dict(henv.env),
            stdin=subprocess.DEVNULL,
        )


async def _tina_session(action: Action, henv: HandlerEnv) -> ActionResult:
    argv = build_cli_args(action, henv.tina_session)
    proc = await _run(argv, henv)
    out, err = _clean(proc.stdout), _clean(proc.stderr)
    if proc.returncode == 0:
        return ActionResult(
            ok=True,
            code="ok",
            message=f"{action.type} applied to phase {action.phase} of {action.feature}",
            exit_code=0,
            output=out,
        )
    # tina-session prints one JSON object even on failure; its stderr line says why.
    reason = err.splitlines()[-1] if err else f"tina-session exited with {proc.returncode}"
    reason = reason.removeprefix("tina-session: error: ")
    return ActionResult(
        ok=False,
        code="cli_exit_non_zero",
        message=truncate(reason, 1000),
        exit_code=proc.returncode,
        output=out or err,
    )


def _find_pane(action: Action, henv: HandlerEnv) -> str:
    assert action.team_dir is not None
    assert action.agent_name is not None
    path = henv.claude_dir / "teams" / action.team_dir / "config.json"
    if not path.exists():
        raise ActionRejected("team_gone", f"team {action.team_dir} no longer exists on this laptop")
    try:
        team = read_team_config(path)
    except ReadError as exc:
        raise ActionRejected("team_unreadable", f"cannot read the team config: {exc}") from None
    member = next((m for m in team.members if m.name == action.agent_name), None)
    if member is None:
        raise ActionRejected(
            "agent_gone", f"agent {action.agent_name} is no longer in team {team.name}"
        )
    if member.in_process:
        raise ActionRejected(
            "in_process_teammate",
            f"agent {action.agent_name} runs inside its lead's process, not in a tmux pane; message the lead instead",
        )
    pane = member.tmux_pane
    if pane is None or not pane.startswith("%") or not pane[1:].isdigit():
        raise ActionRejected("no_pane", f"agent {action.agent_name} has no tmux pane recorded")
    return pane


async def _send_message(action: Action, henv: HandlerEnv) -> ActionResult:
    assert action.text is not None
    pane = await trio.to_thread.run_sync(_find_pane, action, henv)
    probe = await _run(
        henv.tmux("display-message", "-p", "-t", pane, "#{pane_id} #{pane_dead}"), henv
    )
    if (
        probe.returncode != 0
        or probe.stdout.decode().split()[:1] != [pane]
        or probe.stdout.decode().split()[1:2] == ["1"]
    ):
        return ActionResult(
            ok=False,
            code="pane_gone",
            message=f"tmux pane {pane} of {action.agent_name} is gone",
            exit_code=probe.returncode,
            output=_clean(probe.stderr) or None,
        )
    typed = await _run(henv.tmux("send-keys", "-t", pane, "-l", "--", action.text), henv)
    if typed.returncode == 0:
        # Give the agent's TUI a moment to take the text before submitting it.
        await trio.sleep(0.2)
        typed = await _run(henv.tmux("send-keys", "-t", pane, "Enter"), henv)
    if typed.returncode != 0:
        return ActionResult(
            ok=False,
            code="tmux_failed",
            message=f"tmux could not type into pane {pane}",
            exit_code=typed.returncode,
            output=_clean(typed.stderr),
        )
    return ActionResult(
        ok=True,
        code="ok",
        message=f"delivered to {action.agent_name} in tmux pane {pane}",
        exit_code=0,
    )


async def run_action(action: Action, henv: HandlerEnv) -> ActionResult:
    """Run one action; every outcome, including a crash of the handler, becomes a result."""
    started = time.monotonic()
    try:
        if action.type == "send_message":
            result = await _send_message(action, henv)
        else:
            result = await _tina_session(action, henv)
    except ActionRejected as exc:
        result = ActionResult(ok=False, code=exc.code, message=exc.message)
    except trio.TooSlowError:
        result = ActionResult(
            ok=False,
            code="timeout",
            message=f"{action.type} did not finish within {henv.timeout:g} s",
        )
    except FileNotFoundError as exc:
        result = ActionResult(
            ok=False,
            code="cli_spawn_failed",
            message=f"cannot run {exc.filename}: not found on PATH",
        )
    except OSError as exc:
        result = ActionResult(
            ok=False, code="cli_spawn_failed", message=f"cannot start the handler: {exc.strerror}"
        )
    duration = round((time.monotonic() - started) * 1000, 1)
    log.info(
        "action.finished",
        action_id=action.id,
        type=action.type,
        ok=result.ok,
        code=result.code,
        duration_ms=duration,
    )
    return attrs.evolve(result, duration_ms=duration)
