"""The usage outbox: what has been read, what has been counted, what Convex has not yet applied.

One JSON file in the daemon's state directory (``usage.json``) holds, together, each
transcript's mark (device, inode, offset), the hashed keys of the messages counted (for
:class:`Dedupe`), and the batches sealed but not yet acknowledged. It is replaced whole
(:func:`tina.atomic.write_atomic`) when a batch is sealed and when one is acknowledged, so the
marks on disk always match the batches on disk:

- a crash before a seal loses nothing: the lines after the saved marks are read again;
- a sealed batch is sent until Convex answers (``applied`` true or false: both mean done),
  always under the same id, so a lost reply makes a replay Convex ignores.

Usage attributed to an orchestration Convex has not given an id yet (its worktree is known, its
first sync not done) is attributed to :func:`held_id` of its worktree and HELD: kept in the file,
summed per bucket, not sealed; each seal asks `resolve` for the worktree's id and seals the rows
whose id is known now, under it. A row held longer than :data:`HOLD_MS` is sealed unattributed
(its phase and agent dropped too) and counted in ``held_expired``.

The flow: :meth:`UsageLedger.read` each changed transcript, :meth:`seal` (saves), send
:meth:`pending` batches one by one, :meth:`acknowledge` each answered one (saves).
Blocking (file reads and writes): call it from a worker thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs

from tina.atomic import write_atomic

from .aggregate import MAX_ROWS, Aggregator
from .attribution import Facts, attribute, source_of
from .dedupe import KEEP, Dedupe
from .prices import PriceTable
from .reader import BUDGET, FileMark, ReadResult, TranscriptReader

__all__ = [
    "FORMAT_VERSION",
    "HELD_PREFIX",
    "HOLD_MS",
    "Batch",
    "UsageLedger",
    "held_id",
    "new_batch_id",
]

FORMAT_VERSION = 1
FILE_NAME = "usage.json"
MAX_PENDING = 10_000
"""Sealed batches kept while Convex cannot be reached (up to 2 million rows); past it, the
oldest are dropped and counted: the laptop's own transcripts stay, the figures are short."""
HELD_PREFIX = "held:"
HOLD_MS = 3_600_000
"""How long usage waits for its orchestration's Convex id before it is sealed unattributed."""
MAX_HELD = 10_000
"""Held rows kept at most (one per bucket); past it the oldest are sealed unattributed."""
_ATTRIBUTION = ("orchestrationId", "phaseNumber", "agentName")
_SUMS = ("messages", "input", "output", "cacheWrite", "cacheRead")


def held_id(worktree: str) -> str:
    """The stand-in orchestration id of a worktree whose orchestration has no Convex id yet."""
    return HELD_PREFIX + worktree


def _bucket(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        row.get(k) for k in ("hour", "orchestrationId", "phaseNumber", "agentName", "model")
    )


def _merge(into: dict[str, Any], row: dict[str, Any]) -> None:
    for name in _SUMS:
        into[name] = int(into[name]) + int(row[name])
    if "costMicros" in into and "costMicros" in row:
        into["costMicros"] = int(into["costMicros"]) + int(row["costMicros"])
    else:  # one part not priced: the sum is not either (never a partial cost)
        into.pop("costMicros", None)


def new_batch_id() -> str:
    return f"usage:{uuid.uuid4().hex}"


@attrs.frozen(kw_only=True)
class Batch:
    id: str
    rows: tuple[dict[str, Any], ...]  # wire rows (UsageRow.to_wire)

    def args(self) -> dict[str, Any]:
        """The arguments of ``usage:recordUsage``."""
        return {"batch": self.id, "rows": list(self.rows)}


def _now_ms() -> int:
    return int(time.time() * 1000)


