"""Which Claude account a config dir is logged in to, as a key that names no one.

Each Claude Code config dir keeps its own login, so the quota is observed per config dir
(`tina.claude_dirs.account_of`). Two config dirs (or two laptops) logged in to one account
share its 5-hour and 7-day windows, though: the dashboard shows them as one account when their
laptops send the same `account_key`.

Claude Code keeps the login's account in its global config file: ``.claude.json`` in the config
dir when ``CLAUDE_CONFIG_DIR`` names one, ``~/.claude.json`` beside the default ``~/.claude``
(the file public account switchers read), under ``oauthAccount.accountUuid``. The file holds
much else (projects, MCP servers and their settings): only that one field is decoded, and only
its hash leaves the laptop, never the id itself, the email or anything else of the file. A
config dir logged in with an API key has no ``oauthAccount``: no key, as for a file that cannot
be read.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import msgspec

from tina.local.files import FileRefused, read_file

__all__ = ["CONFIG_FILE", "CONFIG_MAX", "KEY_RE", "AccountKeys", "account_key", "config_files"]

CONFIG_FILE = ".claude.json"
CONFIG_MAX = 32 * 1024 * 1024
"""A config file larger than this is not read (it grows with the projects' history)."""
KEY_RE = r"^[0-9a-f]{32}$"
"""An account key: 32 lowercase hex digits (as Convex checks it)."""
_SALT = b"tina.account-key.v1\x00"
_UUID_MAX = 100


class _Account(msgspec.Struct, rename="camel"):
    account_uuid: str | None = None


class _Config(msgspec.Struct, rename="camel"):
    oauth_account: _Account | None = None


_DECODER = msgspec.json.Decoder(_Config)


def account_key(data: bytes) -> str | None:
    """The key of the account a config file's bytes name (a salted SHA-256 of its
    ``oauthAccount.accountUuid``, 32 hex digits), or None: no account, not JSON, not that
    shape. Never raises."""
    try:
        config = _DECODER.decode(data)
    except (msgspec.DecodeError, RecursionError):
        return None
    account = config.oauth_account
    uuid = "" if account is None or account.account_uuid is None else account.account_uuid
    uuid = uuid.strip().lower()
    if not uuid or len(uuid) > _UUID_MAX:
        return None
    return hashlib.sha256(_SALT + uuid.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def config_files(account: str, home: Path) -> list[Path]:
    """Where the config file of the config dir `account` names (`account_of`'s spelling:
    ``~`` for `home`) may be, the likelier first."""
    if account == "~":
        config = home
    elif account.startswith("~/"):
        config = home / account[2:]
    else:
        config = Path(account)
    if not config.is_absolute():
        return []
    inside = config / CONFIG_FILE
    if config == home / ".claude":
        return [home / CONFIG_FILE, inside]  # the default, unless CLAUDE_CONFIG_DIR named it
    return [inside]


class AccountKeys:
    """Each config dir's account key, read again only when its config file changed (blocking:
    run in a worker thread)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._seen: dict[Path, tuple[tuple[int, int, int], str | None]] = {}
        self.reads = 0

    def key(self, account: str | None) -> str | None:
        if account is None:
            return None
        for path in config_files(account, self.home):
            try:
                st = os.stat(path)
            except OSError:
                continue
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
            seen = self._seen.get(path)
            if seen is not None and seen[0] == stamp:
                key = seen[1]
            else:
                key = self._read(path)
                if len(self._seen) >= 64:
                    self._seen.clear()
                self._seen[path] = (stamp, key)
            if key is not None:
                return key
        return None

    def _read(self, path: Path) -> str | None:
        self.reads += 1
        try:
            found = read_file(path, limit=CONFIG_MAX)
        except FileRefused:
            return None
        return None if found is None else account_key(found.data)
