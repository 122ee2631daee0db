"""OTP-style supervision on trio: one_for_one restart loops, one intensity window per
supervisor, capped exponential backoff with jitter, start in order and stop in reverse.

A child runs inside its own cancel scope. Once it has started, the scope is shielded, so
cancelling the supervisor does not hit every child at once: the supervisor stops them
itself, newest first, each within its `shutdown_timeout` (a child that reports ready while
whoever started it is already being cancelled is stopped at once, never shielded).
"""

from __future__ import annotations

import collections
import math
import random
import time
from functools import partial
from typing import Any

import structlog
import trio

from ._spec import Backoff, ChildSpec, Intensity, Restart, TooManyRestarts
from ._status import ChildState, ChildStatus, describe_error

log = structlog.get_logger("tina.supervision")


class _StoppedBeforeReady(Exception):
    """A child was stopped by its supervisor before it reported ready."""


class _Child:
    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.scope = trio.CancelScope()
        self.state = ChildState.STARTING
        self.since = time.time()
        self.restarts = 0
        self.last_error: str | None = None
        self.done = trio.Event()

    def set_state(self, state: ChildState) -> None:
        self.state = state
        self.since = time.time()

    def status(self) -> ChildStatus:
        detail: dict[str, Any] = {}
        if self.spec.detail is not None:
            try:
                detail = dict(self.spec.detail())
            except Exception as exc:  # a broken probe must not break the status tree
                detail = {"detail_error": describe_error(exc)}
        children: tuple[ChildStatus, ...] = ()
        if self.spec.children is not None:
            children = tuple(self.spec.children())
        return ChildStatus(
            id=self.spec.id,
            state=self.state,
            restarts=self.restarts,
            since=self.since,
            last_error=self.last_error,
            detail=detail,
            children=children,
        )


def _shield_once_ready(scope: trio.CancelScope, running: trio.Nursery) -> bool:
    """Shield a child's `scope` once it is ready (it runs in `running`): True once shielded.

    Not while whoever started it is being stopped: then the child is stopped instead. Shielded,
    it would never see that stop: trio leaves a task that reports ready under a cancelled scope
    where it is, so the starter would wait for it forever, and the child's own nurseries would
    take the stop's `Cancelled` for theirs and end as if it had returned (and be restarted).
    Not yet either if the child has crashed already (its nursery is cancelled, which hides
    whether the starter is too): it is restarted as any crash is, and shielded once ready again.
    """
    if running.cancel_scope.cancel_called:
        return False
    if trio.current_effective_deadline() == -math.inf:
        scope.cancel()
        return False
    scope.shield = True
    return True


