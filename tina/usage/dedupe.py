"""Counting each assistant message once, at its final size.

Claude Code writes one line per content block of a message, each with the same message id and
request id, as the reply streams in: the input and cache counts are the same on every line, but
the output count (and the web searches, which come with the message's end) grows, and only the
message's last line carries the final figures (the API's streamed usage is cumulative; public
usage tools that keep the first line count too few output tokens). A resumed session's file
repeats the messages of the session it resumes. Public tools count the pair
``<message id>:<request id>`` once; so does this, across every file: the first line seen counts
the message, and a later line that says more adds what it says more (:meth:`Dedupe.growth`), so
the sums end at the last line's figures, whichever rounds the lines were read in. A record
without both ids is always counted (nothing to recognise it by). A message repeated in another
file is attributed as the file read first says (a resumed copy's session is not the team's lead
session, so it may say less): its tokens count once either way. (A resumed session's copy of its
history keeps each record's session id: the ledger counts those from their session's own file,
whatever this remembers: :meth:`tina.usage.ledger.UsageLedger.read`.)

The keys are kept hashed (8 bytes of SHA-256, as a number: under 100 bytes of memory each; saved
as 16 hex digits, and a saved longer hash is read by its first 16) and bounded: the most recent
:data:`KEEP` keys are remembered. Repeats come within a file's lifetime, so a repeat of a message older than
that many messages ago is counted again (a resumed copy of a session that large). What was
counted of each of the most recent :data:`OPEN` messages is remembered with its key: a later line
of an older message adds nothing (a message's lines come within its reply, seconds to minutes
apart).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict, deque
from collections.abc import Iterable

from .transcript import UsageRecord

__all__ = ["KEEP", "OPEN", "Counts", "Dedupe", "counts_of", "hash_key", "saved_hash", "saved_open"]

KEEP = 50_000
OPEN = 4096
"""Messages whose counted figures are remembered, the most recent, for a later line to add to."""

Counts = tuple[int, ...]
"""A message's figures as counted: input, output, cache write, cache read, the part of the cache
write written for an hour, web searches (what :meth:`Dedupe.growth` compares, kind by kind)."""
WIDTH = 6


def hash_key(key: str) -> int:
    """A message key's hash: its SHA-256's first 8 bytes, as a number."""
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big")


def saved_hash(value: object) -> int | None:
    """A saved hash back: 16 hex digits or more (older files saved 32), read by its first 16;
    None for anything else."""
    if not isinstance(value, str) or len(value) < 16:
        return None
    try:
        return int(value[:16], 16)
    except ValueError:
        return None


def _saved(h: int) -> str:
    return f"{h:016x}"


def counts_of(record: UsageRecord) -> Counts:
    """What is remembered of a message counted (see :data:`Counts`)."""
    return (
        record.input,
        record.output,
        record.cache_write,
        record.cache_read,
        record.cache_write_1h,
        record.web_searches,
    )


def saved_open(value: object) -> list[tuple[int, Counts]]:
    """Saved counts back (a journal line's, a snapshot's: ``[[hash, *counts], ...]``, each with
    :data:`WIDTH` whole numbers, none negative). What is not in that shape is left out: it costs
    the growth of one message at most, where refusing the state would count every transcript
    again."""
    out: list[tuple[int, Counts]] = []
    if not isinstance(value, list):
        return out
    for entry in value:
        if not isinstance(entry, list) or len(entry) != WIDTH + 1:
            continue
        h = saved_hash(entry[0])
        counts = tuple(v for v in entry[1:] if type(v) is int and v >= 0)
        if h is not None and len(counts) == WIDTH:
            out.append((h, counts))
    return out


class Dedupe:
    def __init__(
        self,
        hashes: Iterable[object] = (),
        *,
        keep: int = KEEP,
        keep_open: int = OPEN,
    ) -> None:
        """`hashes`: saved ones (:meth:`hashes`), oldest first."""
        self._keep = keep
        self._keep_open = keep_open
        # The hashes remembered: a set to look them up, a queue of the same numbers to forget
        # the oldest (a number, a set slot and a queue slot: under 100 bytes each).
        self._seen: set[int] = set()
        self._order: deque[int] = deque()
        self._open: OrderedDict[int, Counts] = OrderedDict()  # hash -> counted, the most recent
        self.repeats = 0
        self.grown = 0  # later lines that added to a message counted already
        self._fresh: list[int] = []  # remembered since the last `take_fresh`, in order
        self._fresh_open: dict[int, Counts] = {}  # counts set since the last `take_fresh`
        self.extend(hashes)

    def _remember(self, h: int) -> None:
        if h in self._seen:
            return
        self._seen.add(h)
        self._order.append(h)
        while len(self._order) > self._keep:
            self._seen.discard(self._order.popleft())

    def _set_open(self, h: int, counts: Counts) -> None:
        self._open[h] = counts
        self._open.move_to_end(h)
        while len(self._open) > self._keep_open:
            self._open.popitem(last=False)

    def first(self, key: str | None, counts: Counts | None = None) -> bool:
        """Whether this is the first time `key` is seen (None: always); remembers it, and with
        `counts` what was counted of it (for :meth:`growth`)."""
        if key is None:
            return True
        h = hash_key(key)
        if h in self._seen:
            self.repeats += 1
            return False
        self._remember(h)
        self._fresh.append(h)
        if counts is not None:
            self._set_open(h, counts)
            self._fresh_open[h] = counts
        return True

    def growth(self, key: str | None, counts: Counts) -> Counts | None:
        """For a later line of a message counted already (:meth:`first` said False): how much
        more of each kind `counts` says than was counted (none less than nothing), and from now
        on what was counted is the larger of the two, kind by kind; None when it says no more,
        or the message's counts are no longer remembered (:data:`OPEN`)."""
        if key is None:
            return None
        h = hash_key(key)
        counted = self._open.get(h)
        if counted is None or h not in self._seen:
            return None
        more = tuple(max(0, new - old) for new, old in zip(counts, counted, strict=True))
        if not any(more):
            return None
        now = tuple(max(new, old) for new, old in zip(counts, counted, strict=True))
        self._set_open(h, now)
        self._fresh_open[h] = now
        self.grown += 1
        return more

    @property
    def fresh(self) -> list[str]:
        """The hashes remembered since the last `take_fresh`, in order, as saved."""
        return [_saved(h) for h in self._fresh]

    @property
    def fresh_open(self) -> list[list[object]]:
        """The counts set since the last `take_fresh`, as saved: ``[hash, *counts]``."""
        return [[_saved(h), *c] for h, c in self._fresh_open.items()]

    def take_fresh(self) -> None:
        """Forget what was remembered since the last call as fresh (a journal line has it)."""
        self._fresh = []
        self._fresh_open = {}

    def extend(self, hashes: Iterable[object]) -> None:
        """Remember saved `hashes` (a journal's, replayed in order), not as fresh; one that is
        not a saved hash is left out (a message that may be counted again, where refusing the
        state would count every transcript again)."""
        for value in hashes:
            h = saved_hash(value)
            if h is not None:
                self._remember(h)

    def extend_open(self, entries: Iterable[tuple[int, Counts]]) -> None:
        """Remember saved counts (:func:`saved_open`'s, oldest first), not as fresh."""
        for h, counts in entries:
            self._set_open(h, counts)

    def hashes(self) -> list[str]:
        """Oldest first, as saved (the constructor takes them back)."""
        return [_saved(h) for h in self._order]

    def open_items(self) -> list[list[object]]:
        """The remembered counts, oldest first, as saved (``[hash, *counts]``)."""
        return [[_saved(h), *c] for h, c in self._open.items()]

    def __len__(self) -> int:
        return len(self._seen)
