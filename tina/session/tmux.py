"""Deliver text to an agent's tmux pane, after proving the pane is the agent's (argv only).

``TINA_TMUX_SOCKET`` selects the tmux server: a bare name is passed as ``-L <name>``, a path
(anything with a ``/``) as ``-S <path>``. Unset means the user's default server.

Two callers deliver text: ``tina-session send`` (the phase's session, by exact name) and the
daemon's ``send_message`` action (a teammate's pane id from the team config). Pane ids (``%N``)
are reused after a tmux server restart, and an agent that exits leaves its shell behind, so
typing blindly can hand the text to a shell that runs it. Both callers therefore take the same
steps; the pure parts live here, the synchronous runner for ``tina-session`` below them, the
daemon's trio runner in ``tina.daemon.actions``:

1. ``check_text``: no control characters except TAB and LF (C0, DEL and C1 are refused; an ESC
   could end a bracketed paste early, a CR would press Enter).
2. Probe the pane (``probe_args``, ``PaneInfo.parse``) and prove it is the agent's
   (``prove_pane``): alive; in the session that was recorded for it, when one was; its current
   directory inside the agent's working directory or the orchestration's worktree; and not
   running a plain shell (or a relay to one such as ``su`` or ``ssh``).
3. Paste the text as one buffer (``paste_args``: ``load-buffer -`` from stdin, then
   ``paste-buffer -p -d``). tmux wraps it in bracketed-paste markers when the program asked for
   them (Claude Code's input box does), so a LF inside the text is a new line in the agent's
   input, never Enter.
4. Prove the pane again (it may have changed meanwhile), then press Enter once.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence

import attrs

__all__ = [
    "PANE_FORMAT",
    "SEND_PAUSE",
    "SHELLS",
    "TMUX_SOCKET_ENV",
    "PaneExpectation",
    "PaneInfo",
    "PaneRefused",
    "SessionMissing",
    "TmuxError",
    "TmuxMissing",
    "UnsafeText",
    "attach",
    "capture_pane",
    "check_text",
    "enter_args",
    "is_shell",
    "kill_session",
    "new_buffer_name",
    "new_session",
    "pane_info",
    "pane_target",
    "paste_args",
    "probe_args",
    "prove_pane",
    "resolve_roots",
    "send_text",
    "session_exists",
    "session_target",
    "tmux_argv",
    "type_line",
]

TMUX_SOCKET_ENV = "TINA_TMUX_SOCKET"
_TIMEOUT = 10.0
SEND_PAUSE = 0.5
"""Pause between the text and Enter: the Claude TUI drops input that arrives too fast."""


class TmuxError(Exception):
    code = "tmux_failed"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class TmuxMissing(TmuxError):
    code = "tmux_missing"


class SessionMissing(TmuxError):
    code = "tmux_session_missing"


class PaneRefused(TmuxError):
    """The pane is gone or cannot be proven to be the agent's; nothing was typed."""

    code = "pane_unverifiable"


class UnsafeText(TmuxError):
    code = "unsafe_text"


# --- the text ------------------------------------------------------------------------------------

# C0 controls except TAB (09) and LF (0A), DEL, and C1 (U+0080-U+009F; U+009B is a one-character
# CSI for terminals that honour 8-bit controls).
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def check_text(text: str) -> None:
    """Refuse text a terminal would act on: only printable characters, TAB and LF pass."""
    found = _UNSAFE.search(text)
    if found is not None:
        raise UnsafeText(
            f"the text contains the control character U+{ord(found.group()):04X} at position "
            f"{found.start()}; only printable characters, tabs and line feeds can be typed "
            "into an agent's terminal"
        )


# --- the pane ------------------------------------------------------------------------------------

# The path goes last: it is the only field split with a limit, so a tab inside it stays in it.
PANE_FORMAT = "\t".join(
    (
        "#{pane_id}",
        "#{pane_dead}",
        "#{pane_pid}",
        "#{session_name}",
        "#{pane_current_command}",
        "#{pane_current_path}",
    )
)