class _Base:
    def __init__(
        self,
        name: str,
        *,
        intensity: Intensity,
        backoff: Backoff,
        rng: random.Random | None,
    ) -> None:
        self.name = name
        self.intensity = intensity
        self.backoff = backoff
        self._rng = rng or random.Random()
        self._restart_times: collections.deque[float] = collections.deque()
        self._children: dict[str, _Child] = {}

    def statistics(self) -> tuple[ChildStatus, ...]:
        """A snapshot of every child, in start order."""
        return tuple(c.status() for c in self._children.values())

    def _note_restart(self, child: _Child) -> None:
        """Count a restart in this supervisor's one window; escalate past the limit."""
        now = trio.current_time()
        window = self._restart_times
        window.append(now)
        while window and window[0] < now - self.intensity.within:
            window.popleft()
        if len(window) > self.intensity.max_restarts:
            raise TooManyRestarts(self.name, child.spec.id, len(window), self.intensity.within)

    async def _supervise(
        self, child: _Child, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        spec = child.spec
        bound = log.bind(supervisor=self.name, actor=spec.id)
        reported = shielded = False
        consecutive = 0
        try:
            with child.scope:
                while True:
                    child.set_state(ChildState.STARTING)
                    started_at = trio.current_time()
                    error: Exception | None = None
                    try:
                        with structlog.contextvars.bound_contextvars(actor=spec.id):
                            async with trio.open_nursery() as nursery:
                                await nursery.start(spec.run)
                                child.set_state(ChildState.RUNNING)
                                if not shielded:
                                    shielded = _shield_once_ready(child.scope, nursery)
                                if not reported:
                                    reported = True
                                    task_status.started()
                    except Exception as exc:  # a crash; Cancelled is a BaseException and passes
                        error = exc
                    healthy = trio.current_time() - started_at >= self.backoff.healthy_after
                    if error is None:
                        bound.info("actor.exited")
                        if spec.restart is not Restart.PERMANENT:
                            child.set_state(ChildState.STOPPED)
                            return
                    else:
                        child.last_error = describe_error(error)
                        bound.error("actor.crashed", error=child.last_error, exc_info=error)
                        if spec.restart is Restart.TEMPORARY:
                            child.set_state(ChildState.FAILED)
                            return
                    consecutive = 1 if healthy else consecutive + 1
                    self._note_restart(child)
                    child.restarts += 1
                    delay = self.backoff.delay(consecutive, self._rng)
                    child.set_state(ChildState.BACKING_OFF)
                    bound.info("actor.restarting", restarts=child.restarts, delay=round(delay, 3))
                    await trio.sleep(delay)
        finally:
            if child.state not in (ChildState.STOPPED, ChildState.FAILED):
                child.set_state(ChildState.STOPPED)
            if child.scope.cancelled_caught:
                bound.info("actor.cancelled", reason="supervisor stopped it")
            child.done.set()
        if not reported and child.scope.cancelled_caught:
            # Stopped while starting (its supervisor stops): tell `start` apart from a child
            # that returned without ever being ready.
            raise _StoppedBeforeReady(spec.id)

    async def _stop(self, child: _Child) -> None:
        """Cancel one child and wait for it, at most its shutdown timeout."""
        if child.done.is_set():
            return
        child.set_state(ChildState.STOPPING)
        child.scope.cancel()
        with trio.move_on_after(child.spec.shutdown_timeout) as waited:
            await child.done.wait()
        if waited.cancelled_caught:
            log.warning(
                "actor.shutdown_timeout",
                supervisor=self.name,
                actor=child.spec.id,
                timeout=child.spec.shutdown_timeout,
            )

    async def _stop_all(self) -> None:
        with trio.CancelScope(shield=True):
            for child in reversed(list(self._children.values())):
                await self._stop(child)


class Supervisor(_Base):
    """Runs a fixed list of children, started in order and stopped in reverse."""

    def __init__(
        self,
        name: str,
        children: list[ChildSpec],
        *,
        intensity: Intensity | None = None,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(
            name, intensity=intensity or Intensity(), backoff=backoff or Backoff(), rng=rng
        )
        ids = [c.id for c in children]
        if len(set(ids)) != len(ids):
            raise ValueError(f"supervisor {name!r}: duplicate child ids in {ids}")
        self._specs = list(children)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start every child (each must report ready before the next starts), then supervise.

        Returns when every child has ended on its own (none is permanent); raises
        `TooManyRestarts` when the intensity is exceeded, after stopping the others.
        """
        try:
            async with trio.open_nursery() as nursery:
                try:
                    for spec in self._specs:
                        child = _Child(spec)
                        self._children[spec.id] = child
                        await nursery.start(
                            partial(self._supervise, child), name=f"actor:{spec.id}"
                        )
                    task_status.started()
                    for child in self._children.values():
                        await child.done.wait()
                finally:
                    await self._stop_all()
        except BaseExceptionGroup as group:
            _escalate(group)
            raise


class DynamicSupervisor(_Base):
    """Children added and removed at run time (one per worktree, say)."""

    def __init__(
        self,
        name: str,
        *,
        intensity: Intensity | None = None,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(
            name, intensity=intensity or Intensity(), backoff=backoff or Backoff(), rng=rng
        )
        self._nursery: trio.Nursery | None = None

    @property
    def child_ids(self) -> list[str]:
        return [cid for cid, c in self._children.items() if not c.done.is_set()]

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                try:
                    task_status.started()
                    await trio.sleep_forever()
                finally:
                    self._nursery = None
                    await self._stop_all()
        except BaseExceptionGroup as group:
            _escalate(group)
            raise

    async def start_child(self, spec: ChildSpec) -> bool:
        """Start a child and wait until it is ready: True. Replaces a finished child of that id.

        False when the supervisor is not running, or stops (or the child is terminated) before
        the child is ready. A supervisor that stops takes its children along, so a caller that
        outlives it (a sibling) must start them again once it is back anyway; the supervisor's
        stop is not the caller's crash.
        """
        nursery = self._nursery
        if nursery is None:
            return False
        existing = self._children.get(spec.id)
        if existing is not None and not existing.done.is_set():
            raise ValueError(f"{self.name}: child {spec.id!r} is already running")
        child = _Child(spec)
        self._children[spec.id] = child
        try:
            await nursery.start(partial(self._supervise, child), name=f"actor:{spec.id}")
        except _StoppedBeforeReady:
            return False
        return True

    async def terminate_child(self, child_id: str) -> bool:
        """Stop a child (within its shutdown timeout) and forget it. False if unknown."""
        child = self._children.get(child_id)
        if child is None:
            return False
        await self._stop(child)
        self._children.pop(child_id, None)
        return True


def _escalate(group: BaseExceptionGroup[Any]) -> None:
    """Re-raise a lone TooManyRestarts bare, so the parent sees a plain crash reason."""
    escalated, rest = group.split(TooManyRestarts)
    if escalated is None:
        return
    if rest is not None:
        _, rest = rest.split(trio.Cancelled)
    if rest is None:
        exc: BaseException = escalated
        while isinstance(exc, BaseExceptionGroup):
            exc = exc.exceptions[0]
        raise exc from None


__all__ = ["DynamicSupervisor", "Supervisor"]
