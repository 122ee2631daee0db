"""Which Claude account a config dir is logged in to: a key from its config file's
``oauthAccount.accountUuid`` that names no one, read again only when the file changes."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tina.usage import account
from tina.usage.account import KEY_RE, AccountKeys, account_key, config_files

UUID = "4f6c1a2e-0b7d-4c1e-9a55-2f3b8d7e6c10"


def _config(uuid: object = UUID, **extra: Any) -> bytes:
    """A config file as Claude Code keeps it: the login's account among much else."""
    doc: dict[str, Any] = {
        "numStartups": 42,
        "projects": {"/home/me/repo": {"allowedTools": [], "history": [{"display": "hi"}]}},
        "mcpServers": {"db": {"command": "db-mcp", "env": {"DB_PASSWORD": "hunter2"}}},
        "oauthAccount": {
            "accountUuid": uuid,
            "emailAddress": "me@example.com",
            "organizationUuid": "0a1b2c3d-aaaa-bbbb-cccc-000000000001",
            "displayName": "Me",
        },
        **extra,
    }
    return json.dumps(doc).encode()


def test_one_account_has_one_key_that_names_no_one() -> None:
    key = account_key(_config())
    assert key is not None and re.fullmatch(KEY_RE, key)
    assert account_key(_config(numStartups=7, projects={})) == key  # the rest does not count
    assert account_key(_config(UUID.upper())) == key
    assert account_key(_config("0a1b2c3d-0000-4000-8000-000000000002")) != key
    for part in UUID.split("-"):
        assert part not in key


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"[1, 2]",
        json.dumps({"numStartups": 1}).encode(),  # logged in with an API key: no oauthAccount
        json.dumps({"oauthAccount": None}).encode(),
        json.dumps({"oauthAccount": {"emailAddress": "me@example.com"}}).encode(),
        _config(""),
        _config("   "),
        b'{"oauthAccount": {"accountUuid": "\\ud800"}}',  # a lone surrogate, escaped
        _config(12345),
        _config("x" * 101),
        json.dumps({"oauthAccount": ["x"]}).encode(),
    ],
)
def test_no_account_is_no_key(data: bytes) -> None:
    assert account_key(data) is None


@given(st.binary(max_size=300))
def test_any_bytes_are_a_key_or_none(data: bytes) -> None:
    key = account_key(data)
    assert key is None or re.fullmatch(KEY_RE, key)


@pytest.mark.parametrize(
    ("name", "files"),
    [
        ("~/.claude", ["/h/.claude.json", "/h/.claude/.claude.json"]),  # the default first
        ("~/.claude-work", ["/h/.claude-work/.claude.json"]),  # CLAUDE_CONFIG_DIR's
        ("~", ["/h/.claude.json"]),
        ("/srv/claude", ["/srv/claude/.claude.json"]),
        ("relative/dir", []),
    ],
)
def test_where_a_config_dirs_config_file_is(name: str, files: list[str]) -> None:
    assert config_files(name, Path("/h")) == [Path(f) for f in files]


def test_the_key_is_read_again_only_when_the_file_changes(tmp_path: Path) -> None:
    keys = AccountKeys(tmp_path)
    work = tmp_path / ".claude-work"
    work.mkdir()
    assert keys.key("~/.claude-work") is None and keys.reads == 0  # no file yet
    (work / ".claude.json").write_bytes(_config())
    first = keys.key("~/.claude-work")
    assert first == account_key(_config())
    assert keys.key("~/.claude-work") == first and keys.reads == 1  # unchanged: not read again
    other = "0a1b2c3d-0000-4000-8000-000000000002"
    (work / ".claude.json").write_bytes(_config(other, padding="x" * 10))  # logged in again
    assert keys.key("~/.claude-work") == account_key(_config(other)) and keys.reads == 2
    assert keys.key(None) is None


def test_the_default_config_dir_reads_the_homes_file_then_its_own(tmp_path: Path) -> None:
    keys = AccountKeys(tmp_path)
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude.json").write_bytes(json.dumps({"numStartups": 1}).encode())
    assert keys.key("~/.claude") is None
    # CLAUDE_CONFIG_DIR=~/.claude keeps the login in the dir's own file.
    (tmp_path / ".claude" / ".claude.json").write_bytes(_config())
    assert keys.key("~/.claude") == account_key(_config())
    (tmp_path / ".claude.json").write_bytes(_config("0a1b2c3d-0000-4000-8000-000000000003"))
    assert keys.key("~/.claude") == account_key(_config("0a1b2c3d-0000-4000-8000-000000000003"))


def test_a_file_too_large_or_not_a_file_is_no_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = AccountKeys(tmp_path)
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / ".claude.json").write_bytes(_config(padding="x" * 2000))
    monkeypatch.setattr(account, "CONFIG_MAX", 1000)
    assert keys.key("~/big") is None
    (tmp_path / "dir" / ".claude.json").mkdir(parents=True)
    assert keys.key("~/dir") is None
    (tmp_path / "fifo").mkdir()
    os.mkfifo(tmp_path / "fifo" / ".claude.json")
    assert keys.key("~/fifo") is None  # never opened for reading: it would block
