"""The dispatcher: claims and runs the operator actions the listener hands it.

Each action runs in its own task and its own error boundary, so one action's
failure never touches another's. Claim (atomic; another daemon instance or a second delivery
loses), mark running, run the handler (argv only, timeout, truncated output), complete with a
structured result. Expired actions are never run. Every error path ends in one of two ways:

- the action is completed as failed with a reason: a malformed document, a handler that
  crashed (`handler_crashed`), or `markActionRunning` failing (`mark_running_failed`: the
  action is then not run, since the laptop could not record that it started);
- or it is left claimed for the lease sweep, which marks it interrupted (never re-run): a claim
  whose answer was lost, or a completion that still fails after `COMPLETE_ATTEMPTS` tries
  (logged as `action.complete_gave_up`). The next daemon start interrupts what a crash left.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import attrs
import structlog
import trio

from tina.convex import ConvexClientError, LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.daemon.actions import HandlerEnv, run_action
from tina.daemon.actors.connection import current_gateway
from tina.messages import ActionMessage, ActionResult, InboundAction, MalformedAction

log = structlog.get_logger("tina.actions")

Runner = Callable[[InboundAction, HandlerEnv], Awaitable[ActionResult]]

CALL_TIMEOUT = 30.0
"""Each Convex call of the dispatcher, including the wait for a live connection."""
COMPLETE_ATTEMPTS = 8
"""Tries to report a result (backoff 0.5 s doubling to 30 s: about a minute of waiting)."""


class ActionStats:
    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.running = 0
        self.done = 0
        self.failed = 0
        self.last_started: dict[str, float] = {}  # action id -> wall-clock time the handler started

    def detail(self) -> dict[str, Any]:
        return {"running": self.running, "done": self.done, "failed": self.failed}


@attrs.frozen(kw_only=True)
class _Dispatch:
    """What every action's task needs (one per dispatcher run)."""

    cell: LatestValue[GatewayProtocol | None]
    henv: HandlerEnv
    lease_owner: str
    stats: ActionStats
    runner: Runner
    complete_attempts: int
    call_timeout: float


async def dispatch(
    gateway_cell: LatestValue[GatewayProtocol | None],
    receive: trio.MemoryReceiveChannel[ActionMessage],
    henv: HandlerEnv,
    lease_owner: str,
    stats: ActionStats,
    *,
    concurrency: int = 4,
    runner: Runner = run_action,
    complete_attempts: int = COMPLETE_ATTEMPTS,
    call_timeout: float = CALL_TIMEOUT,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    await gateway_cell.wait_for(lambda g: g is not None)
    ctx = _Dispatch(
        cell=gateway_cell,
        henv=henv,
        lease_owner=lease_owner,
        stats=stats,
        runner=runner,
        complete_attempts=complete_attempts,
        call_timeout=call_timeout,
    )
    limiter = trio.CapacityLimiter(concurrency)
    async with trio.open_nursery() as nursery:
        task_status.started()
        async for message in receive:
            token = object()  # one per task: a re-delivered id never collides with its first run
            await limiter.acquire_on_behalf_of(token)
            nursery.start_soon(
                partial(_guarded, ctx, message, limiter, token), name=f"action:{message.id}"
            )


async def _guarded(
    ctx: _Dispatch, message: ActionMessage, limiter: trio.CapacityLimiter, token: object
) -> None:
    """The error boundary of one action: whatever happens stays in this task."""
    bound = log.bind(action_id=message.id)
    try:
        await _handle(ctx, message, bound)
    except Exception:
        # Claimed but not completed: the lease sweep marks it interrupted; it is never re-run.
        bound.exception("action.crashed")
    finally:
        limiter.release_on_behalf_of(token)


async def _handle(ctx: _Dispatch, message: ActionMessage, bound: Any) -> None:
    if isinstance(message, InboundAction):
        bound = bound.bind(type=message.type)
        if 0 < message.expires_at <= time.time() * 1000:  # 0: no expiry
            bound.info("action.skipped_expired")
            return
    try:
        with trio.fail_after(ctx.call_timeout):
            claim = await (await current_gateway(ctx.cell)).claim_action(
                message.id, ctx.lease_owner, ctx.henv.timeout * 1000 + 60_000
            )
    except (ConvexClientError, trio.TooSlowError) as exc:
        # If the claim went through and only its answer was lost, the lease sweep interrupts it.
        bound.warning("action.claim_failed", error=str(exc) or type(exc).__name__)
        ctx.stats.seen.discard(message.id)  # seen again on the next subscription update
        return
    if not claim.ok:
        bound.info("action.not_claimed", reason=claim.reason, status=claim.status)
        return
    ctx.stats.running += 1
    try:
        match message:
            case MalformedAction():
                result: ActionResult | None = ActionResult(
                    ok=False, code=message.code, message=message.message
                )
            case InboundAction():
                result = await _start_and_run(ctx, message, bound)
    finally:
        ctx.stats.running -= 1
    if result is None:
        return
    if result.ok:
        ctx.stats.done += 1
    else:
        ctx.stats.failed += 1
    await _complete(ctx, message.id, result, bound)


async def _start_and_run(ctx: _Dispatch, action: InboundAction, bound: Any) -> ActionResult | None:
    """The handler's result, a failed result, or None when the lease is no longer ours."""
    try:
        with trio.fail_after(ctx.call_timeout):
            running = await (await current_gateway(ctx.cell)).mark_action_running(
                action.id, ctx.lease_owner
            )
    except (ConvexClientError, trio.TooSlowError) as exc:
        error = str(exc) or type(exc).__name__
        bound.warning("action.mark_running_failed", error=error)
        return ActionResult(
            ok=False,
            code="mark_running_failed",
            message=f"not run: the laptop could not record that it started ({error}); "
            "submit it again",
        )
    if not running:
        # Interrupted, expired or cancelled since the claim: not ours to run or to complete.
        bound.warning("action.lease_lost")
        return None
    ctx.stats.last_started[action.id] = time.time()
    bound.info("action.started")
    try:
        return await ctx.runner(action, ctx.henv)
    except Exception as exc:
        bound.exception("action.handler_crashed")
        return ActionResult(
            ok=False,
            code="handler_crashed",
            message=f"the handler failed: {type(exc).__name__}: {exc}",
        )


async def _complete(ctx: _Dispatch, action_id: str, result: ActionResult, bound: Any) -> None:
    """Report the outcome: retried a bounded number of times (the lease keeps it ours a while)."""
    error = ""
    for attempt in range(1, ctx.complete_attempts + 1):
        try:
            with trio.fail_after(ctx.call_timeout):
                gateway = await current_gateway(ctx.cell)
                accepted = await gateway.complete_action(action_id, ctx.lease_owner, result)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            bound.warning("action.complete_failed", error=error, attempt=attempt)
            if attempt < ctx.complete_attempts:
                await trio.sleep(min(30.0, 0.5 * 2 ** (attempt - 1)))
            continue
        if accepted:
            bound.info("action.completed", ok=result.ok, code=result.code)
        else:
            bound.warning(
                "action.complete_refused",
                reason="the lease is no longer this daemon's (interrupted, expired or cancelled)",
                ok=result.ok,
                code=result.code,
            )
        return
    bound.error(
        "action.complete_gave_up",
        attempts=ctx.complete_attempts,
        error=error,
        ok=result.ok,
        code=result.code,
    )
