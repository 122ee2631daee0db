"""The syncer and text the client refuses to send (a lone UTF-16 surrogate): the observation is
sent once with U+FFFD in place of the invalid text and logged, never re-sent in a loop, never
dropped silently."""

from __future__ import annotations

from typing import Any

import structlog
import trio
import trio.testing

from tina.convex import LatestValue
from tina.convex._protocol import SyncProtocol
from tina.convex.gateway import (
    GatewayProtocol,
    RecordEventsResult,
    SyncOrchestrationResult,
    SyncTeamResult,
)
from tina.convex.wire import make_converter
from tina.daemon.sync.syncer import Syncer
from tina.dev.fakes import FakeGateway
from tina.messages import (
    EventRecord,
    MemberSnapshot,
    OrchestrationSnapshot,
    PhaseSnapshot,
    TaskSnapshot,
    TeamSnapshot,
)

_conv = make_converter()


class StrictGateway(FakeGateway):
    """The FakeGateway behind the real client's argument check."""

    refused: int = 0

    def _check(self, path: str, **args: Any) -> None:
        proto = SyncProtocol(session_id="s")
        try:
            proto.mutation(path, {k: _conv.unstructure(v) for k, v in args.items()})
        except Exception:
            self.refused += 1
            raise

    async def sync_orchestration(
        self,
        orchestration: OrchestrationSnapshot,
        phases: list[PhaseSnapshot],
        seq: float | None = None,
    ) -> SyncOrchestrationResult:
        self._check("orchestrations:syncOrchestration", orchestration=orchestration, phases=phases)
        return await super().sync_orchestration(orchestration, phases, seq)

    async def sync_team(
        self,
        team: TeamSnapshot,
        members: list[MemberSnapshot],
        tasks: list[TaskSnapshot],
        seq: float | None = None,
        history: list[tuple[float, TaskSnapshot]] | None = None,
    ) -> SyncTeamResult:
        self._check("teams:syncTeam", team=team, members=members, tasks=tasks)
        return await super().sync_team(team, members, tasks, seq, history)

    async def record_events(
        self, orchestration_id: str, events: list[EventRecord]
    ) -> RecordEventsResult:
        self._check("events:recordEvents", events=events)
        return await super().record_events(orchestration_id, events)


ORCH = OrchestrationSnapshot(
    feature_name="f",
    spec_doc_path="/d.md",
    branch="b",
    worktree_path="/w",
    total_phases=1.0,
    current_phase=1.0,
    status="executing",
    started_at=1.7e12,
)


def event(key: str, summary: str) -> EventRecord:
    return EventRecord(
        idempotency_key=key, event_type="info", source="s", summary=summary, recorded_at=1.7e12
    )


async def test_invalid_text_is_replaced_and_sent_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = StrictGateway()
    syncer = Syncer(LatestValue[GatewayProtocol | None](fake))
    bad_task = TaskSnapshot(task_id="1", subject="cut \ud83d", description="d", status="pending")
    with structlog.testing.capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            await nursery.start(syncer.run)
            syncer.put_team("alpha", TeamSnapshot(dir_name="alpha", team_name="a"), [], [bad_task])
            syncer.put_orchestration(
                "/w", ORCH, [PhaseSnapshot(phase_number="1", status="x\udc00")]
            )
            syncer.put_events("/w", [event("e1", "ok"), event("e2", "half \ud83d")])
            # A sentinel: a later team is synced after everything above was dealt with.
            syncer.put_team("omega", TeamSnapshot(dir_name="omega", team_name="o"), [], [])
            with trio.fail_after(60):
                while "omega" not in fake.teams or syncer.depth:
                    await trio.sleep(0.1)
            nursery.cancel_scope.cancel()
    assert fake.teams["alpha"][2][0].subject == "cut \ufffd"
    (phases,) = fake.phases.values()
    assert phases[0].status == "x\ufffd"
    (sent_events,) = fake.events.values()
    assert [e.summary for e in sent_events] == ["ok", "half \ufffd"]
    assert fake.count("sync_team") == 2  # alpha once (cleaned), omega once
    assert fake.count("record_events") == 1
    assert fake.count("sync_teams") == 1  # tried in one batch, which this deployment lacks
    assert fake.refused == 3  # each refused once by the client's check, never again
    assert syncer.failed == 0
    invalid = sorted(e["item"] for e in logs if e["event"] == "sync.invalid_text")
    assert invalid == ["events of /w", "orchestration f (/w)", "team alpha"]