class UsageLedger:
    def __init__(
        self,
        path: Path,
        *,
        keep: int = KEEP,
        clock: Callable[[], int] = _now_ms,
        new_id: Callable[[], str] = new_batch_id,
    ) -> None:
        self.path = path
        self.reader = TranscriptReader()
        self.dedupe = Dedupe(keep=keep)
        self.aggregator = Aggregator()
        self._pending: list[Batch] = []
        # Held rows by bucket: (wire row with a held id, held since, ms).
        self._held: dict[tuple[Any, ...], tuple[dict[str, Any], int]] = {}
        self._held_dirty = False
        self.held_expired = 0  # held rows sealed unattributed
        self._clock = clock
        self._new_id = new_id
        self._keep = keep
        self.counted = 0  # messages counted since start
        self.dropped_batches = 0
        self.refused = 0  # batches Convex refused (dropped by the sender)
        self.saves = 0
        self._saved_marks: dict[str, FileMark] | None = None  # as last saved; None: not saved
        self.recovered: str | None = None  # why a state file could not be used, if it could not

    # --- state -------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path, **kwargs: Any) -> UsageLedger:
        """The ledger saved at `path`; a missing file is a fresh start. A file that cannot be
        read is set aside (``.bad``) and the ledger starts fresh, saying why in ``recovered``."""
        ledger = cls(path, **kwargs)
        try:
            data = json.loads(path.read_bytes())
            ledger._restore(data)
        except FileNotFoundError:
            pass
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            ledger.recovered = f"{type(exc).__name__}: unreadable usage state"
            ledger.reader = TranscriptReader()
            ledger.dedupe = Dedupe(keep=ledger._keep)
            ledger._pending = []
            ledger._held = {}
            with contextlib.suppress(OSError):
                os.replace(path, path.with_name(path.name + ".bad"))
        return ledger

    def _restore(self, data: Any) -> None:
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            raise ValueError("unknown usage state version")
        marks = {}
        for m in data["marks"]:
            marks[str(m["path"])] = FileMark(
                dev=int(m["dev"]), inode=int(m["inode"]), offset=int(m["offset"])
            )
        self.reader = TranscriptReader(marks=marks)
        self._saved_marks = dict(marks)
        self.dedupe = Dedupe((str(h) for h in data["seen"]), keep=self._keep)
        self._pending = [
            Batch(id=str(b["id"]), rows=tuple(dict(r) for r in b["rows"])) for b in data["pending"]
        ]
        held = {}
        for h in data.get("held", ()):
            row = dict(h["row"])
            if not str(row["orchestrationId"]).startswith(HELD_PREFIX):
                raise ValueError("a held row without a held id")
            held[_bucket(row)] = (row, int(h["since"]))
        self._held = held

    def save(self) -> None:
        data = {
            "version": FORMAT_VERSION,
            "marks": [
                {"path": p, "dev": m.dev, "inode": m.inode, "offset": m.offset}
                for p, m in sorted(self.reader.marks.items())
            ],
            "seen": self.dedupe.hashes(),
            "pending": [{"id": b.id, "rows": list(b.rows)} for b in self._pending],
            "held": [{"row": row, "since": since} for row, since in self._held.values()],
        }
        write_atomic(self.path, json.dumps(data, separators=(",", ":")).encode(), mode=0o600)
        self._saved_marks = dict(self.reader.marks)
        self._held_dirty = False
        self.saves += 1

    # --- reading -----------------------------------------------------------------------------

    def read(self, path: Path, facts: Facts, *, budget: int = BUDGET) -> ReadResult:
        """Count the new complete lines of `path` (each message once), attributed with
        `facts`. Nothing is saved until :meth:`seal`."""
        result = self.reader.read(path, budget=budget)
        source = source_of(path)
        now = self._clock()
        for record in result.records:
            if self.dedupe.first(record.key):
                self.counted += 1
                self.aggregator.add(record, attribute(record, source, facts), now_ms=now)
        return result

    def forget_missing(self, present: Iterable[str]) -> list[str]:
        return self.reader.forget_missing(present)

    # --- batches -----------------------------------------------------------------------------

    def seal(
        self,
        prices: PriceTable,
        resolve: Callable[[str], str | None] | None = None,
        *,
        hold_ms: int = HOLD_MS,
    ) -> list[Batch]:
        """Turn everything counted since the last seal into batches of at most 200 rows, and
        save (marks, held rows and batches together). Rows of a held orchestration stay held
        until `resolve(worktree)` gives its Convex id (or `hold_ms` passed: unattributed). The
        new batches; none when nothing was counted (the marks are saved all the same when they
        moved; nothing is written when nothing did)."""
        now = self._clock()
        rows = self._release(
            [row.to_wire() for row in self.aggregator.take(prices)], resolve, now, hold_ms
        )
        batches = [
            Batch(id=self._new_id(), rows=tuple(rows[i : i + MAX_ROWS]))
            for i in range(0, len(rows), MAX_ROWS)
        ]
        self._pending.extend(batches)
        if len(self._pending) > MAX_PENDING:
            self.dropped_batches += len(self._pending) - MAX_PENDING
            del self._pending[: len(self._pending) - MAX_PENDING]
        if batches or self._held_dirty or self._saved_marks != self.reader.marks:
            self.save()
        return batches

    def _release(
        self,
        fresh: list[dict[str, Any]],
        resolve: Callable[[str], str | None] | None,
        now: int,
        hold_ms: int,
    ) -> list[dict[str, Any]]:
        """The rows to seal: `fresh` ones not held, and held ones whose id is known now or
        whose time is up; the rest are (kept) held."""
        out: list[dict[str, Any]] = []
        for row in fresh:
            if str(row.get("orchestrationId", "")).startswith(HELD_PREFIX):
                key = _bucket(row)
                if key in self._held:
                    _merge(self._held[key][0], row)
                else:
                    self._held[key] = (row, now)
                self._held_dirty = True
            else:
                out.append(row)
        if len(self._held) > MAX_HELD:  # the oldest past the bound: their time is up
            by_age = sorted(self._held, key=lambda k: self._held[k][1])
            for key in by_age[: len(self._held) - MAX_HELD]:
                self._held[key] = (self._held[key][0], now - hold_ms)
        released: list[dict[str, Any]] = []
        by_key: dict[tuple[Any, ...], dict[str, Any]] = {}
        for key, (row, since) in list(self._held.items()):
            worktree = str(row["orchestrationId"])[len(HELD_PREFIX) :]
            known = resolve(worktree) if resolve is not None else None
            if known is not None:
                row = {**row, "orchestrationId": known}
            elif now - since >= hold_ms:
                row = {k: v for k, v in row.items() if k not in _ATTRIBUTION}
                self.held_expired += 1
            else:
                continue
            del self._held[key]
            self._held_dirty = True
            merged = by_key.get(_bucket(row))
            if merged is None:
                by_key[_bucket(row)] = row
                released.append(row)
            else:
                _merge(merged, row)
        return released + out

    def held(self) -> int:
        """Rows held for an orchestration id not known yet."""
        return len(self._held)

    def pending(self) -> list[Batch]:
        """Sealed batches Convex has not answered, oldest first."""
        return list(self._pending)

    def acknowledge(self, batch_id: str) -> None:
        """Convex answered for this batch (applied now or before): drop it, and save."""
        before = len(self._pending)
        self._pending = [b for b in self._pending if b.id != batch_id]
        if len(self._pending) != before:
            self.save()
