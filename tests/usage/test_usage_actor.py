"""The usage actor fed by the watch hub, sending through a FakeGateway: real files, a real hub
and worker threads, so the real clock."""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import structlog
import structlog.testing
import trio

from tests.usage.conftest import FIXTURES, LEAD_SESSION, WORKTREE
from tina.convex import LatestValue
from tina.convex.errors import ConvexError
from tina.convex.gateway import GatewayProtocol
from tina.daemon.actors import usage as actor
from tina.daemon.watch import WatchHub
from tina.dev.fakes import FakeGateway
from tina.supervision import Backoff
from tina.usage import Facts, OrchestrationFacts, TeamFacts, UsageLedger, held_id, load_prices

PRICES = load_prices()
FAST = Backoff(initial=0.01, cap=0.05, jitter=0.0)
PROJECT = "-Users-dev-repo--worktrees-billing-export"


def _facts(orchestration_id: str) -> Facts:
    return Facts(
        teams=(
            TeamFacts(
                name="billing-export-phase-1",
                lead_session_id=LEAD_SESSION,
                members=("team-lead", "executor-1"),
            ),
        ),
        orchestrations=(
            OrchestrationFacts(id=orchestration_id, feature="billing-export", worktree=WORKTREE),
        ),
    )


def _copy(tmp_path: Path) -> Path:
    projects = tmp_path / "projects"
    shutil.copytree(FIXTURES / "projects", projects)
    return projects


def _line(
    message_id: str, input_tokens: int, output_tokens: int = 0, *, session: str = LEAD_SESSION
) -> str:
    """An assistant line of `session` (written in its own file: a record of another session is
    a resumed copy, counted from that session's file)."""
    return (
        json.dumps(
            {
                "type": "assistant",
                "timestamp": "2026-03-02T12:00:00Z",
                "sessionId": session,
                "cwd": WORKTREE,
                "requestId": f"req-{message_id}",
                "message": {
                    "id": message_id,
                    "model": "claude-sonnet-4-5-20250929",
                    "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
                },
            }
        )
        + "\n"
    )


async def _until(condition: Callable[[], object], timeout: float = 20.0) -> None:
    with trio.fail_after(timeout):
        while not condition():
            await trio.sleep(0.01)


