"""The listener: the live `pendingActions` subscription, each new action to the dispatcher once.

The subscription re-delivers the whole list on every change; each action id goes on once,
typed: an `InboundAction`, or a `MalformedAction` when the document does not validate. The
gateway validates and logs bad documents (`tina.convex.actions.PendingActions`), so a bad
document never stops the listener. `follow` is the loop every live query of the daemon runs
(this one, and the prompts' answers in `actors/prompts.py`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol, TypeVar

import structlog
import trio

from tina.convex import ConvexClientClosed, ConvexClientError, LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.daemon.actors.connection import current_gateway
from tina.daemon.actors.dispatcher import ActionStats
from tina.messages import ActionMessage

log = structlog.get_logger("tina.actions")


T_co = TypeVar("T_co", covariant=True)
T = TypeVar("T")


class Updates(Protocol[T_co]):
    """A typed live query: `await next()` is its next whole value."""

    async def next(self) -> T_co: ...


async def follow(
    gateway_cell: LatestValue[GatewayProtocol | None],
    subscribe: Callable[[GatewayProtocol], AbstractAsyncContextManager[Updates[T]]],
    on_update: Callable[[T], Awaitable[None]],
    *,
    name: str,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Follow one live query across reconnects: each new value goes to `on_update`. A failed
    query (e.g. a revoked credential) is logged (`<name>.subscription_failed`) and waited out;
    a restarted connection is subscribed again on its new client (`<name>.resubscribing`)."""
    gateway = await gateway_cell.wait_for(lambda g: g is not None)
    assert gateway is not None
    started = False
    while True:
        async with subscribe(gateway) as updates:
            if not started:
                task_status.started()
                started = True
            while True:
                try:
                    value = await updates.next()
                except ConvexClientClosed:
                    break  # the connection actor was restarted: subscribe again on its new client
                except ConvexClientError as exc:
                    log.warning(f"{name}.subscription_failed", error=str(exc))
                    continue
                await on_update(value)
        gateway = await current_gateway(gateway_cell, not_this=gateway)
        log.info(f"{name}.resubscribing")


async def listen(
    gateway_cell: LatestValue[GatewayProtocol | None],
    send: trio.MemorySendChannel[ActionMessage],
    stats: ActionStats,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    async def hand_over(actions: list[ActionMessage]) -> None:
        for action in actions:
            if action.id in stats.seen:
                continue
            stats.seen.add(action.id)
            await send.send(action)

    await follow(
        gateway_cell,
        lambda gateway: gateway.pending_actions(),
        hand_over,
        name="actions",
        task_status=task_status,
    )
