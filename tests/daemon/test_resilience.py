"""Regression tests for what the chaos suite (`tests/chaos/`) found, each at the smallest scale:
actors that kept a dead connection's gateway, discovery and the worktrees supervisor losing
track of each other across restarts, and a team removed while the daemon was dead."""

from __future__ import annotations

import json
import shutil
import socket
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from structlog.testing import capture_logs
from waiting import until

from tina.convex import ConnectionState, ConnectionStatus, ConvexClientClosed, LatestValue
from tina.convex.actions import action_from_wire
from tina.convex.gateway import GatewayProtocol
from tina.daemon.actions import ActionMessage, ActionResult, HandlerEnv, InboundAction
from tina.daemon.actors import claude, connection, discovery, dispatcher, listener, presence
from tina.daemon.actors.connection import reconnect_when_reachable
from tina.daemon.sync.coalescer import TeamItem, TeamRemoval
from tina.daemon.sync.outbox import Outbox, OutboxFile
from tina.daemon.sync.syncer import Syncer
from tina.daemon.watch import WatchHub
from tina.dev.fakes import FakeGateway, FakeSubscription
from tina.messages import Health, TaskSnapshot, TeamSnapshot
from tina.supervision import ChildSpec, DynamicSupervisor

HEALTH = Health(daemon_version="t", started_at=1.7e12, uptime_secs=1, outbox_depth=0)


