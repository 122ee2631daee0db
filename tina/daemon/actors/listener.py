"""The listener: the live `pendingActions` subscription, each new action to the dispatcher once.

The subscription re-delivers the whole list on every change; each action id goes on once,
typed: an `InboundAction`, or a `MalformedAction` when the document does not validate. The
gateway validates and logs bad documents (`tina.convex.actions.PendingActions`), so a bad
document never stops the listener.
"""

from __future__ import annotations

import structlog
import trio

from tina.convex import ConvexClientClosed, ConvexClientError, LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.daemon.actors.connection import current_gateway
from tina.daemon.actors.dispatcher import ActionStats
from tina.messages import ActionMessage

log = structlog.get_logger("tina.actions")


async def listen(
    gateway_cell: LatestValue[GatewayProtocol | None],
    send: trio.MemorySendChannel[ActionMessage],
    stats: ActionStats,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    gateway = await gateway_cell.wait_for(lambda g: g is not None)
    assert gateway is not None
    started = False
    while True:
        async with gateway.pending_actions() as pending:
            if not started:
                task_status.started()
                started = True
            while True:
                try:
                    actions = await pending.next()
                except ConvexClientClosed:
                    break  # the connection actor was restarted: subscribe again on its new client
                except ConvexClientError as exc:
                    # The query failed (e.g. the credential was revoked): say so, keep waiting for a change.
                    log.warning("actions.subscription_failed", error=str(exc))
                    continue
                for action in actions:
                    if action.id in stats.seen:
                        continue
                    stats.seen.add(action.id)
                    await send.send(action)
        gateway = await current_gateway(gateway_cell, not_this=gateway)
        log.info("actions.resubscribing")
