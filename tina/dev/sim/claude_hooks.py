"""Claude Code's command hooks, run the way Claude Code runs them (simulator only).

The stand-in lead (`tina.dev.sim.standin_claude`) fires its events through `HookRunner.fire`:
it reads the hook configuration where Claude Code reads it (``$CLAUDE_CONFIG_DIR/settings.json``
or ``~/.claude/settings.json``, then the project's ``.claude/settings.json`` and
``.claude/settings.local.json``), picks the ``command`` handlers whose group matches the event
(no ``matcher``, ``""`` or ``"*"`` matches everything; otherwise the matcher is a regular
expression over the tool name, the session start's source, the end's reason, the failure's
error or the notification's type; some events ignore matchers), runs identical commands once,
and runs each through ``/bin/sh -c`` with

- the event's JSON on stdin: ``session_id``, ``transcript_path``, ``cwd``, ``hook_event_name``,
  ``permission_mode`` and the event's own fields (reference §8.3, §8.4);
- the session's environment plus ``CLAUDE_PROJECT_DIR`` (the project directory);
- the project directory as working directory, the handler's ``timeout`` (600 s without one);

in parallel when several match, as Claude Code does. Nothing installed, nothing run. With
``disableAllHooks: true`` in any of the files, nothing runs either.

``permission_decision`` reads a ``PermissionRequest`` handler's stdout as Claude Code reads it.

The status line is read from the same files (``statusLine: {"type": "command", "command": ...}``,
the last file that sets one wins: the project's local settings over the project's over the
user's) and run the same way, its JSON on stdin (``status_line_command``, ``run_status_line``).
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from tina.hooks.settings import MATCHERLESS_EVENTS  # reference §8.1: Claude Code's rule

__all__ = [
    "DEFAULT_TIMEOUT",
    "MATCHERLESS_EVENTS",
    "STATUS_LINE_TIMEOUT",
    "HookRun",
    "HookRunner",
    "handlers_for",
    "permission_decision",
    "run_status_line",
    "settings_files",
    "status_line_command",
    "transcript_path",
]

DEFAULT_TIMEOUT = 600.0
"""Seconds Claude Code gives a command hook without a ``timeout`` (reference §8.2)."""
_OUTPUT_MAX = 64 * 1024
STATUS_LINE_TIMEOUT = 10.0
"""Seconds the stand-in gives a status-line command (Claude Code documents none)."""

# The input field a matcher is tested against, per event.
_MATCHED_FIELD = {
    "PreToolUse": "tool_name",
    "PostToolUse": "tool_name",
    "PostToolUseFailure": "tool_name",
    "PermissionRequest": "tool_name",
    "SessionStart": "source",
    "SessionEnd": "reason",
    "StopFailure": "error",
    "Notification": "notification_type",
    "PreCompact": "trigger",
    "SubagentStart": "agent_type",
    "SubagentStop": "agent_type",
}


@attrs.frozen(kw_only=True)
class HookRun:
    """One handler run: its command, exit status (None: it timed out or could not start),
    stdout and stderr (each cut at 64 KiB), and how long it took (seconds)."""

    event: str
    command: str
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float


def config_dir(env: Mapping[str, str]) -> Path:
    """Claude Code's config dir: ``$CLAUDE_CONFIG_DIR``, else ``~/.claude``. Its settings and
    its transcripts (``projects/``) are there."""
    if configured := env.get("CLAUDE_CONFIG_DIR"):
        return Path(configured).expanduser()
    return Path(env.get("HOME") or Path.home()) / ".claude"


def settings_files(env: Mapping[str, str], project: Path) -> list[Path]:
    """Where Claude Code reads hooks, in its order: the user's settings, then the project's."""
    return [
        config_dir(env) / "settings.json",
        project / ".claude" / "settings.json",
        project / ".claude" / "settings.local.json",
    ]


def _load(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _matches(matcher: Any, value: str | None) -> bool:
    if matcher is None or matcher in ("", "*"):
        return True
    if not isinstance(matcher, str):
        return False
    if value is None:
        return False
    try:
        return re.fullmatch(matcher, value) is not None
    except re.error:
        return matcher == value


def handlers_for(
    event: str, fields: Mapping[str, Any], documents: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The command handlers of `documents` (parsed settings files) that run for `event` with
    input `fields`: matching groups only, each command once, in the files' order."""
    if any(doc.get("disableAllHooks") is True for doc in documents):
        return []
    field = _MATCHED_FIELD.get(event)
    value = fields.get(field) if field else None
    chosen: list[dict[str, Any]] = []
    seen: set[str] = set()
    for doc in documents:
        hooks = doc.get("hooks")
        groups = hooks.get(event) if isinstance(hooks, dict) else None
        if not isinstance(groups, list):
            continue
        for group in groups:
            if not isinstance(group, dict):
                continue
            if event not in MATCHERLESS_EVENTS and not _matches(
                group.get("matcher"), value if isinstance(value, str) else None
            ):
                continue
            for handler in group.get("hooks") or []:
                if not isinstance(handler, dict) or handler.get("type") != "command":
                    continue
                command = handler.get("command")
                if isinstance(command, str) and command.strip() and command not in seen:
                    seen.add(command)
                    chosen.append(handler)
    return chosen


