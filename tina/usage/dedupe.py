"""Counting each assistant message once.

Claude Code writes one line per content block of a message, each with the same message id,
request id and usage, and a resumed session's file repeats the messages of the session it
resumes. Public tools count the pair ``<message id>:<request id>`` once; so does this, across
every file. A record without both ids is always counted (nothing to recognise it by). A message
repeated in another file is attributed as the file read first says (a resumed copy's session
is not the team's lead session, so it may say less): its tokens count once either way.

The keys are kept hashed (16 bytes of SHA-256, hex) and bounded: the most recent
:data:`KEEP` keys are remembered. Repeats come within a file's lifetime, so a repeat of a message
older than that many messages ago is counted again (a resumed copy of a session that large).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable

__all__ = ["KEEP", "Dedupe", "hash_key"]

KEEP = 50_000


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class Dedupe:
    def __init__(self, hashes: Iterable[str] = (), *, keep: int = KEEP) -> None:
        self._keep = keep
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.repeats = 0
        self._fresh: list[str] = []  # remembered since the last `take_fresh`, in order
        for h in hashes:
            self._remember(h)

    def _remember(self, h: str) -> None:
        self._seen[h] = None
        self._seen.move_to_end(h)
        while len(self._seen) > self._keep:
            self._seen.popitem(last=False)

    def first(self, key: str | None) -> bool:
        """Whether this is the first time `key` is seen (None: always); remembers it."""
        if key is None:
            return True
        h = hash_key(key)
        if h in self._seen:
            self.repeats += 1
            return False
        self._remember(h)
        self._fresh.append(h)
        return True

    @property
    def fresh(self) -> list[str]:
        """The hashes remembered since the last `take_fresh`, in order (a copy)."""
        return list(self._fresh)

    def take_fresh(self) -> list[str]:
        """The hashes remembered since the last call (what a journal line adds), in order."""
        fresh, self._fresh = self._fresh, []
        return fresh

    def extend(self, hashes: Iterable[str]) -> None:
        """Remember `hashes` (a journal's, replayed in order), not as fresh."""
        for h in hashes:
            self._remember(h)

    def hashes(self) -> list[str]:
        """Oldest first, as the constructor takes them back."""
        return list(self._seen)

    def __len__(self) -> int:
        return len(self._seen)
