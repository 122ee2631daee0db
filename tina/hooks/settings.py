"""tina's entries in Claude Code's settings files: pure functions on parsed JSON, plus small file I/O.

Claude Code reads hooks from ``{"hooks": {"<Event>": [{"matcher": ..., "hooks": [<handler>]}]}}``
in ``~/.claude/settings.json`` (``$CLAUDE_CONFIG_DIR/settings.json`` when that is set), a project's
``.claude/settings.json`` and other places; hooks from all of them run together, identical command
handlers once. tina adds one group per event holding one command handler, ``<tina> hook``, with an
explicit timeout, and no ``matcher`` (which matches everything, and several events ignore it).

The rules, so that the user's own hooks and other tools' entries are never touched:

- A missing file, or one holding only whitespace, is ``{}``. Anything that is not a JSON object, or
  whose ``hooks`` is not an object or ``hooks.<Event>`` (for an event tina uses) not an array, is
  refused with a `SettingsError` naming the file, the key and what was expected.
- Every other key keeps its value and its place; ``hooks`` is appended when it was missing.
- tina's handlers are recognised by their command: one whose words (``shlex.split``) end in
  ``hook`` with a program named ``tina``, or a command given explicitly (``--command``).
- Install is idempotent: an event that already has a handler with the same command gets nothing
  new (its timeout is set to the one asked for). tina handlers with another command (an older
  install from another place) are replaced.
- Uninstall removes tina's handlers, a group they leave empty, an event array they leave empty
  and, if it ends up empty that way, the ``hooks`` object itself. So uninstall after install gives
  back the original object, except that an event array or ``hooks`` object that was already empty
  before install is removed too.
- Writes re-read the file first (a concurrent edit is planned again, not lost), keep a backup
  ``<file>.tina-backup-<UTC timestamp>`` of a file that existed, and replace the file atomically
  (a temp file in the same directory with the original's mode, 0600 for a new file; fsync; rename).
  A symlinked settings file (dotfiles) is written through to its target. The file is written as
  JSON indented like the original (two spaces by default).
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import re
import shlex
import shutil
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from tina.atomic import write_atomic

#: The events tina listens to, in the order they are written.
EVENTS: tuple[str, ...] = (
    "SessionStart",
    "SessionEnd",
    "Notification",
    "PermissionRequest",
    # Every tool call: what shows a long turn is alive, and names the tool a stall waits on.
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "Stop",
    "StopFailure",
    "SubagentStart",
    "SubagentStop",
    "TaskCreated",
    "TaskCompleted",
    "TeammateIdle",
    "PreCompact",
)

#: Events whose groups ignore `matcher` (reference §8.1). tina leaves `matcher` out everywhere:
#: for these it would be ignored, for the others a missing matcher matches everything.
MATCHERLESS_EVENTS = frozenset(
    {
        "UserPromptSubmit",
        "PostToolBatch",
        "Stop",
        "TeammateIdle",
        "TaskCreated",
        "TaskCompleted",
        "WorktreeCreate",
        "WorktreeRemove",
        "CwdChanged",
    }
)

#: Seconds Claude Code waits for `tina hook` (its own default for commands is 600 s). SessionEnd's
#: 1.5 s budget is raised to the largest configured timeout, so 10 s covers it too.
DEFAULT_TIMEOUT = 10
#: PermissionRequest waits longer: tina will hold it open for a decision from the phone.
DEFAULT_PERMISSION_TIMEOUT = 60

BACKUP_INFIX = ".tina-backup-"

JSONObject = dict[str, Any]


class SettingsError(Exception):
    """A settings file tina will not change (or cannot read), naming the file and the key."""


# --- where the settings live -------------------------------------------------------------------


def user_settings_path(env: Mapping[str, str] | None = None) -> Path:
    """``$CLAUDE_CONFIG_DIR/settings.json`` when that is set, else ``~/.claude/settings.json``."""
    env = os.environ if env is None else env
    if config_dir := env.get("CLAUDE_CONFIG_DIR"):
        return Path(config_dir).expanduser() / "settings.json"
    home = env.get("HOME")
    return (Path(home) if home else Path.home()) / ".claude" / "settings.json"


def project_settings_path(project: Path) -> Path:
    return project / ".claude" / "settings.json"


def tina_executable() -> Path | None:
    """The absolute path of the `tina` script running now, or the one beside this Python, or the
    first on PATH; None when there is none."""
    candidates = []
    if Path(sys.argv[0]).name == "tina":
        candidates.append(Path(sys.argv[0]))
    candidates.append(Path(sys.executable).parent / "tina")
    if found := shutil.which("tina"):
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate.absolute()
    return None


def default_command() -> str:
    """The command tina installs: ``<absolute path of tina> hook``, quoted for a shell."""
    exe = tina_executable()
    if exe is None:
        raise SettingsError(
            "cannot find the tina executable (not beside this Python, not on PATH): "
            "pass --command '<path to tina> hook'"
        )
    return f"{shlex.quote(str(exe))} hook"


# --- recognising tina's handlers ----------------------------------------------------------------


def is_tina_command(command: object, extra: Iterable[str] = ()) -> bool:
    """Whether a handler's `command` is tina's: words ending in ``hook`` run by a program named
    ``tina``, or exactly one of `extra`."""
    if not isinstance(command, str):
        return False
    if command in extra:
        return True
    try:
        argv = shlex.split(command)
    except ValueError:
        return False
    return len(argv) >= 2 and argv[-1] == "hook" and Path(argv[0]).name == "tina"


def tina_handler(event: str, command: str, permission_timeout: int) -> JSONObject:
    timeout = permission_timeout if event == "PermissionRequest" else DEFAULT_TIMEOUT
    return {"type": "command", "command": command, "timeout": timeout}


# --- checking the shape --------------------------------------------------------------------------


def check_shape(settings: object, source: str) -> JSONObject:
    """`settings` if it is an object whose `hooks` (if any) is an object and whose `hooks.<Event>`
    for tina's events (if any) are arrays; else a `SettingsError` naming `source` and the key."""
    if not isinstance(settings, dict):
        raise SettingsError(
            f"{source}: expected a JSON object at the top level, found {_kind(settings)}; "
            "nothing was changed"
        )
    hooks = settings.get("hooks")
    if hooks is None and "hooks" not in settings:
        return settings
    if not isinstance(hooks, dict):
        raise SettingsError(
            f'{source}: key "hooks": expected an object of event names to arrays, found '
            f"{_kind(hooks)}; nothing was changed"
        )
    for event in EVENTS:
        if event in hooks and not isinstance(hooks[event], list):
            raise SettingsError(
                f'{source}: key "hooks.{event}": expected an array of matcher groups, found '
                f"{_kind(hooks[event])}; nothing was changed"
            )
    return settings


