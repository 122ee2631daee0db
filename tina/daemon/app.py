"""The daemon's supervision tree: child specs from Config, channel wiring, ordered shutdown.

tina (root, one_for_one)
  convex       the Convex connection (trio client + typed gateway); stops last
  watch        the one file-watching hub
  syncer       coalescing, idempotent writes to Convex
  presence     registration, then a heartbeat every 30 s
  claude       ~/.claude/teams and ~/.claude/tasks
  worktrees    dynamic: one watcher per orchestration worktree
  discovery    ~/.claude/tina-sessions -> starts/stops worktree watchers
  dispatcher   claims and runs operator actions
  listener     the live pendingActions subscription
  control      the local status socket
"""

from __future__ import annotations

import math
import os
import time
import urllib.parse
import uuid
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import structlog
import trio

import tina
from tina.convex import ConnectionState, ConvexClient, LatestValue, open_convex_client
from tina.convex.gateway import ActorSummary, Gateway, GatewayProtocol, Health
from tina.daemon import control
from tina.daemon.actions import ActionMessage, HandlerEnv
from tina.daemon.actors import actions as action_actors
from tina.daemon.actors import claude, discovery, presence, worktree
from tina.daemon.config import Config
from tina.daemon.credentials import Credential
from tina.daemon.sync.outbox import Outbox
from tina.daemon.sync.syncer import Syncer
from tina.daemon.watch import WatchHub
from tina.supervision import (
    Backoff,
    ChildSpec,
    ChildStatus,
    DynamicSupervisor,
    Intensity,
    Restart,
    Supervisor,
)

log = structlog.get_logger("tina.daemon.app")


def parse_faults(text: str) -> dict[str, int]:
    """`TINA_INJECT_FAULTS=claude:2,syncer:1`: that actor crashes that many times after starting.

    A diagnostic for resilience tests (and for seeing the supervisor at work in `daemon debug`).
    """
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        actor, _, times = part.partition(":")
        out[actor] = int(times or "1")
    return out