def status_line_command(env: Mapping[str, str], project: Path) -> str | None:
    """The status line's command, from the last settings file that sets a command one."""
    command = None
    for path in settings_files(env, project):
        setting = _load(path).get("statusLine")
        if isinstance(setting, dict) and setting.get("type") == "command":
            value = setting.get("command")
            if isinstance(value, str) and value.strip():
                command = value
    return command


def run_status_line(
    command: str, status: Mapping[str, Any], env: Mapping[str, str], cwd: Path
) -> HookRun:
    """Runs the status line as Claude Code does: ``/bin/sh -c``, the status JSON on stdin."""
    data = json.dumps(dict(status), ensure_ascii=False).encode("utf-8")
    handler = {"command": command, "timeout": STATUS_LINE_TIMEOUT}
    return _run_command("StatusLine", handler, data, env, cwd)


def transcript_path(claude_dir: Path, cwd: Path, session_id: str) -> Path:
    """``~/.claude/projects/<cwd with / and . as ->/<session id>.jsonl``."""
    encoded = re.sub(r"[^A-Za-z0-9-]", "-", str(cwd))
    return claude_dir / "projects" / encoded / f"{session_id}.jsonl"


def permission_decision(runs: Sequence[HookRun]) -> dict[str, Any] | None:
    """The decision a PermissionRequest's handlers gave (exit 0, stdout
    ``{"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": {...}}}``), deny
    first; None when none gave one (Claude Code then shows its own dialog)."""
    decisions: list[dict[str, Any]] = []
    for run in runs:
        if run.returncode != 0 or not run.stdout.strip():
            continue
        try:
            doc = json.loads(run.stdout)
        except ValueError:
            continue
        output = doc.get("hookSpecificOutput") if isinstance(doc, dict) else None
        decision = output.get("decision") if isinstance(output, dict) else None
        if isinstance(decision, dict) and decision.get("behavior") in ("allow", "deny"):
            decisions.append(decision)
    deny = [d for d in decisions if d["behavior"] == "deny"]
    chosen = deny or decisions
    return chosen[0] if chosen else None


class HookRunner:
    """One Claude Code session's hooks: its id, its working directory and permission mode."""

    def __init__(
        self,
        env: Mapping[str, str],
        cwd: Path,
        session_id: str,
        *,
        permission_mode: str = "default",
        claude_dir: Path | None = None,
    ) -> None:
        self.env = dict(env)
        self.cwd = cwd
        self.session_id = session_id
        self.permission_mode = permission_mode
        self.claude_dir = claude_dir or config_dir(env)
        self.transcript = transcript_path(self.claude_dir, cwd, session_id)

    def payload(self, event: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The event's input, as Claude Code writes it on the hook's stdin."""
        return {
            "session_id": self.session_id,
            "transcript_path": str(self.transcript),
            "cwd": str(self.cwd),
            "hook_event_name": event,
            "permission_mode": self.permission_mode,
            **fields,
        }

    def handlers(self, event: str, fields: Mapping[str, Any]) -> list[dict[str, Any]]:
        documents = [_load(p) for p in settings_files(self.env, self.cwd)]
        return handlers_for(event, fields, documents)

    def fire(self, event: str, **fields: Any) -> list[HookRun]:
        """Runs every handler configured for `event` (in parallel) and waits for them."""
        handlers = self.handlers(event, fields)
        if not handlers:
            return []
        data = json.dumps(self.payload(event, fields), ensure_ascii=False).encode("utf-8")
        env = {**self.env, "CLAUDE_PROJECT_DIR": str(self.cwd)}
        runs: list[HookRun | None] = [None] * len(handlers)

        def run(i: int, handler: dict[str, Any]) -> None:
            runs[i] = _run_command(event, handler, data, env, self.cwd)

        if len(handlers) == 1:
            run(0, handlers[0])
        else:
            threads = [
                threading.Thread(target=run, args=(i, h), name=f"hook-{event}", daemon=True)
                for i, h in enumerate(handlers)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        return [r for r in runs if r is not None]


def _timeout(handler: Mapping[str, Any]) -> float:
    value = handler.get("timeout")
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return DEFAULT_TIMEOUT
    return float(value)


def _run_command(
    event: str, handler: Mapping[str, Any], data: bytes, env: Mapping[str, str], cwd: Path
) -> HookRun:
    command = str(handler["command"])
    started = time.monotonic()
    try:
        done = subprocess.run(
            ["/bin/sh", "-c", command],
            input=data,
            capture_output=True,
            env=dict(env),
            cwd=cwd if cwd.is_dir() else None,
            timeout=_timeout(handler),
            check=False,
        )
        code: int | None = done.returncode
        out, err = done.stdout, done.stderr
    except subprocess.TimeoutExpired as exc:
        code, out, err = None, exc.stdout or b"", exc.stderr or b""
    except OSError as exc:
        code, out, err = None, b"", str(exc).encode()
    return HookRun(
        event=event,
        command=command,
        returncode=code,
        stdout=out[:_OUTPUT_MAX].decode("utf-8", "replace"),
        stderr=err[:_OUTPUT_MAX].decode("utf-8", "replace"),
        seconds=time.monotonic() - started,
    )
