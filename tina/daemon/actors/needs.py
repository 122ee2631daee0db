"""The `needs` actor: what on this laptop needs a human, kept current in Convex.

`Needs` computes the laptop's needs (`tina.daemon.needs.laptop_needs`) and its Claude Code
sessions from the Claude watcher's teams and the hooks actor's sessions. Both tell it when they
changed (`poke`); it also re-evaluates every `interval` (30 s), since a stall begins without
any event. `run` sends `needs:syncLaptop` only when the set changed (any field of an item; a
session's liveness, reason, team, agent or feature: a session's every event does not count),
after a reconnect, and after its own restart; at most once per `min_gap` (1 s), coalescing
whatever came meanwhile. A failed call is retried with capped exponential backoff, with the
newest set; not connected, it waits for the connection. A set Convex would refuse
(`tina.convex.needs.InvalidNeeds`, a bug) is logged and not retried until it changes.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import structlog
import trio

from tina.convex import LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.convex.needs import InvalidNeeds
from tina.daemon.actors.claude import ClaudeWatcher
from tina.daemon.actors.hooks import Hooks, WorktreeIndex
from tina.daemon.needs import STALL_AFTER_MINS, laptop_needs, session_snapshots
from tina.messages import LaptopNeed, SessionSnapshot
from tina.supervision import Backoff

log = structlog.get_logger("tina.needs")

INTERVAL = 30.0
MIN_GAP = 1.0
CALL_TIMEOUT = 15.0
BACKOFF = Backoff(initial=1.0, cap=30.0, jitter=0.2)

SessionKey = tuple[str, str | None, str | None, str | None, str | None, str | None]


def _session_key(s: SessionSnapshot) -> SessionKey:
    return (s.session_id, s.liveness, s.reason, s.team_dir, s.agent_name, s.feature_name)


class Needs:
    """The needs actor's state: the last computed and last sent sets, and counters."""

    def __init__(
        self,
        claude: ClaudeWatcher,
        hooks: Hooks,
        *,
        stall_after_mins: int = STALL_AFTER_MINS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.claude = claude
        self.hooks = hooks
        self.stall_after_ms = stall_after_mins * 60_000.0
        self.clock = clock
        self.wake: LatestValue[int] = LatestValue(0)
        self.items: list[LaptopNeed] = []
        self.sessions: list[SessionSnapshot] = []
        self._sent: tuple[tuple[LaptopNeed, ...], tuple[SessionKey, ...]] | None = None
        self.sends = 0
        self.failures = 0
        self.last_error: str | None = None
        self.last_sent_at: float | None = None

    def poke(self) -> None:
        """Something changed: compute again (never blocks)."""
        self.wake.set(self.wake.value + 1)

    def resend(self) -> None:
        """Convex may have lost the set (a reconnect): send it again even if unchanged."""
        self._sent = None
        self.poke()

    def compute(self) -> tuple[list[LaptopNeed], list[SessionSnapshot]]:
        sessions = list(self.hooks.sessions.by_id.values())
        self.hooks.join(sessions)
        teams = self.claude.team_views(WorktreeIndex(self.hooks.worktrees))
        self.items = laptop_needs(teams, sessions, self.clock() * 1000, self.stall_after_ms)
        self.sessions = session_snapshots(sessions, teams)
        return self.items, self.sessions

    def _key(
        self, items: list[LaptopNeed], sessions: list[SessionSnapshot]
    ) -> tuple[tuple[LaptopNeed, ...], tuple[SessionKey, ...]]:
        return tuple(items), tuple(sorted(_session_key(s) for s in sessions))

    def due(self, items: list[LaptopNeed], sessions: list[SessionSnapshot]) -> bool:
        return self._sent != self._key(items, sessions)

    def sent(self, items: list[LaptopNeed], sessions: list[SessionSnapshot]) -> None:
        self._sent = self._key(items, sessions)

    @property
    def in_sync(self) -> bool:
        return self._sent is not None and not self.due(self.items, self.sessions)

    def by_kind(self) -> dict[str, int]:
        return dict(sorted(Counter(n.kind for n in self.items).items()))

    def detail(self) -> dict[str, Any]:
        return {
            "needs": len(self.items),
            **self.by_kind(),
            "sends": self.sends,
            "failures": self.failures,
        }

    def snapshot(self) -> dict[str, Any]:
        """`status`'s `needs`: how many of each kind, and whether Convex has them."""
        return {
            "count": len(self.items),
            "by_kind": self.by_kind(),
            "sessions": len(self.sessions),
            "in_sync": self.in_sync,
            "sends": self.sends,
            "failures": self.failures,
            "last_sent_at": self.last_sent_at,
            "last_error": self.last_error,
        }


async def run(
    needs: Needs,
    gateway_cell: LatestValue[GatewayProtocol | None],
    reconcile: LatestValue[int] | None = None,
    *,
    interval: float = INTERVAL,
    min_gap: float = MIN_GAP,
    call_timeout: float = CALL_TIMEOUT,
    backoff: Backoff = BACKOFF,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    rng = random.Random()
    needs.resend()  # a (re)started actor sends once: Convex may not have the last set

    async def tick() -> None:
        while True:
            await trio.sleep(interval)
            needs.poke()

    async def on_reconcile() -> None:
        assert reconcile is not None
        seen = reconcile.version
        while True:
            seen, _ = await reconcile.wait_newer(seen)
            needs.resend()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(tick)
        if reconcile is not None:
            nursery.start_soon(on_reconcile)
        task_status.started()
        seen = -1
        last = -math.inf
        failures = 0
        while True:
            seen, _ = await needs.wake.wait_newer(seen)
            wait = last + min_gap - trio.current_time()
            if wait > 0:
                await trio.sleep(wait)  # coalesce a burst: at most one pass per min_gap
                seen = needs.wake.version
            last = trio.current_time()
            items, sessions = needs.compute()
            if not needs.due(items, sessions):
                continue
            gateway = gateway_cell.value
            if gateway is None:
                await gateway_cell.wait_for(lambda g: g is not None)
                needs.poke()  # compute afresh once connected
                continue
            try:
                with trio.fail_after(call_timeout):
                    result = await gateway.sync_laptop(items, sessions)
            except InvalidNeeds as exc:
                needs.sent(items, sessions)  # sent again only once it changed
                needs.last_error = str(exc)
                log.error("needs.invalid", error=str(exc))
                continue
            except Exception as exc:  # down, slow, refused, a bad answer: retried
                failures += 1
                needs.failures += 1
                error = str(exc) or type(exc).__name__
                if error != needs.last_error:
                    log.warning("needs.sync_failed", error=error, failures=failures)
                needs.last_error = error
                await trio.sleep(backoff.delay(failures, rng))
                needs.poke()
                continue
            failures = 0
            needs.sent(items, sessions)
            needs.sends += 1
            needs.last_error = None
            needs.last_sent_at = round(needs.clock() * 1000, 3)
            log.debug(
                "needs.synced",
                needs=len(items),
                sessions=len(sessions),
                opened=int(result.opened),
                updated=int(result.updated),
                resolved=int(result.resolved),
            )
