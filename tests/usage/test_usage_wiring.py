"""The daemon's usage and quota wiring (`tina.daemon.app`): its facts, its children, the hooks'
rate limits, a worktree's rate-limits file; with a FakeGateway in the connection's cell."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from tests.offline_daemon import offline_daemon
from tests.usage.conftest import FIXTURES, LEAD_SESSION, PROJECT, WORKTREE
from tina.daemon.actors import usage
from tina.dev.fakes import FakeGateway
from tina.messages import HookEvent
from tina.usage import held_id


def _lead_team(claude: Path) -> None:
    team = claude / "teams" / "billing-export-phase-1"
    team.mkdir(parents=True)
    (team / "config.json").write_text(
        json.dumps(
            {
                "name": "billing-export-phase-1",
                "createdAt": 1770480842000,
                "leadAgentId": "team-lead@billing-export-phase-1",
                "leadSessionId": LEAD_SESSION,
                "members": [
                    {
                        "agentId": "team-lead@billing-export-phase-1",
                        "name": "team-lead",
                        "joinedAt": 1770480842000,
                        "cwd": WORKTREE,
                    },
                    {
                        "agentId": "executor-1@billing-export-phase-1",
                        "name": "executor-1",
                        "joinedAt": 1770480842000,
                        "cwd": WORKTREE,
                    },
                ],
            }
        )
    )


async def _until(condition: Callable[[], object], timeout: float = 20.0) -> None:
    with trio.fail_after(timeout):
        while not condition():
            await trio.sleep(0.01)


def test_the_tree_has_usage_and_quota_last() -> None:
    daemon = offline_daemon(Path("/nonexistent"))
    ids = [spec.id for spec in daemon._specs()]
    assert ids[-3:] == ["usage-watch", "usage", "quota"]
    assert ids.index("control") < ids.index("usage")


async def test_the_transcripts_have_a_hub_of_their_own_that_gathers_writes(
    tmp_path: Path,
) -> None:
    """A write to a transcript wakes the transcripts' hub, whose batch gathers what comes
    within the settle time; the worktrees' hub (30 ms) never sees the transcripts."""
    daemon = offline_daemon(tmp_path)
    hub = daemon.transcripts_hub
    assert hub is not daemon.hub
    assert (hub._debounce, hub._step) == (usage.SETTLE_MS, usage.SETTLE_MS)
    assert usage.SETTLE_MS <= 700  # leaves the 1 s a message has to reach the dashboard
    specs = {spec.id: spec for spec in daemon._specs()}
    async with trio.open_nursery() as nursery:
        await nursery.start(specs["usage-watch"].run)
        await nursery.start(specs["usage"].run)
        await _until(lambda: daemon.config.claude_dir.joinpath("projects").is_dir())
        await _until(lambda: daemon.usage.rounds >= 1)
        assert hub.detail()["roots"] == 1
        assert daemon.hub.detail()["roots"] == 0
        nursery.cancel_scope.cancel("test done")


async def test_the_facts_hold_an_orchestration_until_the_syncer_has_its_id(
    tmp_path: Path,
) -> None:
    daemon = offline_daemon(tmp_path)
    claude = daemon.config.claude_dir
    _lead_team(claude)
    await daemon.claude.rescan(force=True)
    daemon.hooks.worktrees = {"billing-export": WORKTREE + "/"}
    facts = daemon._usage_facts()
    assert [(t.name, t.lead_session_id, t.members) for t in facts.teams] == [
        ("billing-export-phase-1", LEAD_SESSION, ("team-lead", "executor-1"))
    ]
    assert [(o.id, o.feature, o.worktree) for o in facts.orchestrations] == [
        (held_id(WORKTREE), "billing-export", WORKTREE)
    ]
    assert daemon._orchestration_id(WORKTREE) is None
    daemon.syncer.orchestration_ids[WORKTREE] = "orch1"
    assert [o.id for o in daemon._usage_facts().orchestrations] == ["orch1"]
    assert daemon._orchestration_id(WORKTREE + "/") == "orch1"


@pytest.mark.timeout(60)
async def test_the_usage_child_holds_usage_then_sends_it_under_the_synced_id(
    tmp_path: Path,
) -> None:
    daemon = offline_daemon(tmp_path)
    claude = daemon.config.claude_dir
    _lead_team(claude)
    shutil.copytree(FIXTURES / "projects" / PROJECT.name, claude / "projects" / PROJECT.name)
    await daemon.claude.rescan(force=True)
    daemon.hooks.worktrees = {"billing-export": WORKTREE}
    gateway = FakeGateway()
    daemon.gateway.set(gateway)
    specs = {spec.id: spec for spec in daemon._specs()}
    async with trio.open_nursery() as nursery:
        await nursery.start(specs["usage-watch"].run)
        await nursery.start(specs["usage"].run)
        ledger = daemon.usage.ledger
        assert ledger is not None
        await _until(lambda: ledger.held() > 0)
        assert gateway.usage_totals("orch1")["messages"] == 0
        daemon.syncer.orchestration_ids[WORKTREE] = "orch1"
        await _until(lambda: gateway.usage_totals("orch1")["messages"] > 0)
        assert ledger.held() == 0
        rows = [row for rows in gateway.usage_batches.values() for row in rows]
        # the lead's by its team (phase 1); its resumed copy's by the worktree only
        assert {r.get("phaseNumber") for r in rows if r.get("orchestrationId")} == {"1", None}
        assert daemon.snapshot()["usage"]["held"] == 0
        nursery.cancel_scope.cancel("test done")


def _hook(event: str, **fields: object) -> HookEvent:
    return HookEvent(
        event=event,
        session_id="0c9d7e21-aaaa-4bbb-8ccc-000000000001",
        received_at=1_772_460_000_000.0,
        **fields,  # type: ignore[arg-type]
    )


def test_a_stop_failure_rate_limit_is_the_laptops_quota_and_still_a_hook_event(
    tmp_path: Path,
) -> None:
    daemon = offline_daemon(tmp_path)
    assert daemon._on_hook(_hook("StopFailure", error="server_error"))
    assert not daemon.quota.accounts
    transcript = tmp_path / ".claude-work" / "projects" / "-repo" / "s.jsonl"
    assert daemon._on_hook(
        _hook(
            "StopFailure",
            error="rate_limit",
            error_details="5-hour limit reached",
            transcript_path=str(transcript),
        )
    )
    (account,) = daemon.quota.accounts  # the session's config dir
    assert account in (str(tmp_path / ".claude-work"), "~/.claude-work")
    state = daemon.quota.accounts[account]
    assert state.limited_at == 1_772_460_000_000
    assert state.limited_text == "5-hour limit reached"
    assert daemon.hooks.events == 2  # both went on to the hooks actor


@pytest.mark.timeout(60)
async def test_a_worktree_child_reads_its_status_line_rate_limits(tmp_path: Path) -> None:
    daemon = offline_daemon(tmp_path)
    worktree = tmp_path / "wt"
    (worktree / ".claude" / "tina").mkdir(parents=True)
    spec = daemon._worktree_spec("feat", worktree, None)
    async with trio.open_nursery() as nursery:
        await nursery.start(daemon.hub.run)
        await nursery.start(spec.run)
        (worktree / ".claude" / "tina" / "rate-limits.json").write_text(
            json.dumps({"seven_day": {"used_percentage": 12.5, "resets_at": 1772900000}})
        )
        await _until(lambda: None in daemon.quota.accounts)
        seven = daemon.quota.accounts[None].seven_day  # no transcript path: not known
        assert seven is not None and seven.used_pct == 12.5
        nursery.cancel_scope.cancel("test done")