def _kind(value: object) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "an array"
        case dict():
            return "an object"
    return type(value).__name__


def parse(text: str, source: str) -> JSONObject:
    """The settings in `text`: whitespace alone is ``{}``; anything else must pass `check_shape`."""
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{source}: not valid JSON ({exc}); nothing was changed") from exc
    return check_shape(data, source)


# --- the changes (pure) --------------------------------------------------------------------------


def _handlers(groups: list[Any]) -> Iterable[dict[str, Any]]:
    for group in groups:
        if isinstance(group, dict) and isinstance(group.get("hooks"), list):
            for handler in group["hooks"]:
                if isinstance(handler, dict):
                    yield handler


def _remove(groups: list[Any], doomed: Any) -> tuple[list[Any], bool]:
    """`groups` without the handlers `doomed(handler)` picks, and without a group that left
    empty; the user's groups and handlers keep their place and content."""
    kept: list[Any] = []
    removed = False
    for group in groups:
        if not (isinstance(group, dict) and isinstance(group.get("hooks"), list)):
            kept.append(group)
            continue
        handlers = [h for h in group["hooks"] if not (isinstance(h, dict) and doomed(h))]
        if len(handlers) == len(group["hooks"]):
            kept.append(group)
            continue
        removed = True
        if handlers:
            kept.append({**group, "hooks": handlers})
    return kept, removed


def install(
    settings: JSONObject,
    command: str,
    *,
    permission_timeout: int = DEFAULT_PERMISSION_TIMEOUT,
    source: str = "settings",
) -> JSONObject:
    """A copy of `settings` with tina's handler (`command`) for every event in `EVENTS`."""
    result = copy.deepcopy(check_shape(settings, source))
    hooks = result.setdefault("hooks", {})
    for event in EVENTS:
        wanted = tina_handler(event, command, permission_timeout)
        groups: list[Any] = hooks.get(event, [])
        # tina handlers with another command: an install from elsewhere, replaced by this one
        groups, _ = _remove(
            groups, lambda h: h.get("command") != command and is_tina_command(h.get("command"))
        )
        present = [h for h in _handlers(groups) if h.get("command") == command]
        for handler in present:
            if handler.get("timeout") != wanted["timeout"]:
                handler["timeout"] = wanted["timeout"]
        if not present:
            groups.append({"hooks": [wanted]})
        hooks[event] = groups
    return result