class ClosingSubscription(FakeSubscription):
    """Raises ConvexClientClosed once closed, on every call, as a closed client's does."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = False
        self.calls = 0

    def close(self) -> None:
        self.closed = True
        self.cell.set(None)

    async def next(self) -> list[dict[str, Any]]:
        self.calls += 1
        if self.calls > 100:
            raise AssertionError("next() called in a loop on a closed subscription")
        if self.closed:
            await trio.lowlevel.checkpoint()
            raise ConvexClientClosed("client closed")
        value = await super().next()
        if self.closed:
            raise ConvexClientClosed("client closed")
        return value


async def test_the_listener_resubscribes_on_a_new_connection_instead_of_spinning(
    autojump_clock: trio.testing.MockClock,
) -> None:
    old, new = FakeGateway(subscription=ClosingSubscription()), FakeGateway()
    cell = LatestValue[GatewayProtocol | None](old)
    send, receive = trio.open_memory_channel[ActionMessage](16)
    stats = dispatcher.ActionStats()
    async with trio.open_nursery() as n:
        await n.start(listener.listen, cell, send, stats)
        assert isinstance(old.subscription, ClosingSubscription)
        old.subscription.close()  # the connection actor crashed: its client is closed
        cell.set(None)
        await trio.sleep(1)
        cell.set(new)  # ... and restarted with a new client
        new.actions["a1"] = {"_id": "a1", "type": "pause", "status": "pending"}
        new.publish_pending()
        with trio.fail_after(5):
            message = await receive.receive()
        n.cancel_scope.cancel()
    assert message.id == "a1"
    assert old.subscription.calls <= 2  # no busy loop on the dead subscription


async def test_presence_heartbeats_on_the_connection_that_replaced_a_dead_one(
    autojump_clock: trio.testing.MockClock,
) -> None:
    old, new = FakeGateway(), FakeGateway()
    cell = LatestValue[GatewayProtocol | None](old)
    async with trio.open_nursery() as n:
        await n.start(
            partial(
                presence.run,
                cell,
                lambda: HEALTH,
                "laptop.abc",
                presence.Presence(),
                interval=1.0,
                idle_interval=1.0,
            )
        )
        await trio.sleep(2.5)
        old.fail_next = 10**6  # dead from now on
        cell.set(new)
        await trio.sleep(3)
        n.cancel_scope.cancel()
    assert new.count("heartbeat") >= 3


async def test_the_dispatcher_completes_an_action_on_the_current_connection(
    autojump_clock: trio.testing.MockClock,
    tmp_path: Path,
) -> None:
    old, new = FakeGateway(), FakeGateway()
    for fake in (old, new):
        fake.actions["a1"] = {
            "_id": "a1",
            "type": "retry",
            "status": "pending",
            "expiresAt": 4e12,
            "payload": {"feature": "f", "phase": "1"},
        }
    cell = LatestValue[GatewayProtocol | None](old)
    henv = HandlerEnv.build(
        claude_dir=tmp_path, tina_session="tina-session", tmux_socket=None, timeout=5
    )

    async def runner(action: InboundAction, henv: HandlerEnv) -> ActionResult:
        old.fail_next = 10**6  # the connection dies while the handler runs ...
        cell.set(new)  # ... and a new one takes over
        await trio.sleep(1)
        return ActionResult(ok=True, code="ok", message="done")

    send, receive = trio.open_memory_channel[ActionMessage](4)
    async with trio.open_nursery() as n:
        await n.start(
            partial(
                dispatcher.dispatch,
                cell,
                receive,
                henv,
                "laptop.abc",
                dispatcher.ActionStats(),
                runner=runner,
            )
        )
        await send.send(action_from_wire(old.actions["a1"]))
        await until(lambda: "a1" in new.completed)
        n.cancel_scope.cancel()


def _spec_factory(started: list[str]) -> Any:
    def spec(feature: str, path: Path, repo: str | None) -> ChildSpec:
        async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            started.append(feature)
            task_status.started()
            await trio.sleep_forever()

        return ChildSpec(id=f"wt:{feature}", run=run)

    return spec


def _lookup(sessions: Path, feature: str, root: Path) -> None:
    (sessions / f"{feature}.json").write_text(
        json.dumps(
            {
                "feature": feature,
                "worktree_path": str(root / feature),
                "repo_root": str(root),
                "created_at": "2026-11-21T00:00:00Z",
            }
        )
    )


async def test_watchers_lost_with_a_restarted_worktrees_supervisor_are_started_again(
    tmp_path: Path,
) -> None:
    sessions = tmp_path / "tina-sessions"
    sessions.mkdir()
    _lookup(sessions, "alpha", tmp_path)
    started: list[str] = []
    hub = WatchHub()
    worktrees = DynamicSupervisor("worktrees")
    up = LatestValue(False)

    async def run_worktrees(
        *, task_status: trio.TaskStatus[trio.CancelScope] = trio.TASK_STATUS_IGNORED
    ) -> None:
        # As the daemon runs it (tina/daemon/app.py): it says when it is up.
        with trio.CancelScope() as scope:
            try:
                async with trio.open_nursery() as inner:
                    await inner.start(worktrees.run)
                    up.set(True)
                    task_status.started(scope)
            finally:
                up.set(False)

    async with trio.open_nursery() as n:
        await n.start(hub.run)
        scope = await n.start(run_worktrees)
        await n.start(
            partial(
                discovery.run, sessions, hub, worktrees, _spec_factory(started), worktrees_up=up
            )
        )
        assert worktrees.child_ids == ["wt:alpha"]
        scope.cancel()  # the worktrees supervisor dies, and its children with it
        await until(lambda: not up.value)
        assert worktrees.child_ids == []
        await n.start(run_worktrees)  # restarted, empty
        await until(lambda: worktrees.child_ids == ["wt:alpha"])
        n.cancel_scope.cancel()
    assert started == ["alpha", "alpha"]


async def test_a_watcher_the_stopping_worktrees_supervisor_refused_is_started_when_it_is_back(
    tmp_path: Path,
) -> None:
    # discovery saw the supervisor up, but it stopped before the child could start: the child
    # is refused (start_child returns False). It must not count as watched, and the restart
    # brings it back exactly once.
    sessions = tmp_path / "tina-sessions"
    sessions.mkdir()
    _lookup(sessions, "alpha", tmp_path)
    started: list[str] = []
    hub = WatchHub()
    worktrees = DynamicSupervisor("worktrees")
    up = LatestValue(True)  # stale: the supervisor is not running
    with capture_logs() as logs:
        async with trio.open_nursery() as n:
            await n.start(hub.run)
            await n.start(
                partial(
                    discovery.run, sessions, hub, worktrees, _spec_factory(started), worktrees_up=up
                )
            )
            assert worktrees.child_ids == []
            assert [e for e in logs if e["event"] == "worktree.watched"] == []
            await n.start(worktrees.run)
            up.set(True)
            await until(lambda: worktrees.child_ids == ["wt:alpha"])
            n.cancel_scope.cancel()
    assert started == ["alpha"]
    assert [e["feature"] for e in logs if e["event"] == "worktree.watched"] == ["alpha"]


async def test_a_restarted_discovery_takes_over_watchers_it_did_not_start(tmp_path: Path) -> None:
    sessions = tmp_path / "tina-sessions"
    sessions.mkdir()
    _lookup(sessions, "alpha", tmp_path)
    started: list[str] = []
    hub = WatchHub()
    worktrees = DynamicSupervisor("worktrees")
    async with trio.open_nursery() as n:
        await n.start(hub.run)
        await n.start(worktrees.run)
        with trio.CancelScope() as first:
            await n.start(discovery.run, sessions, hub, worktrees, _spec_factory(started))
        first.cancel()
        # A second discovery (after a crash) must not fail on the child the first one started.
        await n.start(discovery.run, sessions, hub, worktrees, _spec_factory(started))
        assert worktrees.child_ids == ["wt:alpha"]
        n.cancel_scope.cancel()


async def test_a_team_removed_while_the_daemon_was_dead_is_removed_after_its_last_state(
    autojump_clock: trio.testing.MockClock,
    tmp_path: Path,
) -> None:
    # Observed, never acknowledged, then the daemon died and the team's directory went away.
    box = OutboxFile(tmp_path / "outbox.jsonl")
    task = TaskSnapshot(
        task_id="1", subject="s", description="", status="completed", blocks=(), blocked_by=()
    )
    box.append(
        TeamItem(
            dir_name="gone",
            team=TeamSnapshot(dir_name="gone", team_name="gone"),
            members=[],
            tasks=[task],
            seq=1.0,
        )
    )
    box.close()
    fake = FakeGateway()  # Convex never saw the team: it is not among the active ones
    # The syncer runs (its outbox writer too: the watcher waits for it), but cannot send yet,
    # so the start-up query of active teams runs before the restored snapshot is sent.
    cell = LatestValue[GatewayProtocol | None](None)
    syncer = Syncer(cell, outbox=Outbox(tmp_path / "outbox.jsonl", disk=trio.CapacityLimiter(1)))
    assert syncer.restore() == 1
    watcher = claude.ClaudeWatcher(tmp_path / "claude", syncer)
    async with trio.open_nursery() as n:
        await n.start(syncer.run)
        await claude.remove_vanished(watcher, LatestValue[GatewayProtocol | None](fake))
        assert [c[0] for c in fake.calls] == ["active_team_dirs"]  # nothing sent yet
        cell.set(fake)
        await until(lambda: syncer.depth == 0)
        n.cancel_scope.cancel()
    names = [c[0] for c in fake.calls if c[0] in ("sync_team", "remove_team")]
    assert names == ["sync_team", "remove_team"]
    assert fake.removed_teams == ["gone"]


class ProbedClient:
    """What `reconnect_when_reachable` uses of a ConvexClient: its status and `reconnect_now`."""

    def __init__(self) -> None:
        self.cell = LatestValue(ConnectionStatus(state=ConnectionState.BACKING_OFF, since=0.0))
        self.kicks = 0

    def status(self) -> ConnectionStatus:
        return self.cell.value

    async def wait_status_change(self, previous: ConnectionStatus) -> ConnectionStatus:
        return await self.cell.wait_for(lambda s: s != previous)

    def reconnect_now(self) -> None:
        self.kicks += 1
        self.cell.set(ConnectionStatus(state=ConnectionState.CONNECTED, since=1.0))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _count_probes(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every probe's outcome, in order (the real probe, counted)."""
    outcomes: list[bool] = []
    probe = connection._reachable

    async def counted(host: str, port: int) -> bool:
        outcomes.append(await probe(host, port))
        return outcomes[-1]

    monkeypatch.setattr(connection, "_reachable", counted)
    return outcomes


