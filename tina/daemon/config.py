"""Daemon configuration: a frozen `Config`, resolved once from file, profile and environment.

Resolution order, highest first: `TINA_*` environment variables, the selected profile
(`[profiles.<name>]`, chosen by `TINA_PROFILE` or the file's `profile` key), the file's flat
keys, defaults. The file is the first that exists of `--config PATH`, `$TINA_CONFIG`,
`$XDG_CONFIG_HOME/tina/config.toml` (default `~/.config/tina/config.toml`) and, on macOS,
`~/Library/Application Support/tina/config.toml`. A missing file is fine: the environment
can supply everything.
"""

from __future__ import annotations

import math
import os
import re
import socket
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import attrs

from tina import claude_dirs
from tina.daemon import locations

NODE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")

# key -> (environment variable, kind)
_KEYS: dict[str, tuple[str, str]] = {
    "convex_url": ("TINA_CONVEX_URL", "url"),
    "node_name": ("TINA_NODE_NAME", "node_name"),
    "credential_file": ("TINA_CREDENTIAL_FILE", "path"),
    "claude_dir": ("TINA_CLAUDE_DIR", "path"),
    "claude_config_dir": ("TINA_CLAUDE_CONFIG_DIR", "path"),
    "state_dir": ("TINA_STATE_DIR", "path"),
    "tina_session": ("TINA_SESSION_BIN", "str"),
    "tmux_socket": ("TINA_TMUX_SOCKET", "str"),
    "heartbeat_secs": ("TINA_HEARTBEAT_SECS", "positive_float"),
    "idle_heartbeat_secs": ("TINA_IDLE_HEARTBEAT_SECS", "positive_float"),
    "debounce_ms": ("TINA_DEBOUNCE_MS", "positive_int"),
    "action_timeout_secs": ("TINA_ACTION_TIMEOUT_SECS", "positive_float"),
    "permission_wait_ms": ("TINA_PERMISSION_WAIT_MS", "permission_wait_ms"),
    "stall_after_mins": ("TINA_STALL_AFTER_MINS", "stall_after_mins"),
    "usage_prices": ("TINA_USAGE_PRICES", "path"),
    "transcript_dirs": ("TINA_TRANSCRIPT_DIRS", "paths"),
    "usage_idle_secs": ("TINA_USAGE_IDLE_SECS", "usage_idle_secs"),
}

PERMISSION_WAIT_MS = 20_000
PERMISSION_WAIT_MAX_MS = 55_000
"""How long a PermissionRequest waits for the dashboard at most: under the 60 s `tina hooks
install` gives the hook, with room for `tina hook`'s own 1.5 s of slack."""
USAGE_IDLE_MAX_SECS = 3600.0
"""At most an hour between usage rounds with no dashboard open: budgets are checked as usage
arrives."""
STALL_AFTER_MINS = 10
STALL_AFTER_MAX_MINS = 24 * 60
"""An agent or session silent this many minutes (a whole number, 1 to a day) is shown as
stalled on the dashboard's "Needs you"."""


class ConfigError(Exception):
    """A missing or invalid setting, naming where it came from and what was expected."""


def _home() -> Path:
    return locations.home()


def config_dir() -> Path:
    return locations.config_dir()


def candidate_files() -> list[Path]:
    return locations.candidate_files()


def default_state_dir() -> Path:
    return locations.default_state_dir()


