"""The handler table: tina-session transitions and message delivery.

`send_message` goes the way `action.via` names (without one: a pane teammate's pane, anyone
else's inbox):

- `pane` follows `tina.session.tmux`: check the text, prove the pane is the agent's (alive, in
  the phase's tmux session when tina-session has one, inside the agent's `cwd` or the
  orchestration's worktree, not a shell), paste the text as one bracketed paste, prove the pane
  again, press Enter. A member without a pane (the lead, an in-process teammate) is refused
  with a reason that says how it can be reached;
- `lead_session` types into the phase lead's tmux session the way `tina-session send` does
  (`tina.session.tmux.send_text`);
- `inbox` appends an entry `from: "tina"` to the agent's inbox file under Claude Code's lock
  (`tina.local.append_inbox_message`); the result carries the entry's key.

`approve_plan` with a `plan_hash` first checks the plan file is still that revision (`_plan`).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path

import attrs
import structlog
import trio

from tina.local import (
    InboxWriteError,
    MemberReach,
    ReadError,
    TeamConfig,
    TeamMember,
    append_inbox_message,
    read_session_lookup,
    read_team_config,
)
from tina.local.names import phase_tmux_session
from tina.log import SECRET_VALUES
from tina.messages import ActionRejected, ActionResult, InboundAction, MessageRoute
from tina.session import tmux

from ._model import build_cli_args, truncate
from ._plan import check_plan_revision

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
    # Claude Code's config dir, where its teams are (`Config.claude_code_dir`).
    claude_code_dir: Path = attrs.field(
        default=attrs.Factory(lambda self: self.claude_dir, takes_self=True)
    )

    # Where a team's directory is (`ClaudeWatcher.team_path`: teams may be in more than one
    # config dir); None: under `teams_dir`.
    locate_team: Callable[[str], Path] | None = None

    @property
    def teams_dir(self) -> Path:
        return self.claude_code_dir / "teams"

    def team_path(self, team_dir: str) -> Path:
        """``<config dir>/teams/<team_dir>``, in the config dir the team was read from."""
        if self.locate_team is not None:
            return self.locate_team(team_dir)
        return self.teams_dir / team_dir

    @classmethod
    def build(
        cls,
        *,
        claude_dir: Path,
        tina_session: str,
        tmux_socket: str | None,
        timeout: float,
        claude_code_dir: Path | None = None,
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
            claude_code_dir=claude_code_dir or claude_dir,
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


async def _run(
    argv: Sequence[str], henv: HandlerEnv, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    with trio.fail_after(henv.timeout):
        return await trio.run_process(
            list(argv),
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            env=dict(henv.env),
            stdin=subprocess.DEVNULL if stdin is None else stdin,
        )


def _next_action(stdout: str) -> str | None:
    """The ``action`` of the JSON object ``orchestrate advance`` prints, if it printed one."""
    try:
        doc = json.loads(stdout)
    except ValueError:
        return None
    action = doc.get("action") if isinstance(doc, dict) else None
    return action if isinstance(action, str) else None


def error_reason(stderr: str) -> str | None:
    """What tina-session said went wrong: its ``Error: <message>`` (which may span lines),
    without the prefix, the warnings before it or a traceback after it."""
    lines = stderr.splitlines()
    start = next((n for n, line in enumerate(lines) if line.startswith("Error: ")), None)
    if start is None:
        return None
    kept = [lines[start].removeprefix("Error: ")]
    for line in lines[start + 1 :]:
        if line.startswith("Traceback (most recent call last)"):
            break
        kept.append(line)
    return "\n".join(kept).strip() or None


async def _tina_session(action: InboundAction, henv: HandlerEnv) -> ActionResult:
    argv = build_cli_args(action, henv.tina_session)
    # An approval names the plan revision the operator read: a changed plan is not approved.
    refused = await trio.to_thread.run_sync(check_plan_revision, action, henv.claude_dir)
    if refused is not None:
        return refused
    proc = await _run(argv, henv)
    out, err = _clean(proc.stdout), _clean(proc.stderr)
    if proc.returncode == 0:
        # stdout is the next action, one compact JSON object.
        following = _next_action(out)
        message = f"{action.type} applied to phase {action.phase} of {action.feature}"
        return ActionResult(
            ok=True,
            code="ok",
            message=message + (f"; next action: {following}" if following else ""),
            exit_code=0,
            output=out,
        )
    # On failure stderr says `Error: <message>`; stdout is empty.
    reason = error_reason(err) or (
        err.splitlines()[-1] if err else f"tina-session exited with {proc.returncode}"
    )
    return ActionResult(
        ok=False,
        code="cli_exit_non_zero",
        message=truncate(reason, 1000),
        exit_code=proc.returncode,
        output=out or err,
    )


@attrs.frozen(kw_only=True)
class _Recipient:
    """The team member a message is for, as the team config has it now."""

    team: TeamConfig
    member: TeamMember

    @property
    def is_lead(self) -> bool:
        return self.member.reach is MemberReach.LEAD or (
            self.team.lead_agent_id is not None and self.member.agent_id == self.team.lead_agent_id
        )


def _find_recipient(action: InboundAction, henv: HandlerEnv) -> _Recipient:
    assert action.team_dir is not None
    assert action.agent_name is not None
    path = henv.team_path(action.team_dir) / "config.json"
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
    return _Recipient(team=team, member=member)


def _route(action: InboundAction, recipient: _Recipient) -> MessageRoute:
    """The route asked for; without one (an older server), the pane of a pane teammate as
    before, else the inbox (every member has one)."""
    if action.via is not None:
        return action.via
    return "pane" if recipient.member.reach is MemberReach.PANE else "inbox"


def _no_pane(action: InboundAction, recipient: _Recipient) -> ActionRejected:
    """Why `via="pane"` cannot reach this member, and what can."""
    agent, member = action.agent_name, recipient.member
    if recipient.is_lead:
        session = (
            ", or the phase's tmux session (lead_session)"
            if action.feature is not None and action.phase is not None
            else ""
        )
        return ActionRejected(
            "lead_has_no_pane",
            f"{agent} is the lead of team {recipient.team.name}: it runs in the terminal it was "
            f"started in, not in a teammate's tmux pane; reach it through its inbox{session}",
        )
    if member.reach is MemberReach.IN_PROCESS:
        return ActionRejected(
            "in_process_teammate",
            f"{agent} runs inside its lead's process and has no tmux pane of its own; reach it "
            "through its inbox",
        )
    recorded = member.tmux_pane_id
    return ActionRejected(
        "no_pane",
        f"{agent} has no tmux pane tina can type into (its tmuxPaneId is "
        f"{'not recorded' if not recorded else repr(recorded)}); reach it through its inbox",
    )


@attrs.frozen(kw_only=True)
class _Target:
    """The agent's pane and what proves it is theirs."""

    pane: str
    expect: tmux.PaneExpectation
    phase_session: str | None  # tina-session's session of the phase team, if it is one