async def test_a_deployment_that_answers_again_is_reconnected_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = _free_port()
    client = ProbedClient()
    probes = _count_probes(monkeypatch)
    async with trio.open_nursery() as n:
        n.start_soon(
            partial(
                reconnect_when_reachable,
                client,  # type: ignore[arg-type]
                f"http://127.0.0.1:{port}",
                interval=0.05,
            )
        )
        await until(lambda: len(probes) >= 3 or client.kicks > 0)  # refused: backing off
        assert probes[:3] == [False] * 3
        assert client.kicks == 0
        listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
        back = trio.current_time()
        await until(lambda: client.kicks == 1, timeout=5)
        assert trio.current_time() - back < 1.0
        n.cancel_scope.cancel()
    for sock in listeners:
        await sock.aclose()


async def test_a_deployment_that_was_never_unreachable_is_left_to_the_backoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    client = ProbedClient()  # backing off although the port answers (e.g. the WebSocket fails)
    probes = _count_probes(monkeypatch)
    async with trio.open_nursery() as n:
        n.start_soon(
            partial(
                reconnect_when_reachable,
                client,  # type: ignore[arg-type]
                f"http://127.0.0.1:{port}",
                interval=0.05,
            )
        )
        # A kick would follow a probe that sees the port answer at once (no checkpoint between).
        await until(lambda: len(probes) >= 5 or client.kicks > 0)
        n.cancel_scope.cancel()
    assert probes[:5] == [True] * 5
    for sock in listeners:
        await sock.aclose()
    assert client.kicks == 0