def inject_fault(spec: ChildSpec, times: int, delay: float = 0.3) -> ChildSpec:
    remaining = times
    run = spec.run

    async def faulty(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        nonlocal remaining
        if remaining <= 0:
            await run(task_status=task_status)
            return
        remaining -= 1
        async with trio.open_nursery() as nursery:
            await nursery.start(run)
            task_status.started()
            await trio.sleep(delay)
            raise RuntimeError(f"injected fault in {spec.id} ({times - remaining} of {times})")

    return attrs.evolve(spec, run=faulty)


PROBE_INTERVAL = 0.25
PROBE_TIMEOUT = 1.0


async def _reachable(host: str, port: int) -> bool:
    with trio.move_on_after(PROBE_TIMEOUT):
        try:
            stream = await trio.open_tcp_stream(host, port)
        except OSError:
            return False
        await stream.aclose()
        return True
    return False


async def reconnect_when_reachable(
    client: ConvexClient,
    url: str,
    *,
    interval: float = PROBE_INTERVAL,
    min_gap: float = 0.5,
    fast_retries: int = 20,
) -> None:
    """Reconnect as soon as an unreachable deployment answers again.

    After a long outage the client's backoff has grown to its cap (16 s), so it would notice
    the deployment's return up to that long after the fact. While it backs off, probe the
    deployment's TCP port (a connect and close, no request) every `interval`. Once the port
    has refused (or timed out) since the last healthy connection and accepts again, skip the
    rest of the backoff (`ConvexClient.reconnect_now`), at most every `min_gap` seconds and at
    most `fast_retries` times per outage: a deployment still starting may accept connections
    and reject the WebSocket for a moment. A deployment that accepts connections but keeps
    failing, and was never unreachable, is left to the normal backoff.
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    was_unreachable = False
    left = fast_retries
    last_kick = -math.inf
    while True:
        status = client.status()
        if status.state is ConnectionState.CONNECTED:
            was_unreachable, left = False, fast_retries
        if status.state is not ConnectionState.BACKING_OFF:
            await client.wait_status_change(status)
            continue
        if not await _reachable(host, port):
            was_unreachable = True
        elif was_unreachable and left > 0 and trio.current_time() - last_kick >= min_gap:
            left -= 1
            last_kick = trio.current_time()
            log.info("convex.reachable", host=host, port=port)
            client.reconnect_now()
        await trio.sleep(interval)


# Actions arrive one tap at a time; 16 absorbs a burst without ever blocking the subscription.
ACTION_BUFFER = 16


class Daemon:
    def __init__(
        self, config: Config, credential: Credential, *, intensity: Intensity | None = None
    ) -> None:
        self.config = config
        self.credential = credential
        self.instance_id = f"{credential.node_name}.{uuid.uuid4().hex[:12]}"
        self.started_at = time.time()
        self.gateway: LatestValue[GatewayProtocol | None] = LatestValue(None)
        self.client: LatestValue[ConvexClient | None] = LatestValue(None)
        self.outbox = Outbox(config.outbox_dir / "outbox.jsonl")
        self.syncer = Syncer(self.gateway, outbox=self.outbox)
        self.syncer.restore()
        self.hub = WatchHub(debounce_ms=config.debounce_ms)
        self.worktrees = DynamicSupervisor("worktrees", backoff=Backoff(initial=0.5, cap=30))
        self.worktrees_up = LatestValue(False)
        self.presence_state = presence.Presence()
        self.action_stats = action_actors.ActionStats()
        self.claude = claude.ClaudeWatcher(config.claude_dir, self.syncer)
        self.henv = HandlerEnv.build(
            claude_dir=config.claude_dir,
            tina_session=config.tina_session,
            tmux_socket=config.tmux_socket,
            timeout=config.action_timeout_secs,
        )
        send, receive = trio.open_memory_channel[ActionMessage](ACTION_BUFFER)
        self._actions_send, self._actions_receive = send, receive
        self.root = Supervisor(
            "tina",
            self._children(),
            intensity=intensity or Intensity(max_restarts=10, within=60),
            # The cap keeps 10 restarts of one crash-looping actor well inside the 60 s window
            # (0.5 + 1 + 2 + 7 x 4 = 31.5 s, x 0.5-1.5 jitter), so it escalates: the process exits
            # and launchd starts it afresh. With a 30 s cap one actor could never exceed it.
            backoff=Backoff(initial=0.5, cap=4),
        )

    # --- wiring ----------------------------------------------------------------------------------

    def _children(self) -> list[ChildSpec]:
        faults = parse_faults(os.environ.get("TINA_INJECT_FAULTS", ""))
        return [
            inject_fault(spec, faults[spec.id]) if spec.id in faults else spec
            for spec in self._specs()
        ]

    def _specs(self) -> list[ChildSpec]:
        cfg = self.config
        return [
            ChildSpec(
                id="convex",
                run=self._run_connection,
                shutdown_timeout=3,
                detail=self._connection_detail,
            ),
            ChildSpec(id="watch", run=self.hub.run, detail=self.hub.detail),
            ChildSpec(
                id="syncer", run=self.syncer.run, shutdown_timeout=2, detail=self.syncer.detail
            ),
            ChildSpec(
                id="presence",
                run=partial(
                    presence.run,
                    self.gateway,
                    self.health,
                    self.instance_id,
                    self.presence_state,
                    interval=cfg.heartbeat_secs,
                ),
                detail=self.presence_state.detail,
            ),
            ChildSpec(
                id="claude",
                run=partial(
                    claude.run,
                    cfg.claude_dir,
                    self.hub,
                    self.syncer,
                    watcher=self.claude,
                    gateway=self.gateway,
                ),
                detail=self.claude.detail,
            ),
            ChildSpec(id="worktrees", run=self._run_worktrees, children=self.worktrees.statistics),
            ChildSpec(
                id="discovery",
                run=partial(
                    discovery.run,
                    cfg.tina_sessions_dir,
                    self.hub,
                    self.worktrees,
                    self._worktree_spec,
                    worktrees_up=self.worktrees_up,
                ),
            ),
            ChildSpec(
                id="dispatcher",
                run=partial(
                    action_actors.dispatch,
                    self.gateway,
                    self._actions_receive,
                    self.henv,
                    self.instance_id,
                    self.action_stats,
                ),
                detail=self.action_stats.detail,
            ),
            ChildSpec(
                id="listener",
                run=partial(
                    action_actors.listen, self.gateway, self._actions_send, self.action_stats
                ),
            ),
            ChildSpec(id="control", run=partial(control.serve, cfg.control_socket, self.snapshot)),
        ]

    async def _run_worktrees(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """The worktrees supervisor, telling discovery when it runs (a restart loses its children)."""
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(self.worktrees.run)
                self.worktrees_up.set(True)
                task_status.started()
        finally:
            self.worktrees_up.set(False)

    def _worktree_spec(self, feature: str, path: Path, repo_root: str | None) -> ChildSpec:
        return ChildSpec(
            id=f"wt:{feature}",
            run=partial(worktree.run, path, repo_root, self.hub, self.syncer),
            restart=Restart.PERMANENT,
        )

    async def _run_connection(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        url = self.config.require_url()
        try:
            async with (
                open_convex_client(url, timeout=15.0) as client,
                trio.open_nursery() as nursery,
            ):
                self.client.set(client)
                self.gateway.set(Gateway(client, self.credential.token))
                nursery.start_soon(reconnect_when_reachable, client, url)
                task_status.started()
                status = client.status()
                while True:
                    new = await client.wait_status_change(status)
                    if (
                        new.state is ConnectionState.CONNECTED
                        and new.connected_count > 1
                        and (new.connected_count != status.connected_count)
                    ):
                        log.info("convex.reconnected", attempts=status.attempts)
                        self.syncer.reconcile.set(self.syncer.reconcile.value + 1)
                    elif new.state is not status.state:
                        log.info("convex.status", state=new.state.value, error=new.last_error)
                    status = new
        finally:
            self.gateway.set(None)
            self.client.set(None)

    def _connection_detail(self) -> dict[str, Any]:
        client = self.client.value
        if client is None:
            return {"connection": "none"}
        s = client.status()
        out: dict[str, Any] = {"connection": s.state.value}
        if s.rtt_ms is not None:
            out["rtt_ms"] = round(s.rtt_ms, 1)
        if s.attempts:
            out["attempts"] = s.attempts
        if s.last_error and s.state is not ConnectionState.CONNECTED:
            out["error"] = s.last_error
        return out

    # --- observation -----------------------------------------------------------------------------

    def statistics(self) -> tuple[ChildStatus, ...]:
        return self.root.statistics()

    def health(self) -> Health:
        actors: list[ActorSummary] = []

        def walk(statuses: tuple[ChildStatus, ...]) -> None:
            for s in statuses:
                if len(actors) < 60:
                    actors.append(
                        ActorSummary(
                            id=s.id,
                            state=s.state.value,
                            restarts=float(s.restarts),
                            last_error=(s.last_error or None) and s.last_error[:300],
                        )
                    )
                walk(s.children)

        walk(self.statistics())
        client = self.client.value
        last = self.syncer.last_sync_at
        return Health(
            daemon_version=tina.__version__,
            started_at=round(self.started_at * 1000, 3),
            uptime_secs=round(time.time() - self.started_at, 1),
            outbox_depth=float(self.syncer.depth),
            last_sync_at=None if last is None else round(last * 1000, 3),
            connection=None if client is None else client.status().state.value,
            actors=tuple(actors),
        )

    def info(self) -> dict[str, Any]:
        client = self.client.value
        return {
            "node": self.credential.node_name,
            "convex": self.config.convex_url,
            "version": tina.__version__,
            "instance": self.instance_id,
            "uptime": f"{int(time.time() - self.started_at)}s",
            "connection": "none" if client is None else client.status().state.value,
            "outbox": self.syncer.depth,
            "refused": self.presence_state.refused or self.syncer.blocked_reason or "",
        }

    def snapshot(self) -> dict[str, Any]:
        """What `tina daemon status` shows (no secrets: the credential is never included)."""
        return {"info": self.info(), "tree": [s.to_json() for s in self.statistics()]}

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        log.info(
            "daemon.starting",
            node=self.credential.node_name,
            instance=self.instance_id,
            convex=self.config.convex_url,
            claude_dir=str(self.config.claude_dir),
        )
        await self.root.run(task_status=task_status)