def _worktree(feature: str, henv: HandlerEnv) -> str:
    """The orchestration's worktree (`~/.claude/tina-sessions/<feature>.json`); ReadError."""
    lookup = henv.claude_dir / "tina-sessions" / f"{feature}.json"
    return read_session_lookup(lookup).worktree_path


def _pane_target(action: InboundAction, recipient: _Recipient, henv: HandlerEnv) -> _Target:
    member = recipient.member
    pane = member.pane_id
    if pane is None:
        raise _no_pane(action, recipient)
    # Where the agent works: its cwd in the team config, and the orchestration's worktree.
    roots = [member.cwd]
    phase_session = None
    if action.feature is not None:
        # Not an orchestration on this laptop (any more): the cwd alone decides.
        with contextlib.suppress(ReadError, OSError):
            roots.append(_worktree(action.feature, henv))
        if action.phase is not None:
            phase_session = phase_tmux_session(action.feature, action.phase)
    assert action.agent_name is not None
    return _Target(
        pane=pane,
        expect=tmux.PaneExpectation(agent=action.agent_name, roots=tmux.resolve_roots(roots)),
        phase_session=phase_session,
    )


async def _prove(pane: str, expect: tmux.PaneExpectation, henv: HandlerEnv) -> None:
    probe = await _run(henv.tmux(*tmux.probe_args(pane)), henv)
    if probe.returncode != 0:
        detail = _clean(probe.stderr)
        raise tmux.PaneRefused(
            f"tmux pane {pane} of {expect.agent} is gone" + (f" ({detail})" if detail else ""),
            code="pane_gone",
        )
    info = tmux.PaneInfo.parse(probe.stdout.decode("utf-8", "replace"), pane)
    tmux.prove_pane(info, expect, pane=pane)


async def _tmux_step(
    argv: list[str], what: str, henv: HandlerEnv, stdin: bytes | None = None
) -> None:
    done = await _run(henv.tmux(*argv), henv, stdin)
    if done.returncode != 0:
        raise tmux.TmuxError(f"tmux {what} failed: {_clean(done.stderr) or done.returncode}")


async def _send_message(action: InboundAction, henv: HandlerEnv) -> ActionResult:
    assert action.text is not None
    tmux.check_text(action.text)
    recipient = await trio.to_thread.run_sync(_find_recipient, action, henv)
    route = _route(action, recipient)
    if route == "inbox":
        return await _to_inbox(action, henv)
    if route == "lead_session":
        return await _to_lead_session(action, recipient, henv)
    return await _to_pane(action, recipient, henv)


