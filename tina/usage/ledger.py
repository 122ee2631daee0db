"""The usage outbox: what has been read, what has been counted, what Convex has not yet applied.

The state lives in the daemon's state directory: each transcript's mark (device, inode,
offset), the hashed keys of the messages counted (for :class:`Dedupe`), the batches sealed but
not yet acknowledged, the held rows, and the transcript directories learnt from hooks.
``usage.json`` is a snapshot of all of it, replaced whole (:func:`tina.atomic.write_atomic`) and
tagged with a random generation; each seal that changed something and each acknowledgement
appends one line to ``usage.json.log`` (fsynced, except a line that only acknowledges: lost with
the machine, it costs a replay Convex ignores) with what changed since (marks moved or gone, new
keys, new batches, acknowledged ids, the held rows, the learnt directories), tagged with the
snapshot's generation. Loading replays the lines of the snapshot's generation in order (a line
that does not parse, e.g. torn by a crash, is skipped). Past :data:`JOURNAL_MAX` bytes the next
save is a new snapshot, which empties the log: a round costs a small append, not a rewrite of
every key counted. Either way the marks on disk always match the batches on disk:

- a crash before a seal loses nothing: the lines after the saved marks are read again;
- a sealed batch is sent until Convex answers (``applied`` true or false: both mean done),
  always under the same id, so a lost reply makes a replay Convex ignores.

Usage attributed to an orchestration Convex has not given an id yet (its worktree is known, its
first sync not done) is attributed to :func:`held_id` of its worktree and HELD: kept in the file,
summed per bucket, not sealed; each seal asks `resolve` for the worktree's id and seals the rows
whose id is known now, under it. A row held longer than :data:`HOLD_MS` is sealed unattributed
(its phase and agent dropped too) and counted in ``held_expired``.

Batches are numbered: ``usage:<stream>:<seq>``, the ledger's random stream (kept in the
snapshot; a new one only when the state was lost) and 1, 2, 3… (the last one used is saved with
the batches). They are sent in that order, each until answered, so Convex applies a batch only
when its number is above the last one applied: a replay is ignored however late it comes. A
batch is sent only once it is on disk (:meth:`pending`): a number sent is never used again.

A session's own lines read while it leads no team (a lead before it creates its team) are counted
under its orchestration with the phase and agent not known, at once. The ledger remembers what it
sent of them (:class:`_Unteamed`, for :data:`MOVE_WINDOW_MS`, saved with the batches that carry
them, so a restart keeps it); when a later line shows the session leading a team, it sends that
usage again as a move (``moveFrom``) to the team's phase and agent, in batches of its own after
the round's other rows: exactly the sums sent, so the totals do not change and the move never
takes more than was recorded.

The flow: :meth:`UsageLedger.read` each changed transcript, :meth:`seal` (saves), send
:meth:`pending` batches one by one, :meth:`acknowledge` each answered one (saves).
Blocking (file reads and writes): call it from a worker thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs
import msgspec

from tina.atomic import write_atomic
from tina.claude_dirs import MAX_LEARNED

from .aggregate import AGENT, MAX_ROWS, PHASE, Aggregator
from .attribution import Attribution, Attributions, Facts, Source, read_source
from .dedupe import KEEP, Dedupe, counts_of, saved_open
from .prices import PriceTable
from .reader import BUDGET, FileMark, ReadResult, TranscriptReader
from .transcript import MAX_TOKENS

__all__ = [
    "FORMAT_VERSION",
    "HELD_PREFIX",
    "HOLD_MS",
    "Batch",
    "UsageLedger",
    "held_id",
]

FORMAT_VERSION = 1
FILE_NAME = "usage.json"
MAX_PENDING = 10_000
"""Sealed batches kept while Convex cannot be reached (up to 2 million rows); past it, the
oldest are dropped and counted: the laptop's own transcripts stay, the figures are short."""
HELD_PREFIX = "held:"
HOLD_MS = 3_600_000
"""How long usage waits for its orchestration's Convex id before it is sealed unattributed."""
JOURNAL_MAX = 4 << 20
"""Bytes of journal after which the next save writes a snapshot instead."""
MAX_HELD = 10_000
"""Held rows kept at most (one per bucket); past it the oldest are sealed unattributed."""
MOVE_WINDOW_MS = 3_600_000
"""How long the usage a session sent before it led a team can still be moved to that team."""
MAX_SOURCES = 4096
"""Transcripts whose session (`read_source`) is remembered at most; past it they are found again."""
META_AGAIN_MS = 60_000
"""How soon a subagent's ``.meta.json`` that was not there is looked for again."""
MAX_UNTEAMED = 256
"""Sessions followed at once; more are counted as they are, without a later move."""
_ATTRIBUTION = ("orchestrationId", "phaseNumber", "agentName")
_SUMS = ("messages", "input", "output", "cacheWrite", "cacheRead")
_BOUNDED = (*_SUMS, "webSearches", "costMicros")  # each at most MAX_TOKENS on the wire


