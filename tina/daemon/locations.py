"""Where tina's files are, from the environment alone: the standard library's `os` only.

`tina hook` runs for every Claude Code hook event and must start fast, so it finds the daemon's
control socket here (`control_socket_path`, plain `os.path` strings) instead of through
`tina.daemon.config` (attrs, TOML, URL parsing); even `pathlib` and `typing` are imported only
when needed. The config module uses the same functions, so both agree.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs milliseconds
if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

SOCKET_NAME = "daemon.sock"


def _home(env: Mapping[str, str]) -> str:
    return env.get("HOME") or os.path.expanduser("~")


def _config_dir(env: Mapping[str, str]) -> str:
    xdg = env.get("XDG_CONFIG_HOME")
    return os.path.join(xdg or os.path.join(_home(env), ".config"), "tina")


def _candidate_files(env: Mapping[str, str]) -> list[str]:
    files = []
    if explicit := env.get("TINA_CONFIG"):
        files.append(explicit)
    files.append(os.path.join(_config_dir(env), "config.toml"))
    if sys.platform == "darwin":
        files.append(
            os.path.join(_home(env), "Library", "Application Support", "tina", "config.toml")
        )
    return files


def _default_state_dir(env: Mapping[str, str]) -> str:
    if sys.platform == "darwin":
        return os.path.join(_home(env), "Library", "Application Support", "tina")
    xdg = env.get("XDG_STATE_HOME")
    return os.path.join(xdg or os.path.join(_home(env), ".local", "state"), "tina")


def home(env: Mapping[str, str] | None = None) -> Path:
    from pathlib import Path

    return Path(_home(os.environ if env is None else env))


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    from pathlib import Path

    return Path(_config_dir(os.environ if env is None else env))


def candidate_files(env: Mapping[str, str] | None = None) -> list[Path]:
    from pathlib import Path

    return [Path(p) for p in _candidate_files(os.environ if env is None else env)]


def default_state_dir(env: Mapping[str, str] | None = None) -> Path:
    from pathlib import Path

    return Path(_default_state_dir(os.environ if env is None else env))


def control_socket(env: Mapping[str, str] | None = None) -> Path:
    from pathlib import Path

    return Path(control_socket_path(env))


def control_socket_path(env: Mapping[str, str] | None = None) -> str:
    """`Config.control_socket` as `tina.daemon.config.load(env=env)` would resolve it (with no
    `--config`), for a valid configuration. An unreadable or invalid file counts as no setting
    (the daemon would refuse it and not run; the caller then finds no socket).

    The file is parsed (tomllib, imported here only) only when it mentions `state_dir`."""
    env = os.environ if env is None else env
    state_dir = _setting(env.get("TINA_STATE_DIR"))
    if state_dir is None:
        state_dir = _state_dir_from_file(env)
    return os.path.join(state_dir or _default_state_dir(env), SOCKET_NAME)


def _setting(raw: object) -> str | None:
    """A path setting as `tina.daemon.config` reads it: stripped, `~` expanded."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    return os.path.expanduser(raw.strip())


def _state_dir_from_file(env: Mapping[str, str]) -> str | None:
    source = next((p for p in _candidate_files(env) if os.path.exists(p)), None)
    if source is None:
        return None
    try:
        with open(source, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if b"state_dir" not in data:
        return None
    import tomllib

    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    profile = env.get("TINA_PROFILE") or doc.get("profile")
    profiles = doc.get("profiles")
    if isinstance(profile, str) and isinstance(profiles, dict):
        layer = profiles.get(profile)
        if isinstance(layer, dict) and "state_dir" in layer:
            return _setting(layer["state_dir"])
    return _setting(doc.get("state_dir"))
