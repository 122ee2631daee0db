"""Registration at start, then heartbeats with the daemon's health, only when needed.

Every successful node mutation is a sign of life to the deployment (it refreshes the node's
presence), so a heartbeat is skipped while other calls keep coming: the next one is due an idle
interval after the last successful call of any kind. When the health a person sees changed
(not the uptime; see `visible`), it goes out one (shorter) interval after the last heartbeat.
Both intervals stay within half the deployment's offline threshold, learnt at registration,
so one lost beat does not show the laptop offline. A clean stop signs the node off at once
(only a stop: not when the actor is cancelled because it is restarted).
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable

import structlog
import trio

from tina.convex import ConvexClientError, ConvexError, LatestValue
from tina.convex.errors import refusal
from tina.convex.gateway import GatewayProtocol
from tina.messages import Health

log = structlog.get_logger("tina.presence")

FORBIDDEN_BACKOFF = 300.0
SIGN_OFF_TIMEOUT = 2.0
"""How long a stopping daemon waits for `nodes:signOff` (else the threshold takes it offline)."""


def os_name() -> str:
    return {"Darwin": "darwin", "Linux": "linux"}.get(
        platform.system(), platform.system().lower() or "unknown"
    )


def visible(health: Health) -> object:
    """What a person sees of the health (as `nodes:heartbeat` stores it): not the uptime, and
    the last sync and the oldest waiting observation only while observations wait."""
    return (
        health.daemon_version,
        health.started_at,
        health.outbox_depth,
        health.last_sync_at if health.outbox_depth > 0 else None,
        health.oldest_unsynced_at if health.outbox_depth > 0 else None,
        health.connection,
        tuple((a.id, a.state, a.restarts, a.last_error) for a in health.actors),
    )


class Presence:
    def __init__(self) -> None:
        self.registered_as: str | None = None
        self.last_beat: float | None = None  # wall clock, for `tina daemon status`
        self.refused: str | None = None  # credential refused by the server
        self.interrupted = 0
        self.beats = 0
        self.offline_after: float | None = None  # the deployment's threshold, in seconds

    def detail(self) -> dict[str, object]:
        out: dict[str, object] = {"beats": self.beats}
        if self.last_beat is not None:
            out["last_beat"] = time.strftime("%H:%M:%S", time.localtime(self.last_beat))
        if self.refused:
            out["refused"] = self.refused
        return out


def intervals(
    interval: float, idle_interval: float, offline_after: float | None
) -> tuple[float, float]:
    """(interval after a health change, idle interval), each at most half the threshold."""
    cap = math.inf if offline_after is None else offline_after / 2
    return min(interval, cap), min(max(idle_interval, interval), cap)


async def run(
    gateway_cell: LatestValue[GatewayProtocol | None],
    health: Callable[[], Health],
    lease_owner: str,
    state: Presence,
    *,
    interval: float = 30.0,
    idle_interval: float | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """`interval`: a changed health goes out this long after the previous heartbeat.
    `idle_interval` (default twice `interval`): with nothing new, this long after the last
    successful call of any kind."""
    idle = 2 * interval if idle_interval is None else idle_interval
    gateway = await gateway_cell.wait_for(lambda g: g is not None)
    assert gateway is not None
    task_status.started()
    registered = False
    sent: object = None  # the visible health of the last heartbeat
    beat_at = -math.inf  # trio time of the last heartbeat
    try:
        while True:
            delay = interval
            # The live connection's gateway: a restarted connection actor makes a new one.
            gateway = await gateway_cell.wait_for(lambda g: g is not None)
            assert gateway is not None
            try:
                if registered:
                    active, quiet = intervals(interval, idle, state.offline_after)
                    now = trio.current_time()
                    current = health()
                    if visible(current) != sent:
                        due = beat_at + active
                    else:
                        due = max(beat_at, gateway.last_success or -math.inf) + quiet
                    if now < due:
                        # Look at the health again at least every `active` seconds.
                        await trio.sleep(min(due - now, active))
                        continue
                else:
                    reg = await gateway.register(os_name())
                    interrupted = await gateway.interrupt_stale_actions(lease_owner)
                    state.registered_as, state.interrupted = reg.name, interrupted
                    if reg.offline_after_ms is not None:
                        state.offline_after = reg.offline_after_ms / 1000
                    registered = True
                    log.info(
                        "node.registered",
                        node=reg.name,
                        node_id=reg.node_id,
                        interrupted_actions=interrupted,
                        offline_after_secs=state.offline_after,
                    )
                    current = health()
                await gateway.heartbeat(current)
                sent, beat_at = visible(current), trio.current_time()
                state.last_beat = time.time()
                state.beats += 1
                if state.refused:
                    log.info("node.accepted")
                state.refused = None
                continue
            except ConvexError as exc:
                refused = refusal(exc)
                if refused is None:
                    log.error("heartbeat.rejected", error=str(exc))
                else:
                    if state.refused != refused:
                        log.error(
                            "node.credential_refused",
                            error=refused,
                            hint="this laptop's credential was revoked or is unknown: run `tina daemon enroll`",
                        )
                    state.refused = refused
                    registered = False
                    delay = FORBIDDEN_BACKOFF  # no hot loop: check again in a few minutes
            except ConvexClientError as exc:
                log.info("heartbeat.deferred", reason=str(exc))
                delay = min(interval, 5.0)
            await trio.sleep(delay)
    except trio.Cancelled as cancelled:
        if (
            stopped_by_supervisor(cancelled)
            and registered
            and state.refused is None
            and gateway is not None
        ):
            await _sign_off(gateway)
        raise


def stopped_by_supervisor(cancelled: trio.Cancelled) -> bool:
    """The actor is stopped for good (its supervisor cancelled its scope: the daemon stops),
    not torn down by a sibling's crash in a nursery around it (`inject_fault`'s, say), after
    which its supervisor starts it again: signing off then would flip the laptop offline and
    online again for nothing."""
    return cancelled.source in ("explicit", "KeyboardInterrupt")


async def _sign_off(gateway: GatewayProtocol) -> None:
    """A clean stop: the dashboards show the laptop offline now, not a threshold later."""
    with trio.CancelScope(shield=True), trio.move_on_after(SIGN_OFF_TIMEOUT):
        try:
            await gateway.sign_off()
            log.info("node.signed_off")
        except (ConvexError, ConvexClientError) as exc:
            log.info("node.sign_off_failed", reason=str(exc))
