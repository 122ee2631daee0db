"""Where Claude Code keeps its transcripts: the directories the daemon reads usage from.

Claude Code writes a session's transcript under ``<config dir>/projects/<project>/`` (a
subagent's or in-process teammate's under ``<project>/<session>/subagents/``). The config dir is
``~/.claude`` unless ``CLAUDE_CONFIG_DIR`` names another (people keep one per account, e.g.
``~/.claude-work``), and some Claude Code versions used ``~/.config/claude`` (public usage tools
read both). The daemon, started by launchd or systemd, does not see the shell's
``CLAUDE_CONFIG_DIR``; so it reads:

- the directories its config names (``transcript_dirs``), or by default ``projects`` in Claude
  Code's config dir as the daemon is told it (``claude_config_dir``, else ``claude_dir``)
  and, when they exist at start, ``$CLAUDE_CONFIG_DIR/projects`` (its own environment's) and
  ``$XDG_CONFIG_HOME/claude/projects`` (`default_roots`);
- and the ``projects`` directory of each transcript a hook names (``transcript_path`` is in every
  hook's input): a session whose config dir the daemon was not told of is read from its first
  hook on (`root_of`, at most :data:`MAX_LEARNED` of them, kept with the usage state).

Each config dir keeps its own login, so it also names a Claude account (`account_of`): the quota
is reported per laptop and config dir, with the account that config dir is logged in to
(`tina.usage.account`), so that the dashboard shows config dirs of one account as one.

Pure: paths and strings, no I/O except where a function says it looks at the file system.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

__all__ = [
    "ACCOUNT_MAX",
    "ALREADY_READ",
    "MAX_LEARNED",
    "acceptable",
    "account_of",
    "covered",
    "default_roots",
    "distinct",
    "root_of",
]

ALREADY_READ = "already read"
MAX_LEARNED = 8
"""Transcript directories learnt from hooks, at most (a laptop has a config dir or two)."""

_UP = 4
"""How far above a transcript its ``projects`` directory may be: ``projects/<project>/<s>.jsonl``
is two levels, ``projects/<project>/<s>/subagents/agent-<id>.jsonl`` four."""


def root_of(transcript: str) -> Path | None:
    """The ``projects`` directory a transcript's path lies in, or None for a path that is not an
    absolute, plain (no ``.`` or ``..`` parts) path of a ``.jsonl`` file under one."""
    if not transcript or "\x00" in transcript or not transcript.endswith(".jsonl"):
        return None
    if not os.path.isabs(transcript) or os.path.normpath(transcript) != transcript.rstrip("/"):
        return None
    path = Path(transcript)
    for parent in list(path.parents)[:_UP]:
        if parent.name == "projects" and parent.parent != parent:
            return parent
    return None


ACCOUNT_MAX = 200
"""An account's name, at most (Convex refuses longer ones)."""


def account_of(transcript: object, home: Path | None = None) -> str | None:
    """The Claude account a session ran under: the config dir its transcript lies in, with
    ``~`` for `home` (``~/.claude``, ``~/.claude-work``). None when `transcript` is not a
    transcript's path (`root_of`), or the name would be longer than :data:`ACCOUNT_MAX` or hold
    a control character."""
    root = root_of(transcript) if isinstance(transcript, str) else None
    if root is None:
        return None
    config = root.parent
    if home is not None and (config == home or home in config.parents):
        name = "~" if config == home else f"~/{config.relative_to(home)}"
    else:
        name = str(config)
    if len(name) > ACCOUNT_MAX or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        return None
    return name


def covered(root: Path, roots: Iterable[Path]) -> bool:
    """Whether `root` is one of `roots` or inside one (already read)."""
    return any(root == r or r in root.parents for r in roots)


def _key(path: Path) -> str:
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return os.path.normpath(path)


def distinct(roots: Iterable[Path]) -> tuple[Path, ...]:
    """`roots` in order, without repeats: the same directory through a symbolic link (e.g.
    ``~/.config/claude`` linked to ``~/.claude``) counts once. Looks at the file system."""
    seen: set[str] = set()
    out: list[Path] = []
    for root in roots:
        key = _key(root)
        if key not in seen:
            seen.add(key)
            out.append(root)
    return tuple(out)


def default_roots(claude_dir: Path, env: Mapping[str, str], home: Path) -> tuple[Path, ...]:
    """``<claude_dir>/projects``, then those of ``$CLAUDE_CONFIG_DIR`` and of
    ``$XDG_CONFIG_HOME/claude`` (``~/.config/claude``) when they exist. Looks at the file
    system."""
    extra: list[Path] = []
    if config := env.get("CLAUDE_CONFIG_DIR", "").strip():
        extra.append(Path(config).expanduser() / "projects")
    xdg = env.get("XDG_CONFIG_HOME", "").strip()
    extra.append((Path(xdg) if os.path.isabs(xdg) else home / ".config") / "claude" / "projects")
    return distinct([claude_dir / "projects", *(p for p in extra if p.is_dir())])


def acceptable(root: Path, known: Sequence[Path]) -> str | None:
    """Why a learnt `root` is not read (None: it is): it must be an existing directory of this
    user's, not already covered by `known`. Looks at the file system."""
    if covered(root, known):
        return ALREADY_READ
    try:
        st = root.stat()
    except OSError as exc:
        return type(exc).__name__
    if not stat.S_ISDIR(st.st_mode):
        return "not a directory"
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return "owned by another user"
    if any(_key(root) == _key(k) for k in known):
        return ALREADY_READ
    return None
