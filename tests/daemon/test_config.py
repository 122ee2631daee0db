from __future__ import annotations

import os
from pathlib import Path

import pytest

from tina.daemon import config, credentials


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in list(os.environ):
        if var.startswith("TINA_") or var.startswith("XDG_"):
            monkeypatch.delenv(var)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_without_any_file(home: Path) -> None:
    cfg = config.load(env={})
    assert cfg.convex_url is None
    assert cfg.claude_dir == home / ".claude"
    assert cfg.tasks_dir == home / ".claude" / "tasks"
    assert cfg.heartbeat_secs == 30.0
    assert config.NODE_NAME_RE.match(cfg.node_name)
    with pytest.raises(config.ConfigError, match="convex_url is not set"):
        cfg.require_url()


def test_file_then_profile_then_environment(home: Path) -> None:
    f = write(
        home / ".config/tina/config.toml",
        """
convex_url = "https://a.convex.cloud"
node_name = "flat"
profile = "dev"
[profiles.dev]
convex_url = "http://127.0.0.1:3210/"
[profiles.prod]
node_name = "prod-name"
""",
    )
    cfg = config.load(env={})
    assert cfg.source == f
    assert cfg.profile == "dev"
    assert cfg.convex_url == "http://127.0.0.1:3210"
    assert cfg.node_name == "flat"
    cfg = config.load(env={"TINA_PROFILE": "prod", "TINA_HEARTBEAT_SECS": "5"})
    assert (cfg.convex_url, cfg.node_name, cfg.heartbeat_secs) == (
        "https://a.convex.cloud",
        "prod-name",
        5.0,
    )
    cfg = config.load(
        env={"TINA_CONVEX_URL": "https://b.convex.cloud", "TINA_NODE_NAME": "envname"}
    )
    assert (cfg.convex_url, cfg.node_name) == ("https://b.convex.cloud", "envname")


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        (
            "convex_url = 'ftp://x'",
            {},
            r"convex_url \(from .*config.toml\): expected an http\(s\) URL",
        ),
        ("node_name = 'bad name'", {}, "node_name .*expected a laptop name"),
        ("heartbeat_secs = -1", {}, "heartbeat_secs .*expected a positive number"),
        ("colour = 'blue'", {}, "unknown setting\\(s\\) colour"),
        ("convex_url = ", {}, "not valid TOML"),
        ("", {"TINA_PROFILE": "nope"}, "profile 'nope' is not defined"),
        (
            "",
            {"TINA_DEBOUNCE_MS": "fast"},
            "debounce_ms \\(from environment variable TINA_DEBOUNCE_MS\\)",
        ),
    ],
)
def test_invalid_settings_name_the_source_key_and_expectation(
    home: Path, text: str, env: dict[str, str], message: str
) -> None:
    write(home / ".config/tina/config.toml", text)
    with pytest.raises(config.ConfigError, match=message):
        config.load(env=env)


def test_explicit_missing_file(home: Path) -> None:
    with pytest.raises(config.ConfigError, match="config file not found"):
        config.load(home / "nope.toml", env={})


def test_credential_round_trip_is_private_and_masked(home: Path) -> None:
    path = home / ".config/tina/credential.json"
    cred = credentials.Credential(
        convex_url="http://x", node_id="n1", node_name="a", token="tina_node_secret"
    )
    credentials.save(path, cred)
    assert path.stat().st_mode & 0o777 == 0o600
    assert credentials.load(path) == cred
    assert "tina_node_secret" not in repr(cred)
    assert not credentials.loose_permissions(path)
    path.chmod(0o644)
    assert credentials.loose_permissions(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no node credential; run `tina daemon enroll`"),
        ("{", "not valid JSON"),
        ("[]", "expected a JSON object"),
        ('{"convexUrl": "u", "nodeId": "n", "nodeName": "a"}', "field 'credential'"),
    ],
)
def test_credential_errors_say_what_to_do(home: Path, content: str | None, message: str) -> None:
    path = home / "cred.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(credentials.CredentialError, match=message):
        credentials.load(path)


def test_transcripts_are_read_from_the_claude_dir_and_the_other_config_dirs_that_exist(
    home: Path,
) -> None:
    cfg = config.load(env={})
    assert cfg.transcript_roots == (home / ".claude" / "projects",)
    (home / ".claude-work" / "projects").mkdir(parents=True)
    (home / ".config" / "claude" / "projects").mkdir(parents=True)
    cfg = config.load(env={"CLAUDE_CONFIG_DIR": "~/.claude-work", "TINA_CLAUDE_DIR": "~/c"})
    assert cfg.transcript_roots == (
        home / "c" / "projects",
        home / ".claude-work" / "projects",
        home / ".config" / "claude" / "projects",
    )
    # a Config made in code reads the claude dir's only
    assert config.Config(
        convex_url=None,
        node_name="n",
        credential_file=home / "c.json",
        claude_dir=home / "x",
        state_dir=home / "s",
    ).transcript_roots == (home / "x" / "projects",)


def test_transcript_dirs_set_replace_the_defaults(home: Path) -> None:
    (home / ".config" / "claude" / "projects").mkdir(parents=True)
    write(home / ".config/tina/config.toml", 'transcript_dirs = ["~/a/projects", "/b/projects"]\n')
    cfg = config.load(env={})
    assert cfg.transcript_roots == (home / "a" / "projects", Path("/b/projects"))
    cfg = config.load(env={"TINA_TRANSCRIPT_DIRS": f"/c/projects{os.pathsep}~/d/projects"})
    assert cfg.transcript_roots == (Path("/c/projects"), home / "d" / "projects")


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("transcript_dirs = 3", "expected a list of directory paths, got 3"),
        ('transcript_dirs = ["/a", 2]', "expected a list of directory paths"),
        ("transcript_dirs = []", "expected at least one directory path"),
        ('transcript_dirs = ["a/projects"]', "expected absolute paths .* got 'a/projects'"),
    ],
)
def test_bad_transcript_dirs_name_the_file_the_setting_and_what_was_expected(
    home: Path, toml: str, expected: str
) -> None:
    f = write(home / ".config/tina/config.toml", toml + "\n")
    with pytest.raises(config.ConfigError, match=f"transcript_dirs \\(from {f}\\): {expected}"):
        config.load(env={})


def test_claude_codes_own_config_dir_holds_teams_tasks_and_transcripts_not_tina_sessions(
    home: Path,
) -> None:
    cfg = config.load(env={})
    assert cfg.claude_code_dir == home / ".claude" and cfg.claude_config_dir is None
    work = home / ".claude-work"
    cfg = config.load(env={"TINA_CLAUDE_CONFIG_DIR": "~/.claude-work"})
    assert (cfg.teams_dir, cfg.tasks_dir) == (work / "teams", work / "tasks")
    assert cfg.transcript_roots == (work / "projects",)
    assert cfg.tina_sessions_dir == home / ".claude" / "tina-sessions"  # tina-session's lookups
    write(home / ".config/tina/config.toml", 'claude_config_dir = "/srv/claude"\n')
    assert config.load(env={}).teams_dir == Path("/srv/claude/teams")