SHELLS = frozenset(
    {
        # shells
        "sh", "ash", "bash", "busybox", "csh", "dash", "elvish", "es", "fish", "hush", "ion",
        "ksh", "ksh93", "loksh", "mksh", "murex", "nu", "nushell", "oksh", "osh", "pdksh",
        "posh", "powershell", "pwsh", "rc", "rbash", "tcsh", "xonsh", "ysh", "yash", "zsh",
        # programs that hand what is typed to a shell
        "doas", "login", "mosh", "mosh-client", "screen", "ssh", "su", "sudo", "telnet", "tmux",
    }
)  # fmt: skip
_VERSION = re.compile(r"[-_.]?[0-9][0-9.]*$")


def is_shell(command: str) -> bool:
    """Whether tmux's ``pane_current_command`` names a plain shell (``-bash``, ``zsh-5.9``...).

    An empty name counts as a shell: tmux could not tell what runs there.
    """
    name = posixpath.basename(command.strip().lstrip("-")).lower()
    return not name or name in SHELLS or _VERSION.sub("", name) in SHELLS


@attrs.frozen(kw_only=True)
class PaneInfo:
    """What tmux says about a pane right now (one ``display-message`` with ``PANE_FORMAT``)."""

    pane_id: str
    dead: bool
    pid: int | None
    session: str
    command: str
    path: str

    @classmethod
    def parse(cls, output: str, target: str) -> PaneInfo:
        fields = output.rstrip("\n").split("\t", 5)
        if not fields[0]:  # tmux 3.3 answers an unknown pane id with empty fields
            raise PaneRefused(f"tmux has no pane {target}", code="pane_gone")
        if len(fields) != 6 or not fields[0].startswith("%"):
            raise PaneRefused(f"tmux gave an unreadable description of pane {target}: {output!r}")
        pane_id, dead, pid, session, command, path = fields
        return cls(
            pane_id=pane_id,
            dead=dead == "1",
            pid=int(pid) if pid.isdigit() else None,
            session=session,
            command=command,
            path=path,
        )


@attrs.frozen(kw_only=True)
class PaneExpectation:
    """What is known about the agent's pane; ``prove_pane`` checks a pane against it.

    ``roots``: directories the pane's current directory must be in (the agent's ``cwd`` from
    the team config, the orchestration's worktree), each as given and resolved
    (``resolve_roots``). ``session``: the tmux session the pane must be in, when one was
    recorded.
    """

    agent: str
    roots: tuple[str, ...]
    session: str | None = None


def resolve_roots(paths: Iterable[str | None]) -> tuple[str, ...]:
    """Absolute directories as given and with symlinks resolved (``/var`` is ``/private/var``
    on macOS, and tmux reports the resolved form). The filesystem root proves nothing."""
    roots: list[str] = []
    for path in paths:
        if not path or not posixpath.isabs(path):
            continue
        for form in (posixpath.normpath(path), os.path.realpath(path)):
            if form != "/" and form not in roots:
                roots.append(form)
    return tuple(roots)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def prove_pane(info: PaneInfo, expect: PaneExpectation, *, pane: str | None = None) -> None:
    """Raise ``PaneRefused`` (with a code saying why) unless the pane is provably the agent's."""
    shown = pane or info.pane_id
    if pane is not None and info.pane_id != pane:
        raise PaneRefused(f"tmux pane {pane} of {expect.agent} is gone", code="pane_gone")
    if info.dead:
        raise PaneRefused(
            f"tmux pane {shown} of {expect.agent} is dead (its program exited)", code="pane_gone"
        )
    if is_shell(info.command):
        raise PaneRefused(
            f"refused to type into tmux pane {shown}: it runs a plain shell "
            f"({info.command or 'unknown'}), not {expect.agent}; the agent has exited or the "
            "pane id now belongs to another pane (tmux reuses ids after a restart)",
            code="pane_is_shell",
        )
    if expect.session is not None and info.session != expect.session:
        raise PaneRefused(
            f"refused to type into tmux pane {shown}: it is in tmux session {info.session!r}, "
            f"but {expect.agent} runs in session {expect.session!r}",
            code="pane_wrong_session",
        )
    if not expect.roots:
        raise PaneRefused(
            f"cannot prove tmux pane {shown} belongs to {expect.agent}: no working directory "
            "is recorded for it (team config cwd or orchestration worktree)",
            code="pane_unverifiable",
        )
    path = posixpath.normpath(info.path) if posixpath.isabs(info.path) else ""
    if not path:
        raise PaneRefused(
            f"cannot prove tmux pane {shown} belongs to {expect.agent}: tmux cannot tell its "
            "current directory",
            code="pane_unverifiable",
        )
    if not any(_inside(path, root) for root in expect.roots):
        raise PaneRefused(
            f"refused to type into tmux pane {shown}: its current directory {path} is outside "
            f"{expect.agent}'s working directory ({', '.join(expect.roots)}); the pane id "
            "probably belongs to another program now",
            code="pane_outside_worktree",
        )


