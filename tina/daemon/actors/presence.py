"""Registration at start, then a heartbeat every 30 s with the daemon's health."""

from __future__ import annotations

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


def os_name() -> str:
    return {"Darwin": "darwin", "Linux": "linux"}.get(
        platform.system(), platform.system().lower() or "unknown"
    )


class Presence:
    def __init__(self) -> None:
        self.registered_as: str | None = None
        self.last_beat: float | None = None
        self.refused: str | None = None  # credential refused by the server
        self.interrupted = 0

    def detail(self) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.last_beat is not None:
            out["last_beat"] = time.strftime("%H:%M:%S", time.localtime(self.last_beat))
        if self.refused:
            out["refused"] = self.refused
        return out


async def run(
    gateway_cell: LatestValue[GatewayProtocol | None],
    health: Callable[[], Health],
    lease_owner: str,
    state: Presence,
    *,
    interval: float = 30.0,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    gateway = await gateway_cell.wait_for(lambda g: g is not None)
    assert gateway is not None
    task_status.started()
    registered = False
    while True:
        delay = interval
        # The live connection's gateway: a restarted connection actor makes a new one.
        gateway = await gateway_cell.wait_for(lambda g: g is not None)
        assert gateway is not None
        try:
            if not registered:
                reg = await gateway.register(os_name())
                interrupted = await gateway.interrupt_stale_actions(lease_owner)
                state.registered_as, state.interrupted = reg.name, interrupted
                registered = True
                log.info(
                    "node.registered",
                    node=reg.name,
                    node_id=reg.node_id,
                    interrupted_actions=interrupted,
                )
            await gateway.heartbeat(health())
            state.last_beat = time.time()
            if state.refused:
                log.info("node.accepted")
            state.refused = None
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