def uninstall(
    settings: JSONObject, *, commands: Iterable[str] = (), source: str = "settings"
) -> JSONObject:
    """A copy of `settings` without tina's handlers (see `is_tina_command`; `commands` are tina's
    too), in any event; empty groups, event arrays and ``hooks`` left by that are removed."""
    extra = tuple(commands)
    result = copy.deepcopy(check_shape(settings, source))
    hooks = result.get("hooks")
    if not isinstance(hooks, dict):
        return result
    emptied = False
    for event in list(hooks):
        groups = hooks[event]
        if not isinstance(groups, list):
            continue
        kept, removed = _remove(groups, lambda h: is_tina_command(h.get("command"), extra))
        if not removed:
            continue
        if kept:
            hooks[event] = kept
        else:
            del hooks[event]
            emptied = True
    if emptied and not hooks:
        del result["hooks"]
    return result


@attrs.frozen(kw_only=True)
class HooksStatus:
    """What one settings file holds of tina's hooks."""

    installed: tuple[str, ...]  # events with a tina handler, in `EVENTS` order
    missing: tuple[str, ...]
    commands: tuple[str, ...]  # the distinct tina commands found
    disabled: bool  # `disableAllHooks: true`: no hook of this file runs

    @property
    def complete(self) -> bool:
        return not self.missing


def status(settings: JSONObject, *, commands: Iterable[str] = ()) -> HooksStatus:
    extra = tuple(commands)
    hooks = settings.get("hooks")
    installed: list[str] = []
    found: dict[str, None] = {}
    for event in EVENTS:
        groups = hooks.get(event) if isinstance(hooks, dict) else None
        ours = [
            h["command"]
            for h in _handlers(groups if isinstance(groups, list) else [])
            if is_tina_command(h.get("command"), extra)
        ]
        if ours:
            installed.append(event)
            found.update(dict.fromkeys(ours))
    return HooksStatus(
        installed=tuple(installed),
        missing=tuple(e for e in EVENTS if e not in installed),
        commands=tuple(found),
        disabled=settings.get("disableAllHooks") is True,
    )


# --- text ----------------------------------------------------------------------------------------


def indent_of(text: str) -> str:
    """The indentation of the first key in `text` (a JSON object), two spaces if none."""
    match = re.match(r"\s*\{[ \t]*\r?\n([ \t]+)\S", text)
    return match.group(1) if match else "  "


def render(settings: JSONObject, indent: str = "  ") -> str:
    return json.dumps(settings, indent=indent, ensure_ascii=False) + "\n"


def diff(before: JSONObject | None, after: JSONObject, name: str, indent: str = "  ") -> str:
    """A unified diff of the two objects as tina writes them (empty if they are equal)."""
    old = render(before, indent).splitlines(keepends=True) if before is not None else []
    new = render(after, indent).splitlines(keepends=True)
    return "".join(
        difflib.unified_diff(
            old,
            new,
            fromfile=f"{name} (before)" if before is not None else "/dev/null",
            tofile=name,
        )
    )


# --- files ---------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Loaded:
    path: Path  # the file written: the settings path, or a symlink's target
    raw: bytes | None  # None when the file does not exist
    settings: JSONObject

    @property
    def indent(self) -> str:
        return indent_of(self.raw.decode("utf-8", "replace")) if self.raw else "  "


def load(path: Path) -> Loaded:
    """The settings at `path` (``{}`` if missing); a `SettingsError` if unreadable or refused."""
    target = Path(os.path.realpath(path))
    try:
        raw: bytes | None = target.read_bytes()
    except FileNotFoundError:
        raw = None
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if raw is None:
        return Loaded(path=target, raw=None, settings={})
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SettingsError(f"{path}: not UTF-8 text ({exc}); nothing was changed") from exc
    return Loaded(path=target, raw=raw, settings=parse(text, str(path)))


class Conflict(Exception):
    """The file changed between reading and writing: plan again from what is there now."""


def backup_path(path: Path, now: float | None = None) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    candidate = path.with_name(f"{path.name}{BACKUP_INFIX}{stamp}")
    n = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}{BACKUP_INFIX}{stamp}.{n}")
        n += 1
    return candidate


def write(loaded: Loaded, text: str) -> Path | None:
    """Replace `loaded.path` with `text` if the file still holds `loaded.raw` (else `Conflict`);
    returns the backup of the previous content (None for a new file)."""
    path = loaded.path
    try:
        current: bytes | None = path.read_bytes()
    except FileNotFoundError:
        current = None
    if current != loaded.raw:
        raise Conflict(str(path))
    mode = 0o600
    backup = None
    if loaded.raw is not None:
        mode = path.stat().st_mode & 0o7777
        backup = backup_path(path)
        _write_new(backup, loaded.raw, mode)
    write_atomic(path, text.encode("utf-8"), mode=mode)
    return backup


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), mode)  # the umask may have narrowed it
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
