"""Fault injection: make a child crash a number of times after it started.

`TINA_INJECT_FAULTS=claude:2,syncer:1` (parsed by `parse_faults`) is a diagnostic for the
resilience tests and for watching the supervisor at work in `tina daemon debug`.
"""

from __future__ import annotations

import attrs
import trio

from ._spec import ChildSpec


def parse_faults(text: str) -> dict[str, int]:
    """`claude:2,syncer:1` -> {"claude": 2, "syncer": 1}; a bare id means once."""
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        actor, _, times = part.partition(":")
        out[actor] = int(times or "1")
    return out


def inject_fault(spec: ChildSpec, times: int, delay: float = 0.3) -> ChildSpec:
    """`spec`, crashing `delay` seconds after each of its first `times` starts."""
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
