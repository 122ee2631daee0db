"""`tina hook` finds the control socket without `tina.daemon.config` (`tina.daemon.locations`),
where the daemon, resolving its configuration, puts it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tina.daemon import config, locations

CASES: dict[str, tuple[dict[str, str], str | None]] = {
    "defaults": ({}, None),
    "xdg state home": ({"XDG_STATE_HOME": "{tmp}/xdg-state"}, None),
    "env state dir": ({"TINA_STATE_DIR": "  {tmp}/from-env  "}, 'state_dir = "{tmp}/file"\n'),
    "file state dir": ({}, 'state_dir = "{tmp}/file"\n'),
    "file with a tilde": ({}, 'state_dir = "~/tina-state"\n'),
    "profile state dir": (
        {"TINA_PROFILE": "work"},
        'state_dir = "{tmp}/flat"\n[profiles.work]\nstate_dir = "{tmp}/work"\n',
    ),
    "file profile key": (
        {},
        'profile = "work"\n[profiles.work]\nstate_dir = "{tmp}/work"\n[profiles.home]\n',
    ),
    "profile without it": (
        {"TINA_PROFILE": "home"},
        'state_dir = "{tmp}/flat"\n[profiles.home]\nnode_name = "x"\n',
    ),
    "file without it": ({}, 'node_name = "laptop"\n'),
    "explicit file": ({"TINA_CONFIG": "{tmp}/other.toml"}, 'state_dir = "{tmp}/other"\n'),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_hook_and_the_daemon_agree(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_template, file_text = CASES[case]
    for name in ("TINA_STATE_DIR", "TINA_PROFILE", "TINA_CONFIG", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name, value in env_template.items():
        monkeypatch.setenv(name, value.format(tmp=tmp_path))
    if file_text is not None:
        target = Path(
            env_template.get("TINA_CONFIG", "{tmp}/config/tina/config.toml").format(tmp=tmp_path)
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(file_text.format(tmp=tmp_path))
    expected = config.load().control_socket
    assert locations.control_socket() == expected
    assert locations.control_socket(dict(os.environ)) == expected


def test_an_invalid_file_counts_as_no_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TINA_STATE_DIR", raising=False)
    monkeypatch.delenv("TINA_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    target = tmp_path / "config" / "tina" / "config.toml"
    target.parent.mkdir(parents=True)
    for text in ("state_dir = [", "state_dir = 3", "state_dir = ''", "\xff state_dir"):
        target.write_bytes(text.encode("utf-8", "surrogateescape"))
        assert locations.control_socket() == locations.default_state_dir() / "daemon.sock"
