"""A latest-value cell: readers see the newest value, never a backlog."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import trio

__all__ = ["LatestValue"]

T = TypeVar("T")


class LatestValue(Generic[T]):
    """Holds one value and a version that counts every :meth:`set`.

    A reader remembers the version it last saw and waits for a newer one; whatever happened in
    between, it gets only the newest value. Setting never blocks.
    """

    def __init__(self, value: T) -> None:
        self._value = value
        self._version = 0
        self._lot = trio.lowlevel.ParkingLot()

    def __repr__(self) -> str:
        return f"<LatestValue version={self._version} value={self._value!r}>"

    @property
    def value(self) -> T:
        return self._value

    @property
    def version(self) -> int:
        return self._version

    def set(self, value: T) -> None:
        self._value = value
        self._version += 1
        self._lot.unpark_all()

    async def wait_newer(self, version: int) -> tuple[int, T]:
        """Wait until the version is above ``version``; return the current ``(version, value)``."""
        if self._version > version:
            await trio.lowlevel.checkpoint()
        while self._version <= version:
            await self._lot.park()
        return self._version, self._value

    async def wait_for(self, predicate: Callable[[T], bool]) -> T:
        """Wait until ``predicate(value)`` holds; return that value.

        The value returned satisfies ``predicate`` when this returns: a value that held before
        the checkpoint but was replaced during it (a connection that went away meanwhile) is
        waited past, never handed out.
        """
        while True:
            if predicate(self._value):
                await trio.lowlevel.checkpoint()
                if predicate(self._value):
                    return self._value
                continue
            await self._lot.park()
