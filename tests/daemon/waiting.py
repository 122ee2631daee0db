"""Waiting in trio tests that may run under the autojump clock."""

from __future__ import annotations

import time
from typing import Any

import trio


async def until(predicate: Any, timeout: float = 60) -> None:
    """Poll `predicate` for up to `timeout` real seconds. Not virtual ones: under the autojump
    clock a poll's sleep jumps the clock while the loop waits for a worker thread (the outbox's
    disk writes), so on a loaded machine a slow write used up a virtual deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise trio.TooSlowError(f"not true within {timeout} s: {predicate}")
        await trio.sleep(0.01)
