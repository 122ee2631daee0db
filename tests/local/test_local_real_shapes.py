"""The file shapes real Claude Code agent teams write (tests/fixtures/real-shapes)."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tina.local import (
    IdleNotification,
    Inbox,
    MemberReach,
    MessageKind,
    PermissionRequest,
    PermissionResponse,
    PlanApprovalRequest,
    PlanApprovalResponse,
    ReadError,
    ShutdownRequest,
    ShutdownResponse,
    TaskAssignment,
    TaskStatus,
    TeamMember,
    inbox_key,
    list_inbox_files,
    parse_inbox,
    parse_task,
    parse_team_config,
    read_inbox,
    read_task,
    read_team_config,
)
from tina.local.paths import inbox_dir, inbox_path

REAL = Path(__file__).resolve().parent.parent / "fixtures" / "real-shapes"
TEAM = REAL / "teams/docs-refresh"
TASKS = REAL / "tasks/docs-refresh"


def _ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


# --------------------------------------------------------------------------------------------
# team configs (reference §2)


def test_team_with_lead_in_process_and_tmux_teammates() -> None:
    team = read_team_config(TEAM / "config.json")
    assert team.lead_session_id == "5b0e9c1d-3f42-4a8e-9d61-2c7f0a4b8e13"
    lead, writer, checker = team.members
    assert lead.is_lead and lead.reach is MemberReach.LEAD and lead.pane_id is None
    assert lead.is_active is None and lead.plan_mode_required is None and lead.color is None
    assert writer.reach is MemberReach.IN_PROCESS and writer.pane_id is None
    assert writer.backend_type == "in-process" and writer.color == "blue"
    assert writer.is_active is False and writer.plan_mode_required is True
    assert writer.model == "sonnet" and not writer.is_lead
    assert checker.reach is MemberReach.PANE and checker.pane_id == "%3"
    assert checker.backend_type == "tmux" and checker.is_active is True
    assert checker.plan_mode_required is False
    # a tmux teammate captured without joinedAt and cwd
    assert checker.joined_at is None and checker.cwd is None


def test_later_build_session_team_with_leader_pane_and_no_lead_model() -> None:
    team = read_team_config(REAL / "teams/session-7c1e0b2a/config.json")
    assert team.name == "session-7c1e0b2a" and team.lead_session_id is None
    lead, profiler = team.members
    assert lead.tmux_pane_id == "leader" and lead.model is None
    assert lead.backend_type == "in-process"  # the lead is not an in-process teammate
    assert lead.reach is MemberReach.LEAD and lead.pane_id is None
    assert profiler.reach is MemberReach.PANE and profiler.pane_id == "%14"
    assert profiler.agent_type == "perf-agent"


def test_lead_without_pane_id_and_bad_optional_values() -> None:
    team = read_team_config(REAL / "teams/abandoned-spike/config.json")
    lead, researcher, reader = team.members
    assert lead.tmux_pane_id is None and lead.reach is MemberReach.LEAD
    # planModeRequired "yes" and isActive 1 are not booleans: read as absent, not an error
    assert researcher.plan_mode_required is None and researcher.is_active is False
    assert researcher.reach is MemberReach.PANE
    assert reader.is_active is None
    assert reader.backend_type == "iterm2" and reader.tmux_pane_id == ""
    assert reader.reach is MemberReach.NONE and reader.pane_id is None


@pytest.mark.parametrize(
    ("fields", "reach"),
    [
        ({"tmuxPaneId": "%0"}, MemberReach.PANE),
        ({"tmuxPaneId": "%12"}, MemberReach.PANE),
        ({"tmuxPaneId": "in-process"}, MemberReach.IN_PROCESS),
        ({"backendType": "in-process"}, MemberReach.IN_PROCESS),
        ({"tmuxPaneId": "", "backendType": "in-process"}, MemberReach.IN_PROCESS),
        ({"tmuxPaneId": ""}, MemberReach.NONE),
        ({}, MemberReach.NONE),
        ({"tmuxPaneId": "%"}, MemberReach.NONE),
        ({"tmuxPaneId": "%3x"}, MemberReach.NONE),
        ({"tmuxPaneId": "leader"}, MemberReach.LEAD),
        ({"tmuxPaneId": "w0t1p2", "backendType": "iterm2"}, MemberReach.NONE),
    ],
)
def test_teammate_reach(fields: dict[str, str], reach: MemberReach) -> None:
    doc = {"name": "t", "members": [{"agentId": "a@t", "name": "a", **fields}]}
    (member,) = parse_team_config(json.dumps(doc).encode()).members
    assert member.reach is reach
    assert (member.pane_id is not None) == (reach is MemberReach.PANE)


def test_tmux_pane_is_unchanged_for_the_daemon() -> None:
    leader = TeamMember(agent_id="team-lead@t", name="team-lead", tmux_pane_id="leader")
    assert leader.tmux_pane == "leader"  # kept as before; pane_id is the strict one
    assert leader.pane_id is None


def test_member_fields_all_optional_but_agent_id_and_name() -> None:
    doc = {"name": "t", "members": [{"agentId": "a@t", "name": "a", "unknown": [1, 2]}]}
    (member,) = parse_team_config(json.dumps(doc).encode()).members
    assert member == TeamMember(agent_id="a@t", name="a")


# --------------------------------------------------------------------------------------------
# tasks (reference §3)


def test_teammate_tracker_task_is_internal() -> None:
    tracker = read_task(TASKS / "1.json")
    assert tracker.internal and tracker.subject == "writer"
    assert tracker.known_status is TaskStatus.IN_PROGRESS
    assert not read_task(TASKS / "2.json").internal
    assert not read_task(TASKS / "10.json").internal  # "_internal": false


def test_task_timestamps_in_epoch_ms() -> None:
    task = read_task(TASKS / "2.json")
    assert task.created_at == _ms(1770890520000)
    assert task.updated_at == _ms(1770890733000)
    assert task.owner == "writer" and task.active_form == "Rewriting orders API page"
    assert not task.is_deleted


def test_bad_and_missing_task_timestamps_read_as_none() -> None:
    task = read_task(TASKS / "10.json")
    assert task.created_at is None and task.updated_at is None
    assert task.blocked_by == ("2",)
    assert read_task(TASKS / "1.json").created_at is None


def test_timestamps_are_not_part_of_the_canonical_task() -> None:
    task = read_task(TASKS / "2.json")
    doc = json.loads((TASKS / "2.json").read_bytes())
    later = parse_task(json.dumps({**doc, "updatedAt": 1770899999000}).encode())
    assert later.updated_at != task.updated_at
    assert later.canonical_json() == task.canonical_json()


def test_deleted_task() -> None:
    task = read_task(TASKS / "3.json")
    assert task.is_deleted and task.status == "deleted" and task.known_status is None


def test_numeric_task_id_reads_as_text() -> None:
    assert read_task(TASKS / "11.json").id == "11"
    assert read_task(TASKS / "10.json").id == "10"
    with pytest.raises(ReadError) as caught:
        parse_task(b'{"id": true, "subject": "s", "status": "pending"}')
    assert caught.value.field == "id"


def test_task_dir_lock_and_highwatermark_are_not_tasks() -> None:
    names = sorted(p.name for p in TASKS.iterdir())
    assert ".lock" in names and ".highwatermark" in names
    tasks = [read_task(p) for p in sorted(TASKS.glob("[!.]*.json"))]
    assert sorted(t.id for t in tasks) == ["1", "10", "11", "2", "3"]


# --------------------------------------------------------------------------------------------
# inboxes (reference §5, §6)


def test_lead_inbox_every_message_kept_in_order() -> None:
    inbox = read_inbox(TEAM / "inboxes/team-lead.json")
    assert inbox.agent == "team-lead" and inbox.errors == ()
    raw = json.loads((TEAM / "inboxes/team-lead.json").read_bytes())
    assert [m.text for m in inbox.messages] == [entry["text"] for entry in raw]
    assert [m.kind for m in inbox.messages] == [
        MessageKind.IDLE_NOTIFICATION,
        MessageKind.IDLE_NOTIFICATION,
        MessageKind.TEXT,
        MessageKind.PLAN_APPROVAL_REQUEST,
        MessageKind.PERMISSION_REQUEST,
        MessageKind.PERMISSION_REQUEST,
        MessageKind.SHUTDOWN_RESPONSE,
        MessageKind.SHUTDOWN_RESPONSE,
        MessageKind.SHUTDOWN_RESPONSE,
        MessageKind.UNKNOWN,
        MessageKind.TEXT,
        MessageKind.TEXT,
    ]
    assert all(m.agent == "team-lead" for m in inbox.messages)


def test_idle_notifications() -> None:
    inbox = read_inbox(TEAM / "inboxes/team-lead.json")
    first, second = inbox.messages[:2]
    assert first.sender == "writer" and first.read is True and first.color == "blue"
    assert first.timestamp == datetime(2026, 2, 12, 10, 5, 12, 481000, tzinfo=UTC)
    assert first.body == IdleNotification(idle_reason="available")
    assert second.read is False
    assert second.body == IdleNotification(
        idle_reason="interrupted",
        summary="Stopped after two samples",
        completed_status="completed",
    )


def test_plain_text_with_summary() -> None:
    message = read_inbox(TEAM / "inboxes/team-lead.json").messages[2]
    assert message.kind is MessageKind.TEXT and message.type is None and message.body is None
    assert message.summary == "Orders page rewritten, two stale examples"
    assert message.text.startswith("## Orders page")


def test_plan_approval_request() -> None:
    message = read_inbox(TEAM / "inboxes/team-lead.json").messages[3]
    assert message.body == PlanApprovalRequest(
        request_id="plan-1770890880000@writer",
        plan_content="1. Regenerate from openapi.yaml\n2. Fix examples",
    )


def test_permission_requests_snake_and_camel_case() -> None:
    snake, camel = read_inbox(TEAM / "inboxes/team-lead.json").messages[4:6]
    assert isinstance(snake.body, PermissionRequest)
    assert snake.body.request_id == "perm-1770890900000-k3x9q"
    assert snake.body.agent == "checker" and snake.body.tool_name == "Bash"
    assert snake.body.tool_use_id == "toolu_01AbCdEfGhIjKlMnOpQrStUv"
    assert snake.body.input == {"command": "npm run serve:api"}
    assert len(snake.body.permission_suggestions) == 1
    assert camel.body == PermissionRequest(
        request_id="perm-1770890910000-p2m7w",
        agent="checker",
        tool_name="Write",
        tool_use_id="toolu_01ZyXwVuTsRqPoNmLkJiHgFe",
        description="Write docs/api/samples.log",
        input={"file_path": "docs/api/samples.log"},
        permission_suggestions=(),
    )


def test_shutdown_responses_approved_rejected_and_tool_shape() -> None:
    approved, rejected, response = read_inbox(TEAM / "inboxes/team-lead.json").messages[6:9]
    assert approved.type == "shutdown_approved"
    assert approved.body == ShutdownResponse(
        request_id="shutdown-1770891000000@checker",
        approved=True,
        pane_id="%3",
        backend_type="tmux",
    )
    assert approved.color is None
    assert rejected.type == "shutdown_rejected"
    assert isinstance(rejected.body, ShutdownResponse)
    assert rejected.body.approved is False and rejected.body.reason == "Still fixing the examples"
    assert response.type == "shutdown_response"
    assert response.body == ShutdownResponse(
        request_id="shutdown-1770891000500@writer", approved=True, reason="Done now"
    )


def test_unknown_type_and_json_without_type_are_kept_as_text() -> None:
    unknown, untyped, broken = read_inbox(TEAM / "inboxes/team-lead.json").messages[9:]
    assert unknown.kind is MessageKind.UNKNOWN and unknown.type == "sample_report"
    assert unknown.body is None and json.loads(unknown.text)["samples"] == 12
    assert untyped.kind is MessageKind.TEXT and untyped.type is None
    assert untyped.read is False  # absent means unread
    assert broken.kind is MessageKind.TEXT and broken.text == "{not json at all"


def test_teammate_inbox_assignment_plans_and_shutdown() -> None:
    inbox = read_inbox(TEAM / "inboxes/writer.json")
    assignment, rejected, approved, shutdown, text, again = inbox.messages
    assert assignment.body == TaskAssignment(
        task_id="2",
        subject="Rewrite orders API page",
        description="Regenerate docs/api/orders.md from openapi.yaml and fix the examples.",
        assigned_by="team-lead",
    )
    assert rejected.body == PlanApprovalResponse(
        request_id="plan-1770890880000@writer",
        approved=False,
        feedback="Keep the v1 examples; add v2 beside them.",
    )
    assert approved.body == PlanApprovalResponse(
        request_id="plan-1770890950000@writer", approved=True
    )
    assert shutdown.body == ShutdownRequest(
        request_id="shutdown-1770891000500@writer", reason="Work is done"
    )
    assert text.kind is MessageKind.TEXT and again.text == text.text


def test_permission_responses() -> None:
    allowed, denied, shutdown = read_inbox(TEAM / "inboxes/checker.json").messages
    assert isinstance(allowed.body, PermissionResponse) and allowed.body.allowed is True
    assert allowed.body.response == {
        "updated_input": {"command": "npm run serve:api"},
        "permission_updates": [],
    }
    assert isinstance(denied.body, PermissionResponse) and denied.body.allowed is False
    assert denied.body.error == "Writing logs into docs/ is not allowed"
    assert PermissionResponse(subtype="later").allowed is None
    assert shutdown.body == ShutdownRequest(request_id="shutdown-1770891000000@checker")


# --------------------------------------------------------------------------------------------
# dedupe keys


def test_keys_are_unique_even_for_identical_messages() -> None:
    for name in ("team-lead", "writer", "checker"):
        keys = [m.key for m in read_inbox(TEAM / f"inboxes/{name}.json").messages]
        assert len(set(keys)) == len(keys)
    *_, text, again = read_inbox(TEAM / "inboxes/writer.json").messages
    assert text.key != again.key


def test_keys_are_stable_across_appends_and_read_flips() -> None:
    raw = json.loads((TEAM / "inboxes/writer.json").read_bytes())
    before = parse_inbox(json.dumps(raw).encode(), agent="writer")
    flipped = [{**entry, "read": True} for entry in raw]
    appended = [
        *flipped,
        {"from": "team-lead", "text": "one more", "timestamp": "2026-02-12T11:00:00Z"},
    ]
    after = parse_inbox(json.dumps(appended, indent=2).encode(), agent="writer")
    assert [m.key for m in after.messages[: len(raw)]] == [m.key for m in before.messages]
    assert after.messages[-1].key not in {m.key for m in before.messages}


def test_keys_depend_on_agent_timestamp_sender_and_text() -> None:
    base = inbox_key("writer", "2026-02-12T10:00:00Z", "team-lead", "hi")
    assert base == inbox_key("writer", "2026-02-12T10:00:00Z", "team-lead", "hi")
    assert base != inbox_key("checker", "2026-02-12T10:00:00Z", "team-lead", "hi")
    assert base != inbox_key("writer", "2026-02-12T10:00:01Z", "team-lead", "hi")
    assert base != inbox_key("writer", "2026-02-12T10:00:00Z", "checker", "hi")
    assert base != inbox_key("writer", "2026-02-12T10:00:00Z", "team-lead", "hi!")
    assert base != inbox_key("writer", "2026-02-12T10:00:00Z", "team-lead", "hi", 1)
    assert re.fullmatch(r"[0-9a-f]{64}", base)  # a whole SHA-256: what Convex keys rows by


# --------------------------------------------------------------------------------------------
# malformed inboxes


@pytest.mark.parametrize(
    ("data", "incomplete"),
    [
        (b"", True),
        (b'[{"from": "a", "text": "b"', True),
        (b'{"from": "a", "text": "b"}', False),
        (b'"text"', False),
        (b"null", False),
    ],
)
def test_malformed_inbox_raises_read_error_naming_the_path(data: bytes, incomplete: bool) -> None:
    with pytest.raises(ReadError) as caught:
        parse_inbox(data, agent="a", path="inboxes/a.json")
    assert caught.value.path == "inboxes/a.json"
    assert caught.value.incomplete is incomplete


def test_entries_that_are_not_messages_are_reported_not_fatal() -> None:
    doc = [
        {"from": "a", "text": "kept"},
        7,
        {"from": 3, "text": "x"},
        {"from": "a"},
        {"from": "a", "text": "also kept", "timestamp": 12, "read": "yes", "color": 4},
    ]
    inbox = parse_inbox(json.dumps(doc).encode(), agent="b", path="b.json")
    assert [m.text for m in inbox.messages] == ["kept", "also kept"]
    assert [e.field for e in inbox.errors] == ["[1]", "[2].from", "[3].text"]
    last = inbox.messages[-1]
    assert last.timestamp == _ms(12) and last.read is False and last.color is None
    assert parse_inbox(b"[]", agent="b").messages == ()


def test_read_inbox_missing_file_and_cap(tmp_path: Path) -> None:
    with pytest.raises(ReadError) as caught:
        read_inbox(tmp_path / "nobody.json")
    assert "nobody.json" in caught.value.path


def test_inbox_listing_skips_locks_and_dotfiles(tmp_path: Path) -> None:
    inboxes = tmp_path / "inboxes"
    shutil.copytree(TEAM / "inboxes", inboxes)
    (inboxes / "writer.json.lock").mkdir()  # proper-lockfile's lock directory
    (inboxes / ".team-lead.json.swp").write_bytes(b"")
    files, errors = list_inbox_files(inboxes)
    assert [p.name for p in files] == ["checker.json", "team-lead.json", "writer.json"]
    assert errors == []
    assert list_inbox_files(tmp_path / "missing") == ([], [])


def test_inbox_paths(home: Path) -> None:
    assert inbox_dir("docs-refresh") == home / ".claude/teams/docs-refresh/inboxes"
    assert inbox_path("phase-1.5", "team-lead") == (
        home / ".claude/teams/phase-1-5/inboxes/team-lead.json"
    )


# --------------------------------------------------------------------------------------------
# properties

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["2026-02-12T10:05:12.481Z", "team-lead", "%3", "", "{", "\ud83d"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

_TYPES = [
    "idle_notification",
    "task_assignment",
    "shutdown_request",
    "shutdown_approved",
    "shutdown_rejected",
    "shutdown_response",
    "plan_approval_request",
    "plan_approval_response",
    "permission_request",
    "permission_response",
    "something_new",
]
_KEYS = [
    "from",
    "timestamp",
    "idleReason",
    "summary",
    "completedStatus",
    "taskId",
    "subject",
    "assignedBy",
    "requestId",
    "request_id",
    "reason",
    "approve",
    "approved",
    "content",
    "paneId",
    "planContent",
    "agent_id",
    "workerName",
    "tool_name",
    "input",
    "permission_suggestions",
    "permissionSuggestions",
    "subtype",
    "response",
    "error",
]

structured_texts = st.builds(
    lambda type_, fields: json.dumps({"type": type_, **fields}),
    st.sampled_from(_TYPES) | json_values,
    st.dictionaries(st.sampled_from(_KEYS), json_values, max_size=6),
)

entries = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"from": st.text(max_size=8), "text": structured_texts | st.text(max_size=20)},
        optional={
            "timestamp": json_values,
            "read": json_values,
            "color": json_values,
            "summary": json_values,
        },
    ),
)


def _parse(data: bytes) -> Inbox | ReadError:
    """The inbox, or the ReadError the reader raised; any other exception propagates."""
    try:
        return parse_inbox(data, agent="prop", path="prop.json")
    except ReadError as error:
        return error


def _only_read_errors(data: bytes) -> None:
    inbox = _parse(data)
    if isinstance(inbox, ReadError):
        assert inbox.path == "prop.json" and inbox.expected
        return
    doc = json.loads(data)
    # never dropped: every entry is a message or a reported error, in file order
    assert len(inbox.messages) + len(inbox.errors) == len(doc)
    assert len({m.key for m in inbox.messages}) == len(inbox.messages)
    for message in inbox.messages:
        assert isinstance(message.kind, MessageKind)
        assert (message.body is None) == (message.kind in (MessageKind.TEXT, MessageKind.UNKNOWN))


@PROPERTY
@given(value=json_values)
def test_inbox_reader_raises_only_read_error_on_any_json(value: object) -> None:
    _only_read_errors(json.dumps(value).encode())


@PROPERTY
@given(value=st.lists(entries, max_size=8))
def test_inbox_reader_on_message_like_arrays(value: list[object]) -> None:
    _only_read_errors(json.dumps(value).encode())


@PROPERTY
@given(data=st.binary(max_size=300))
def test_inbox_reader_raises_only_read_error_on_any_bytes(data: bytes) -> None:
    result = _parse(data)
    if isinstance(result, ReadError):
        assert result.path == "prop.json"
