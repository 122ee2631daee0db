"""`tina hook`: the command Claude Code runs for each hook event (JSON on stdin).

It forwards the event to the local daemon over its control socket (one line
`hook <compact JSON>`, one line of acknowledgement back) within a small budget
(`DEFAULT_BUDGET_MS`, `TINA_HOOK_BUDGET_MS` overrides), then exits 0 with nothing on stdout.

A `PermissionRequest` is the one exception: after the line is sent (within the same budget) it
waits for the daemon's answer up to `TINA_PERMISSION_WAIT_MS` (default 20000, at most 55000)
plus 1.5 s, and when the answer carries a decision from the dashboard it prints exactly
`{"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": <decision>}}`.

Claude Code reads a command hook's stdout as its decision, so anything else prints nothing: no
daemon, a stale socket, a daemon that never answers, no decision, a decision that is not one of
the two documented shapes, unreadable input. A PermissionRequest without a decision makes Claude
Code show its own prompt: it fails open to the human, never to "allow". The command never
raises and never exits non-zero (a non-zero exit would show an error line in the session).

Run inside a tmux pane (a pane teammate, or a lead in tmux), it adds the pane's id (`TMUX_PANE`,
which tmux gives every process in a pane) and its server's socket (`TMUX`'s first part) to the
event, as `tina_tmux_pane` and `tina_tmux_socket`: the daemon joins the session to the team
member whose `tmuxPaneId` that is, which nothing else in the event names. Run in an iTerm2 pane
instead (Claude Code's iTerm2 backend records the pane's session id as the teammate's
`tmuxPaneId`), it adds that session id (`ITERM_SESSION_ID`, `w<window>t<tab>p<pane>:<id>`, which
iTerm2 gives every process in a session) as `tina_iterm_session`.

Startup cost matters (it runs for every event): this module imports only the standard library
and `tina.daemon.locations` (the control socket's path without attrs or TOML).
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import time

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs milliseconds
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import BinaryIO

MAX_INPUT = 1024 * 1024
"""Bytes of hook input read at most; a larger event is dropped."""
MAX_LINE = MAX_INPUT + 64 * 1024
"""The longest `hook` line sent (compact JSON can exceed its input a little: `1e5` -> `100000.0`);
the daemon accepts this much (`tina.daemon.control.MAX_HOOK_REQUEST`)."""
MAX_ACK = 64 * 1024
DEFAULT_BUDGET_MS = 300.0
MAX_BUDGET_MS = 10_000.0
BUDGET_ENV = "TINA_HOOK_BUDGET_MS"
PERMISSION_REQUEST = "PermissionRequest"
DEFAULT_WAIT_MS = 20_000.0
MAX_WAIT_MS = 55_000.0
WAIT_ENV = "TINA_PERMISSION_WAIT_MS"
WAIT_SLACK = 1.5
"""Seconds a PermissionRequest waits beyond the daemon's own deadline (the same setting), so
the daemon's "no decision" arrives before the hook gives up."""

USAGE = """\
usage: tina hook

Run by Claude Code for each hook event (the event's JSON on stdin): forwards it to the tina
daemon over its control socket and exits 0, printing nothing (stdout is Claude Code's decision
channel). Daemon down, slow or absent: the event is dropped, still exit 0. Installed into
Claude Code's settings by `tina hooks install`.

A PermissionRequest waits for a decision from the dashboard and prints it as Claude Code's
hook output; with none in time it prints nothing and Claude Code asks at the keyboard.

environment:
  TINA_HOOK_BUDGET_MS      the most time spent reaching the daemon (default 300)
  TINA_PERMISSION_WAIT_MS  how long the daemon waits for a decision (default 20000, at most
                           55000); the hook waits 1.5 s longer
  TINA_STATE_DIR           where the daemon's control socket is (as for `tina daemon`)
"""


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: BinaryIO | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Always 0; prints nothing on stdout except for `--help` and a PermissionRequest's
    decision."""
    try:
        args = list(sys.argv[1:] if argv is None else argv)
        if "-h" in args or "--help" in args:
            sys.stdout.write(USAGE)
            return 0
        env = os.environ if env is None else env
        if stdin is None:
            stdin = sys.stdin.buffer
        read = read_hook(stdin, env)
        if read is None:
            return 0
        line, name = read
        if name.strip() != PERMISSION_REQUEST:
            forward(line, budget=budget_seconds(env), env=env)
            return 0
        answer = forward(line, budget=budget_seconds(env), env=env, wait=wait_seconds(env))
        output = decision_output(answer)
        if output is not None:
            sys.stdout.write(output)
            sys.stdout.flush()
    except Exception:  # whatever happens, Claude Code must see a clean exit
        pass
    return 0


def tmux_fields(env: Mapping[str, str]) -> dict[str, str]:
    """The tmux pane the hook runs in and its server's socket, when it runs in one."""
    pane = env.get("TMUX_PANE", "")
    digits = pane[1:]
    if not (pane.startswith("%") and digits.isascii() and digits.isdigit() and len(digits) <= 10):
        return {}
    out = {"tina_tmux_pane": pane}
    socket_path = env.get("TMUX", "").split(",", 1)[0]
    if socket_path.startswith("/") and len(socket_path) <= 1024:
        out["tina_tmux_socket"] = socket_path
    return out