@attrs.frozen(kw_only=True)
class Config:
    convex_url: str | None
    node_name: str
    credential_file: Path
    claude_dir: Path
    state_dir: Path
    tina_session: str = "tina-session"
    tmux_socket: str | None = None
    # Heartbeats: a changed health goes out `heartbeat_secs` after the previous beat; with
    # nothing new, a beat is sent `idle_heartbeat_secs` (unset: twice `heartbeat_secs`) after the
    # last successful call of any kind. Both stay within half the deployment's offline
    # threshold (TINA_OFFLINE_AFTER_MS, learnt at registration).
    heartbeat_secs: float = 30.0
    idle_heartbeat_secs: float | None = None
    debounce_ms: int = 30
    action_timeout_secs: float = 120.0
    permission_wait_ms: int = PERMISSION_WAIT_MS
    stall_after_mins: int = STALL_AFTER_MINS
    # A price table (tina/usage/prices.toml's format) whose models replace or add to tina's.
    usage_prices: Path | None = None
    # Claude Code's own config dir (its `CLAUDE_CONFIG_DIR`: teams, tasks, transcripts) when it
    # is not `claude_dir`, which keeps tina-session's lookups (`~/.claude/tina-sessions`) apart.
    claude_config_dir: Path | None = None
    # Where Claude Code's transcripts are read from (`tina.claude_dirs`); empty: the default
    # directory only (`load` puts the others it finds here).
    transcript_dirs: tuple[Path, ...] = ()
    # With no dashboard open, usage is read and sent at most once per this long (open, within
    # a second of a new message).
    usage_idle_secs: float = 30.0
    source: Path | None = None  # the file it came from, if any
    profile: str | None = None

    @property
    def tina_sessions_dir(self) -> Path:
        return self.claude_dir / "tina-sessions"

    @property
    def claude_code_dir(self) -> Path:
        """Where Claude Code keeps its teams, tasks and transcripts."""
        return self.claude_config_dir or self.claude_dir

    @property
    def teams_dir(self) -> Path:
        return self.claude_code_dir / "teams"

    @property
    def tasks_dir(self) -> Path:
        return self.claude_code_dir / "tasks"

    @property
    def default_transcript_dir(self) -> Path:
        return self.claude_code_dir / "projects"

    @property
    def transcript_roots(self) -> tuple[Path, ...]:
        return self.transcript_dirs or (self.default_transcript_dir,)

    @property
    def control_socket(self) -> Path:
        return self.state_dir / locations.SOCKET_NAME

    @property
    def outbox_dir(self) -> Path:
        return self.state_dir / "outbox"

    def require_url(self) -> str:
        if not self.convex_url:
            where = f" in {self.source}" if self.source else ""
            raise ConfigError(
                f"convex_url is not set{where}: set convex_url in the config file or "
                "TINA_CONVEX_URL (for example https://<deployment>.convex.cloud)"
            )
        return self.convex_url


def _check(key: str, raw: Any, kind: str, origin: str) -> Any:
    where = f"{key} (from {origin})"
    if kind in ("str", "url", "node_name", "path"):
        if not isinstance(raw, str) or not raw.strip():
            raise ConfigError(f"{where}: expected a non-empty string, got {raw!r}")
        value = raw.strip()
        if kind == "url":
            parsed = urlparse(value)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ConfigError(
                    f"{where}: expected an http(s) URL like https://x.convex.cloud, got {value!r}"
                )
            return value.rstrip("/")
        if kind == "node_name" and not NODE_NAME_RE.match(value):
            raise ConfigError(
                f"{where}: expected a laptop name of letters, digits, '.', '_', '-' (at most 63), got {value!r}"
            )
        if kind == "path":
            return Path(value).expanduser()
        return value
    if kind == "paths":  # a list in the file; separated by the OS's path separator in a variable
        items = raw.split(os.pathsep) if isinstance(raw, str) else raw
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ConfigError(f"{where}: expected a list of directory paths, got {raw!r}")
        paths = tuple(Path(i.strip()).expanduser() for i in items if i.strip())
        if not paths:
            raise ConfigError(f"{where}: expected at least one directory path, got {raw!r}")
        for path in paths:
            if not path.is_absolute():
                raise ConfigError(f"{where}: expected absolute paths (or ~/...), got {str(path)!r}")
        return paths
    if kind == "stall_after_mins":
        text = str(raw).strip() if isinstance(raw, str | int) and not isinstance(raw, bool) else ""
        if not text.isdigit() or not 1 <= int(text) <= STALL_AFTER_MAX_MINS:
            raise ConfigError(
                f"{where}: expected whole minutes from 1 to {STALL_AFTER_MAX_MINS}, got {raw!r}"
            )
        return int(text)
    if kind == "usage_idle_secs":
        try:
            seconds = float(raw) if not isinstance(raw, bool) else math.nan
        except (TypeError, ValueError):
            seconds = math.nan
        if not 0.5 <= seconds <= USAGE_IDLE_MAX_SECS:
            raise ConfigError(
                f"{where}: expected seconds from 0.5 to {USAGE_IDLE_MAX_SECS:.0f}, got {raw!r}"
            )
        return seconds
    if kind in ("positive_float", "positive_int", "permission_wait_ms"):
        try:
            number = float(raw) if kind == "positive_float" else int(str(raw))
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a positive number, got {raw!r}") from None
        if number <= 0:
            raise ConfigError(f"{where}: expected a positive number, got {raw!r}")
        if kind == "permission_wait_ms":
            return min(number, PERMISSION_WAIT_MAX_MS)
        return number
    raise AssertionError(kind)


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def _default_node_name() -> str:
    name = socket.gethostname().split(".")[0] or "laptop"
    name = re.sub(r"[^A-Za-z0-9._-]", "-", name).strip("-._") or "laptop"
    return name[:63]


