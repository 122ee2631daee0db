"""Readers report one precise error: the file, the JSON path of the field, what was expected."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tina.local import (
    ReadError,
    Task,
    encode_journal_entry,
    list_session_lookups,
    parse_journal,
    parse_phase_status,
    parse_session_lookup,
    parse_supervisor_state,
    parse_task,
    parse_team_config,
)
from tina.local.models import JournalEntry

STATE: dict[str, Any] = {
    "version": 1,
    "feature": "billing-export",
    "spec_doc": "/d.md",
    "worktree_path": "/w",
    "branch": "tina/billing-export",
    "total_phases": 2,
    "current_phase": 1,
    "status": "executing",
    "orchestration_started_at": "2026-02-07T16:03:12Z",
    "phases": {"1": {"status": "executing", "breakdown": {}}},
}

TEAM: dict[str, Any] = {
    "name": "t",
    "createdAt": 1770480842000,
    "leadAgentId": "team-lead@t",
    "leadSessionId": "s",
    "members": [
        {"agentId": "team-lead@t", "name": "team-lead", "joinedAt": 1770480842000},
        {"agentId": "e@t", "name": "e", "joinedAt": 1770480842000, "tmuxPaneId": "%3"},
    ],
}


def _error(parse: Callable[..., object], doc: Any, path: str = "file.json") -> ReadError:
    with pytest.raises(ReadError) as info:
        parse(json.dumps(doc).encode(), path=path)
    return info.value


def test_wrong_type_names_field_expected_and_got() -> None:
    doc = {**STATE, "total_phases": "2"}
    error = _error(parse_supervisor_state, doc, "/x/supervisor-state.json")
    assert (error.path, error.field, error.expected, error.got) == (
        "/x/supervisor-state.json",
        "total_phases",
        "an integer",
        "'2'",
    )
    assert str(error) == (
        "/x/supervisor-state.json: field total_phases: expected an integer, got '2'"
    )


def test_nested_phase_field_path() -> None:
    doc = json.loads(json.dumps(STATE))
    doc["phases"]["1"]["breakdown"] = {"planning_mins": 1.5}
    error = _error(parse_supervisor_state, doc)
    assert error.field == 'phases["1"].breakdown.planning_mins'
    assert error.expected == "an integer"


def test_unknown_phase_status_lists_the_valid_ones() -> None:
    doc = json.loads(json.dumps(STATE))
    doc["phases"]["1"]["status"] = "paused"
    error = _error(parse_supervisor_state, doc)
    assert error.field == 'phases["1"].status'
    assert "'planning'" in error.expected and "'blocked'" in error.expected
    assert error.got == "'paused'"


def test_bad_phase_key() -> None:
    doc = {**STATE, "phases": {"1-retry": {"status": "planning"}}}
    error = _error(parse_supervisor_state, doc)
    assert error.field == 'phases["1-retry"]'
    assert "phase key" in error.expected


def test_missing_spec_doc_mentions_the_alias() -> None:
    doc = {k: v for k, v in STATE.items() if k != "spec_doc"}
    error = _error(parse_supervisor_state, doc)
    assert error.field == "spec_doc"
    assert "design_doc" in error.expected
    assert error.got == "nothing"


def test_unsupported_version() -> None:
    error = _error(parse_supervisor_state, {**STATE, "version": 2})
    assert error.field == "version"


def test_spec_doc_wins_over_design_doc() -> None:
    state = parse_supervisor_state(json.dumps({**STATE, "design_doc": "/old.md"}).encode())
    assert state.spec_doc == "/d.md"
    only_design = {k: v for k, v in STATE.items() if k != "spec_doc"} | {"design_doc": "/o.md"}
    assert parse_supervisor_state(json.dumps(only_design).encode()).spec_doc == "/o.md"


def test_strict_json_types() -> None:
    # cattrs' defaults would turn these into "5", ['a', 'b'] and 1; tina's readers refuse them.
    assert _error(parse_supervisor_state, {**STATE, "feature": 5}).expected == "a string"
    team = json.loads(json.dumps(TEAM))
    team["members"][0]["subscriptions"] = "ab"
    assert _error(parse_team_config, team).field == "members[0].subscriptions"
    assert _error(parse_supervisor_state, {**STATE, "current_phase": True}).got == "true"


def test_member_error_uses_camel_case_path() -> None:
    team = json.loads(json.dumps(TEAM))
    team["members"][1]["joinedAt"] = "yesterday"
    error = _error(parse_team_config, team, "teams/t/config.json")
    assert error.field == "members[1].joinedAt"
    assert "timestamp" in error.expected


def test_member_missing_agent_id() -> None:
    team = json.loads(json.dumps(TEAM))
    del team["members"][1]["agentId"]
    error = _error(parse_team_config, team)
    assert error.field == "members[1].agentId"
    assert error.got == "nothing"


def test_top_level_not_an_object() -> None:
    error = _error(parse_task, ["id", "1"])
    assert error.field is None and error.expected == "an object"


def test_truncated_file_is_incomplete_and_garbage_is_not() -> None:
    raw = json.dumps(STATE).encode()
    truncated = ReadErrorInfo.of(parse_supervisor_state, raw[: len(raw) // 2])
    assert truncated.incomplete
    assert "truncated" in (truncated.got or "")
    empty = ReadErrorInfo.of(parse_supervisor_state, b"  \n")
    assert empty.incomplete and empty.got == "an empty file"
    garbage = ReadErrorInfo.of(parse_supervisor_state, b"{] and a lot of text after it")
    assert not garbage.incomplete


class ReadErrorInfo:
    @staticmethod
    def of(parse: Callable[..., object], data: bytes) -> ReadError:
        with pytest.raises(ReadError) as info:
            parse(data, path="f")
        return info.value


def test_undecodable_bytes() -> None:
    error = ReadErrorInfo.of(parse_task, b'{"id": "\xff"}')
    assert error.expected == "UTF-8 encoded JSON"


def test_read_error_pickles() -> None:
    error = ReadError("f", "a.b", "x", "y", incomplete=True)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.field, copy.expected, copy.got, copy.incomplete) == (
        "f",
        "a.b",
        "x",
        "y",
        True,
    )


def test_null_means_default_for_collections_and_absent_for_optionals() -> None:
    task = parse_task(
        json.dumps(
            {
                "id": "1",
                "subject": "s",
                "description": None,
                "status": "pending",
                "blocks": None,
                "blockedBy": None,
                "owner": None,
            }
        ).encode()
    )
    assert task.description == "" and task.blocks == () and task.blocked_by == ()
    assert task.owner is None


def test_task_canonical_form_ignores_order_and_key_order() -> None:
    base = {"id": "1", "subject": "s", "description": "d", "status": "pending"}
    a = parse_task(
        json.dumps(base | {"blockedBy": ["2", "1"], "metadata": {"b": 1, "a": 2}}).encode()
    )
    b = parse_task(
        json.dumps(base | {"blockedBy": ["1", "2"], "metadata": {"a": 2, "b": 1}}).encode()
    )
    assert a.canonical() == b.canonical()
    assert a.canonical()["metadata"] == '{"a":2,"b":1}'
    c = parse_task(json.dumps(base | {"activeForm": "spinning", "blocks": ["9"]}).encode())
    d = parse_task(json.dumps(base).encode())
    assert c.canonical_json() == d.canonical_json()  # activeForm/blocks are not compared
    assert Task(id="1", subject="s", status="completed").canonical() != d.canonical()


def test_phase_status_reason_aliases() -> None:
    assert parse_phase_status(b'{"status": "blocked", "reason": "a"}').reason == "a"
    assert parse_phase_status(b'{"status": "blocked", "blocked_reason": "b"}').reason == "b"
    both = parse_phase_status(b'{"status": "x", "reason": "a", "blocked_reason": "b"}')
    assert both.reason == "a" and both.known_status is None


def test_session_lookup_requires_a_worktree() -> None:
    error = ReadErrorInfo.of(parse_session_lookup, b'{"feature": "f"}')
    assert error.field == "worktree_path" and "cwd" in error.expected


def test_session_lookup_outside_worktrees_has_no_repo_root() -> None:
    lookup = parse_session_lookup(b'{"feature": "f", "cwd": "/home/dev/acme"}')
    assert lookup.repo_root is None


def test_timestamps_accept_offsets_naive_and_epoch_ms() -> None:
    doc = {"status": "executing", "started_at": "2026-02-07T18:03:12+02:00"}
    assert (
        parse_phase_status(json.dumps(doc).encode()).started_at
        == parse_phase_status(
            b'{"status": "executing", "started_at": "2026-02-07T16:03:12"}'
        ).started_at
    )
    team = json.loads(json.dumps(TEAM))
    team["createdAt"] = 1e30
    assert "milliseconds" in _error(parse_team_config, team).expected


def _entry(n: int) -> bytes:
    from datetime import UTC, datetime

    return encode_journal_entry(
        JournalEntry(
            id=f"{n:032x}",
            type="info",
            source="tina-session",
            summary=f"event {n}",
            detail={"n": n},
            phase="1",
            feature="f",
            recorded_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
    )


def test_journal_skips_malformed_complete_lines_and_reports_them() -> None:
    data = _entry(1) + b"not json\n" + b"[1]\n" + b"\n" + _entry(2)
    chunk = parse_journal(data, path="events.jsonl", offset=100)
    assert [e.summary for e in chunk.entries] == ["event 1", "event 2"]
    assert len(chunk.errors) == 2
    assert chunk.errors[0].path == f"events.jsonl (byte {100 + len(_entry(1))})"
    assert chunk.start == 100 and chunk.end == 100 + len(data)


def test_journal_lines_have_every_key_in_order() -> None:
    doc = json.loads(_entry(3))
    assert list(doc) == [
        "id",
        "type",
        "source",
        "summary",
        "detail",
        "phase",
        "feature",
        "recorded_at",
    ]
    assert doc["recorded_at"] == "2026-01-01T00:00:00.000000Z"


def test_list_session_lookups_reports_broken_files(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"feature": "a", "worktree_path": "/r/.worktrees/a"}')
    (tmp_path / "b.json").write_text('{"feature": "b", "worktree_pa')
    (tmp_path / "notes.txt").write_text("ignored")
    lookups, errors = list_session_lookups(tmp_path)
    assert [lookup.feature for lookup in lookups] == ["a"]
    assert len(errors) == 1 and errors[0].path.endswith("b.json") and errors[0].incomplete
    assert list_session_lookups(tmp_path / "missing") == ([], [])
