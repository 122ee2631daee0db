"""The phase commands: a phase lead's tmux session and its progress.

``name``, ``exists``, ``start``, ``wait``, ``status``, ``stop``, ``capture``, ``attach`` and
``send`` (``reference/tina-session-cli.md`` §3.2-3.10). Every tmux target is exact (``=name``),
and session names have ``_`` where the phase has a dot (tmux rewrites dots in new session
names). The deliberate differences from the original are listed in ``docs/tina-session.md``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ...local import paths
from ...local.names import phase_team_name, phase_tmux_session
from .. import progress, tmux
from .._common import (
    EXIT_FAILED,
    EXIT_OK,
    CommandError,
    add_feature,
    add_phase,
    check_feature,
    check_phase,
    command_parser,
    load_state,
    now,
    print_json,
    warn,
    worktree_for,
)

__all__ = ["READY_TIMEOUT_ENV", "after_launch", "prompt_seen", "register"]

READY_TIMEOUT_ENV = "TINA_SESSION_READY_TIMEOUT"
"""Seconds ``start`` waits for Claude's prompt (default 60; a resumed session waits at most 10)."""
READY_TIMEOUT = 60.0
RESUME_READY_TIMEOUT = 10.0
POLL = 0.5
"""Seconds between two looks at the pane (``start``) or the status file (``wait``)."""
CAPTURE_LINES = 100
PROMPT_MARK = "\u276f"
"""The prompt sign of recent Claude Code versions (HEAVY RIGHT-POINTING ANGLE QUOTATION MARK)."""

EXIT_BLOCKED = 1
EXIT_TIMEOUT = 2
EXIT_SESSION_DIED = 3

_INSTALL_STEPS = (
    ("package.json", ["npm", "install"], "Installing npm dependencies...", "npm install"),
    ("Cargo.toml", ["cargo", "build"], "Building Rust dependencies...", "cargo build"),
    (
        "requirements.txt",
        ["pip", "install", "-r", "requirements.txt"],
        "Installing Python dependencies...",
        "pip install",
    ),
)


# --- shared -----------------------------------------------------------------------------------


def _names(args: argparse.Namespace) -> tuple[str, str, str]:
    """The checked feature and phase, and the phase's tmux session."""
    feature = check_feature(args.feature)
    phase = check_phase(args.phase)
    return feature, phase, phase_tmux_session(feature, phase)


def _tmux_error(exc: tmux.TmuxError) -> CommandError:
    if isinstance(exc, tmux.PaneRefused | tmux.UnsafeText):
        return CommandError(str(exc))
    return CommandError(f"Tmux error: {exc}")


def _exists(session: str) -> bool:
    try:
        return tmux.session_exists(session)
    except tmux.TmuxError:  # no tmux at all: no session either
        return False


def _missing(session: str, feature: str, phase: str) -> CommandError:
    return CommandError(
        f"Session '{session}' does not exist.\n\n"
        "To list active sessions: tina-session list\n"
        f"To start a new session: tina-session start --feature {feature} --phase {phase} "
        "--plan <path>"
    )


def _require_session(args: argparse.Namespace) -> tuple[str, str, str]:
    feature, phase, session = _names(args)
    if not _exists(session):
        raise _missing(session, feature, phase)
    return feature, phase, session


def _count(text: str) -> int:
    """argparse type: a non-negative integer."""
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def _ready_timeout() -> float:
    raw = os.environ.get(READY_TIMEOUT_ENV)
    if not raw:
        return READY_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < 86400:
        warn(f"Warning: ignoring {READY_TIMEOUT_ENV}={raw!r} (expected seconds)")
        return READY_TIMEOUT
    return value


def _seconds(value: float) -> str:
    return f"{value:g}"


# --- name, exists, stop, capture, attach, send -------------------------------------------------


def _name(args: argparse.Namespace) -> int:
    print(_names(args)[2])
    return EXIT_OK


def _exists_cmd(args: argparse.Namespace) -> int:
    return EXIT_OK if _exists(_names(args)[2]) else EXIT_FAILED


def _stop(args: argparse.Namespace) -> int:
    session = _names(args)[2]
    if not _exists(session):
        print(f"Session '{session}' does not exist.")
        return EXIT_OK
    try:
        tmux.kill_session(session)
    except tmux.TmuxError as exc:
        raise _tmux_error(exc) from None
    print(f"Stopped session '{session}'")
    return EXIT_OK


