"""A hook's input -> `HookEvent` (`tina.hooks.event`): every documented event, tolerant of
wrong types and unknown fields, bounded, never raising."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from tina.hooks.event import clean_text, parse_hook_event, parse_hook_line
from tina.messages import HOOK_FIELD_MAX, HOOK_TEXT_MAX, HOOK_TOOL_INPUT_MAX, HookEvent

EVENTS: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "hooks" / "events.json").read_text()
)
BY_LABEL = {e["label"]: e["input"] for e in EVENTS}
SID = "0c9d7e21-4b5a-4f3e-8a2d-6e1f0b9c8d74"
AT = 1_772_614_800_123.0


def parse(doc: Any) -> HookEvent:
    event = parse_hook_event(doc, received_at=AT)
    assert event is not None
    return event


@pytest.mark.parametrize("label", sorted(BY_LABEL))
def test_every_documented_event_keeps_its_name_and_common_fields(label: str) -> None:
    doc = BY_LABEL[label]
    event = parse(doc)
    assert event.event == doc["hook_event_name"]
    assert (event.session_id, event.cwd, event.received_at) == (SID, "/home/dev/shop", AT)
    assert event.transcript_path == doc["transcript_path"]
    assert event.permission_mode == doc.get("permission_mode")
    # The same event through the socket's line form.
    assert parse_hook_line(json.dumps(doc).encode(), received_at=AT) == event


def test_each_event_keeps_its_own_fields() -> None:
    start = parse(BY_LABEL["SessionStart resume"])
    assert (start.source, start.model, start.agent_type) == (
        "resume",
        "claude-opus-4-6",
        "team-lead",
    )
    assert parse(BY_LABEL["SessionEnd"]).reason == "prompt_input_exit"
    for kind in ("permission_prompt", "idle_prompt", "auth_success", "elicitation_dialog"):
        note = parse(BY_LABEL[f"Notification {kind}"])
        assert note.notification_type == kind
        assert note.message
    ask = parse(BY_LABEL["PermissionRequest"])
    assert ask.tool_name == "Bash"
    assert ask.tool_input == '{"command":"rm -rf build","description":"Clean"}'  # canonical
    stop = parse(BY_LABEL["Stop"])
    assert stop.last_assistant_message == "I audited the endpoints; two lack auth checks."
    for kind in (
        "rate_limit",
        "authentication_failed",
        "billing_error",
        "invalid_request",
        "server_error",
        "max_output_tokens",
        "unknown",
    ):
        failure = parse(BY_LABEL[f"StopFailure {kind}"])
        assert (failure.error, failure.error_details) == (kind, f"API Error: {kind}")
    sub = parse(BY_LABEL["SubagentStop"])
    assert (sub.agent_id, sub.agent_type) == ("a7f3c2e1", "Explore")
    for label in ("TaskCreated", "TaskCompleted"):
        task = parse(BY_LABEL[label])
        assert (task.task_id, task.task_subject, task.teammate_name, task.team_name) == (
            "3",
            "Check /admin routes",
            "auditor",
            "api-audit",
        )
    idle = parse(BY_LABEL["TeammateIdle"])
    assert (idle.teammate_name, idle.team_name) == ("auditor", "api-audit")
    assert parse(BY_LABEL["PreCompact"]).trigger == "auto"


def test_unknown_fields_are_dropped_and_an_unknown_event_is_kept() -> None:
    known = parse(BY_LABEL["unknown fields"])
    assert known.event == "Stop"
    assert known.last_assistant_message == "done"
    unknown = parse(BY_LABEL["unknown event"])
    assert unknown.event == "WorktreeCreate"
    assert unknown.session_id == SID
    # Nothing but HookEvent's own fields: the attrs class has no room for more.
    assert set(attrs.asdict(unknown)) == {f.name for f in attrs.fields(HookEvent)}


@pytest.mark.parametrize(
    "doc",
    [
        None,
        [],
        "Stop",
        42,
        {},
        {"hook_event_name": None},
        {"hook_event_name": 7},
        {"hook_event_name": ""},
        {"hook_event_name": "   "},
        {"session_id": SID},
    ],
)
def test_no_event_name_is_no_event(doc: Any) -> None:
    assert parse_hook_event(doc, received_at=AT) is None


@pytest.mark.parametrize(
    "payload",
    [b"", b"not json", b"{", b'{"hook_event_name": "Stop"', b"\xff\xfe", b"[" * 100_000],
)
def test_unreadable_lines_are_no_event(payload: bytes) -> None:
    assert parse_hook_line(payload, received_at=AT) is None


def test_wrong_types_read_as_absent() -> None:
    event = parse(
        {
            "hook_event_name": "StopFailure",
            "session_id": 12,
            "cwd": ["/home"],
            "error": {"kind": "rate_limit"},
            "task_id": 3,
            "last_assistant_message": None,
            "permission_mode": True,
        }
    )
    assert event == HookEvent(event="StopFailure", received_at=AT)


def test_texts_are_cleaned_and_cut_at_a_character_boundary() -> None:
    event = parse(
        {
            "hook_event_name": "Stop",
            "session_id": "a\x00b\ud800c",
            "last_assistant_message": "é" * 5000,
            "message": "x" * 10_000,
            "tool_input": {"content": "漢" * 5000, "b": 1, "a": [None, True]},
        }
    )
    assert event.session_id == "ab\ufffdc"
    assert event.last_assistant_message == "é" * (HOOK_TEXT_MAX // 2)
    assert event.message == "x" * HOOK_FIELD_MAX
    assert event.tool_input is not None
    assert event.tool_input.startswith('{"a":[null,true],"b":1,"content":"漢漢')
    data = event.tool_input.encode()
    assert HOOK_TOOL_INPUT_MAX - 3 < len(data) <= HOOK_TOOL_INPUT_MAX
    assert clean_text("漢" * 3, 4) == "漢"


def test_a_tool_input_json_cannot_encode_is_absent() -> None:
    nan = parse_hook_line(b'{"hook_event_name": "PreToolUse", "tool_input": [NaN]}', received_at=AT)
    assert nan is not None
    assert nan.tool_input is None  # not JSON
    assert parse({"hook_event_name": "PreToolUse", "tool_input": {1j: 1}}).tool_input is None


class Hostile(dict[str, Any]):
    def get(self, key: str, default: Any = None) -> Any:
        raise RuntimeError("boom")


def test_a_hostile_mapping_never_raises() -> None:
    assert parse_hook_event(Hostile(hook_event_name="Stop"), received_at=AT) is None


def test_the_tmux_pane_tina_hook_adds_is_kept_only_when_it_is_a_pane_id() -> None:
    base = {"hook_event_name": "SessionStart", "session_id": SID}
    socket = "/tmp/tmux-501/default"
    event = parse({**base, "tina_tmux_pane": "%12", "tina_tmux_socket": socket})
    assert (event.tmux_pane, event.tmux_socket) == ("%12", socket)
    for pane in ("12", "%", "%1a", "%12345678901", 12, None, "leader", "in-process"):
        event = parse({**base, "tina_tmux_pane": pane, "tina_tmux_socket": socket})
        assert (event.tmux_pane, event.tmux_socket) == (None, None), pane
    # A socket means nothing without its pane, and is a path.
    assert parse({**base, "tina_tmux_socket": socket}).tmux_socket is None
    assert (
        parse({**base, "tina_tmux_pane": "%1", "tina_tmux_socket": "default"}).tmux_socket is None
    )


def test_the_iterm2_session_tina_hook_adds_is_kept_only_when_it_is_a_plain_id() -> None:
    base = {"hook_event_name": "SessionStart", "session_id": SID}
    uuid = "9E3C1F2A-4B5D-4E6F-8A7B-0C1D2E3F4A5B"
    assert parse({**base, "tina_iterm_session": uuid}).iterm_session == uuid
    for bad in ("", "a b", "x" * 65, "w0t0p0:" + uuid, "../x", 12, None):
        assert parse({**base, "tina_iterm_session": bad}).iterm_session is None, bad
    # in a tmux pane (tmux inside iTerm2 keeps iTerm2's variable): the pane is tmux's
    both = parse({**base, "tina_tmux_pane": "%3", "tina_iterm_session": uuid})
    assert (both.tmux_pane, both.iterm_session) == ("%3", None)