def _append(path: Path, data: bytes, *, sync: bool = True) -> None:
    """Append `data` to `path` (made 0600), and fsync it unless not `sync`."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def _learned(value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError("learned transcript directories: expected a list of paths")
    return list(dict.fromkeys(value))[:MAX_LEARNED]


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
    searches = int(into.get("webSearches", 0)) + int(row.get("webSearches", 0))
    if searches:  # on the wire only when some were made
        into["webSearches"] = searches
    if "costMicros" in into and "costMicros" in row:
        into["costMicros"] = int(into["costMicros"]) + int(row["costMicros"])
    else:  # one part not priced: the sum is not either (never a partial cost)
        into.pop("costMicros", None)


def _coalesced(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`rows` with those of one bucket (and alike priced or not) summed into one, as long as
    the sums stay within the wire's bound: many sessions followed in one worktree send one row
    a round, not one each (Convex sums them all the same; each row's cost was rounded alone,
    so the sum is what the rows sent one by one would have made)."""
    out: list[dict[str, Any]] = []
    into: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = (*_bucket(row), "costMicros" in row)
        same = into.get(key)
        if same is not None:
            for name in _BOUNDED:
                if int(same.get(name, 0)) + int(row.get(name, 0)) > MAX_TOKENS:
                    break
            else:
                _merge(same, row)
                continue
        into[key] = dict(row)
        out.append(into[key])
    return out


def stream_batch_id(stream: str, seq: int) -> str:
    return f"usage:{stream}:{seq}"


_STREAM = re.compile(r"[0-9a-f]{32}")
_SESSION = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""A session transcript's name (its session id), as Claude Code names them."""


def _encode(data: dict[str, Any]) -> bytes:
    """Compact JSON, written straight to bytes: the standard library's encoder gathers a
    snapshot's thousands of small pieces as objects first (5 MB on the way to a 1.2 MB
    snapshot, memory the process keeps once it has grown), this one writes them to one buffer.
    A path that is not UTF-8 (a lone surrogate, as Python reads such a name) is escaped as JSON
    allows, by the standard library's."""
    try:
        return msgspec.json.encode(data)
    except UnicodeEncodeError:
        return json.dumps(data, separators=(",", ":")).encode()


