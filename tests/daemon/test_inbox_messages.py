"""Inbox messages: what the Claude watcher hands over (new keys and read flips only), how the
syncer sends them (after the team, in batches of at most 100, retried without loss), over real
files and the FakeGateway."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import structlog
import trio
import trio.testing

from tina.convex import ConvexConnectionLost, ConvexFunctionError, LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.daemon.actors.claude import FIRST_READ_MESSAGES, ClaudeWatcher
from tina.daemon.projection import inbox_message
from tina.daemon.sync.syncer import MESSAGE_BATCH, Syncer
from tina.dev.fakes import FakeGateway, refused
from tina.local import parse_inbox, read_inbox
from tina.messages import INBOX_DETAIL_MAX, INBOX_TEXT_MAX, InboxMessage, TeamSnapshot

REAL = Path(__file__).resolve().parent.parent / "fixtures" / "real-shapes" / "teams"


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)


def batches(fake: FakeGateway) -> list[list[InboxMessage]]:
    return [list(payload[1]) for name, payload in fake.calls if name == "record_team_messages"]


def sent(fake: FakeGateway) -> list[InboxMessage]:
    return [m for batch in batches(fake) for m in batch]


def entry(i: int, *, sender: str = "team-lead", read: bool = False, **extra: Any) -> dict[str, Any]:
    return {
        "from": sender,
        "text": f"message {i}",
        "timestamp": f"2026-03-04T09:{i // 60 % 60:02d}:{i % 60:02d}.000Z",
        "read": read,
        **extra,
    }


def team_config(name: str, members: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "createdAt": 1772614800000,
        "leadAgentId": f"team-lead@{name}",
        "members": [
            {"agentId": f"{m}@{name}", "name": m, "tmuxPaneId": "in-process", "cwd": "/w"}
            for m in ["team-lead", *members]
        ],
    }


def make_team(claude: Path, name: str, inboxes: dict[str, list[dict[str, Any]]]) -> Path:
    team = claude / "teams" / name
    (team / "inboxes").mkdir(parents=True)
    (team / "config.json").write_text(json.dumps(team_config(name, sorted(inboxes))))
    for agent, entries in inboxes.items():
        (team / "inboxes" / f"{agent}.json").write_text(json.dumps(entries, indent=2))
    return team


@pytest.fixture
def fake() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def syncer(fake: FakeGateway) -> Syncer:
    cell: LatestValue[GatewayProtocol | None] = LatestValue(fake)
    return Syncer(cell)


# --- what an inbox entry becomes ----------------------------------------------------------------


def test_every_real_shape_entry_becomes_a_message_unknown_kinds_included() -> None:
    lead = read_inbox(REAL / "docs-refresh/inboxes/team-lead.json")
    got = [inbox_message(m) for m in lead.messages]
    assert [m.kind for m in got] == [
        "idle_notification",
        "idle_notification",
        "text",
        "plan_approval_request",
        "permission_request",
        "permission_request",
        "shutdown_response",  # shutdown_approved
        "shutdown_response",  # shutdown_rejected
        "shutdown_response",
        "unknown",  # {"type": "sample_report"}: kept, with its text and fields
        "text",  # JSON without a type
        "text",  # broken JSON
    ]
    unknown = got[9]
    assert unknown.text == '{"type":"sample_report","samples":12,"failed":2}'
    assert json.loads(unknown.detail or "") == {"type": "sample_report", "samples": 12, "failed": 2}
    assert [(m.request_id, m.approved) for m in got[6:9]] == [
        ("shutdown-1770891000000@checker", True),
        ("shutdown-1770891000500@writer", False),
        ("shutdown-1770891000500@writer", True),
    ]
    # Both forms of a permission request name the same fields in `detail`.
    snake, camel = (json.loads(m.detail or "") for m in got[4:6])
    assert (snake["agent"], snake["tool_name"]) == ("checker", "Bash")
    assert (camel["agent"], camel["tool_name"]) == ("checker", "Write")
    assert got[2].summary == "Orders page rewritten, two stale examples"
    assert (got[0].sender, got[0].recipient, got[0].color) == ("writer", "team-lead", "blue")
    assert got[0].timestamp == 1770890712481.0  # 2026-02-12T10:05:12.481Z
    assert got[10].read is False  # an entry without `read` is unread
    assert all(m.detail is None for m in (got[2], got[10], got[11]))

    checker = [
        inbox_message(m) for m in read_inbox(REAL / "docs-refresh/inboxes/checker.json").messages
    ]
    assert [(m.kind, m.approved) for m in checker[:2]] == [
        ("permission_response", True),
        ("permission_response", False),
    ]
    writer = [
        inbox_message(m) for m in read_inbox(REAL / "docs-refresh/inboxes/writer.json").messages
    ]
    assert writer[4].key != writer[5].key  # two identical entries, two messages


def test_text_and_detail_are_cut_on_a_character_boundary() -> None:
    text = "é" * INBOX_TEXT_MAX  # 2 bytes each
    data = json.dumps([{"from": "team-lead", "text": text, "timestamp": "2026-03-04T09:00:00Z"}])
    (message,) = parse_inbox(data.encode(), agent="writer").messages
    got = inbox_message(message)
    assert got.truncated
    assert got.text == "é" * (INBOX_TEXT_MAX // 2)
    assert got.key == message.key  # the key is the reader's, from the whole text

    plan = json.dumps(
        {"type": "plan_approval_request", "planContent": "€" * INBOX_DETAIL_MAX}, ensure_ascii=False
    )
    data = json.dumps([{"from": "writer", "text": plan}])
    (message,) = parse_inbox(data.encode(), agent="team-lead").messages
    got = inbox_message(message)
    assert got.detail is not None and len(got.detail.encode()) <= INBOX_DETAIL_MAX
    assert not got.truncated
    assert got.timestamp == 0  # no timestamp: sorts first


# --- the watcher and the syncer ---------------------------------------------------------------


async def test_only_new_messages_and_read_flips_are_sent_each_once(
    tmp_path: Path, fake: FakeGateway, syncer: Syncer
) -> None:
    claude = tmp_path / ".claude"
    shutil.copytree(REAL / "docs-refresh", claude / "teams" / "docs-refresh")
    inboxes = claude / "teams/docs-refresh/inboxes"
    watcher = ClaudeWatcher(claude, syncer)
    async with trio.open_nursery() as nursery:
        await nursery.start(syncer.run)
        await watcher.emit(await watcher.rescan(force=True))
        await until(lambda: syncer.depth == 0)
        # The team first, then its messages: 12 + 3 + 6 entries, once each.
        assert [name for name, _ in fake.calls] == ["sync_team", "record_team_messages"]
        assert len(sent(fake)) == 21
        assert len(fake.messages["docs-refresh"]) == 21

        # One new entry in writer's inbox, one flipped to read in checker's.
        writer = json.loads((inboxes / "writer.json").read_text())
        writer.append(entry(1, text="Ship it."))
        (inboxes / "writer.json").write_text(json.dumps(writer, indent=2))
        checker = json.loads((inboxes / "checker.json").read_text())
        checker[1]["read"] = True
        (inboxes / "checker.json").write_text(json.dumps(checker, indent=2))
        await watcher.on_changes({inboxes / "writer.json", inboxes / "checker.json"}, False)
        await until(lambda: len(sent(fake)) == 23 and syncer.depth == 0)
        latest = sent(fake)[21:]
        assert sorted((m.recipient, m.text[:20], m.read) for m in latest) == [
            ("checker", '{"type":"permission_', True),
            ("writer", "Ship it.", False),
        ]
        flipped = next(m for m in latest if m.recipient == "checker")
        assert fake.messages["docs-refresh"][flipped.key].read is True

        # Nothing new: the same bytes rewritten, a rescan, a forced rescan (a reconcile).
        (inboxes / "checker.json").write_text(json.dumps(checker, indent=2))
        await watcher.on_changes({inboxes / "checker.json"}, False)
        await watcher.emit(await watcher.rescan())
        await watcher.emit(await watcher.rescan(force=True))
        await until(lambda: syncer.depth == 0)
        await trio.testing.wait_all_tasks_blocked()
        assert len(sent(fake)) == 23
        assert [m.key for m in sent(fake)].count(flipped.key) == 2  # first read, then the flip
        nursery.cancel_scope.cancel()


async def test_a_big_inbox_goes_in_batches_of_at_most_100(
    tmp_path: Path, fake: FakeGateway, syncer: Syncer
) -> None:
    claude = tmp_path / ".claude"
    make_team(claude, "big", {"team-lead": [entry(i, sender="worker") for i in range(250)]})
    watcher = ClaudeWatcher(claude, syncer)
    async with trio.open_nursery() as nursery:
        await nursery.start(syncer.run)
        await watcher.emit(await watcher.rescan(force=True))
        await until(lambda: syncer.depth == 0)
        nursery.cancel_scope.cancel()
    assert [len(b) for b in batches(fake)] == [MESSAGE_BATCH, MESSAGE_BATCH, 50]
    assert [m.text for m in sent(fake)] == [f"message {i}" for i in range(250)]


async def test_a_restart_sends_the_last_500_of_each_inbox_once(
    tmp_path: Path, fake: FakeGateway
) -> None:
    claude = tmp_path / ".claude"
    make_team(
        claude,
        "long",
        {
            "team-lead": [entry(i, sender="worker", read=True) for i in range(700)],
            "worker": [entry(i) for i in range(30)],
        },
    )
    for run in range(2):  # the daemon before and after a restart: nothing is remembered
        cell: LatestValue[GatewayProtocol | None] = LatestValue(fake)
        syncer = Syncer(cell)
        watcher = ClaudeWatcher(claude, syncer)
        async with trio.open_nursery() as nursery:
            await nursery.start(syncer.run)
            await watcher.emit(await watcher.rescan(force=True))
            await watcher.emit(await watcher.rescan(force=True))
            await until(partial(lambda s: s.depth == 0, syncer))
            nursery.cancel_scope.cancel()
        got = [m.text for m in sent(fake)]
        expected = [f"message {i}" for i in range(700 - FIRST_READ_MESSAGES, 700)]
        assert got == (expected + [f"message {i}" for i in range(30)]) * (run + 1)
        assert max(len(b) for b in batches(fake)) <= MESSAGE_BATCH
    assert len(fake.messages["long"]) == FIRST_READ_MESSAGES + 30  # the server dedups


async def test_an_inbox_of_a_team_without_a_config_waits_for_the_config(
    tmp_path: Path, fake: FakeGateway, syncer: Syncer
) -> None:
    claude = tmp_path / ".claude"
    team = make_team(claude, "late", {"team-lead": [entry(1, sender="worker")]})
    config = (team / "config.json").read_text()
    (team / "config.json").unlink()
    watcher = ClaudeWatcher(claude, syncer)
    await watcher.emit(await watcher.rescan(force=True))
    await watcher.on_changes({team / "inboxes/team-lead.json"}, False)
    assert syncer.depth == 0
    (team / "config.json").write_text(config)
    await watcher.on_changes({team / "config.json"}, False)
    assert [m.text for m in syncer._messages["late"].values()] == ["message 1"]


# --- the syncer alone, on the virtual clock ---------------------------------------------------


def msg(i: int, read: bool = False) -> InboxMessage:
    return InboxMessage(
        key=f"{i:032x}",
        recipient="team-lead",
        sender="worker",
        kind="text",
        text=f"m{i}",
        timestamp=1.7e12 + i,
        read=read,
    )


def team(d: str) -> TeamSnapshot:
    return TeamSnapshot(dir_name=d, team_name=d)


async def test_messages_wait_for_the_team_and_a_failed_send_loses_nothing(
    autojump_clock: trio.testing.MockClock, fake: FakeGateway, syncer: Syncer
) -> None:
    fake.inject("sync_team", ConvexConnectionLost("fake: connection lost"), times=2)
    fake.inject("record_team_messages", ConvexConnectionLost("fake: connection lost"), times=3)
    syncer.put_messages("t", [msg(i) for i in range(150)])
    async with trio.open_nursery() as nursery:
        await nursery.start(syncer.run)
        await trio.testing.wait_all_tasks_blocked()  # the syncer waits: nothing to send
        assert fake.count("record_team_messages") == 0  # the team was never synced
        syncer.put_team("t", team("t"), [], [])
        syncer.put_messages("t", [msg(150)])
        await until(lambda: syncer.depth == 0, 60)
        nursery.cancel_scope.cancel()
    names = [name for name, _ in fake.calls]
    assert names.index("record_team_messages") > max(
        i for i, n in enumerate(names) if n == "sync_team"
    )
    assert fake.count("record_team_messages") == 3 + 2  # three failures, then 100 + 51
    assert sorted(fake.messages["t"]) == [f"{i:032x}" for i in range(151)]


async def test_a_read_flip_while_queued_replaces_the_queued_message(
    autojump_clock: trio.testing.MockClock, fake: FakeGateway, syncer: Syncer
) -> None:
    syncer.put_team("t", team("t"), [], [])
    syncer.put_messages("t", [msg(1), msg(2)])
    syncer.put_messages("t", [msg(1, read=True)])
    async with trio.open_nursery() as nursery:
        await nursery.start(syncer.run)
        await until(lambda: syncer.depth == 0)
        nursery.cancel_scope.cancel()
    assert [(m.key[-1], m.read) for m in sent(fake)] == [("1", True), ("2", False)]


async def test_a_removed_team_takes_its_queued_messages_with_it(
    autojump_clock: trio.testing.MockClock, fake: FakeGateway, syncer: Syncer
) -> None:
    syncer.put_messages("t", [msg(1)])
    syncer.remove_team("t")
    async with trio.open_nursery() as nursery:
        await nursery.start(syncer.run)
        await until(lambda: syncer.depth == 0)
        nursery.cancel_scope.cancel()
    assert fake.count("record_team_messages") == 0


class Picky(FakeGateway):
    """Refuses any batch holding one message, as the server refuses invalid data."""

    bad: str = ""

    async def record_team_messages(
        self, dir_name: str, messages: list[InboxMessage]
    ) -> tuple[int, int]:
        if any(m.key == self.bad for m in messages):
            await self._call("record_team_messages", (dir_name, []))
            raise refused("invalid_argument", "messages[3].text: no NUL characters")
        return await super().record_team_messages(dir_name, messages)


async def test_a_message_the_server_refuses_is_the_only_one_dropped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = Picky()
    fake.bad = msg(37).key
    cell: LatestValue[GatewayProtocol | None] = LatestValue(fake)
    syncer = Syncer(cell)
    syncer.put_team("t", team("t"), [], [])
    syncer.put_messages("t", [msg(i) for i in range(120)])
    async with trio.open_nursery() as nursery:
        await nursery.start(syncer.run)
        await until(lambda: syncer.depth == 0)
        nursery.cancel_scope.cancel()
    assert syncer.failed == 1
    assert sorted(fake.messages["t"]) == [f"{i:032x}" for i in range(120) if i != 37]


async def test_a_team_convex_lost_is_synced_again_before_its_messages(
    autojump_clock: trio.testing.MockClock, fake: FakeGateway, syncer: Syncer
) -> None:
    fake.inject("record_team_messages", refused("not_found", "no team t on this laptop"))
    syncer.put_team("t", team("t"), [], [])
    syncer.put_messages("t", [msg(1)])
    async with trio.open_nursery() as nursery:
        await nursery.start(syncer.run)
        await until(lambda: syncer.depth == 0)
        nursery.cancel_scope.cancel()
    assert [name for name, _ in fake.calls] == [
        "sync_team",
        "record_team_messages",  # not_found
        "sync_team",
        "record_team_messages",
    ]
    assert list(fake.messages["t"]) == [msg(1).key]


async def test_a_deployment_without_the_function_drops_each_batch_with_one_log(
    autojump_clock: trio.testing.MockClock, fake: FakeGateway, syncer: Syncer
) -> None:
    fake.inject(
        "record_team_messages",
        ConvexFunctionError("Could not find public function for 'x'"),
        times=2,
    )
    syncer.put_team("t", team("t"), [], [])
    syncer.put_messages("t", [msg(i) for i in range(150)])
    with structlog.testing.capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            await nursery.start(syncer.run)
            await until(lambda: syncer.depth == 0)
            nursery.cancel_scope.cancel()
    assert fake.count("record_team_messages") == 2  # no retry loop, no message-by-message
    assert [e["event"] for e in logs].count("sync.rejected") == 2


async def test_a_server_that_refuses_every_message_is_not_asked_once_per_message(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = Picky()
    cell: LatestValue[GatewayProtocol | None] = LatestValue(fake)
    syncer = Syncer(cell)
    syncer.put_team("t", team("t"), [], [])
    syncer.put_messages("t", [msg(i) for i in range(500)])

    async def refuse_all(dir_name: str, messages: list[InboxMessage]) -> tuple[int, int]:
        await fake._call("record_team_messages", (dir_name, messages))
        raise refused("invalid_argument", "messages.key: expected 64 hex digits")

    fake.record_team_messages = refuse_all  # type: ignore[method-assign]
    with structlog.testing.capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            await nursery.start(syncer.run)
            await until(lambda: syncer.depth == 0)
            nursery.cancel_scope.cancel()
    # 100 -> 50 -> 25 -> 12 -> 6 -> 3 -> 1, then ten single messages, then the rest at once
    assert fake.count("record_team_messages") < 25
    assert [e["event"] for e in logs].count("sync.rejected") == 10