def one_team_on_disk(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A `~/.claude` holding one team "t" (a real config, one task): its dir, team dir, task dir."""
    fixtures = Path(__file__).resolve().parent.parent / "fixtures"
    claude_dir = tmp_path / "claude"
    team_dir = claude_dir / "teams" / "t"
    tasks_dir = claude_dir / "tasks" / "t"
    team_dir.mkdir(parents=True)
    tasks_dir.mkdir(parents=True)
    (team_dir / "config.json").write_bytes(
        (fixtures / "teams" / "billing-export-phase-1-5" / "config.json").read_bytes()
    )
    (tasks_dir / "1.json").write_bytes(
        (fixtures / "tasks" / "billing-export-phase-1-5" / "1.json").read_bytes()
    )
    return claude_dir, team_dir, tasks_dir


async def test_a_team_deleted_while_a_task_event_is_in_flight_is_removed_without_task_removals(
    tmp_path: Path,
) -> None:
    # Claude Code deletes the team: config first, then the tasks. The watcher handles a batch
    # that holds only a task file's event (the config's comes next): the task is gone because
    # its team is, not on its own, so no task may be reported removed.
    claude_dir, team_dir, tasks_dir = one_team_on_disk(tmp_path)
    syncer = Syncer(LatestValue[GatewayProtocol | None](None))
    watcher = claude.ClaudeWatcher(claude_dir, syncer)
    watcher._emit(await watcher.rescan(force=True))
    assert syncer.depth == 1
    (team_dir / "config.json").unlink()
    (tasks_dir / "1.json").unlink()
    await watcher.on_changes({tasks_dir / "1.json"}, rescan=False)
    pending = syncer.coalescer.pending[("team", "t")]
    assert isinstance(pending, TeamRemoval)
    assert pending.last is not None and [t.task_id for t in pending.last.tasks] == ["1"]


async def test_a_team_deleted_during_the_start_up_rescan_gets_no_task_removals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Claude Code deletes a team (config first, then the tasks) while a daemon that has just
    # started rescans: it has read the config, and the task directory is gone when it lists
    # the tasks. A snapshot of the team without its tasks would make Convex record every task
    # removed; the team is being deleted, so it must be removed (or left), never emptied.
    claude_dir, team_dir, tasks_dir = one_team_on_disk(tmp_path)
    list_dir = claude._list

    def deleted_before_the_tasks_are_listed(root: Path) -> Any:
        if root == claude_dir / "tasks" and team_dir.exists():
            shutil.rmtree(team_dir)
            shutil.rmtree(tasks_dir)
        return list_dir(root)

    monkeypatch.setattr(claude, "_list", deleted_before_the_tasks_are_listed)
    syncer = Syncer(LatestValue[GatewayProtocol | None](None))
    watcher = claude.ClaudeWatcher(claude_dir, syncer)
    watcher._emit(await watcher.rescan(force=True))
    pending = syncer.coalescer.get(("team", "t"))
    assert not (isinstance(pending, TeamItem) and not pending.tasks), pending


async def test_a_team_deleted_while_its_tasks_are_read_at_start_up_is_not_emptied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same, deleted later: while the start-up rescan reads the team's task files (Claude
    # Code removes the config first, then the tasks). The config is read after the tasks, so it
    # is found gone: the team is not sent without its tasks.
    claude_dir, team_dir, tasks_dir = one_team_on_disk(tmp_path)
    fetch_many = claude._fetch_many

    def deleted_while_read(paths: Any, force: bool, limit: int) -> Any:
        if team_dir.exists():
            shutil.rmtree(team_dir)
            shutil.rmtree(tasks_dir)
        return fetch_many(paths, force, limit)

    monkeypatch.setattr(claude, "_fetch_many", deleted_while_read)
    syncer = Syncer(LatestValue[GatewayProtocol | None](None))
    watcher = claude.ClaudeWatcher(claude_dir, syncer)
    watcher._emit(await watcher.rescan(force=True))
    pending = syncer.coalescer.get(("team", "t"))
    assert not (isinstance(pending, TeamItem) and not pending.tasks), pending
    assert "t" not in watcher.configs
