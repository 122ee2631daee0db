"""Operator actions: the live `pendingActions` subscription and the dispatcher.

listener: each new pending action id goes to the dispatcher once (the subscription
re-delivers the whole list on every change). dispatcher: claim (atomic; another daemon
instance or a second delivery loses), validate again, mark running, run the handler
(argv only, timeout, truncated output), complete with a structured result. Expired actions
are never run. A crash between claim and complete leaves the action claimed; the next
daemon start marks it interrupted (see presence), so it is never re-run silently.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
import trio

from tina.actions import ActionRejected, ActionResult, HandlerEnv, parse_action, run_action
from tina.convex import ConvexClientClosed, ConvexClientError, LatestValue
from tina.convex.gateway import GatewayProtocol

log = structlog.get_logger("tina.actions")

Runner = Callable[[Any, HandlerEnv], Awaitable[ActionResult]]


class ActionStats:
    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.running = 0
        self.done = 0
        self.failed = 0
        self.last_started: dict[str, float] = {}  # action id -> wall-clock time the handler started

    def detail(self) -> dict[str, Any]:
        return {"running": self.running, "done": self.done, "failed": self.failed}


async def listen(
    gateway_cell: LatestValue[GatewayProtocol | None],
    send: trio.MemorySendChannel[dict[str, Any]],
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
                for doc in docs or []:
                    action_id = doc.get("_id") if isinstance(doc, dict) else None
                    if isinstance(action_id, str) and action_id not in stats.seen:
                        stats.seen.add(action_id)
                        await send.send(doc)
        gateway = await _current(gateway_cell, not_this=gateway)
        log.info("actions.resubscribing")


async def dispatch(
    gateway_cell: LatestValue[GatewayProtocol | None],
    receive: trio.MemoryReceiveChannel[dict[str, Any]],
    henv: HandlerEnv,
    lease_owner: str,
    stats: ActionStats,
    *,
    concurrency: int = 4,
    runner: Runner = run_action,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    await gateway_cell.wait_for(lambda g: g is not None)
    limiter = trio.CapacityLimiter(concurrency)
    async with trio.open_nursery() as nursery:
        task_status.started()
        async for doc in receive:
            await limiter.acquire_on_behalf_of(doc["_id"])
            nursery.start_soon(
                _handle, gateway_cell, doc, henv, lease_owner, stats, runner, limiter
            )


async def _current(
    cell: LatestValue[GatewayProtocol | None], *, not_this: GatewayProtocol | None = None
) -> GatewayProtocol:
    """The gateway of the live connection (a restarted connection actor makes a new one)."""
    gateway = await cell.wait_for(lambda g: g is not None and g is not not_this)
    assert gateway is not None
    return gateway


async def _handle(
    cell: LatestValue[GatewayProtocol | None],
    doc: dict[str, Any],
    henv: HandlerEnv,
    lease_owner: str,
    stats: ActionStats,
    runner: Runner,
    limiter: trio.CapacityLimiter,
) -> None:
    action_id = doc["_id"]
    bound = log.bind(action_id=action_id, type=doc.get("type"))
    try:
        expires = doc.get("expiresAt")
        if isinstance(expires, int | float) and expires <= time.time() * 1000:
            bound.info("action.skipped_expired")
            return
        try:
            claim = await (await _current(cell)).claim_action(
                action_id, lease_owner, henv.timeout * 1000 + 60_000
            )
        except ConvexClientError as exc:
            bound.warning("action.claim_failed", error=str(exc))
            stats.seen.discard(action_id)  # seen again on the next subscription update
            return
        if not claim.ok:
            bound.info("action.not_claimed", reason=claim.reason, status=claim.status)
            return
        stats.running += 1
        try:
            try:
                action = parse_action(claim.action or doc)
            except ActionRejected as exc:
                result = ActionResult(ok=False, code=exc.code, message=exc.message)
            else:
                stats.last_started[action_id] = time.time()
                bound.info("action.started")
                with trio.CancelScope(shield=True), trio.move_on_after(5):
                    await (await _current(cell)).mark_action_running(action_id, lease_owner)
                result = await runner(action, henv)
        finally:
            stats.running -= 1
        if result.ok:
            stats.done += 1
        else:
            stats.failed += 1
        await _complete(cell, action_id, lease_owner, result, bound)
    finally:
        limiter.release_on_behalf_of(action_id)


async def _complete(
    cell: LatestValue[GatewayProtocol | None],
    action_id: str,
    lease_owner: str,
    result: ActionResult,
    bound: Any,
) -> None:
    """Report the outcome; retried while the connection is down (the lease keeps it ours)."""
    for attempt in range(20):
        try:
            await (await _current(cell)).complete_action(action_id, lease_owner, result.to_wire())
            bound.info("action.completed", ok=result.ok, code=result.code)
            return
        except ConvexClientError as exc:
            bound.warning("action.complete_failed", error=str(exc), attempt=attempt)
            await trio.sleep(min(30.0, 0.5 * 2**attempt))