def _capture(args: argparse.Namespace) -> int:
    session = _require_session(args)[2]
    try:
        text = tmux.capture_pane(session, args.lines)
    except tmux.TmuxError as exc:
        raise _tmux_error(exc) from None
    sys.stdout.flush()
    sys.stdout.buffer.write(text)
    sys.stdout.buffer.flush()
    return EXIT_OK


def _attach(args: argparse.Namespace) -> int:
    session = _require_session(args)[2]
    sys.stdout.flush()
    try:
        return tmux.attach(session)
    except tmux.TmuxError as exc:
        raise _tmux_error(exc) from None


def _send(args: argparse.Namespace) -> int:
    feature, phase, session = _require_session(args)
    worktree = worktree_for(feature)  # the pane must be proven to run in it
    try:
        tmux.send_text(session, args.text, roots=[str(worktree)])
    except tmux.SessionMissing:
        raise _missing(session, feature, phase) from None
    except tmux.TmuxError as exc:
        raise _tmux_error(exc) from None
    print(f"Sent to {session}: {args.text}")
    return EXIT_OK


# --- start ------------------------------------------------------------------------------------


def prompt_seen(lines: Iterable[str]) -> bool:
    """The original's readiness heuristic: a line that starts with ``>`` or ``\u276f`` once trimmed,
    or that mentions ``bypass permissions`` (Claude Code's status line in that mode)."""
    for line in lines:
        trimmed = line.strip()
        if trimmed.startswith((">", PROMPT_MARK)) or "bypass permissions" in trimmed:
            return True
    return False


def after_launch(text: str, launch: str) -> list[str] | None:
    """The pane's lines after the last one showing the launch command; None if none shows it."""
    lines = text.splitlines()
    for index in range(len(lines) - 1, -1, -1):
        if launch in lines[index]:
            return lines[index + 1 :]
    return None


def _wait_ready(session: str, launch: str, timeout: float, *, launched: bool) -> bool:
    """Poll the pane until Claude's prompt shows, for at most ``timeout`` seconds.

    A shell prompt that starts with ``>`` must not pass for Claude's, so two conditions hold
    together: the prompt shows *after* the typed launch command, and the pane no longer runs a
    plain shell. A freshly launched session must first show the launch line; if it then
    disappears (the program cleared the screen) the whole pane counts. In a resumed session the
    launch line may be long gone, and the whole pane counts.
    """
    deadline = time.monotonic() + timeout
    seen = not launched
    while True:
        try:
            text = tmux.capture_pane(session, CAPTURE_LINES, join=True).decode(errors="replace")
        except tmux.TmuxError:
            text = ""
        after = after_launch(text, launch)
        if after is not None:
            seen = True
        if (
            seen
            and prompt_seen(text.splitlines() if after is None else after)
            and _runs_program(session)
        ):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL)


def _runs_program(session: str) -> bool:
    """Whether the pane runs something other than a plain shell (Claude, not its parent)."""
    try:
        return not tmux.is_shell(tmux.pane_info(session).command)
    except tmux.TmuxError:
        return False


def _resolve_plan(plan: str, worktree: Path) -> Path:
    candidates = [Path(plan)] if Path(plan).is_absolute() else [worktree / plan, Path(plan)]
    for candidate in candidates:
        if candidate.exists():
            return candidate.resolve()
    raise CommandError(f"File not found: {plan}")


def _install_dependencies(worktree: Path) -> None:
    for marker, argv, progress_text, what in _INSTALL_STEPS:
        if not (worktree / marker).exists():
            continue
        warn(progress_text)
        try:
            result = subprocess.run(
                argv,
                cwd=worktree,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                check=False,
            )
        except OSError as exc:
            warn(f"Warning: Failed to run {what}: {exc}")
            continue
        if result.returncode == 0:
            warn(f"{what} complete.")
        else:
            warn(f"Warning: {what} exited with exit status: {result.returncode}")


def _claude_binary() -> str:
    return "claudesp" if shutil.which("claudesp") else "claude"