_ITERM_SESSION = re.compile(r"w[0-9]{1,6}t[0-9]{1,6}p[0-9]{1,6}:([A-Za-z0-9-]{1,64})")


def pane_fields(env: Mapping[str, str]) -> dict[str, str]:
    """The pane the hook runs in: a tmux pane (`tmux_fields`), else an iTerm2 session's id."""
    if out := tmux_fields(env):
        return out
    found = _ITERM_SESSION.fullmatch(env.get("ITERM_SESSION_ID", ""))
    return {"tina_iterm_session": found[1]} if found else {}


def read_hook(stdin: BinaryIO, env: Mapping[str, str]) -> tuple[bytes, str] | None:
    """The `hook <compact JSON>\\n` line for the event on `stdin` and the event's name, or None:
    a terminal, more than `MAX_INPUT` bytes, not JSON, not an object with a string
    `hook_event_name`. The pane fields come only from `env`, this process's environment."""
    if stdin.isatty():
        return None  # run by hand: no event is coming
    data = stdin.read(MAX_INPUT + 1)
    if not data or len(data) > MAX_INPUT:
        return None
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("hook_event_name"), str):
        return None
    doc.pop("tina_tmux_pane", None)  # only ever what this process's environment says
    doc.pop("tina_tmux_socket", None)
    doc.pop("tina_iterm_session", None)
    doc.update(pane_fields(env))
    try:
        text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800"): keep it escaped
        text = json.dumps(doc, separators=(",", ":")).encode("ascii")
    line = b"hook " + text + b"\n"
    return (line, doc["hook_event_name"]) if len(line) <= MAX_LINE else None


def budget_seconds(env: Mapping[str, str]) -> float:
    raw = env.get(BUDGET_ENV, "")
    try:
        ms = float(raw) if raw.strip() else DEFAULT_BUDGET_MS
    except ValueError:
        ms = DEFAULT_BUDGET_MS
    if not ms > 0:  # also NaN
        ms = DEFAULT_BUDGET_MS
    return min(ms, MAX_BUDGET_MS) / 1000


def wait_seconds(env: Mapping[str, str]) -> float:
    """How long a PermissionRequest waits for the daemon's answer: the daemon's own deadline
    (`TINA_PERMISSION_WAIT_MS`, read as the daemon reads it) and `WAIT_SLACK`."""
    raw = env.get(WAIT_ENV, "")
    try:
        ms = float(int(raw.strip())) if raw.strip() else DEFAULT_WAIT_MS
    except ValueError:
        ms = DEFAULT_WAIT_MS
    if not ms > 0:
        ms = DEFAULT_WAIT_MS
    return min(ms, MAX_WAIT_MS) / 1000 + WAIT_SLACK


def decision_output(answer: bytes | None) -> str | None:
    """Claude Code's hook output for the daemon's answer, or None when it carries no decision
    of a documented shape: `{"behavior": "allow"}` with an optional list `updatedPermissions`,
    or `{"behavior": "deny", "message": <text>}`. Only those keys are passed on."""
    if not answer:
        return None
    try:
        doc = json.loads(answer)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or doc.get("ok") is not True:
        return None
    given = doc.get("decision")
    if not isinstance(given, dict):
        return None
    decision: dict[str, object]
    if given.get("behavior") == "allow":
        decision = {"behavior": "allow"}
        permissions = given.get("updatedPermissions")
        if permissions is not None:
            if not isinstance(permissions, list):
                return None
            decision["updatedPermissions"] = permissions
    elif given.get("behavior") == "deny" and isinstance(given.get("message"), str):
        decision = {"behavior": "deny", "message": given["message"]}
    else:
        return None
    output = {"hookSpecificOutput": {"hookEventName": PERMISSION_REQUEST, "decision": decision}}
    return json.dumps(output, ensure_ascii=False) + "\n"


def forward(
    line: bytes, *, budget: float, env: Mapping[str, str], wait: float | None = None
) -> bytes | None:
    """Send `line` to the daemon within `budget` seconds and read its one-line answer, within
    the same budget, or `wait` seconds from the start when given (a PermissionRequest). The
    answer (without its newline), or None: no socket, refused, too slow, closed early."""
    from tina.daemon.locations import control_socket_path

    start = time.monotonic()
    deadline = start + budget
    path = control_socket_path(env)

    def remaining() -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(remaining())
            s.connect(path)
            s.settimeout(remaining())
            s.sendall(line)  # the timeout bounds the whole send
            if wait is not None:
                deadline = max(deadline, start + wait)
            answer = b""
            while b"\n" not in answer and len(answer) < MAX_ACK:
                s.settimeout(remaining())
                chunk = s.recv(MAX_ACK)
                if not chunk:
                    return None
                answer += chunk
    except (OSError, ValueError):  # TimeoutError and ConnectionError are OSErrors
        return None
    return answer.split(b"\n", 1)[0]


if __name__ == "__main__":
    sys.exit(main())