# --- tmux arguments (after ``tmux [-L|-S socket]``) ------------------------------------------------


def probe_args(target: str) -> list[str]:
    return ["display-message", "-p", "-t", target, PANE_FORMAT]


def new_buffer_name() -> str:
    """A paste buffer of our own: never the user's, never another delivery's."""
    return f"tina-{uuid.uuid4().hex}"


def paste_args(buffer: str, pane: str) -> tuple[list[str], list[str]]:
    """``load-buffer`` (the text comes on stdin, never in argv) and ``paste-buffer``: ``-p``
    brackets the paste when the program asked for it, ``-d`` deletes the buffer."""
    return (
        ["load-buffer", "-b", buffer, "-"],
        ["paste-buffer", "-p", "-d", "-b", buffer, "-t", pane],
    )


def enter_args(pane: str) -> list[str]:
    return ["send-keys", "-t", pane, "Enter"]


# --- the synchronous runner (tina-session) --------------------------------------------------------


def tmux_argv(env: Mapping[str, str] | None = None) -> list[str]:
    """``["/path/to/tmux", -L|-S socket]`` for the configured server."""
    environ = os.environ if env is None else env
    binary = shutil.which("tmux", path=environ.get("PATH"))
    if binary is None:
        raise TmuxMissing("tmux is not installed (not found on PATH)")
    socket = environ.get(TMUX_SOCKET_ENV)
    if not socket:
        return [binary]
    return [binary, "-S" if "/" in socket else "-L", socket]


