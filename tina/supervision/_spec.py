"""Child specifications: what to run, when to restart it, how long it may take to stop."""

from __future__ import annotations

import enum
import random
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

# An actor: `async def run(*, task_status=trio.TASK_STATUS_IGNORED) -> None`, calling
# `task_status.started()` once it is ready (so `nursery.start` is a readiness barrier).
ChildRun = Callable[..., Awaitable[Any]]


class Restart(enum.Enum):
    """OTP restart types."""

    PERMANENT = "permanent"  # always restarted
    TRANSIENT = "transient"  # restarted only after a crash
    TEMPORARY = "temporary"  # never restarted


@attrs.frozen(kw_only=True)
class Intensity:
    """At most `max_restarts` restarts within `within` seconds, per supervisor."""

    max_restarts: int = 5
    within: float = 60.0


@attrs.frozen(kw_only=True)
class Backoff:
    """Capped exponential backoff with jitter between restarts of one child.

    The n-th consecutive restart waits `min(cap, initial * factor**(n-1))`, scaled by a
    random factor in `[1 - jitter, 1 + jitter]`. A child that ran for `healthy_after`
    seconds counts as healthy: its next restart starts again at `initial`.
    """

    initial: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    jitter: float = 0.5
    healthy_after: float = 30.0

    def delay(self, consecutive: int, rng: random.Random) -> float:
        base = min(self.cap, self.initial * self.factor ** max(0, consecutive - 1))
        if self.jitter <= 0:
            return base
        return base * rng.uniform(1.0 - self.jitter, 1.0 + self.jitter)


@attrs.frozen(kw_only=True)
class ChildSpec:
    """One supervised child: `id` is unique within its supervisor."""

    id: str
    run: ChildRun
    restart: Restart = Restart.PERMANENT
    shutdown_timeout: float = 5.0
    # Optional live detail for the status tree (queue depths, connection state...).
    detail: Callable[[], dict[str, Any]] | None = None
    # For a child that is itself a supervisor: its own children's status.
    children: Callable[[], tuple[Any, ...]] | None = None


class TooManyRestarts(Exception):
    """A supervisor's restart intensity was exceeded: it gives up and escalates."""

    def __init__(self, supervisor: str, child: str, restarts: int, within: float) -> None:
        super().__init__(
            f"supervisor {supervisor!r}: child {child!r} pushed restarts to {restarts} "
            f"within {within:g} s; giving up"
        )
        self.supervisor = supervisor
        self.child = child
