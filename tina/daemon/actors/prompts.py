"""Permission prompts on the wire: `run` sends the opens and settles `Prompts` queues, in order;
`listen` follows the live `pendingDecisions` subscription and hands each update to
`Prompts.on_answers` (which resolves the waiting hooks and queues the settles).

A failed open answers its hook at once with no decision; a failed settle is logged and sent
again when the answer comes back in the subscription (an expired prompt Convex never heard of
is closed by Convex's own expiry).
"""

from __future__ import annotations

import structlog
import trio

from tina.convex import LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.daemon.actors.listener import follow
from tina.daemon.prompts import OpenOp, Prompts, SettleOp
from tina.messages import PromptAnswer

log = structlog.get_logger("tina.prompts")

CALL_TIMEOUT = 5.0
"""An open or a settle at most: a hook is waiting on the open."""


async def run(
    prompts: Prompts,
    gateway_cell: LatestValue[GatewayProtocol | None],
    *,
    call_timeout: float = CALL_TIMEOUT,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    task_status.started()
    while True:
        # Not `async for`: the channel is the wiring's and outlives this run.
        op = await prompts.receive.receive()
        gateway = gateway_cell.value
        match op:
            case OpenOp(prompt=prompt):
                ok = False
                error: str | None = "not connected"
                if gateway is not None:
                    try:
                        with trio.fail_after(call_timeout):
                            ok = await gateway.open_prompt(prompt)
                        error = None if ok else "refused"
                    except Exception as exc:  # refused, slow, down, a bad answer: no decision
                        error = str(exc) or type(exc).__name__
                prompts.opened(prompt.prompt_id, ok, error)
            case SettleOp(prompt_id=prompt_id, outcome=outcome):
                ok = False
                if gateway is not None:
                    try:
                        with trio.fail_after(call_timeout):
                            ok = await gateway.settle_prompt(prompt_id, outcome)
                    except Exception as exc:  # sent again when the answer comes back
                        log.warning(
                            "prompt.settle_failed",
                            prompt_id=prompt_id,
                            outcome=outcome,
                            error=str(exc) or type(exc).__name__,
                        )
                prompts.settled(prompt_id, outcome, ok)


async def listen(
    prompts: Prompts,
    gateway_cell: LatestValue[GatewayProtocol | None],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    async def answered(answers: list[PromptAnswer]) -> None:
        prompts.on_answers(answers)

    await follow(
        gateway_cell,
        lambda gateway: gateway.pending_decisions(),
        answered,
        name="prompts",
        task_status=task_status,
    )
