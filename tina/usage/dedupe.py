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

The keys are kept hashed (8 bytes of SHA-256, as a number: about 18 bytes of memory each, in
:class:`Keys`; saved
as 16 hex digits each, one after another in one string, :func:`packed`; a list of them, as older
files saved, is read too, and a saved longer hash by its first 16) and bounded: the most recent
:data:`KEEP` keys are remembered. Repeats come within a file's lifetime, so a repeat of a message older than
that many messages ago is counted again (a resumed copy of a session that large). What was
counted of each of the most recent :data:`OPEN` messages is remembered with its key: a later line
of an older message adds nothing (a message's lines come within its reply, seconds to minutes
apart).
"""

from __future__ import annotations

import hashlib
import re
import sys
from array import array
from collections import OrderedDict
from collections.abc import Iterable

from .transcript import UsageRecord

__all__ = [
    "KEEP",
    "OPEN",
    "Counts",
    "Dedupe",
    "counts_of",
    "hash_key",
    "packed",
    "saved_hash",
    "saved_hashes",
    "saved_open",
]

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


_HEX = re.compile(r"[0-9a-fA-F]{16}")


def saved_hash(value: object) -> int | None:
    """A saved hash back: 16 hex digits or more (older files saved 32), read by its first 16;
    None for anything else."""
    if not isinstance(value, str) or not _HEX.match(value):
        return None
    return int(value[:16], 16)


def _saved(h: int) -> str:
    return f"{h:016x}"


def packed(hashes: Iterable[int]) -> str:
    """Hashes as saved: 16 hex digits each, one after another. One string, not a list of
    strings: a snapshot of 50,000 keys makes one string of 800,000 characters (and an array of
    400 KB on the way), not 50,000 strings of 3.3 MB that the process keeps once it has grown."""
    numbers = array("Q", hashes)
    if sys.byteorder == "little":
        numbers.byteswap()  # big-endian: each hash's digits as `_saved` writes them
    return numbers.tobytes().hex()


def saved_hashes(value: object) -> list[int]:
    """Saved hashes back, in order: :func:`packed`'s string, or a list of hex strings (as older
    files saved them). A piece that is not a hash is left out (a message that may be counted
    again, where refusing the state would count every transcript again)."""
    if isinstance(value, str):
        if len(value) % 16 == 0 and value.isascii():
            try:
                numbers = array("Q", bytes.fromhex(value))
            except ValueError:  # not all hex digits: piece by piece below
                pass
            else:
                if len(numbers) * 16 == len(value):  # no whitespace skipped
                    if sys.byteorder == "little":
                        numbers.byteswap()
                    return numbers.tolist()
        pieces = (value[i : i + 16] for i in range(0, len(value) - 15, 16))
        return [h for piece in pieces if (h := saved_hash(piece)) is not None]
    if isinstance(value, list):
        return [h for item in value if (h := saved_hash(item)) is not None]
    return []


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


class Keys:
    """The last `keep` hashes remembered, in order, and a look-up of them, in two arrays: a ring
    of the hashes (8 bytes each) and an open-addressed index of their places in the ring (4
    bytes a slot, at most half the slots used; linear probing, a slot emptied by shifting its
    cluster back). 50,000 keys take 0.9 MB, where a set of numbers and a queue of them took 4.2
    MB, and leave no small objects behind to pin the memory a catch-up used."""

    def __init__(self, keep: int) -> None:
        if keep < 1:
            raise ValueError(f"keep must be at least 1, not {keep}")
        self._keep = keep
        self._ring = array("Q", bytes(8 * keep))
        self._count = 0  # held, up to keep
        self._next = 0  # the ring's next place: the oldest's, once full
        size = 1 << (2 * keep).bit_length()  # over twice keep: at most half full
        self._mask = size - 1
        self._index = array("i", bytes(4 * size))  # a place in the ring + 1; 0: empty

    def __len__(self) -> int:
        return self._count

    def __contains__(self, h: int) -> bool:
        index, ring, mask = self._index, self._ring, self._mask
        i = h & mask
        while place := index[i]:
            if ring[place - 1] == h:
                return True
            i = (i + 1) & mask
        return False

    def add(self, h: int) -> None:
        """Remember `h` (not remembered: the caller looked), forgetting the oldest when full."""
        index, mask = self._index, self._mask
        at = self._next
        if self._count == self._keep:
            self._unindex(at)
        else:
            self._count += 1
        self._ring[at] = h
        i = h & mask
        while index[i]:
            i = (i + 1) & mask
        index[i] = at + 1
        self._next = (at + 1) % self._keep

    def _unindex(self, at: int) -> None:
        """Empty the index slot of ring place `at`, shifting back the cluster after it (so
        every hash stays reachable from its home slot without a gap)."""
        index, ring, mask = self._index, self._ring, self._mask
        i = ring[at] & mask
        while index[i] != at + 1:
            i = (i + 1) & mask
        index[i] = 0
        j = i
        while True:
            j = (j + 1) & mask
            place = index[j]
            if not place:
                return
            home = ring[place - 1] & mask
            # Stays when its home is cyclically in (i, j]: the gap at i is not on its path.
            if (i < home <= j) if i <= j else (home > i or home <= j):
                continue
            index[i], index[j] = place, 0
            i = j

    def ordered(self) -> array[int]:
        """The hashes, oldest first."""
        return self.newest(self._count)

    def newest(self, n: int) -> array[int]:
        """The `n` hashes remembered last (all of them at most), oldest first."""
        n = min(n, self._count)
        start = self._next - n
        if start >= 0:
            return self._ring[start : self._next]
        return self._ring[start:] + self._ring[: self._next]


class Dedupe:
    def __init__(
        self,
        hashes: object = (),
        *,
        keep: int = KEEP,
        keep_open: int = OPEN,
    ) -> None:
        """`hashes`: saved ones (:meth:`hashes`, or a list as older files saved), oldest first."""
        self._keep_open = keep_open
        self._seen = Keys(keep)  # the hashes remembered
        self._open: OrderedDict[int, Counts] = OrderedDict()  # hash -> counted, the most recent
        self.repeats = 0
        self.grown = 0  # later lines that added to a message counted already
        # How many were remembered since the last `take_fresh`: the newest of `_seen` (up to
        # `keep`: older ones are forgotten already, so not saved either).
        self._fresh = 0
        self._fresh_open: dict[int, Counts] = {}  # counts set since the last `take_fresh`
        self._last: tuple[str | None, int] = (None, 0)  # the last key hashed, and its hash
        self.extend(hashes)

    def _remember(self, h: int) -> None:
        if h not in self._seen:
            self._seen.add(h)

    def _hash(self, key: str) -> int:
        """`hash_key(key)`, once for :meth:`first` and :meth:`growth` of one line."""
        last, h = self._last
        if key != last:
            h = hash_key(key)
            self._last = (key, h)
        return h

    def _set_open(self, h: int, counts: Counts) -> None:
        self._open[h] = counts
        self._open.move_to_end(h)
        while len(self._open) > self._keep_open:
            # forgotten: not saved either (a journal line carries the last OPEN at most)
            self._fresh_open.pop(self._open.popitem(last=False)[0], None)

    def first(self, key: str | None, counts: Counts | None = None) -> bool:
        """Whether this is the first time `key` is seen (None: always); remembers it, and with
        `counts` what was counted of it (for :meth:`growth`)."""
        if key is None:
            return True
        h = self._hash(key)
        # A later line of a recent message is found among the figures first (a dict's look-up;
        # the keys' is slower), and a message whose figures are remembered is never counted
        # again, even once its key is forgotten.
        if h in self._open or h in self._seen:
            self.repeats += 1
            return False
        self._seen.add(h)
        self._fresh += 1
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
        h = self._hash(key)
        counted = self._open.get(h)
        if counted is None:
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
    def has_fresh(self) -> bool:
        """Whether anything was remembered or set since the last `take_fresh`."""
        return bool(self._fresh or self._fresh_open)

    @property
    def fresh(self) -> str:
        """The hashes remembered since the last `take_fresh`, in order, as saved (:func:`packed`)."""
        return packed(self._seen.newest(self._fresh))

    @property
    def fresh_open(self) -> list[list[object]]:
        """The counts set since the last `take_fresh`, as saved: ``[hash, *counts]``."""
        return [[_saved(h), *c] for h, c in self._fresh_open.items()]

    def take_fresh(self) -> None:
        """Forget what was remembered since the last call as fresh (a journal line has it)."""
        self._fresh = 0
        self._fresh_open = {}

    def extend(self, hashes: object) -> None:
        """Remember saved `hashes` (a journal's, replayed in order: :func:`saved_hashes`), not
        as fresh: at load, before any is remembered as fresh (those are the newest)."""
        if self._fresh:
            raise RuntimeError("saved hashes come before fresh ones: take_fresh first")
        for h in saved_hashes(hashes):
            self._remember(h)

    def extend_open(self, entries: Iterable[tuple[int, Counts]]) -> None:
        """Remember saved counts (:func:`saved_open`'s, oldest first), not as fresh."""
        for h, counts in entries:
            self._set_open(h, counts)

    def hashes(self) -> str:
        """Oldest first, as saved (:func:`packed`; the constructor takes them back)."""
        return packed(self._seen.ordered())

    def open_items(self) -> list[list[object]]:
        """The remembered counts, oldest first, as saved (``[hash, *counts]``)."""
        return [[_saved(h), *c] for h, c in self._open.items()]

    def __len__(self) -> int:
        return len(self._seen)