async def _to_pane(action: InboundAction, recipient: _Recipient, henv: HandlerEnv) -> ActionResult:
    assert action.text is not None
    target = await trio.to_thread.run_sync(_pane_target, action, recipient, henv)
    expect = target.expect
    if target.phase_session is not None:
        # The phase's lead runs in tina-session's session and its teammates' panes split from
        # it: when that session exists, the agent's pane must be in it.
        has = await _run(henv.tmux("has-session", "-t", f"={target.phase_session}"), henv)
        if has.returncode == 0:
            expect = attrs.evolve(expect, session=target.phase_session)
    pane = target.pane
    await _prove(pane, expect, henv)
    buffer = tmux.new_buffer_name()
    load, paste = tmux.paste_args(buffer, pane)
    await _tmux_step(load, "load-buffer", henv, action.text.encode())
    try:
        await _tmux_step(paste, f"paste-buffer into {pane}", henv)
    except tmux.TmuxError:
        await _run(henv.tmux("delete-buffer", "-b", buffer), henv)  # a paste with -d deletes it
        raise
    # Give the agent's TUI a moment to take the text; then make sure the pane is still theirs.
    await trio.sleep(tmux.SEND_PAUSE)
    await _prove(pane, expect, henv)
    await _tmux_step(tmux.enter_args(pane), f"send-keys to {pane}", henv)
    return ActionResult(
        ok=True,
        code="ok",
        message=f"typed into {action.agent_name}'s tmux pane {pane}",
        exit_code=0,
        via="pane",
    )


async def _to_lead_session(
    action: InboundAction, recipient: _Recipient, henv: HandlerEnv
) -> ActionResult:
    """Type into the phase lead's tmux session exactly as `tina-session send` does
    (`tina.session.tmux.send_text`: the session's active pane, proven to run in the worktree)."""
    assert action.text is not None
    agent = action.agent_name
    if not recipient.is_lead:
        raise ActionRejected(
            "not_lead",
            f"{agent} is not the lead of team {recipient.team.name}: only the lead runs in the "
            "phase's tmux session; reach it through its inbox"
            + (" or its tmux pane" if recipient.member.reach is MemberReach.PANE else ""),
        )
    if action.feature is None or action.phase is None:
        raise ActionRejected(
            "no_lead_session",
            f"team {recipient.team.name} belongs to no orchestration phase, so {agent} runs in "
            "no tina-session tmux session; reach it through its inbox",
        )
    feature, phase = action.feature, action.phase
    session = phase_tmux_session(feature, phase)
    try:
        worktree = await trio.to_thread.run_sync(_worktree, feature, henv)
    except ReadError as exc:
        raise ActionRejected(
            "orchestration_gone",
            f"cannot find the worktree of {feature} to prove {session} is its lead's: {exc}",
        ) from None
    send = partial(tmux.send_text, session, action.text, roots=[worktree], env=dict(henv.env))
    try:
        pane = await trio.to_thread.run_sync(send)
    except tmux.SessionMissing:
        raise ActionRejected(
            "lead_session_gone",
            f"the tmux session {session} of {agent} (phase {phase} of {feature}, started by "
            "tina-session start) no longer exists; reach it through its inbox",
        ) from None
    return ActionResult(
        ok=True,
        code="ok",
        message=f"typed into {agent}'s tmux session {session} (pane {pane})",
        exit_code=0,
        via="lead_session",
    )


INBOX_SENDER = "tina"
INBOX_SUMMARY = "from the tina dashboard"
SUMMARY_MAX = 80


async def _to_inbox(action: InboundAction, henv: HandlerEnv) -> ActionResult:
    """Append the message to the agent's inbox file, under Claude Code's lock."""
    assert action.team_dir is not None
    assert action.agent_name is not None
    assert action.text is not None
    agent = action.agent_name
    path = henv.team_path(action.team_dir) / "inboxes" / f"{agent}.json"
    write = partial(
        append_inbox_message,
        path,
        sender=INBOX_SENDER,
        text=action.text,
        summary=INBOX_SUMMARY[:SUMMARY_MAX],
        agent=agent,
    )
    try:
        key = await trio.to_thread.run_sync(write)
    except InboxWriteError as exc:
        raise ActionRejected(exc.code, exc.message) from None
    return ActionResult(
        ok=True, code="ok", message=f"written to {agent}'s inbox", via="inbox", message_key=key
    )


async def run_action(action: InboundAction, henv: HandlerEnv) -> ActionResult:
    """Run one action; every outcome, including a crash of the handler, becomes a result."""
    started = time.monotonic()
    try:
        if action.type == "send_message":
            result = await _send_message(action, henv)
        else:
            result = await _tina_session(action, henv)
    except ActionRejected as exc:
        result = ActionResult(ok=False, code=exc.code, message=exc.message)
    except tmux.TmuxError as exc:
        result = ActionResult(ok=False, code=exc.code, message=truncate(str(exc), 1000))
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
