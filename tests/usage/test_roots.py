"""Where the transcripts are: the directories read by default, the one a hook's transcript path
lies in, and which of those are read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tina.claude_dirs import (
    ACCOUNT_MAX,
    acceptable,
    account_of,
    covered,
    default_roots,
    distinct,
    root_of,
)


@pytest.mark.parametrize(
    ("transcript", "root"),
    [
        ("/h/.claude/projects/-w/s1.jsonl", "/h/.claude/projects"),
        ("/h/.claude-work/projects/-w/s1/subagents/agent-a1.jsonl", "/h/.claude-work/projects"),
        ("/projects/-w/s1.jsonl", "/projects"),
        ("/h/.claude/projects/s1.jsonl", "/h/.claude/projects"),
    ],
)
def test_a_transcripts_directory_is_the_projects_directory_above_it(
    transcript: str, root: str
) -> None:
    assert root_of(transcript) == Path(root)


@pytest.mark.parametrize(
    "transcript",
    [
        "",
        "h/.claude/projects/-w/s1.jsonl",  # relative
        "/h/.claude/projects/-w/../-v/s1.jsonl",
        "/h/.claude/projects/-w/./s1.jsonl",
        "/h/.claude//projects/-w/s1.jsonl",
        "/h/.claude/projects/-w/s1.json",
        "/h/.claude/projects/-w/s1.jsonl\x00",
        "/h/elsewhere/-w/s1.jsonl",
        "/h/projects/a/b/c/d/s1.jsonl",  # further up than a subagent's file lies
    ],
)
def test_a_path_that_is_not_plainly_a_transcript_gives_no_directory(transcript: str) -> None:
    assert root_of(transcript) is None


def test_covered_is_the_directory_itself_or_one_inside_it() -> None:
    roots = [Path("/h/.claude/projects")]
    assert covered(Path("/h/.claude/projects"), roots)
    assert covered(Path("/h/.claude/projects/x/projects"), roots)
    assert not covered(Path("/h/.claude-work/projects"), roots)
    assert not covered(Path("/h/.claude"), roots)


def test_the_same_directory_through_a_link_counts_once(tmp_path: Path) -> None:
    real = tmp_path / ".claude" / "projects"
    real.mkdir(parents=True)
    (tmp_path / ".config").mkdir()
    (tmp_path / ".config" / "claude").symlink_to(tmp_path / ".claude")
    linked = tmp_path / ".config" / "claude" / "projects"
    other = tmp_path / "missing" / "projects"
    assert distinct([real, linked, other, real]) == (real, other)


def test_by_default_the_claude_dir_and_the_others_that_exist(tmp_path: Path) -> None:
    claude = tmp_path / ".claude"
    assert default_roots(claude, {}, tmp_path) == (claude / "projects",)
    # not made yet: left out (a hook's transcript path shows it later)
    work = tmp_path / ".claude-work"
    env = {"CLAUDE_CONFIG_DIR": str(work)}
    assert default_roots(claude, env, tmp_path) == (claude / "projects",)
    (work / "projects").mkdir(parents=True)
    (tmp_path / ".config" / "claude" / "projects").mkdir(parents=True)
    assert default_roots(claude, env, tmp_path) == (
        claude / "projects",
        work / "projects",
        tmp_path / ".config" / "claude" / "projects",
    )
    xdg = tmp_path / "xdg"
    (xdg / "claude" / "projects").mkdir(parents=True)
    assert default_roots(claude, {"XDG_CONFIG_HOME": str(xdg)}, tmp_path) == (
        claude / "projects",
        xdg / "claude" / "projects",
    )
    # CLAUDE_CONFIG_DIR naming the default: once
    assert default_roots(claude, {"CLAUDE_CONFIG_DIR": str(claude)}, tmp_path) == (
        claude / "projects",
        tmp_path / ".config" / "claude" / "projects",
    )


def test_a_learnt_directory_must_be_a_directory_of_this_user_not_read_already(
    tmp_path: Path,
) -> None:
    default = tmp_path / ".claude" / "projects"
    work = tmp_path / ".claude-work" / "projects"
    assert acceptable(work, [default]) == "FileNotFoundError"
    work.parent.mkdir()
    work.write_text("")
    assert acceptable(work, [default]) == "not a directory"
    work.unlink()
    work.mkdir()
    assert acceptable(work, [default]) is None
    assert acceptable(work, [default, work]) == "already read"
    assert acceptable(default / "x" / "projects", [default]) == "already read"
    (tmp_path / "link").symlink_to(work.parent)
    assert acceptable(tmp_path / "link" / "projects", [default, work]) == "already read"


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs chown (root)")
def test_a_directory_of_another_user_is_not_read(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs" / "projects"
    theirs.mkdir(parents=True)
    os.chown(theirs, 65534, 65534)
    assert acceptable(theirs, []) == "owned by another user"


@pytest.mark.parametrize(
    ("transcript", "account"),
    [
        ("/h/.claude/projects/-w/s1.jsonl", "~/.claude"),
        ("/h/.claude-work/projects/-w/s1/subagents/agent-a1.jsonl", "~/.claude-work"),
        ("/h/.config/claude/projects/-w/s1.jsonl", "~/.config/claude"),
        ("/srv/claude/projects/-w/s1.jsonl", "/srv/claude"),  # outside the home: as it is
        ("/hh/.claude/projects/-w/s1.jsonl", "/hh/.claude"),  # not under /h, though it starts so
        ("/h/projects/-w/s1.jsonl", "~"),
        ("/h/.claude/elsewhere/s1.jsonl", None),  # not a transcript's path
        (None, None),
        (42, None),
        ("/h/.claude\x1b[31m/projects/-w/s1.jsonl", None),  # a control character
        (f"/h/{'x' * ACCOUNT_MAX}/projects/-w/s1.jsonl", None),  # too long a name
    ],
)
def test_a_transcripts_config_dir_names_its_account(
    transcript: object, account: str | None
) -> None:
    assert account_of(transcript, Path("/h")) == account