@attrs.define
class _Unteamed:
    """A session read while it led no team: its lines since the last seal (`fresh`), the sums
    sent of them by (hour, orchestration, model, priced), and the attribution that will take
    them (`move_to`) once a line shows it leading a team."""

    since: int
    fresh: Aggregator = attrs.Factory(Aggregator)
    sent: dict[tuple[int, str, str, bool], dict[str, Any]] = attrs.Factory(dict)
    move_to: Attribution | None = None

    def record(self, row: dict[str, Any]) -> None:
        key = (
            int(row["hour"]),
            str(row["orchestrationId"]),
            str(row["model"]),
            "costMicros" in row,
        )
        into = self.sent.get(key)
        if into is None:
            self.sent[key] = dict(row)
        else:
            _merge(into, row)

    def moves(self) -> list[dict[str, Any]]:
        """The rows that move what was sent to `move_to`'s phase and agent (its orchestration's
        only: what was sent under another stays)."""
        to = self.move_to
        assert to is not None
        phase = to.phase if to.phase is not None and PHASE.fullmatch(to.phase) else None
        agent = to.agent if to.agent is not None and AGENT.fullmatch(to.agent) else None
        if phase is None and agent is None:
            return []
        out = []
        for (_, orchestration, _, _), row in sorted(self.sent.items()):
            if orchestration != to.orchestration_id:
                continue
            move = {k: v for k, v in row.items() if k not in ("phaseNumber", "agentName")}
            if phase is not None:
                move["phaseNumber"] = phase
            if agent is not None:
                move["agentName"] = agent
            move["moveFrom"] = {}
            out.append(move)
        return out

    def saved(self) -> dict[str, Any]:
        """What a restart needs: since when, and what was sent."""
        return {"since": self.since, "sent": list(self.sent.values())}

    @classmethod
    def restored(cls, data: dict[str, Any], fresh: Aggregator) -> _Unteamed:
        out = cls(since=int(data["since"]), fresh=fresh)
        for row in data["sent"]:
            row = dict(row)
            if not isinstance(row.get("orchestrationId"), str) or "moveFrom" in row:
                raise ValueError("a followed session's row without an orchestration")
            out.record(row)
        return out


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
        new_id: Callable[[], str] | None = None,
        cuts: tuple[int, ...] | None = None,
    ) -> None:
        self.path = path
        self.reader = TranscriptReader()
        self.dedupe = Dedupe(keep=keep)
        self._attributions = Attributions()
        self._sources: dict[Path, Source] = {}
        self._unnamed: dict[Path, int] = {}  # subagents' files without a meta file: when looked
        # The prompt sizes the price table's tiers start at (tina's own table's when not given):
        # a bucket keeps its sums apart at them, so that the first seal prices them too.
        self._cuts = cuts
        self.aggregator = self._aggregator()
        self._unteamed: dict[str, _Unteamed] = {}  # by session (see the module)
        self._touched: set[str] = set()  # of those, the ones read since the last seal
        self._unteamed_dirty: set[str] = set()  # those changed (or gone) since the last save
        self._unteamed_swept = 0  # when the ones followed too long were last forgotten
        self.moved = 0  # rows of usage moved to a team's phase and agent
        self._pending: list[Batch] = []
        # Held rows by bucket: (wire row with a held id, held since, ms).
        self._held: dict[tuple[Any, ...], tuple[dict[str, Any], int]] = {}
        self._held_dirty = False
        self.held_expired = 0  # held rows sealed unattributed
        self._clock = clock
        self.stream = uuid.uuid4().hex  # this ledger's batch numbers (see the module)
        self._seq = 0  # the last batch number used
        self._new_id = new_id or self._next_id
        self._keep = keep
        self.counted = 0  # messages counted since start
        self.copied = 0  # records of another session read from its own file (see `read`)
        # Transcripts whose last read stopped at its budget: the rest waits for the next round.
        self.unfinished: set[Path] = set()
        self.dropped_batches = 0
        self.refused = 0  # batches Convex refused (dropped by the sender)
        self.saves = 0  # snapshots and journal lines written
        self.snapshots = 0
        self.journal_skipped = 0  # journal lines that could not be replayed
        self._saved_marks: dict[str, FileMark] | None = None  # as last saved; None: not saved
        self.recovered: str | None = None  # why a state file could not be used, if it could not
        # The snapshot's generation (None: none written yet, the next save is a snapshot), the
        # journal's size, and what changed since the last save besides the marks and keys.
        self._generation: str | None = None
        self._journal_bytes = 0
        self._sealed_new: list[Batch] = []
        self._acked_new: list[str] = []
        self._snapshot_due = False
        # Transcript directories learnt from hooks (`tina.claude_dirs`), kept with the marks of
        # the transcripts read in them.
        self.learned: list[str] = []
        self._learned_dirty = False

    def _aggregator(self) -> Aggregator:
        return Aggregator() if self._cuts is None else Aggregator(cuts=self._cuts)

    def _next_id(self) -> str:
        self._seq += 1
        return stream_batch_id(self.stream, self._seq)

    @property
    def journal_path(self) -> Path:
        return self.path.with_name(self.path.name + ".log")

    # --- state -------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path, **kwargs: Any) -> UsageLedger:
        """The ledger saved at `path`; a missing file is a fresh start. A file that cannot be
        read is set aside (``.bad``) and the ledger starts fresh, saying why in ``recovered``."""
        ledger = cls(path, **kwargs)
        try:
            data = json.loads(path.read_bytes())
            ledger._restore(data)
            ledger._replay()
        except FileNotFoundError:
            pass
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            ledger.recovered = f"{type(exc).__name__}: unreadable usage state"
            ledger.reader = TranscriptReader()
            ledger.dedupe = Dedupe(keep=ledger._keep)
            ledger._pending = []
            ledger._held = {}
            ledger._unteamed = {}
            ledger._generation = None
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
        self.dedupe = Dedupe(data["seen"], keep=self._keep)
        self.dedupe.extend_open(saved_open(data.get("open", ())))  # absent: an older file
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
        generation = data.get("generation")
        self._generation = generation if isinstance(generation, str) and generation else None
        self._unteamed = {
            str(session): _Unteamed.restored(entry, self._aggregator())
            for session, entry in data.get("unteamed", {}).items()
        }
        self.learned = _learned(data.get("learned", ()))
        stream = data.get("stream")
        if isinstance(stream, str) and _STREAM.fullmatch(stream):
            self.stream, self._seq = stream, int(data.get("seq", 0))
        else:  # a file from before streams: the fresh stream goes into the next snapshot
            self._snapshot_due = True

    def _replay(self) -> None:
        """Apply the journal lines of the snapshot's generation, in order."""
        if self._generation is None:
            return
        try:
            data = self.journal_path.read_bytes()
        except FileNotFoundError:
            return
        for raw in data.splitlines():
            try:
                line = json.loads(raw)
                if not isinstance(line, dict) or line.get("g") != self._generation:
                    continue
                self._apply(line)
            except (ValueError, TypeError, KeyError, AttributeError):
                self.journal_skipped += 1
        self._saved_marks = dict(self.reader.marks)
        self.reader.touched.clear()
        self._journal_bytes = len(data)

    def _apply(self, line: dict[str, Any]) -> None:
        marks = {
            str(p): FileMark(dev=int(dev), inode=int(inode), offset=int(offset))
            for p, dev, inode, offset in line.get("marks", ())
        }
        gone = [str(p) for p in line.get("gone", ())]
        seen = line.get("seen", ())  # as saved: read tolerantly by `extend`
        opened = saved_open(line.get("open", ()))
        sealed = [
            Batch(id=str(b["id"]), rows=tuple(dict(r) for r in b["rows"]))
            for b in line.get("sealed", ())
        ]
        acked = {str(i) for i in line.get("acked", ())}
        seq = int(line.get("seq", 0))
        unteamed = {
            str(session): None if entry is None else _Unteamed.restored(entry, self._aggregator())
            for session, entry in line.get("unteamed", {}).items()
        }
        learned = _learned(line["learned"]) if "learned" in line else None
        held = None
        if "held" in line:
            held = {}
            for h in line["held"]:
                row = dict(h["row"])
                if not str(row["orchestrationId"]).startswith(HELD_PREFIX):
                    raise ValueError("a held row without a held id")
                held[_bucket(row)] = (row, int(h["since"]))
        # checked whole, then applied: a bad line changes nothing
        self.reader.marks.update(marks)
        for p in gone:
            self.reader.marks.pop(p, None)
        self.dedupe.extend(seen)
        self.dedupe.extend_open(opened)
        self._seq = max(self._seq, seq)
        for session, follow in unteamed.items():
            if follow is None:
                self._unteamed.pop(session, None)
            else:
                self._unteamed[session] = follow
        known = {b.id for b in self._pending}
        self._pending.extend(b for b in sealed if b.id not in known)
        if acked:
            self._pending = [b for b in self._pending if b.id not in acked]
        if held is not None:
            self._held = held
        if learned is not None:
            self.learned = learned

    def save(self) -> None:
        """Write a snapshot of everything (a new generation) and empty the journal."""
        generation = uuid.uuid4().hex
        data = {
            "version": FORMAT_VERSION,
            "generation": generation,
            "stream": self.stream,
            "seq": self._seq,
            "marks": [
                {"path": p, "dev": m.dev, "inode": m.inode, "offset": m.offset}
                for p, m in sorted(self.reader.marks.items())
            ],
            "seen": self.dedupe.hashes(),
            "open": self.dedupe.open_items(),
            "pending": [{"id": b.id, "rows": list(b.rows)} for b in self._pending],
            "held": [{"row": row, "since": since} for row, since in self._held.values()],
            "unteamed": {s: f.saved() for s, f in sorted(self._unteamed.items()) if f.sent},
            "learned": list(self.learned),
        }
        write_atomic(self.path, _encode(data), mode=0o600)
        with contextlib.suppress(FileNotFoundError):  # its lines are of an older generation
            self.journal_path.unlink()
        self._generation = generation
        self._journal_bytes = 0
        self._saved_marks = dict(self.reader.marks)
        self.reader.touched.clear()
        self.dedupe.take_fresh()
        self._sealed_new.clear()
        self._acked_new.clear()
        self._held_dirty = False
        self._unteamed_dirty.clear()
        self._learned_dirty = False
        self._snapshot_due = False
        self.saves += 1
        self.snapshots += 1

    def _moved_marks(self) -> tuple[dict[str, FileMark], list[str]]:
        """The marks set since the last save that differ from the saved ones, and the saved
        ones dropped since (of the paths the reader touched: not every transcript ever read)."""
        saved = self._saved_marks or {}
        marks = self.reader.marks
        moved: dict[str, FileMark] = {}
        gone: list[str] = []
        for p in self.reader.touched:
            m = marks.get(p)
            if m is None:
                if p in saved:
                    gone.append(p)
            elif (old := saved.get(p)) is not m and old != m:
                moved[p] = m
        return moved, sorted(gone)

    def _commit(self, *, reading: bool = True) -> None:
        """Save what changed since the last save: one journal line, or a snapshot when none
        was written yet, the journal is long, or batches were dropped. Nothing when nothing
        changed. Without `reading` (an acknowledgement) the marks and keys read since the last
        seal are left for the seal that counts them."""
        moved, gone = self._moved_marks() if reading else ({}, [])
        if not (
            moved
            or gone
            or (reading and self.dedupe.has_fresh)
            or self._sealed_new
            or self._acked_new
            or self._held_dirty
            or self._unteamed_dirty
            or self._learned_dirty
        ):
            return
        if reading and (
            self._generation is None or self._snapshot_due or self._journal_bytes > JOURNAL_MAX
        ):
            self.save()
            return
        if self._generation is None:  # nothing saved yet: the seal's snapshot will say it
            return
        fresh = self.dedupe.fresh if reading else ""
        opened = self.dedupe.fresh_open if reading else []
        line: dict[str, Any] = {"g": self._generation}
        if moved:
            line["marks"] = [[p, m.dev, m.inode, m.offset] for p, m in sorted(moved.items())]
        if gone:
            line["gone"] = gone
        if fresh:
            line["seen"] = fresh
        if opened:
            line["open"] = opened
        if self._sealed_new:
            line["sealed"] = [{"id": b.id, "rows": list(b.rows)} for b in self._sealed_new]
            line["seq"] = self._seq
        if self._acked_new:
            line["acked"] = list(self._acked_new)
        if self._held_dirty:
            line["held"] = [{"row": row, "since": since} for row, since in self._held.values()]
        if self._unteamed_dirty:  # each changed session whole, or null: gone
            line["unteamed"] = {
                s: f.saved() if (f := self._unteamed.get(s)) is not None else None
                for s in sorted(self._unteamed_dirty)
            }
        if self._learned_dirty:
            line["learned"] = list(self.learned)
        data = _encode(line) + b"\n"
        # A line that only acknowledges is not synced: lost with the machine, it makes a
        # replay Convex ignores; a line with marks or batches is (it is what keeps a count
        # from being made twice).
        _append(self.journal_path, data, sync=reading)
        # written: only now is it the saved state (a failed write is in the next line)
        self._journal_bytes += len(data)
        if self._saved_marks is None:
            self._saved_marks = {}
        self._saved_marks.update(moved)
        for p in gone:
            self._saved_marks.pop(p, None)
        if reading:
            self.reader.touched.clear()
            self.dedupe.take_fresh()
        self._sealed_new.clear()
        self._acked_new.clear()
        self._held_dirty = False
        self._unteamed_dirty.clear()
        self._learned_dirty = False
        self.saves += 1

    # --- reading -----------------------------------------------------------------------------

    def read(self, path: Path, facts: Facts, *, budget: int = BUDGET) -> ReadResult:
        """Count the new complete lines of `path` (each message once), attributed with
        `facts`. Nothing is saved until :meth:`seal`."""
        result = self.reader.read(path, budget=budget)
        if result.more:
            self.unfinished.add(path)
        else:
            self.unfinished.discard(path)
        if not result.records:
            return result
        now = self._clock()
        source = self._sources.get(path)
        looked = self._unnamed.get(path)
        if source is None or (looked is not None and now - looked >= META_AGAIN_MS):
            # What its path names, found once (a round reads the same files); a subagent's
            # meta file not written yet is looked for again a while later.
            if len(self._sources) >= MAX_SOURCES:
                self._sources.clear()
                self._unnamed.clear()
            source, final = read_source(path)
            self._sources[path] = source
            if final:
                self._unnamed.pop(path, None)
            else:
                self._unnamed[path] = now
        # A session's file whose records name another session, whose file here was read: a
        # resumed (or forked) session's copy of the history it continues, counted from there.
        # Not a subagent's file (its records name its session), nor a file not named by its id.
        own = source.session_id if source.subagent is None else None
        copies = own is not None and _SESSION.fullmatch(own) is not None
        for record in result.records:
            other = record.session_id
            if (
                copies
                and other is not None
                and other != own
                and _SESSION.fullmatch(other)
                and str(path.parent / f"{other}.jsonl") in self.reader.marks
            ):
                self.copied += 1
                continue
            counts = counts_of(record)
            more = None
            if not self.dedupe.first(record.key, counts):
                # a later line of a message counted already: what it says more, if anything
                more = self.dedupe.growth(record.key, counts)
                if more is None:
                    continue
            else:
                self.counted += 1
            attribution = self._attributions.of(record, source, facts)
            into = self._follow(source, attribution, now)
            (self.aggregator if into is None else into).add(
                record, attribution, now_ms=now, more=more
            )
        return result

    def _follow(self, source: Source, attribution: Attribution, now: int) -> Aggregator | None:
        """Where a session's own line leading no team is summed (None: with the rest); a line
        showing a followed session leading a team marks its usage to move."""
        session = source.session_id
        orchestration = attribution.orchestration_id
        if source.subagent is not None or session is None or orchestration is None:
            return None
        if orchestration.startswith(HELD_PREFIX):
            return None  # its rows wait for the id; a move could come before them
        follow = self._unteamed.get(session)
        if attribution.phase is None and attribution.agent is None:
            if follow is None:
                if len(self._unteamed) >= MAX_UNTEAMED:
                    return None
                follow = _Unteamed(since=now, fresh=self._aggregator())
                self._unteamed[session] = follow
            elif follow.move_to is not None:
                return None  # it led a team a moment ago: not again within this round
            self._touched.add(session)
            return follow.fresh
        if follow is not None and follow.move_to is None:
            follow.move_to = attribution
            self._touched.add(session)
        return None

    def _unteamed_rows(
        self, prices: PriceTable, now: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The followed sessions' new rows (sent as they are, and remembered), and the moves of
        those whose team is known now (then forgotten, as are those followed too long)."""
        rows: list[dict[str, Any]] = []
        moves: list[dict[str, Any]] = []
        for session in sorted(self._touched):  # only those read since the last seal
            follow = self._unteamed[session]
            for row in follow.fresh.take(prices):
                wire = row.to_wire()
                rows.append(wire)
                follow.record(wire)
            self._unteamed_dirty.add(session)
            if follow.move_to is not None:
                found = follow.moves()
                moves.extend(found)
                self.moved += len(found)
                del self._unteamed[session]
        self._touched.clear()
        if now - self._unteamed_swept >= MOVE_WINDOW_MS // 60:  # a minute
            self._unteamed_swept = now
            for session, follow in list(self._unteamed.items()):
                if now - follow.since >= MOVE_WINDOW_MS:
                    del self._unteamed[session]
                    self._unteamed_dirty.add(session)
        return rows, moves

    def forget_missing(self, present: Iterable[str]) -> list[str]:
        return self.reader.forget_missing(present)

    def learn(self, root: str) -> bool:
        """Keep `root` among the learnt transcript directories (saved with the next seal);
        False when it is known already or :data:`tina.claude_dirs.MAX_LEARNED` are kept."""
        if root in self.learned or len(self.learned) >= MAX_LEARNED:
            return False
        self.learned.append(root)
        self._learned_dirty = True
        return True

    def unlearn(self, root: str) -> None:
        """Forget a learnt directory (gone, or no longer acceptable)."""
        if root in self.learned:
            self.learned.remove(root)
            self._learned_dirty = True

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
        unteamed, moves = self._unteamed_rows(prices, now)
        rows = self._release(
            _coalesced([row.to_wire() for row in self.aggregator.take(prices)] + unteamed),
            resolve,
            now,
            hold_ms,
        )
        # The moves after the rows they move (batches go in order), in batches of their own.
        batches = [
            Batch(id=self._new_id(), rows=tuple(part[i : i + MAX_ROWS]))
            for part in (rows, moves)
            for i in range(0, len(part), MAX_ROWS)
        ]
        self._pending.extend(batches)
        self._sealed_new.extend(batches)
        if len(self._pending) > MAX_PENDING:
            self.dropped_batches += len(self._pending) - MAX_PENDING
            del self._pending[: len(self._pending) - MAX_PENDING]
            self._snapshot_due = True  # the journal says nothing of dropped batches
        self._commit()
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

    def held_worktrees(self) -> set[str]:
        """The worktrees whose orchestration's id the held rows wait for."""
        return {str(row["orchestrationId"])[len(HELD_PREFIX) :] for row, _ in self._held.values()}

    def pending(self) -> list[Batch]:
        """Sealed batches Convex has not answered, oldest first: those on disk (a seal whose
        save failed sends nothing until a later save writes its batches)."""
        if not self._sealed_new:
            return list(self._pending)
        unsaved = {b.id for b in self._sealed_new}
        return [b for b in self._pending if b.id not in unsaved]

    def acknowledge(self, batch_id: str, *, save: bool = True) -> None:
        """Convex answered for this batch (applied now or before): drop it, and save; without
        `save` the answer is saved with the next seal or :meth:`save_acknowledged` (lost with
        the process, it costs a replay Convex ignores)."""
        before = len(self._pending)
        self._pending = [b for b in self._pending if b.id != batch_id]
        if len(self._pending) != before:
            self._acked_new.append(batch_id)
            if save:
                self._commit(reading=False)

    def unsaved_acknowledgements(self) -> int:
        return len(self._acked_new)

    def save_acknowledged(self) -> None:
        """Save the answers acknowledged without saving (nothing else)."""
        self._commit(reading=False)