def _start(args: argparse.Namespace) -> int:
    feature, phase, session = _names(args)
    worktree = worktree_for(feature)
    plan = _resolve_plan(args.plan, worktree)
    state = load_state(feature, worktree)
    if phase.isdigit() and int(phase) > state.total_phases:
        total = state.total_phases
        raise CommandError(
            f"Phase {int(phase)} does not exist (total phases: {total}).\n\n"
            f"Valid phases: 1-{total}\n"
            "Remediation phases (e.g., 1.5, 2.5) are created dynamically."
        )
    ready_timeout = _ready_timeout()
    binary = _claude_binary()
    launch = f"{binary} --dangerously-skip-permissions"
    try:
        _retire_blocked_lead(worktree, phase, session)
        if _exists(session):
            print(f"Session '{session}' already exists. Resuming.", flush=True)
            resume_timeout = min(ready_timeout, RESUME_READY_TIMEOUT)
            if _wait_ready(session, launch, resume_timeout, launched=False):
                print("Claude is ready in existing session.")
            else:
                print("Warning: Claude may not be ready in existing session.")
            return EXIT_OK
        if args.install_deps:
            _install_dependencies(worktree)
        progress.record_start_commit(worktree, phase)
        print(f"Creating session '{session}' in {worktree}", flush=True)
        tmux.new_session(session, str(worktree))
        time.sleep(POLL)  # let the shell start
        print(f"Starting Claude ({binary}) in session...", flush=True)
        tmux.type_line(session, launch, pause=0.1)
        print(f"Waiting for Claude to be ready (up to {_seconds(ready_timeout)}s)...", flush=True)
        if _wait_ready(session, launch, ready_timeout, launched=True):
            print("Claude is ready.", flush=True)
        else:
            warn(f"Warning: Claude not ready after {_seconds(ready_timeout)} seconds")
            warn("Proceeding anyway, but Claude may not be ready.")
            _refuse_shell(session, binary)
        team = phase_team_name(feature, phase)
        command = f"/tina:team-lead-init team_name: {team} plan_path: {plan}"
        print(f"Sending: {command}", flush=True)
        tmux.type_line(session, command)
    except tmux.TmuxError as exc:
        raise _tmux_error(exc) from None
    print(f"Started phase {phase} execution in session '{session}'")
    return EXIT_OK


def _retire_blocked_lead(worktree: Path, phase: str, session: str) -> None:
    """A phase whose lead blocked is being started again (the orchestrator's retry): that lead
    is done, so its session is stopped and its ``status.json`` set aside (kept, renamed
    ``status.blocked-<UTC time>.json``), and a fresh lead starts. Resuming it instead (the
    original) left the blocked lead in place and ``wait`` reading its old verdict: a retry could
    never succeed."""
    status_path = paths.phase_status_path(worktree, phase)
    if progress.read_phase_file(status_path).status != "blocked":
        return
    if _exists(session):
        tmux.kill_session(session)
        print(f"Stopped session '{session}': its lead had blocked the phase.", flush=True)
    stamp = now().strftime("%Y%m%dT%H%M%SZ")
    kept = status_path.with_name(f"status.blocked-{stamp}.json")
    status_path.replace(kept)
    print(f"Blocked status kept as {kept}", flush=True)


def _refuse_shell(session: str, binary: str) -> None:
    """Claude showed no prompt: if the pane still runs a plain shell, Claude did not start, and
    the team-lead command (which holds a file path) must not be typed into a shell."""
    command = tmux.pane_info(session).command
    if tmux.is_shell(command):
        raise CommandError(
            f"{binary} did not start in session '{session}': its pane still runs a shell "
            f"({command or 'unknown'}); the team-lead command was not typed into it. "
            f"See `tina-session capture --feature ... --phase ...` for what the pane shows."
        )


# --- wait and status --------------------------------------------------------------------------


def _update(
    elapsed: int,
    status: str,
    *,
    tasks: progress.TaskProgress | None = None,
    current_task: bool = False,
    last_commit: str | None = None,
    git_range: str | None = None,
    blocked_reason: str | None = None,
) -> dict[str, Any]:
    """A ``StatusUpdate`` line, keys in the original's order, absent values left out."""
    line: dict[str, Any] = {"elapsed_secs": elapsed, "status": status}
    if tasks is not None:
        line["tasks_complete"] = tasks.complete
        line["tasks_total"] = tasks.total
        if current_task and tasks.current is not None:
            line["current_task"] = tasks.current
    if last_commit is not None:
        line["last_commit"] = last_commit
    if git_range is not None:
        line["git_range"] = git_range
    if blocked_reason is not None:
        line["blocked_reason"] = blocked_reason
    return line


def _git_range(found: progress.PhaseFile, worktree: Path, phase: str) -> str | None:
    if found.git_range is not None:
        return found.git_range
    if found.status == "complete":
        return progress.git_range_since_start(worktree, phase)
    return None


