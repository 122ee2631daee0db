"""tina's entries in Claude Code's settings: the pure changes and the file helpers
(`tina.hooks.settings`), over the real-world shapes in `tests/fixtures/settings/`."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from tina.hooks import settings as hs

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "settings"
ACCEPTED = [
    "user-with-hooks.json",
    "other-tools.json",
    "disable-all-hooks.json",
    "empty.json",
    "empty-object.json",
    "four-space-indent.json",
]
REFUSED = {
    "array.json": ("top level", "a JSON object", "an array"),
    "hooks-list.json": ('"hooks"', "an object", "an array"),
    "hooks-event-object.json": ('"hooks.Stop"', "an array", "an object"),
}
COMMAND = "'/opt/tina venv/bin/tina' hook"


def fixture(name: str) -> hs.JSONObject:
    path = FIXTURES / name
    return hs.parse(path.read_text(encoding="utf-8"), str(path))


def expected_handler(event: str, timeout: int = 60) -> dict[str, Any]:
    return {
        "type": "command",
        "command": COMMAND,
        "timeout": timeout if event == "PermissionRequest" else 10,
    }


def ordered(value: Any) -> str:
    """JSON text keeping key order: equal strings mean equal values and equal key order."""
    return json.dumps(value, ensure_ascii=False)


@pytest.mark.parametrize("name", ACCEPTED)
def test_install_appends_one_group_per_event_and_keeps_everything_else(name: str) -> None:
    before = fixture(name)
    after = hs.install(before, COMMAND)
    # every other key: same value, same place; `hooks` appended when it was missing
    assert list(after) == list(before) + ([] if "hooks" in before else ["hooks"])
    for key in before:
        if key != "hooks":
            assert ordered(after[key]) == ordered(before[key])
    old_hooks = before.get("hooks", {})
    # other events untouched, in their order; tina's events appended after them
    assert list(after["hooks"])[: len(old_hooks)] == list(old_hooks)
    for event, groups in after["hooks"].items():
        old = old_hooks.get(event, [])
        if event not in hs.EVENTS:
            assert ordered(groups) == ordered(old)
            continue
        assert ordered(groups[: len(old)]) == ordered(old)
        assert groups[len(old) :] == [{"hooks": [expected_handler(event)]}]
    assert set(after["hooks"]) == set(old_hooks) | set(hs.EVENTS)
    assert ordered(before) == ordered(fixture(name))  # the input is not changed


def test_no_group_has_a_matcher_and_permission_request_waits_longer() -> None:
    after = hs.install({}, COMMAND, permission_timeout=300)
    for event in hs.EVENTS:
        [group] = after["hooks"][event]
        assert "matcher" not in group
        assert group["hooks"] == [expected_handler(event, 300)]
    assert {"Stop", "TeammateIdle", "TaskCreated", "TaskCompleted"} <= hs.MATCHERLESS_EVENTS


@pytest.mark.parametrize("name", ACCEPTED)
def test_install_twice_changes_nothing(name: str) -> None:
    once = hs.install(fixture(name), COMMAND)
    assert ordered(hs.install(once, COMMAND)) == ordered(once)


@pytest.mark.parametrize("name", ACCEPTED)
def test_uninstall_after_install_gives_back_the_original(name: str) -> None:
    before = fixture(name)
    assert ordered(hs.uninstall(hs.install(before, COMMAND))) == ordered(before)


def test_an_explicit_command_that_does_not_look_like_tina_is_removed_only_when_named() -> None:
    custom = "python3 -m my_fake_tina --hook"
    installed = hs.install(fixture("user-with-hooks.json"), custom)
    assert ordered(hs.uninstall(installed)) == ordered(installed)  # not recognised by its shape
    assert ordered(hs.uninstall(installed, commands=[custom])) == ordered(
        fixture("user-with-hooks.json")
    )


def test_the_same_command_anywhere_under_an_event_counts_and_only_its_timeout_is_set() -> None:
    settings = {
        "hooks": {
            "Stop": [
                {
                    "matcher": "*",
                    "hooks": [
                        {"type": "command", "command": "say done"},
                        {"type": "command", "command": COMMAND, "timeout": 99},
                    ],
                }
            ]
        }
    }
    after = hs.install(settings, COMMAND)
    assert after["hooks"]["Stop"] == [
        {
            "matcher": "*",
            "hooks": [
                {"type": "command", "command": "say done"},
                {"type": "command", "command": COMMAND, "timeout": 10},
            ],
        }
    ]
    # uninstall leaves the shared group with the user's handler in it
    assert hs.uninstall(after)["hooks"]["Stop"] == [
        {"matcher": "*", "hooks": [{"type": "command", "command": "say done"}]}
    ]


def test_tina_hooks_from_an_older_install_are_replaced() -> None:
    after = hs.install(fixture("stale-tina.json"), COMMAND)
    assert after["hooks"]["Stop"] == [
        {"hooks": [{"type": "command", "command": "say done"}]},
        {"hooks": [expected_handler("Stop")]},
    ]
    assert after["hooks"]["PermissionRequest"] == [
        {"hooks": [expected_handler("PermissionRequest")]}
    ]
    commands = [
        h["command"] for groups in after["hooks"].values() for g in groups for h in g["hooks"]
    ]
    assert "old" not in " ".join(commands)


def test_uninstall_removes_older_installs_too_but_not_the_users_hooks() -> None:
    assert hs.uninstall(fixture("stale-tina.json")) == {
        "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "say done"}]}]}
    }


def test_uninstall_of_nothing_changes_nothing() -> None:
    for name in ACCEPTED:
        assert ordered(hs.uninstall(fixture(name))) == ordered(fixture(name))
    assert hs.uninstall({"hooks": {}}) == {"hooks": {}}  # an empty `hooks` not emptied by us stays


def test_an_event_array_that_was_empty_before_install_is_removed_by_uninstall() -> None:
    """The documented limit of a stateless uninstall."""
    assert hs.uninstall(hs.install({"hooks": {"Stop": []}}, COMMAND)) == {}


def test_malformed_groups_and_handlers_are_left_alone() -> None:
    settings: dict[str, Any] = {
        "hooks": {
            "Stop": [
                "not a group",
                {"hooks": "not a list"},
                {"hooks": [42, {"type": "command"}, {"type": "http", "url": "http://x"}]},
            ]
        }
    }
    after = hs.install(settings, COMMAND)
    assert after["hooks"]["Stop"][:3] == settings["hooks"]["Stop"]
    assert ordered(hs.uninstall(after)) == ordered(settings)


@pytest.mark.parametrize(
    ("command", "ours"),
    [
        ("tina hook", True),
        ("/opt/venv/bin/tina hook", True),
        ("'/opt/tina venv/bin/tina' hook", True),
        ("tina --verbose hook", True),
        ("tina hooks", False),
        ("tina hook --event Stop", False),
        ("tina-notify hook", False),
        ("echo tina hook", False),
        ("/opt/tina/bin/not-tina hook", False),
        ("'unbalanced hook", False),
        ("", False),
        (None, False),
        (["tina", "hook"], False),
    ],
)
def test_tina_commands_are_recognised_by_their_words(command: object, ours: bool) -> None:
    assert hs.is_tina_command(command) is ours


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refusals_name_the_file_the_key_and_what_was_expected(name: str) -> None:
    path = FIXTURES / name
    with pytest.raises(hs.SettingsError) as caught:
        hs.load(path)
    message = str(caught.value)
    assert str(path) in message
    for part in REFUSED[name]:
        assert part in message, message
    data = json.loads(path.read_text())
    with pytest.raises(hs.SettingsError):
        hs.install(data, COMMAND)
    with pytest.raises(hs.SettingsError):
        hs.uninstall(data)


def test_invalid_json_and_null_hooks_are_refused() -> None:
    with pytest.raises(hs.SettingsError, match=r"x\.json: not valid JSON"):
        hs.parse('{"model": ', "x.json")
    with pytest.raises(hs.SettingsError, match=r'x\.json: key "hooks": .* found null'):
        hs.parse('{"hooks": null}', "x.json")
    # a wrong type under an event tina does not use is not tina's business
    assert hs.parse('{"hooks": {"UserPromptSubmit": {}}}', "x.json") == {
        "hooks": {"UserPromptSubmit": {}}
    }


def test_status_lists_installed_and_missing_events_and_disable_all_hooks() -> None:
    assert hs.status({}) == hs.HooksStatus(
        installed=(), missing=hs.EVENTS, commands=(), disabled=False
    )
    full = hs.install(fixture("disable-all-hooks.json"), COMMAND)
    got = hs.status(full)
    assert got.complete
    assert got.installed == hs.EVENTS
    assert got.commands == (COMMAND,)
    assert got.disabled
    del full["hooks"]["TeammateIdle"]
    full["disableAllHooks"] = "yes"  # only `true` turns hooks off
    got = hs.status(full)
    assert got.missing == ("TeammateIdle",)
    assert not got.complete
    assert not got.disabled
    stale = hs.status(fixture("stale-tina.json"))
    assert stale.installed == ("PermissionRequest", "Stop")
    custom = hs.install({}, "my-hook")
    assert hs.status(custom).installed == ()
    assert hs.status(custom, commands=["my-hook"]).complete


def test_user_settings_honour_claude_config_dir() -> None:
    assert hs.user_settings_path({"HOME": "/h"}) == Path("/h/.claude/settings.json")
    assert hs.user_settings_path({"HOME": "/h", "CLAUDE_CONFIG_DIR": "/c"}) == Path(
        "/c/settings.json"
    )
    assert hs.project_settings_path(Path("/p")) == Path("/p/.claude/settings.json")


def test_the_default_command_is_an_absolute_quoted_path_to_tina(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bindir = tmp_path / "my bin"
    bindir.mkdir()
    exe = bindir / "tina"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setattr("sys.argv", [str(exe), "hooks", "install"])
    command = hs.default_command()
    assert command == f"'{exe}' hook"
    assert hs.is_tina_command(command)


def test_indentation_is_kept() -> None:
    text = (FIXTURES / "four-space-indent.json").read_text()
    assert hs.indent_of(text) == "    "
    assert hs.render(json.loads(text), hs.indent_of(text)) == text
    assert hs.indent_of("{}") == "  "
    assert hs.indent_of('{\n\t"a": 1\n}') == "\t"


def test_write_keeps_the_mode_backs_up_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"model": "opus"}\n')
    path.chmod(0o640)
    loaded = hs.load(path)
    backup = hs.write(loaded, hs.render(hs.install(loaded.settings, COMMAND)))
    assert backup is not None
    assert backup.name.startswith("settings.json.tina-backup-")
    assert backup.name.endswith("Z")
    assert backup.read_text() == '{"model": "opus"}\n'
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert stat.S_IMODE(backup.stat().st_mode) == 0o640
    assert hs.status(hs.load(path).settings).complete
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json", backup.name]


def test_a_second_backup_in_the_same_second_gets_its_own_name(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    first = hs.backup_path(path, now=0)
    first.write_text("{}")
    second = hs.backup_path(path, now=0)
    assert second != first
    assert second.name == f"{first.name}.1"


def test_a_new_file_is_private_and_its_directory_created(tmp_path: Path) -> None:
    path = tmp_path / "home" / ".claude" / "settings.json"
    loaded = hs.load(path)
    assert loaded.raw is None
    assert loaded.settings == {}
    assert hs.write(loaded, "{}\n") is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(path.parent) == ["settings.json"]


def test_a_write_after_a_concurrent_edit_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{}\n")
    loaded = hs.load(path)
    path.write_text('{"model": "opus"}\n')  # the user saves in between
    with pytest.raises(hs.Conflict):
        hs.write(loaded, hs.render(hs.install(loaded.settings, COMMAND)))
    assert path.read_text() == '{"model": "opus"}\n'
    assert os.listdir(tmp_path) == ["settings.json"]


def test_a_symlinked_settings_file_is_written_through_to_its_target(tmp_path: Path) -> None:
    target = tmp_path / "dotfiles" / "claude-settings.json"
    target.parent.mkdir()
    target.write_text("{}\n")
    link = tmp_path / "settings.json"
    link.symlink_to(target)
    hs.write(hs.load(link), '{"a": 1}\n')
    assert link.is_symlink()
    assert target.read_text() == '{"a": 1}\n'


def test_tool_calls_are_heard_so_a_long_turn_is_not_taken_for_a_stall() -> None:
    # A lead working through one long turn fires no Stop or Notification for many minutes;
    # only its tool calls show it is alive. Without them the stall rule (tina/daemon/needs.py)
    # would call a busy session stalled, and could never name a long tool call as the cause.
    after = hs.install({}, COMMAND)
    for event in ("PreToolUse", "PostToolUse", "PostToolUseFailure"):
        assert after["hooks"][event] == [{"hooks": [expected_handler(event)]}], event