def _run(argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            argv,
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TmuxError(f"tmux did not answer within {_TIMEOUT:.0f} s") from None
    except OSError as exc:
        raise TmuxError(f"could not run tmux: {exc}") from None


def _checked(argv: list[str], what: str, stdin: str | None = None) -> str:
    result = _run(argv, stdin)
    if result.returncode != 0:
        detail = result.stderr.strip() or f"exit status {result.returncode}"
        raise TmuxError(f"tmux {what} failed: {detail}")
    return result.stdout


def session_target(session: str) -> str:
    """An exact session target: ``=name``, never tmux's prefix or pattern match (without the
    ``=``, ``tina-f-phase-1`` would find ``tina-f-phase-10`` when only that one exists)."""
    return f"={session}"


def pane_target(session: str) -> str:
    """The active pane of exactly ``session``."""
    return f"={session}:"


def session_exists(session: str, env: Mapping[str, str] | None = None) -> bool:
    return _run([*tmux_argv(env), "has-session", "-t", session_target(session)]).returncode == 0


def new_session(session: str, cwd: str, env: Mapping[str, str] | None = None) -> None:
    """A detached session running the default shell in ``cwd``."""
    _checked([*tmux_argv(env), "new-session", "-d", "-s", session, "-c", cwd], "new-session")


def kill_session(session: str, env: Mapping[str, str] | None = None) -> None:
    """Kill exactly ``session``; a session (or server) already gone is not an error."""
    result = _run([*tmux_argv(env), "kill-session", "-t", session_target(session)])
    gone = ("no server running", "session not found", "can't find session")
    if result.returncode != 0 and not any(text in result.stderr for text in gone):
        detail = result.stderr.strip() or f"exit status {result.returncode}"
        raise TmuxError(f"tmux kill-session failed: {detail}")


def capture_pane(
    session: str, lines: int, env: Mapping[str, str] | None = None, *, join: bool = False
) -> bytes:
    """The active pane's text from ``lines`` lines of history, as tmux prints it. ``join``
    joins wrapped lines (for matching, not for showing)."""
    argv = [*tmux_argv(env), "capture-pane", "-t", pane_target(session), "-p", "-S", f"-{lines}"]
    try:
        result = subprocess.run(
            [*argv, "-J"] if join else argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TmuxError(f"tmux did not answer within {_TIMEOUT:.0f} s") from None
    except OSError as exc:
        raise TmuxError(f"could not run tmux: {exc}") from None
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip()
        raise TmuxError(f"tmux capture-pane failed: {detail or result.returncode}")
    return result.stdout


def pane_info(session: str, env: Mapping[str, str] | None = None) -> PaneInfo:
    """What runs in the active pane of exactly ``session`` (``PaneRefused`` if it is gone)."""
    return _probe(tmux_argv(env), pane_target(session), f"the agent of tmux session {session!r}")


def type_line(
    session: str, text: str, env: Mapping[str, str] | None = None, *, pause: float = SEND_PAUSE
) -> None:
    """Type ``text`` literally (``send-keys -l``: no key names) into the session's active pane,
    pause, then press Enter. The caller has checked the text and, when it matters, the pane."""
    check_text(text)
    base = tmux_argv(env)
    target = pane_target(session)
    if text:
        _checked([*base, "send-keys", "-t", target, "-l", "--", text], "send-keys")
        time.sleep(pause)
    _checked([*base, *enter_args(target)], "send-keys")


def attach(session: str, env: Mapping[str, str] | None = None) -> int:
    """``tmux attach`` to exactly ``session`` with this process's terminal; tmux's exit code
    (1 if tmux was killed by a signal)."""
    try:
        code = subprocess.run([*tmux_argv(env), "attach", "-t", session_target(session)]).returncode
    except OSError as exc:
        raise TmuxError(f"could not run tmux: {exc}") from None
    return code if code >= 0 else 1


def _probe(base: list[str], target: str, agent: str) -> PaneInfo:
    result = _run([*base, *probe_args(target)])
    if result.returncode != 0:
        raise PaneRefused(
            f"tmux pane {target} of {agent} is gone: {result.stderr.strip()}", code="pane_gone"
        )
    return PaneInfo.parse(result.stdout, target)


def send_text(
    session: str,
    text: str,
    *,
    roots: Sequence[str],
    env: Mapping[str, str] | None = None,
    pause: float = SEND_PAUSE,
) -> str:
    """Paste ``text`` into the active pane of ``session`` and press Enter; returns the pane id.

    The pane must be provably the phase agent's: in that session, inside one of ``roots``
    (the orchestration's worktree), not a plain shell.
    """
    check_text(text)
    base = tmux_argv(env)
    if not session_exists(session, env):
        raise SessionMissing(f"tmux session {session!r} does not exist")
    expect = PaneExpectation(
        agent=f"the agent of tmux session {session!r}",
        roots=resolve_roots(roots),
        session=session,
    )
    info = _probe(base, pane_target(session), expect.agent)
    prove_pane(info, expect)
    pane = info.pane_id
    if text:  # an empty text only presses Enter
        buffer = new_buffer_name()
        load, paste = paste_args(buffer, pane)
        _checked([*base, *load], "load-buffer", stdin=text)
        try:
            _checked([*base, *paste], f"paste-buffer into {pane}")
        except TmuxError:
            _run([*base, "delete-buffer", "-b", buffer])  # a successful paste (-d) deletes it
            raise
        time.sleep(pause)
        prove_pane(_probe(base, pane, expect.agent), expect, pane=pane)
    _checked([*base, *enter_args(pane)], f"send-keys to {pane}")
    return pane
