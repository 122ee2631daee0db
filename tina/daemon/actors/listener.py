"""The listener: the live `pendingActions` subscription, each new action to the dispatcher once.

The subscription re-delivers the whole list on every change; each action id goes on once,
typed: an `InboundAction`, or a `MalformedAction` when the document does not validate (logged
as `action.malformed`; a document without an id can only be logged). A bad document never stops
the listener.
"""

from __future__ import annotations

from typing import Any

import structlog
import trio

from tina.convex import ConvexClientClosed, ConvexClientError, LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.daemon.actions import (
    ActionMessage,
    ActionRejected,
    InboundAction,
    MalformedAction,
    action_id_of,
)
from tina.daemon.actors.connection import current_gateway
from tina.daemon.actors.dispatcher import ActionStats

log = structlog.get_logger("tina.actions")


def _short(doc: Any, limit: int = 200) -> str:
    text = repr(doc)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_message(doc: Any, action_id: str) -> ActionMessage:
    """One pending document as what the dispatcher takes; never raises."""
    try:
        return InboundAction.from_wire(doc)
    except ActionRejected as exc:
        log.warning("action.malformed", action_id=action_id, code=exc.code, error=exc.message)
        return MalformedAction(id=action_id, code=exc.code, message=exc.message)
    except Exception as exc:  # a bug in validation must not stop the listener either
        log.exception("action.malformed", action_id=action_id, code="payload_invalid")
        message = f"the laptop could not read this action ({type(exc).__name__})"
        return MalformedAction(id=action_id, code="payload_invalid", message=message)


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
        async with gateway.pending_actions() as sub:
            if not started:
                task_status.started()
                started = True
            while True:
                try:
                    docs = await sub.next()
                except ConvexClientClosed:
                    break  # the connection actor was restarted: subscribe again on its new client
                except ConvexClientError as exc:
                    # The query failed (e.g. the credential was revoked): say so, keep waiting for a change.
                    log.warning("actions.subscription_failed", error=str(exc))
                    continue
                if not isinstance(docs, list):
                    log.warning("actions.malformed_update", value=_short(docs))
                    continue
                for doc in docs:
                    action_id = action_id_of(doc)
                    if action_id is None:
                        log.warning(
                            "action.malformed",
                            code="payload_invalid",
                            error="an action document without a usable _id (cannot be reported)",
                            document=_short(doc),
                        )
                        continue
                    if action_id in stats.seen:
                        continue
                    stats.seen.add(action_id)
                    await send.send(to_message(doc, action_id))
        gateway = await current_gateway(gateway_cell, not_this=gateway)
        log.info("actions.resubscribing")