def load(path: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Resolve the configuration once. Raises ConfigError with a precise message."""
    env = os.environ if env is None else env
    source: Path | None = None
    data: dict[str, Any] = {}
    if path is not None:
        if not path.exists():
            raise ConfigError(f"{path}: config file not found")
        source = path
    else:
        source = next((p for p in candidate_files() if p.exists()), None)
    if source is not None:
        data = _read_file(source)

    profile = env.get("TINA_PROFILE") or data.get("profile")
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"{source}: [profiles] must be a table of tables")
    layer: dict[str, Any] = {}
    if profile is not None:
        if not isinstance(profile, str) or profile not in profiles:
            known = ", ".join(sorted(profiles)) or "none"
            raise ConfigError(
                f"profile {profile!r} is not defined in {source} (known profiles: {known})"
            )
        layer = profiles[profile]
        if not isinstance(layer, dict):
            raise ConfigError(f"{source}: [profiles.{profile}] must be a table")

    unknown = sorted(set(data) - set(_KEYS) - {"profile", "profiles"})
    unknown += sorted(f"profiles.{profile}.{k}" for k in set(layer) - set(_KEYS))
    if unknown:
        raise ConfigError(
            f"{source}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(_KEYS)}"
        )

    values: dict[str, Any] = {}
    for key, (var, kind) in _KEYS.items():
        if env.get(var):
            values[key] = _check(key, env[var], kind, f"environment variable {var}")
        elif key in layer:
            values[key] = _check(key, layer[key], kind, f"{source} [profiles.{profile}]")
        elif key in data:
            values[key] = _check(key, data[key], kind, str(source))

    state_dir = values.pop("state_dir", None) or default_state_dir()
    claude_dir = values.pop("claude_dir", None) or _home() / ".claude"
    claude_config_dir = values.pop("claude_config_dir", None)
    transcripts = values.pop("transcript_dirs", None)
    return Config(
        convex_url=values.pop("convex_url", None),
        node_name=values.pop("node_name", None) or _default_node_name(),
        credential_file=values.pop("credential_file", None) or config_dir() / "credential.json",
        claude_dir=claude_dir,
        claude_config_dir=claude_config_dir,
        transcript_dirs=claude_dirs.distinct(transcripts)
        if transcripts
        else claude_dirs.default_roots(claude_config_dir or claude_dir, env, locations.home(env)),
        state_dir=state_dir,
        source=source,
        profile=profile,
        **values,
    )