def _wait(args: argparse.Namespace) -> int:
    feature, phase, session = _names(args)
    worktree = worktree_for(feature)
    team = args.team or phase_team_name(feature, phase)
    status_path = paths.phase_status_path(worktree, phase)
    stream: int | None = args.stream
    warn(f"Waiting for phase {phase} completion...")
    warn(f"Watching: {status_path}")
    if stream is not None:
        warn(f"Streaming updates every {stream}s (tracking team: {team})")
    try:
        status_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print_json({"status": "timeout", "reason": str(exc)})
        raise CommandError(str(exc), EXIT_TIMEOUT) from None
    progress.record_start_commit(worktree, phase)
    started = time.monotonic()

    def elapsed() -> int:
        return int(time.monotonic() - started)

    def finish(found: progress.PhaseFile, *, with_tasks: bool) -> int:
        git_range = _git_range(found, worktree, phase)
        complete = found.status == "complete"
        if stream is not None:
            tasks = progress.task_progress(team) if with_tasks else None
            print_json(
                _update(
                    elapsed(),
                    found.status,
                    tasks=tasks,
                    git_range=git_range if complete else None,
                    blocked_reason=None if complete else found.reason,
                )
            )
        else:
            result: dict[str, Any] = {"status": found.status}
            extra = ("git_range", git_range) if complete else ("reason", found.reason)
            if extra[1] is not None:
                result[extra[0]] = extra[1]
            print_json(result)
        return EXIT_OK if complete else EXIT_BLOCKED

    found = progress.read_phase_file(status_path)
    if found.terminal:
        return finish(found, with_tasks=False)
    last_line: float | None = None
    while True:
        now = time.monotonic() - started
        if args.timeout is not None and now > args.timeout:
            reason = f"Timeout waiting for Timed out waiting for {status_path}"
            print_json({"status": "timeout", "reason": reason})
            raise CommandError(reason, EXIT_TIMEOUT)
        if stream is not None and (last_line is None or now - last_line >= stream):
            last_line = now
            found = progress.read_phase_file(status_path)
            print_json(
                _update(
                    elapsed(),
                    found.status,
                    tasks=progress.task_progress(team),
                    current_task=True,
                    last_commit=progress.last_commit(worktree),
                )
            )
        found = progress.read_phase_file(status_path)
        if found.terminal:
            return finish(found, with_tasks=True)
        if not _exists(session):
            died = f"tmux session '{session}' no longer exists"
            if stream is not None:
                print_json(_update(elapsed(), "session_died", blocked_reason=died))
            else:
                print_json({"status": "session_died", "reason": died})
            return EXIT_SESSION_DIED
        time.sleep(POLL)


def _status(args: argparse.Namespace) -> int:
    feature, phase, _ = _names(args)
    worktree = worktree_for(feature)
    team = args.team or phase_team_name(feature, phase)
    found = progress.read_phase_file(paths.phase_status_path(worktree, phase))
    print_json(
        _update(
            0,
            found.status,
            tasks=progress.task_progress(team),
            current_task=True,
            last_commit=progress.last_commit(worktree),
            git_range=_git_range(found, worktree, phase),
            blocked_reason=found.reason,
        )
    )
    return EXIT_OK


# --- the parsers ------------------------------------------------------------------------------


def _text(*paragraphs: str) -> str:
    """Help paragraphs wrapped for the terminal (the parsers keep text as given)."""
    return "\n\n".join(
        textwrap.fill(paragraph, 88, break_on_hyphens=False) for paragraph in paragraphs
    )


def _add_team(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--team",
        metavar="NAME",
        help="the Claude Code team whose tasks show progress (default: FEATURE-phase-PHASE)",
    )