class Rig:
    def __init__(self, nursery: trio.Nursery, hub: WatchHub, gateway: FakeGateway) -> None:
        self.nursery = nursery
        self.hub = hub
        self.gateway = gateway
        self.cell: LatestValue[GatewayProtocol | None] = LatestValue(gateway)

    async def watching(self, root: Path) -> None:
        """Have the hub watch `root` before the actor subscribes it: the actor's subscription
        then changes no root, so the hub asks for no rescan (which would read again every
        transcript whose size is not its mark, e.g. one ending in half a line)."""
        root.mkdir(parents=True, exist_ok=True)
        inbox = self.hub.subscribe(root)
        await inbox.get()  # the new watch set's rescan request: the watch is being started

    async def start(self, usage: actor.Usage, **kwargs: Any) -> Callable[[], Awaitable[None]]:
        """Start the actor; the function returned stops it and waits until it has."""
        scope = trio.CancelScope()
        stopped = trio.Event()

        async def run(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            try:
                with scope:
                    await actor.run(
                        usage, self.hub, self.cell, backoff=FAST, task_status=task_status, **kwargs
                    )
            finally:
                stopped.set()

        async def stop() -> None:
            scope.cancel("stop")
            await stopped.wait()

        await self.nursery.start(run)
        return stop


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    hub = WatchHub()
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        try:
            yield Rig(nursery, hub, FakeGateway())
        finally:
            nursery.cancel_scope.cancel("test done")


def _spy_reads(usage: actor.Usage) -> list[str]:
    """The paths the ledger reads, in order."""
    assert usage.ledger is not None
    ledger = usage.ledger
    reads: list[str] = []
    real = ledger.read

    def read(path: Path, facts: Facts, **kwargs: Any) -> Any:
        reads.append(path.name)
        return real(path, facts, **kwargs)

    ledger.read = read  # type: ignore[method-assign]
    return reads


@pytest.mark.timeout(60)
async def test_an_appended_line_reads_only_its_file_and_reaches_convex_once(
    tmp_path: Path, rig: Rig
) -> None:
    projects = _copy(tmp_path)
    usage = actor.Usage(tmp_path / "usage.json", [projects], PRICES, facts=lambda: _facts("orch1"))
    await rig.watching(projects)
    await rig.start(usage)
    await _until(lambda: rig.gateway.usage_batches and not usage.ledger.pending())  # type: ignore[union-attr]
    assert usage.rounds == 1
    before = rig.gateway.usage_totals("orch1")
    assert before["messages"] > 0
    remembered = usage.detail()["remembered"]
    assert remembered > 0
    reads = _spy_reads(usage)

    transcript = projects / PROJECT / "0c0ffee0-0000-4000-8000-000000000001.jsonl"
    with transcript.open("a") as f:  # a session in the worktree: attributed by its cwd
        f.write(_line("msg-new-1", 1000, 50, session=transcript.stem))
    await _until(lambda: rig.gateway.usage_totals("orch1")["input"] == before["input"] + 1000)
    assert reads == [transcript.name]  # the one file that changed, not every transcript
    after = rig.gateway.usage_totals("orch1")
    assert after["messages"] == before["messages"] + 1
    assert after["output"] == before["output"] + 50
    assert after["cost"] > before["cost"]  # priced: sonnet has a price
    detail = usage.detail()  # what `tina daemon status` shows
    assert detail["counted"] == after["messages"]
    assert detail["remembered"] == remembered + 1  # the new message's key


@pytest.mark.timeout(60)
async def test_with_no_dashboard_open_a_line_waits_for_the_lazy_round_and_an_opened_one_sends_it(
    tmp_path: Path, rig: Rig
) -> None:
    projects = _copy(tmp_path)
    usage = actor.Usage(
        tmp_path / "usage.json", [projects], PRICES, facts=lambda: _facts("orch1"), idle_s=3600
    )
    await rig.watching(projects)
    await rig.start(usage)
    await _until(lambda: rig.gateway.usage_batches and not usage.ledger.pending())  # type: ignore[union-attr]
    assert usage.pace.quick  # Convex has not said yet: quick, as before pacing
    rig.gateway.watch(usage.wall_ms() - 60_000)  # the last dashboard closed a minute ago
    await _until(lambda: not usage.pace.quick)
    assert usage.detail()["pace"] == "lazy"
    before, rounds = rig.gateway.usage_totals("orch1"), usage.rounds

    transcript = projects / PROJECT / "0c0ffee0-0000-4000-8000-000000000001.jsonl"
    with transcript.open("a") as f:
        f.write(_line("msg-lazy-1", 700, session=transcript.stem))
    await _until(lambda: usage.pausing)  # the change is in hand; the next round is an hour off
    assert usage.rounds == rounds
    assert rig.gateway.usage_totals("orch1") == before
    rig.gateway.watch(usage.wall_ms() + 90_000)  # a dashboard opens
    await _until(lambda: rig.gateway.usage_totals("orch1")["input"] == before["input"] + 700)
    assert usage.pace.quick and usage.rounds == rounds + 1


@pytest.mark.timeout(60)
async def test_the_pace_follows_the_dashboard_by_its_time_and_by_its_changes(
    tmp_path: Path, rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Quick until the time Convex gives; a laptop whose clock is an hour ahead still goes
    quick for `WATCH_S` when that time moves (a dashboard refreshed it); lazy after."""
    monkeypatch.setattr(actor, "WATCH_S", 0.3)
    projects = _copy(tmp_path)
    now = [1_800_000_000_000]
    usage = actor.Usage(tmp_path / "usage.json", [projects], PRICES, wall_ms=lambda: now[0])
    await rig.watching(projects)
    await rig.start(usage)
    until = now[0] + 60_000
    rig.gateway.watch(until)
    await _until(lambda: usage.watched_until == until)
    assert usage.pace.quick
    now[0] += 3_600_000  # the laptop's clock jumps an hour ahead: Convex's time is past
    until += 30_000
    rig.gateway.watch(until)  # the dashboard refreshed it
    await _until(lambda: usage.watched_until == until)
    assert usage.pace.quick  # it moved: someone is there, whatever the clocks say
    await _until(lambda: not usage.pace.quick)  # `WATCH_S` later, nothing new: lazy
    rig.gateway.presence.cell.set(["not", "a", "time"])  # type: ignore[list-item]
    until += 30_000
    rig.gateway.watch(until)  # refreshed again
    await _until(lambda: usage.pace.quick)  # the malformed value skipped, this one followed
    await _until(lambda: not usage.pace.quick)


@pytest.mark.timeout(60)
async def test_a_new_session_file_in_a_new_project_directory_is_read(
    tmp_path: Path, rig: Rig
) -> None:
    projects = tmp_path / "projects"
    usage = actor.Usage(
        tmp_path / "usage.json",
        [projects],
        PRICES,
        facts=lambda: _facts("orch1"),
        create=projects,
    )
    await rig.start(usage)  # makes the projects directory it watches
    fresh = projects / "-elsewhere" / "s1.jsonl"
    fresh.parent.mkdir()
    fresh.write_text(_line("m1", 7))
    await _until(lambda: rig.gateway.usage_totals("orch1")["input"] == 7)


@pytest.mark.timeout(60)
async def test_a_failed_send_is_sent_again_under_the_same_id(tmp_path: Path, rig: Rig) -> None:
    projects = _copy(tmp_path)
    rig.gateway.fail_next = 2
    usage = actor.Usage(tmp_path / "usage.json", [projects], PRICES)
    await rig.start(usage)
    await _until(lambda: rig.gateway.usage_batches)
    calls = [batch for name, (batch, _) in rig.gateway.calls if name == "record_usage"]
    assert len(calls) == 3 and len(set(calls)) == 1
    await _until(lambda: UsageLedger.load(tmp_path / "usage.json").pending() == [])
    assert usage.failures == 2


@pytest.mark.timeout(60)
async def test_a_refused_batch_is_dropped_and_a_refused_credential_is_not(
    tmp_path: Path, rig: Rig
) -> None:
    projects = _copy(tmp_path)
    rig.gateway.inject(
        "record_usage", ConvexError({"code": "forbidden", "message": "revoked"}, "forbidden")
    )
    rig.gateway.inject(
        "record_usage", ConvexError({"code": "invalid", "message": "rows[0].hour"}, "invalid")
    )
    usage = actor.Usage(tmp_path / "usage.json", [projects], PRICES)
    await rig.start(usage)
    await _until(lambda: usage.ledger is not None and usage.ledger.refused == 1)
    assert not usage.ledger.pending()  # type: ignore[union-attr]
    assert rig.gateway.count("record_usage") == 2  # kept after the credential, dropped after
    assert rig.gateway.usage_batches == {}


@pytest.mark.timeout(60)
async def test_held_usage_is_sent_once_its_orchestration_has_an_id(
    tmp_path: Path, rig: Rig
) -> None:
    projects = _copy(tmp_path)
    ids: dict[str, str] = {}
    asked_from: set[str] = set()

    def facts() -> Facts:
        return _facts(ids.get(WORKTREE) or held_id(WORKTREE))

    def resolve(worktree: str) -> str | None:
        # It reads the daemon's state: never from the reading thread, which may iterate a dict
        # while the trio thread changes it.
        asked_from.add(threading.current_thread().name)
        return ids.get(worktree)

    usage = actor.Usage(tmp_path / "usage.json", [projects], PRICES, facts=facts, resolve=resolve)
    await rig.start(usage, held_interval=0.05)
    await _until(lambda: usage.ledger is not None and usage.ledger.held() > 0)
    assert all(
        not str(row.get("orchestrationId", "")).startswith("held:")
        for rows in rig.gateway.usage_batches.values()
        for row in rows
    )
    assert rig.gateway.usage_totals("orch1")["messages"] == 0
    ids[WORKTREE] = "orch1"  # the syncer's first sync of the orchestration came back
    await _until(lambda: rig.gateway.usage_totals("orch1")["messages"] > 0)
    assert usage.ledger.held() == 0  # type: ignore[union-attr]
    assert asked_from == {threading.main_thread().name}


@pytest.mark.timeout(60)
async def test_a_restart_sends_nothing_again(tmp_path: Path, rig: Rig) -> None:
    projects = _copy(tmp_path)
    state = tmp_path / "usage.json"
    first = actor.Usage(state, [projects], PRICES, facts=lambda: _facts("orch1"))
    stop = await rig.start(first)
    await _until(lambda: rig.gateway.usage_batches and not first.ledger.pending())  # type: ignore[union-attr]
    await stop()  # the answers acknowledged since the last round are saved as it stops
    totals = rig.gateway.usage_totals("orch1")
    calls = rig.gateway.count("record_usage")

    second = actor.Usage(state, [projects], PRICES, facts=lambda: _facts("orch1"))
    await rig.start(second)
    await _until(lambda: second.rounds >= 1)  # every transcript looked at once
    transcript = projects / PROJECT / "0c0ffee0-0000-4000-8000-000000000002.jsonl"
    with transcript.open("a") as f:
        f.write(_line("msg-after-restart", 5, session=transcript.stem))
    await _until(lambda: rig.gateway.usage_totals("orch1")["input"] == totals["input"] + 5)
    assert rig.gateway.count("record_usage") == calls + 1  # only the new line's batch


@pytest.mark.timeout(60)
async def test_a_transcript_longer_than_a_rounds_budget_is_read_to_its_end_without_more_events(
    tmp_path: Path, rig: Rig
) -> None:
    """A round reads a file up to a budget (64 MB: a first start meets a whole history); the
    rest is read in the next rounds, though nothing writes to the file again."""
    projects = tmp_path / "projects"
    transcript = projects / PROJECT / "0c0ffee0-0000-4000-8000-000000000001.jsonl"
    transcript.parent.mkdir(parents=True)
    lines = (_line(f"msg-{n}", 1, session=transcript.stem) for n in range(10_000))
    transcript.write_text("".join(lines))  # 3 MB
    ledger = UsageLedger(tmp_path / "usage.json")
    # a round reads whole 1 MB chunks until past its budget: here one chunk a round
    ledger.read = partial(ledger.read, budget=1)  # type: ignore[method-assign]
    usage = actor.Usage(
        tmp_path / "usage.json", [projects], PRICES, facts=lambda: _facts("orch1"), ledger=ledger
    )
    await rig.watching(projects)
    await rig.start(usage, min_gap=0.0)
    await _until(lambda: rig.gateway.usage_totals("orch1")["messages"] == 10_000)
    assert usage.rounds >= 3


def test_read_round_without_paths_reads_every_changed_transcript(tmp_path: Path) -> None:
    projects = _copy(tmp_path)
    ledger = UsageLedger(tmp_path / "usage.json")
    assert actor.read_round(ledger, [projects], None, Facts(), PRICES) == 1
    assert actor.read_round(ledger, [projects], None, Facts(), PRICES) == 0
    gone = next(iter(sorted(projects.rglob("*.jsonl"))))
    gone.unlink()
    assert actor.read_round(ledger, [projects], {gone}, Facts(), PRICES) == 0
    assert str(gone) not in ledger.reader.marks


@pytest.mark.timeout(30)
def test_read_round_reads_what_it_is_handed_whatever_stands_at_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A changed path is read with no look first: a transcript; a directory named like one
    (walked); a FIFO (an error, never a wait)."""
    projects = tmp_path / "projects" / PROJECT
    projects.mkdir(parents=True)
    ledger = UsageLedger(tmp_path / "usage.json")
    looked: list[Path] = []
    real = Path.is_file
    monkeypatch.setattr(Path, "is_file", lambda p: looked.append(p) or real(p))
    plain = projects / "0c0ffee0-0000-4000-8000-00000000000a.jsonl"
    plain.write_text(_line("msg-plain", 3))
    odd = projects / "odd.jsonl"  # a directory named like a transcript, one inside
    odd.mkdir()
    (odd / "inner.jsonl").write_text(_line("msg-inner", 4))
    fifo = projects / "fifo.jsonl"
    os.mkfifo(fifo)
    assert actor.read_round(ledger, [projects.parent], {plain, odd, fifo}, Facts(), PRICES) == 1
    assert plain not in looked and fifo not in looked
    assert {str(plain), str(odd / "inner.jsonl")} <= set(ledger.reader.marks)
    assert ledger.counted == 2
    assert ledger.reader.errors == 2  # the directory and the FIFO, each read as an error


def test_scan_once_on_a_missing_directory_seals_nothing(tmp_path: Path) -> None:
    ledger = UsageLedger(tmp_path / "usage.json")
    assert actor.scan_once(ledger, [tmp_path / "none"], Facts(), PRICES) == 0


@pytest.mark.timeout(60)
async def test_no_transcript_text_reaches_the_logs_the_state_or_convex(
    tmp_path: Path, rig: Rig
) -> None:
    projects = _copy(tmp_path)
    rig.gateway.fail_next = 1  # a failure is logged too
    usage = actor.Usage(tmp_path / "usage.json", [projects], PRICES, facts=lambda: _facts("orch1"))
    with structlog.testing.capture_logs() as logs:
        await rig.start(usage, min_gap=0.01)
        await _until(lambda: rig.gateway.usage_batches and not usage.ledger.pending())  # type: ignore[union-attr]
        before = rig.gateway.usage_totals("orch1")["input"]
        with (projects / PROJECT / f"{LEAD_SESSION}.jsonl").open("a") as f:
            f.write("\n" + _line("m-late", 3))  # ends the half line (malformed), then one more
        await _until(lambda: rig.gateway.usage_totals("orch1")["input"] == before + 3)
    assert any(e["event"] == "usage.send_failed" for e in logs)
    written = [
        repr(logs),
        repr(rig.gateway.calls),
        (tmp_path / "usage.json").read_text(),
        (tmp_path / "usage.json.log").read_text(),
    ]
    for secret in ("SECRET", "Implement task", "msg_01Billing", "req_01Billing", "m-late"):
        assert not [w for w in written if secret in w], secret


# --- transcript directories ---------------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(text)
    return path


@pytest.mark.timeout(60)
async def test_every_transcript_directory_is_read_and_one_made_after_the_start_too(
    tmp_path: Path, rig: Rig
) -> None:
    first, later = tmp_path / "a" / "projects", tmp_path / "b" / "projects"
    _write(first / PROJECT / "s1.jsonl", _line("m1", 3))
    usage = actor.Usage(
        tmp_path / "usage.json", [first, later], PRICES, facts=lambda: _facts("orch1")
    )
    await rig.start(usage)
    await _until(lambda: rig.gateway.usage_totals("orch1")["input"] == 3)
    _write(later / PROJECT / "s2.jsonl", _line("m2", 4))
    await _until(lambda: rig.gateway.usage_totals("orch1")["input"] == 7)
    assert usage.watched == (first, later)


@pytest.mark.timeout(60)
async def test_a_directory_a_hook_shows_is_read_from_then_on_and_kept_across_starts(
    tmp_path: Path, rig: Rig
) -> None:
    default, work = tmp_path / "claude" / "projects", tmp_path / "claude-work" / "projects"
    default.mkdir(parents=True)
    transcript = _write(work / PROJECT / "s1.jsonl", _line("m1", 10))
    state = tmp_path / "usage.json"
    told: list[tuple[Path, ...]] = []  # the daemon has their config dirs' teams read
    usage = actor.Usage(
        state, [default], PRICES, facts=lambda: _facts("orch1"), on_watching=told.append
    )
    stop = await rig.start(usage)
    assert usage.watched == (default,)
    assert told == [(default,)]
    with structlog.testing.capture_logs() as logs:
        usage.learn(str(transcript))
        await _until(lambda: rig.gateway.usage_totals("orch1")["input"] == 10)
    assert usage.watched == (default, work)
    assert told == [(default,), (default, work)]
    learned = [e for e in logs if e["event"] == "usage.directory_learned"]
    assert [e["directory"] for e in learned] == [str(work)]
    _write(transcript, _line("m2", 5))  # watched now: no hook needed
    await _until(lambda: rig.gateway.usage_totals("orch1")["input"] == 15)
    await stop()
    assert UsageLedger.load(state).learned == [str(work)]

    again = actor.Usage(state, [default], PRICES, facts=lambda: _facts("orch1"))
    await rig.start(again)
    assert again.watched == (default, work)
    _write(transcript, _line("m3", 7))
    await _until(lambda: rig.gateway.usage_totals("orch1")["input"] == 22)


def test_a_transcript_in_a_directory_read_already_or_not_in_one_is_not_offered(
    tmp_path: Path,
) -> None:
    default = tmp_path / "claude" / "projects"
    usage = actor.Usage(tmp_path / "usage.json", [default], PRICES)
    for path in (
        str(default / PROJECT / "s1.jsonl"),
        str(default / PROJECT / "s1" / "subagents" / "agent-a1.jsonl"),
        "relative/projects/p/s1.jsonl",
        str(tmp_path / "projects" / ".." / "projects" / "p" / "s1.jsonl"),
        str(tmp_path / "elsewhere" / "p" / "s1.jsonl"),  # no projects directory above it
        str(tmp_path / "work" / "projects" / "p" / "s1.txt"),
        "",
        None,
    ):
        usage.learn(path)
    assert (usage.offered, usage.offers.value) == ([], 0)
    usage.learn(str(tmp_path / "work" / "projects" / "p" / "s" / "subagents" / "agent-1.jsonl"))
    usage.learn(str(tmp_path / "work" / "projects" / "q" / "s2.jsonl"))  # the same, once
    assert usage.offered == [tmp_path / "work" / "projects"]


@pytest.mark.timeout(60)
async def test_a_directory_not_made_yet_is_looked_at_again_later_not_at_every_hook(
    tmp_path: Path, rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    default, work = tmp_path / "claude" / "projects", tmp_path / "claude-work" / "projects"
    default.mkdir(parents=True)
    transcript = work / PROJECT / "s1.jsonl"
    usage = actor.Usage(tmp_path / "usage.json", [default], PRICES, facts=lambda: _facts("orch1"))
    await rig.start(usage)
    with structlog.testing.capture_logs() as logs:
        usage.learn(str(transcript))
        await _until(lambda: any(e["event"] == "usage.directory_skipped" for e in logs))
    skipped = [e for e in logs if e["event"] == "usage.directory_skipped"]
    assert skipped == [
        {
            "event": "usage.directory_skipped",
            "directory": str(work),
            "reason": "FileNotFoundError",
            "log_level": "info",
        }
    ]
    _write(transcript, _line("m1", 9))
    usage.learn(str(transcript))  # within RECONSIDER of the refusal: not looked at again
    assert usage.offered == []
    monkeypatch.setattr(actor, "RECONSIDER", 0.0)
    usage.learn(str(transcript))
    await _until(lambda: rig.gateway.usage_totals("orch1")["input"] == 9)
    assert usage.watched == (default, work)


@pytest.mark.timeout(60)
async def test_a_learnt_directory_gone_or_now_configured_is_forgotten_at_the_start(
    tmp_path: Path, rig: Rig
) -> None:
    default, gone = tmp_path / "claude" / "projects", tmp_path / "gone" / "projects"
    kept = tmp_path / "work" / "projects"
    default.mkdir(parents=True)
    kept.mkdir(parents=True)
    state = tmp_path / "usage.json"
    ledger = UsageLedger.load(state)
    for root in (gone, default, kept):
        assert ledger.learn(str(root))
    ledger.save()
    usage = actor.Usage(state, [default], PRICES)
    await rig.start(usage)
    assert usage.watched == (default, kept)
    await _until(lambda: UsageLedger.load(state).learned == [str(kept)])


@pytest.mark.timeout(60)
async def test_a_directory_read_already_spelt_another_way_is_looked_at_once_and_not_logged(
    tmp_path: Path, rig: Rig
) -> None:
    default = tmp_path / "claude" / "projects"
    default.mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "claude")
    transcript = tmp_path / "link" / "projects" / PROJECT / "s1.jsonl"
    usage = actor.Usage(tmp_path / "usage.json", [default], PRICES)
    await rig.start(usage)
    with structlog.testing.capture_logs() as logs:
        usage.learn(str(transcript))
        await _until(lambda: f"{tmp_path / 'link' / 'projects'}/" in usage._prefixes)
    assert [e for e in logs if e["event"].startswith("usage.directory")] == []
    assert usage.watched == (default,) and usage.ledger is not None
    assert usage.ledger.learned == []
    offers = usage.offers.value
    usage.learn(str(transcript))  # now a prefix test, even after RECONSIDER
    usage.learn(str(transcript.with_name("s2.jsonl")))
    assert usage.offers.value == offers
