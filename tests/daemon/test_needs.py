"""The laptop's needs, by the pure rules of `tina.daemon.needs`, on the real inbox shapes
(tests/fixtures/real-shapes: permission requests snake_case and camelCase, plan approval
requests and responses in both namings, the answers in the requester's inbox) read by the real
Claude watcher; hook sessions from the real hook inputs (tests/fixtures/hooks); the checks
before `needs:syncLaptop`; the `stall_after_mins` setting."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import attrs
import pytest

from tina.convex import LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.convex.needs import InvalidNeeds, sync_laptop_args
from tina.daemon import config
from tina.daemon.actors.claude import ClaudeWatcher
from tina.daemon.actors.hooks import Hooks, HookSessions, SessionState
from tina.daemon.needs import (
    TeamView,
    laptop_needs,
    lead_view,
    retry_after,
    session_snapshots,
)
from tina.daemon.sync.syncer import Syncer
from tina.hooks.event import parse_hook_event
from tina.messages import LaptopNeed, SessionSnapshot

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REAL = FIXTURES / "real-shapes"
EVENTS = {e["label"]: e["input"] for e in json.loads((FIXTURES / "hooks/events.json").read_text())}
LEAD = "0c9d7e21-4b5a-4f3e-8a2d-6e1f0b9c8d74"  # api-audit's leadSessionId
MIN = 60_000.0
STALL = 10 * MIN
# api-audit's files are from 2026-03-04 09:00-09:06 UTC; docs-refresh's from 2026-02-12 10:xx.
AUDIT_NOW = 1_772_615_400_000.0  # 09:10 UTC
DOCS_NOW = 1_770_891_200_000.0  # 2026-02-12 10:13:20 UTC


class Panes:
    def __init__(self, panes: set[str]) -> None:
        self.panes = frozenset(panes)

    async def __call__(self) -> frozenset[str]:
        return self.panes


def copy(tmp_path: Path, *teams: str, tasks: bool = False) -> Path:
    claude = tmp_path / ".claude"
    for team in teams:
        shutil.copytree(REAL / "teams" / team, claude / "teams" / team)
        if tasks and (REAL / "tasks" / team).exists():
            shutil.copytree(REAL / "tasks" / team, claude / "tasks" / team)
    return claude


def edit_inbox(claude: Path, team: str, agent: str, change: Any) -> None:
    path = claude / "teams" / team / "inboxes" / f"{agent}.json"
    entries = json.loads(path.read_text()) if path.exists() else []
    path.write_text(json.dumps(change(entries), indent=2, ensure_ascii=False))


def structured(entries: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    """`entries` without those whose text is a structured message of `type_`."""
    return [e for e in entries if f'"type":"{type_}"' not in e["text"].replace(" ", "")]


async def views(
    claude: Path, panes: set[str] | None = None, hooks: Hooks | None = None
) -> list[TeamView]:
    cell: LatestValue[GatewayProtocol | None] = LatestValue(None)
    watcher = ClaudeWatcher(claude, Syncer(cell), panes=Panes(panes or {"%21", "%22", "%3"}))
    if hooks is not None:
        watcher.session_of = hooks.lead_session
    await watcher.emit(await watcher.rescan(force=True))  # lists the panes
    return watcher.team_views()


def by_kind(needs: list[LaptopNeed], kind: str) -> dict[str, LaptopNeed]:
    return {n.key: n for n in needs if n.kind == kind}


def hook(label: str, at: float, **changes: Any) -> Any:
    event = parse_hook_event({**EVENTS[label], **changes}, received_at=at)
    assert event is not None
    return event


# --- teammate permission requests ----------------------------------------------------------------


async def test_unanswered_permission_requests_of_live_teammates(tmp_path: Path) -> None:
    claude = copy(tmp_path, "api-audit")
    needs = laptop_needs(await views(claude), [], AUDIT_NOW, STALL)
    perms = by_kind(needs, "teammate_permission")
    # scanner's (snake_case) is unanswered; fixer's (camelCase) was answered in fixer's inbox;
    # closer shut down; stuck's pane %23 is gone.
    assert list(perms) == ["perm:api-audit:perm-1772614860000-a1b2c"]
    need = perms["perm:api-audit:perm-1772614860000-a1b2c"]
    assert need == LaptopNeed(
        key="perm:api-audit:perm-1772614860000-a1b2c",
        kind="teammate_permission",
        since=1_772_614_860_000.0,  # the request's timestamp, 09:01:00
        title="scanner asks to use Bash",
        detail="Run the endpoint scanner",
        team_dir="api-audit",
        agent_name="scanner",
        request_id="perm-1772614860000-a1b2c",
        tool_name="Bash",
        tool_input='{"command":"npm run scan:api"}',
    )
    # With its pane alive, stuck is not gone, and its request shows.
    unknown = laptop_needs(await views(claude, {"%21", "%22", "%23"}), [], AUDIT_NOW, STALL)
    assert "perm:api-audit:perm-1772615050000-j7k8l" in by_kind(unknown, "teammate_permission")


async def test_a_camel_case_request_without_its_answer_and_the_answer_ending_it(
    tmp_path: Path,
) -> None:
    claude = copy(tmp_path, "api-audit")
    answered = (claude / "teams/api-audit/inboxes/fixer.json").read_text()
    edit_inbox(claude, "api-audit", "fixer", lambda e: structured(e, "permission_response"))
    perms = by_kind(laptop_needs(await views(claude), [], AUDIT_NOW, STALL), "teammate_permission")
    need = perms["perm:api-audit:perm-1772614920000-d3e4f"]
    assert (need.agent_name, need.title) == ("fixer", "fixer asks to use Edit")  # workerName
    assert need.tool_input == '{"file_path":"src/auth.ts"}'
    assert need.detail == "Edit src/auth.ts"
    # The lead answers in the requester's inbox: resolved. An answer in someone else's inbox
    # does not count.
    (claude / "teams/api-audit/inboxes/reviewer.json").write_text(answered)
    perms = by_kind(laptop_needs(await views(claude), [], AUDIT_NOW, STALL), "teammate_permission")
    assert "perm:api-audit:perm-1772614920000-d3e4f" in perms
    (claude / "teams/api-audit/inboxes/fixer.json").write_text(answered)
    perms = by_kind(laptop_needs(await views(claude), [], AUDIT_NOW, STALL), "teammate_permission")
    assert "perm:api-audit:perm-1772614920000-d3e4f" not in perms


async def test_a_long_tool_input_is_cut_and_marked(tmp_path: Path) -> None:
    claude = copy(tmp_path, "api-audit")

    def bigger(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        doc = json.loads(entries[0]["text"])
        doc["input"] = {"command": "x" * 20_000}
        entries[0]["text"] = json.dumps(doc)
        return entries

    edit_inbox(claude, "api-audit", "team-lead", bigger)
    [need] = by_kind(
        laptop_needs(await views(claude), [], AUDIT_NOW, STALL), "teammate_permission"
    ).values()
    assert need.tool_input is not None and len(need.tool_input) == 16_384
    assert need.tool_input.endswith("…") and need.tool_input_truncated is True


# --- plan approvals ------------------------------------------------------------------------------


async def test_plan_approval_requests_and_responses_in_both_namings(tmp_path: Path) -> None:
    claude = copy(tmp_path, "docs-refresh")
    # writer shut down in the fixture; without its shutdown it is a live (idle) teammate.
    edit_inbox(
        claude,
        "docs-refresh",
        "team-lead",
        lambda e: [x for x in e if not (x["from"] == "writer" and "shutdown" in x["text"])],
    )
    needs = laptop_needs(await views(claude), [], DOCS_NOW, STALL)
    # Its plan request was answered with the snake_case response (request_id/approve).
    assert by_kind(needs, "agent_plan_approval") == {}

    # A second request, answered with the camelCase response (requestId/approved) in the file.
    second = {
        "from": "writer",
        "text": json.dumps(
            {
                "type": "plan_approval_request",
                "from": "writer",
                "timestamp": "2026-02-12T10:09:10.000Z",
                "planContent": "1. Keep v1\n2. Add v2",
                "requestId": "plan-1770890950000@writer",
            }
        ),
        "timestamp": "2026-02-12T10:09:10.000Z",
        "read": False,
    }
    edit_inbox(claude, "docs-refresh", "team-lead", lambda e: [*e, second])
    assert (
        by_kind(laptop_needs(await views(claude), [], DOCS_NOW, STALL), "agent_plan_approval") == {}
    )

    # Without the responses both wait, with their plans.
    edit_inbox(claude, "docs-refresh", "writer", lambda e: structured(e, "plan_approval_response"))
    plans = by_kind(laptop_needs(await views(claude), [], DOCS_NOW, STALL), "agent_plan_approval")
    assert sorted(plans) == [
        "plan:docs-refresh:plan-1770890880000@writer",
        "plan:docs-refresh:plan-1770890950000@writer",
    ]
    first = plans["plan:docs-refresh:plan-1770890880000@writer"]
    assert first.title == "writer asks to approve its plan"
    assert first.plan_content == "1. Regenerate from openapi.yaml\n2. Fix examples"
    assert first.since == 1_770_890_880_000.0
    assert (first.team_dir, first.agent_name, first.request_id) == (
        "docs-refresh",
        "writer",
        "plan-1770890880000@writer",
    )

    # The fixture as it is: writer shut down, nothing of its own is asked for any more.
    fixture = laptop_needs(await views(copy(tmp_path / "b", "docs-refresh")), [], DOCS_NOW, STALL)
    assert [n.agent_name for n in fixture if n.agent_name == "writer"] == []


# --- idle with tasks -----------------------------------------------------------------------------


async def test_an_idle_teammate_with_open_tasks(tmp_path: Path) -> None:
    claude = copy(tmp_path, "docs-refresh", tasks=True)
    edit_inbox(
        claude,
        "docs-refresh",
        "team-lead",
        lambda e: [x for x in e if not (x["from"] == "writer" and "shutdown" in x["text"])],
    )
    idle = by_kind(laptop_needs(await views(claude), [], DOCS_NOW, STALL), "idle_with_tasks")
    # writer (isActive false) owns task 2 (in progress); the tracker (task 1) and the deleted
    # and completed tasks do not count; checker owns task 10 but has shut down.
    assert list(idle) == ["idle:docs-refresh:writer"]
    need = idle["idle:docs-refresh:writer"]
    assert need.title == "writer is idle with 1 open task"
    assert need.detail == "#2 Rewrite orders API page"
    assert need.open_tasks == 1
    assert need.since == 1_770_890_712_481.0  # its idle notification, 10:05:12.481
    # Once its task is completed, nothing.
    task = claude / "tasks/docs-refresh/2.json"
    task.write_text(task.read_text().replace('"in_progress"', '"completed"'))
    assert by_kind(laptop_needs(await views(claude), [], DOCS_NOW, STALL), "idle_with_tasks") == {}


# --- stop failures -------------------------------------------------------------------------------


def sessions_after(*events: Any) -> list[SessionState]:
    sessions = HookSessions()
    for e in events:
        sessions.apply(e)
    return list(sessions.by_id.values())


async def test_a_rate_limited_lead_with_the_reset_time_from_its_message(tmp_path: Path) -> None:
    claude = copy(tmp_path, "api-audit")
    hooks = Hooks()
    message = "You've hit your limit · resets 3pm (Europe/London)"
    for e in (
        hook("UserPromptSubmit", AUDIT_NOW - 2 * MIN),
        hook("StopFailure rate_limit", AUDIT_NOW - MIN, last_assistant_message=message),
    ):
        hooks.sessions.apply(e)
    hooks.join(hooks.sessions.by_id.values())
    teams = await views(claude, hooks=hooks)
    state = hooks.sessions.by_id[LEAD]
    state.team = "api-audit"
    needs = laptop_needs(teams, [state], AUDIT_NOW, STALL)
    [stop] = by_kind(needs, "stop_failure").values()
    assert stop == LaptopNeed(
        key=f"stop:{LEAD}",
        kind="stop_failure",
        since=AUDIT_NOW - MIN,
        title="team-lead of api-audit hit a rate limit",
        detail="API Error: rate_limit",  # error_details first
        team_dir="api-audit",
        agent_name="team-lead",
        session_id=LEAD,
        error_kind="rate_limit",
        retry_hint="resets 3pm (Europe/London)",
    )
    # The merged liveness says it too.
    lead = next(m for m in teams[0].members if m.agent_name == "team-lead")
    assert (lead.liveness, lead.liveness_reason) == (
        "rate_limited",
        "rate limited; resets 3pm (Europe/London)",
    )
    # It runs again: the failure is over.
    hooks.sessions.apply(hook("UserPromptSubmit", AUDIT_NOW))
    assert by_kind(laptop_needs(teams, [state], AUDIT_NOW, STALL), "stop_failure") == {}


def test_other_failures_say_what_to_do_by_kind() -> None:
    sessions = sessions_after(
        hook("StopFailure billing_error", AUDIT_NOW, session_id="s-billing"),
        hook("StopFailure server_error", AUDIT_NOW, session_id="s-server"),
    )
    stops = by_kind(laptop_needs([], sessions, AUDIT_NOW, STALL), "stop_failure")
    billing, server = stops["stop:s-billing"], stops["stop:s-server"]
    assert (billing.title, billing.error_kind, billing.retry_hint) == (
        "Claude Code session s-billin stopped on an API error (billing_error)",
        "billing_error",
        "fix billing first",
    )
    assert server.retry_hint == "retry in a few minutes"


@pytest.mark.parametrize(
    ("text", "hint", "at"),
    [
        ("5-hour limit reached ∙ resets 3pm", "resets 3pm", None),
        (
            "Claude usage limit reached. Your limit will reset at 3pm (Europe/London).",
            "resets 3pm (Europe/London)",
            None,
        ),
        ("Claude AI usage limit reached|1772618400", "resets at 10:00 UTC", 1_772_618_400_000.0),
        ("Overloaded. Please try again in 5 minutes.", "retry in 5 minutes", AUDIT_NOW + 5 * MIN),
        ("API Error: rate_limit", None, None),
        ("API Error: Connection reset by peer", None, None),
        ("Limit reached, resets tomorrow.", "resets tomorrow", None),
        ("", None, None),
    ],
)
def test_retry_after(text: str, hint: str | None, at: float | None) -> None:
    assert retry_after(text, AUDIT_NOW) == (hint, at)


# --- stalls --------------------------------------------------------------------------------------


def test_a_session_stalls_after_the_setting_with_its_cause() -> None:
    t0 = AUDIT_NOW - STALL
    sessions = sessions_after(
        hook("PreToolUse", t0 - 5000, session_id="tool"),
        hook("PermissionRequest", t0, session_id="asking"),
        hook("PostToolUse", t0, session_id="quiet"),
        hook("PreToolUse", t0, session_id="failing", hook_event_name="PostToolUseFailure"),
        hook("Stop", t0, session_id="idle"),
        hook("SessionEnd", t0, session_id="ended"),
        hook("PostToolUse", t0 + 1, session_id="recent"),
    )
    stalls = by_kind(laptop_needs([], sessions, AUDIT_NOW, STALL), "stalled")
    assert {k: n.cause for k, n in stalls.items()} == {
        "stall:tool": "long_tool",
        "stall:asking": "waiting_for_human",
        "stall:quiet": "silent",
        "stall:failing": "api_error",
    }
    tool = stalls["stall:tool"]
    assert tool.title == "Claude Code session tool seems stalled: a tool is still running"
    assert tool.detail == "Bash has been running since 08:59:55 UTC"
    assert (tool.tool_name, tool.since) == ("Bash", t0 - 5000)
    assert stalls["stall:asking"].detail == "waiting for permission to use Bash since 09:00:00 UTC"
    # A minute before the setting, nothing stalls.
    assert by_kind(laptop_needs([], sessions, AUDIT_NOW - MIN, STALL), "stalled") == {}


async def test_a_silent_working_teammate_stalls_unless_its_lead_is_heard(tmp_path: Path) -> None:
    claude = copy(tmp_path, "api-audit")
    # reviewer (in-process, working): last sign of life the task assigned to it at 09:03:45.
    assigned = 1_772_615_025_000.0
    teams = await views(claude)
    stalls = by_kind(laptop_needs(teams, [], assigned + STALL, STALL), "stalled")
    assert stalls["stall:api-audit:reviewer"].since == assigned
    assert stalls["stall:api-audit:reviewer"].cause == "silent"
    assert (
        by_kind(laptop_needs(teams, [], assigned + STALL - 1, STALL), "stalled").get(
            "stall:api-audit:reviewer"
        )
        is None
    )
    # In-process teammates run in the lead's process: its hook events are theirs.
    hooks = Hooks()
    hooks.sessions.apply(hook("PostToolUse", assigned + STALL - MIN))
    teams = await views(claude, hooks=hooks)
    stalls = by_kind(
        laptop_needs(teams, list(hooks.sessions.by_id.values()), assigned + STALL, STALL),
        "stalled",
    )
    assert "stall:api-audit:reviewer" not in stalls


# --- sessions and the wire -----------------------------------------------------------------------


async def test_sessions_as_sent(tmp_path: Path) -> None:
    claude = copy(tmp_path, "api-audit")
    hooks = Hooks(team_of=lambda sid: "api-audit" if sid == LEAD else None)
    for e in (hook("SessionStart startup", AUDIT_NOW), hook("PermissionRequest", AUDIT_NOW + 1)):
        await hooks.take(e)
    await hooks.take(hook("Stop", AUDIT_NOW + 2, session_id="other", cwd="/x"))
    teams = await views(claude, hooks=hooks)
    snaps = session_snapshots(list(hooks.sessions.by_id.values()), teams)
    assert snaps == [
        SessionSnapshot(
            session_id="other",
            liveness="idle",
            cwd="/x",
            first_at=AUDIT_NOW + 2,
            last_at=AUDIT_NOW + 2,
            last_event="Stop",
            events=1,
        ),
        SessionSnapshot(
            session_id=LEAD,
            liveness="waiting",
            reason="waiting for permission to use Bash",
            cwd="/home/dev/shop",
            team_dir="api-audit",
            agent_name="team-lead",
            first_at=AUDIT_NOW,
            last_at=AUDIT_NOW + 1,
            last_event="PermissionRequest",
            events=2,
        ),
    ]
    view = lead_view(hooks.sessions.by_id[LEAD])
    assert view is not None and view.tool_name == "Bash"
    args = sync_laptop_args([], snaps)
    assert args["sessions"][1] == {
        "sessionId": LEAD,
        "liveness": "waiting",
        "reason": "waiting for permission to use Bash",
        "cwd": "/home/dev/shop",
        "teamDir": "api-audit",
        "agentName": "team-lead",
        "firstAt": AUDIT_NOW,
        "lastAt": AUDIT_NOW + 1,
        "lastEvent": "PermissionRequest",
        "events": 2.0,
    }


def need(**changes: Any) -> LaptopNeed:
    base = LaptopNeed(key="perm:t:r1", kind="teammate_permission", since=1.0, title="a asks")
    return attrs.evolve(base, **changes)


def test_the_checks_before_sending_name_the_field() -> None:
    args = sync_laptop_args([need(tool_input_truncated=True, open_tasks=2.0)], [])
    assert args["items"] == [
        {
            "key": "perm:t:r1",
            "kind": "teammate_permission",
            "since": 1.0,
            "title": "a asks",
            "toolInputTruncated": True,
            "openTasks": 2.0,
        }
    ]
    cases = [
        ([need(), need(title="x" * 201)], "items[1].title: at most 200 characters"),
        ([need(detail="é" * 4097)], "items[0].detail: at most 4096 characters"),
        ([need(tool_input="x" * 16_385)], "items[0].toolInput: at most 16384 characters"),
        ([need(plan_content="😀" * 32_769)], "items[0].planContent: at most 65536 characters"),
        ([need(retry_hint="x" * 201)], "items[0].retryHint: at most 200 characters"),
        ([need(key="k" * 201)], "items[0].key: at most 200 characters"),
        ([need(kind="other")], "items[0].kind: expected one of"),
        ([need(cause="bored")], "items[0].cause: expected one of"),
        ([need(since=float("nan"))], "items[0].since: expected a finite number"),
        ([need(), need()], "items[1].key: 'perm:t:r1' twice"),
        ([need(key=f"k{i}") for i in range(201)], "items: at most 200, got 201"),
    ]
    for items, message in cases:
        with pytest.raises(InvalidNeeds, match=message.replace("[", r"\[").replace("]", r"\]")):
            sync_laptop_args(items, [])
    patterns = [
        (need(team_dir="a b"), "items[0].teamDir: expected a team directory name"),
        (need(agent_name="../x"), "items[0].agentName: expected an agent name"),
        (need(request_id="r" * 129), "items[0].requestId: expected a request id"),
        (need(session_id="no spaces"), "items[0].sessionId: expected a Claude Code session id"),
        (need(feature_name="f" * 101), "items[0].featureName: expected a feature name"),
        (need(open_tasks=1.5), "items[0].openTasks: a whole number"),
        (need(since=8e12), "items[0].since: a time before 2200"),
        (need(key="a\nb"), "items[0].key: control characters"),
        (need(tool_name=" "), "items[0].toolName: empty"),
    ]
    for item, message in patterns:
        with pytest.raises(InvalidNeeds, match=message.replace("[", r"\[").replace("]", r"\]")):
            sync_laptop_args([item], [])
    big = [need(key=f"k{i}", plan_content="é" * 65_536) for i in range(33)]
    with pytest.raises(InvalidNeeds, match=r"items: at most 4194304 bytes of text in all"):
        sync_laptop_args(big, [])
    session = SessionSnapshot(session_id="s", first_at=1, last_at=1, last_event="Stop", events=1)
    with pytest.raises(InvalidNeeds, match=r"sessions\[0\]\.reason: at most 200 characters"):
        sync_laptop_args([], [attrs.evolve(session, reason="r" * 201)])
    with pytest.raises(InvalidNeeds, match=r"sessions: at most 100, got 101"):
        sync_laptop_args([], [attrs.evolve(session, session_id=f"s{i}") for i in range(101)])


async def test_the_rules_keep_within_the_caps(tmp_path: Path) -> None:
    claude = copy(tmp_path, "api-audit")

    def huge(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        doc = json.loads(entries[0]["text"])
        doc["description"] = "d" * 10_000
        doc["tool_name"] = "T" * 500
        doc["request_id"] = "r" * 300
        entries[0]["text"] = json.dumps(doc)
        return entries

    edit_inbox(claude, "api-audit", "team-lead", huge)
    needs = laptop_needs(await views(claude), [], AUDIT_NOW, STALL)
    sync_laptop_args(needs, [])  # no InvalidNeeds
    [perm] = by_kind(needs, "teammate_permission").values()
    assert len(perm.key) <= 200 and perm.key.startswith("perm:api-audit:rrr")
    assert perm.request_id is None  # longer than Convex's request ids: left out, not refused
    assert perm.tool_name is not None and len(perm.tool_name) == 128
    assert perm.detail is not None and len(perm.detail) == 4096


async def test_many_large_plans_stay_within_the_bytes_a_sync_may_carry(tmp_path: Path) -> None:
    claude = copy(tmp_path, "api-audit")

    def plans(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i in range(40):
            at = f"2026-03-04T09:0{i // 10}:{i % 10}0.000Z"
            doc = {
                "type": "plan_approval_request",
                "from": "reviewer",
                "timestamp": at,
                "planContent": "é" * 60_000,  # 120,000 bytes of UTF-8 each
                "requestId": f"plan-{i}@reviewer",
            }
            text = json.dumps(doc, ensure_ascii=False)
            entries.append({"from": "reviewer", "text": text, "timestamp": at})
        return entries

    edit_inbox(claude, "api-audit", "team-lead", plans)
    needs = laptop_needs(await views(claude), [], AUDIT_NOW, STALL)
    asked = by_kind(needs, "agent_plan_approval")
    assert len(asked) == 40  # every one is listed ...
    with_plan = [n for n in asked.values() if n.plan_content]
    assert 30 <= len(with_plan) < 40  # ... the newest without their plan text
    assert min(n.since for n in asked.values() if not n.plan_content) > max(
        n.since for n in with_plan
    )
    sync_laptop_args(needs, [])  # within Convex's 4 MiB


# --- the setting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "mins"), [(None, 10), ("1", 1), ("30", 30), ("1440", 1440)])
def test_stall_after_mins(tmp_path: Path, raw: str | None, mins: int) -> None:
    empty = tmp_path / "config.toml"
    empty.write_text("")
    env = {} if raw is None else {"TINA_STALL_AFTER_MINS": raw}
    assert config.load(empty, env=env).stall_after_mins == mins


@pytest.mark.parametrize("raw", ["0", "-5", "1441", "2.5", "ten", "true"])
def test_a_bad_stall_after_mins_is_refused_naming_the_field(tmp_path: Path, raw: str) -> None:
    empty = tmp_path / "config.toml"
    empty.write_text("")
    with pytest.raises(config.ConfigError) as err:
        config.load(empty, env={"TINA_STALL_AFTER_MINS": raw})
    assert str(err.value) == (
        "stall_after_mins (from environment variable TINA_STALL_AFTER_MINS): "
        f"expected whole minutes from 1 to 1440, got {raw!r}"
    )
    in_file = tmp_path / "bad.toml"
    in_file.write_text("stall_after_mins = true\n")
    with pytest.raises(config.ConfigError, match=r"^stall_after_mins \(from .*bad.toml\): "):
        config.load(in_file, env={})