def register(commands: Any) -> None:
    """Adds the phase commands to ``commands``."""
    session_note = (
        "The session is tina-FEATURE-phase-PHASE with '_' for each '.' of the phase "
        "(tina-auth-phase-1_5), matched exactly."
    )

    p = command_parser(
        commands,
        "start",
        help="start a phase lead (Claude Code in a new tmux session)",
        description=_text(
            "Start the phase's team lead: a detached tmux session in the worktree running "
            "`claudesp` (if on PATH) or `claude` with --dangerously-skip-permissions, then "
            "`/tina:team-lead-init team_name: FEATURE-phase-PHASE plan_path: PLAN` once Claude "
            "shows its prompt. If the session exists, only waits for Claude to be ready.",
            session_note,
        )
        + (
            f"\n\nenvironment:\n  {READY_TIMEOUT_ENV}  seconds to wait for Claude's prompt "
            f"(default {READY_TIMEOUT:g};\n    a resumed session waits at most "
            f"{RESUME_READY_TIMEOUT:g})"
        ),
        examples=[
            "tina-session start --feature auth --phase 1 "
            "--plan docs/plans/2026-02-07-auth-phase-1.md",
            "tina-session start --feature auth --phase 1.5 --plan /abs/plan.md --install-deps",
        ],
    )
    add_feature(p)
    add_phase(p)
    p.add_argument(
        "--plan",
        required=True,
        metavar="PATH",
        help="the phase plan; a relative path is looked up in the worktree, then here",
    )
    p.add_argument(
        "--install-deps",
        action="store_true",
        help="first run npm install / cargo build / pip install -r requirements.txt in the "
        "worktree, where those files exist",
    )
    p.set_defaults(handler=_start)

    p = command_parser(
        commands,
        "wait",
        help="wait for a phase to complete or block",
        description=_text(
            "Wait until the phase lead's .claude/tina/phase-PHASE/status.json says complete "
            "(exit 0) or blocked (exit 1), the timeout passes (exit 2) or the phase's tmux "
            "session is gone (exit 3). Prints one JSON result, or with --stream one JSON status "
            f"line per interval and a final one. Checks every {POLL:g} s."
        ),
        examples=[
            "tina-session wait --feature auth --phase 1 --stream 30 --timeout 1800",
            "tina-session wait --feature auth --phase 1.5",
        ],
    )
    add_feature(p)
    add_phase(p)
    p.add_argument(
        "--timeout", type=_count, metavar="SECS", help="give up after SECS (default: never)"
    )
    p.add_argument(
        "--stream",
        type=_count,
        metavar="SECS",
        help="print a JSON progress line every SECS (the first at once)",
    )
    _add_team(p)
    p.set_defaults(handler=_wait)

    p = command_parser(
        commands,
        "status",
        help="one JSON status line for a phase",
        description=_text(
            "Print the phase's status (from status.json, or waiting/unknown), task progress, "
            "last commit, git range and blocked reason as one JSON line. Never waits."
        ),
        examples=["tina-session status --feature auth --phase 1"],
    )
    add_feature(p)
    add_phase(p)
    _add_team(p)
    p.set_defaults(handler=_status)

    p = command_parser(
        commands,
        "stop",
        help="kill a phase's tmux session",
        description=_text("Kill the phase's tmux session, if it exists.", session_note),
        examples=["tina-session stop --feature auth --phase 1"],
    )
    add_feature(p)
    add_phase(p)
    p.set_defaults(handler=_stop)

    p = command_parser(
        commands,
        "exists",
        help="exit 0 if a phase's tmux session exists, else 1",
        description=_text(
            "Print nothing; exit 0 if the phase's tmux session exists.", session_note
        ),
        examples=["tina-session exists --feature auth --phase 1 && echo running"],
    )
    add_feature(p)
    add_phase(p)
    p.set_defaults(handler=_exists_cmd)

    p = command_parser(
        commands,
        "name",
        help="print a phase's tmux session name",
        description=_text(session_note),
        examples=["tina-session name --feature auth --phase 1.5   # tina-auth-phase-1_5"],
    )
    add_feature(p)
    add_phase(p)
    p.set_defaults(handler=_name)

    p = command_parser(
        commands,
        "capture",
        help="print what a phase's tmux pane shows",
        description="Print the pane's text (with history) as tmux gives it.",
        examples=["tina-session capture --feature auth --phase 1 --lines 200"],
    )
    add_feature(p)
    add_phase(p)
    p.add_argument(
        "--lines",
        type=_count,
        default=CAPTURE_LINES,
        metavar="N",
        help=f"lines of history before the visible pane (default {CAPTURE_LINES})",
    )
    p.set_defaults(handler=_capture)

    p = command_parser(
        commands,
        "attach",
        help="attach this terminal to a phase's tmux session",
        description="Run `tmux attach` on the phase's session; exits with tmux's code.",
        examples=["tina-session attach --feature auth --phase 1"],
    )
    add_feature(p)
    add_phase(p)
    p.set_defaults(handler=_attach)

    p = command_parser(
        commands,
        "send",
        help="type a message into a phase lead's pane, then Enter",
        description=_text(
            "Paste TEXT into the phase lead's pane and press Enter. Refused unless the pane "
            "runs a program (not a plain shell) inside the orchestration's worktree; control "
            "characters other than tab and newline are refused."
        ),
        examples=[
            "tina-session send --feature auth --phase 1 --text 'Please rebase on main first.'"
        ],
    )
    add_feature(p)
    add_phase(p)
    p.add_argument("--text", required=True, help="the message (several lines are fine)")
    p.set_defaults(handler=_send)
