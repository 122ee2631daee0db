"""The durable outbox: team observations Convex has not acknowledged yet survive a crash.

An append-only JSON-lines file in the daemon's state directory (mode 0600). Every team snapshot
the daemon reads (and every team removal) is appended before it is sent; an `ack` line is
appended when Convex confirmed it. A daemon that starts again replays what was never
acknowledged, in order, so task transitions seen while offline still reach Convex once (the
server skips states it already applied, by sequence number).

The format is the outbox's own, not Convex's: every line is a version 2 record (`"v": 2`) whose
snapshots have the daemon's snake_case field names (this module's converter). Lines without a
`v` were written by the first version (the same records with Convex's camelCase names) and are
still read, so an outbox left by an older daemon is replayed after an upgrade:

    {"v":2,"t":"team","seq":1.0,"team":{"dir_name":"t","team_name":"t"},"members":[],
     "tasks":[{"task_id":"1","subject":"s","description":"","status":"pending"}],
     "history":[{"seq":0.5,"task":{...}}]}
    {"v":2,"t":"rm","seq":2.0,"dir":"t"}
    {"v":2,"t":"ack","seq":2.0,"dir":"t"}

Fields that hold their default (None, an empty list) are left out; `history` is left out when
empty.

Writes never run on the event loop. `Outbox.append` queues a record and returns at once; the
outbox's writer task (`Outbox.run`) writes queued records in order in a worker thread of the
daemon's disk limiter, one `write` per line on an `O_APPEND` descriptor, so a SIGKILL leaves
at worst a torn last line (ignored on load) and loses nothing already written. `fsync` runs
after the write, at most every 100 ms; a record counts as written (and may be sent) once the
kernel has it, without waiting for the disk: a crash of the daemon cannot take it, a power loss
can take the last 100 ms. Compaction (once everything is acknowledged, or the file
grows large: rewrite it with only what is still pending, via temp file, fsync, rename) is queued
like a record, so appends and the rewrite never race: an append queued before it lands in the
old file and is superseded by the rewrite, one queued after it lands in the new file.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import attrs
import cattrs
import structlog
import trio
from cattrs.gen import make_dict_structure_fn, override

from tina.daemon.sync.coalescer import TeamItem, TeamRemoval
from tina.messages import MemberSnapshot, TaskSnapshot, TeamSnapshot

log = structlog.get_logger("tina.outbox")

VERSION: Final = 2
COMPACT_BYTES = 8 * 1024 * 1024
FSYNC_INTERVAL = 0.1
"""At most one fsync per this many seconds: what a power loss could take."""
DRAIN_TIMEOUT = 1.0
"""How long a stopping writer may take to write what is still queued."""


@attrs.frozen(kw_only=True)
class Ack:
    """Convex acknowledged the team's observations up to `seq`."""

    dir_name: str
    seq: float


Record = TeamItem | TeamRemoval | Ack
"""What the outbox holds: team observations, team removals and acknowledgements."""


# --- the format ----------------------------------------------------------------------------------

_conv = cattrs.Converter(omit_if_default=True, forbid_extra_keys=False, detailed_validation=True)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _v1_converter() -> cattrs.Converter:
    """How version 1 wrote snapshots (the Convex wire names of the time: the same fields in
    camelCase). Frozen here, so a change of Convex's schema cannot break reading an old file."""
    converter = cattrs.Converter(forbid_extra_keys=False, detailed_validation=True)

    def structure_factory(cl: type[Any]) -> Any:
        attrs.resolve_types(cl)
        renames: dict[str, Any] = {
            f.name: override(rename=_camel(f.name)) for f in attrs.fields(cl)
        }
        return make_dict_structure_fn(cl, converter, **renames)

    converter.register_structure_hook_factory(attrs.has, structure_factory)
    return converter


_v1_conv = _v1_converter()


def _team_line(item: TeamItem) -> dict[str, Any]:
    """The one serializer of a team record (appends and compaction both write it)."""
    line: dict[str, Any] = {
        "v": VERSION,
        "t": "team",
        "seq": item.seq,
        "team": _conv.unstructure(item.team),
        "members": _conv.unstructure(item.members, list[MemberSnapshot]),
        "tasks": _conv.unstructure(item.tasks, list[TaskSnapshot]),
    }
    if item.history:
        line["history"] = [
            {"seq": seq, "task": _conv.unstructure(task)} for seq, task in item.history
        ]
    return line


def encode(record: Record) -> list[bytes]:
    """The lines of a record. A removal that carries the team's last observation (in a
    compaction) is that observation's line, then the removal's."""
    if isinstance(record, TeamItem):
        lines = [_team_line(record)]
    elif isinstance(record, TeamRemoval):
        lines = [] if record.last is None else [_team_line(record.last)]
        lines.append({"v": VERSION, "t": "rm", "seq": record.seq, "dir": record.dir_name})
    else:
        lines = [{"v": VERSION, "t": "ack", "seq": record.seq, "dir": record.dir_name}]
    return [(json.dumps(line, separators=(",", ":")) + "\n").encode() for line in lines]


def decode(line: Any) -> Record | None:
    """The record a parsed line holds; None for anything that is not a well-formed record of
    this file (of either version)."""
    if not isinstance(line, dict):
        return None
    try:
        if "v" not in line:
            return _decode(line, _v1_conv, v1=True)
        if type(line["v"]) is int and line["v"] == VERSION:
            return _decode(line, _conv, v1=False)
    except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError):
        return None
    except cattrs.BaseValidationError:
        return None
    return None


def _decode(line: dict[str, Any], conv: cattrs.Converter, *, v1: bool) -> Record | None:
    seq = _seq(line.get("seq"))
    kind = line.get("t")
    if kind == "team":
        team = conv.structure(line["team"], TeamSnapshot)
        history = tuple(
            (_seq(h["seq"]), conv.structure(h["task"], TaskSnapshot))
            for h in line.get("history") or []
        )
        return TeamItem(
            dir_name=team.dir_name,
            team=team,
            members=conv.structure(line["members"], list[MemberSnapshot]),
            tasks=conv.structure(line["tasks"], list[TaskSnapshot]),
            seq=seq,
            history=history,
        )
    if kind == "rm" and isinstance(line.get("dir"), str) and line["dir"]:
        return TeamRemoval(dir_name=line["dir"], seq=seq)
    if kind == "ack":
        if not v1 and isinstance(line.get("dir"), str):
            return Ack(dir_name=line["dir"], seq=seq)
        key = line.get("key")  # version 1: "team:<directory name>"
        if v1 and isinstance(key, str) and key.startswith("team:"):
            return Ack(dir_name=key.removeprefix("team:"), seq=seq)
    return None


def _seq(value: Any) -> float:
    """A sequence number as written: a finite, non-negative number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"sequence number: expected a number, got {type(value).__name__}")
    number = float(value)  # OverflowError is an ArithmeticError: callers catch it too
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"sequence number: expected a finite number >= 0, got {number}")
    return number


# --- the file (blocking: the writer's thread, or start-up) ---------------------------------------


class OutboxFile:
    """The outbox's file. Its methods block; one caller at a time (the outbox's writer)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self.dirty = False  # written since the last fsync
        self.size = 0  # bytes in the file, as of the last load, open or write
        # Per team directory, the last acknowledged seq the last `load` read.
        self.acked: dict[str, float] = {}

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self.size = os.fstat(self._fd).st_size
        return self._fd

    def append(self, record: Record) -> None:
        """Append a record: one `write` per line."""
        fd = self._open()
        for line in encode(record):
            os.write(fd, line)
            self.size += len(line)
            self.dirty = True

    def sync(self) -> None:
        """fsync what was written since the last call."""
        if self.dirty and self._fd is not None:
            os.fsync(self._fd)
            self.dirty = False

    def compact(
        self, pending: Iterable[TeamItem | TeamRemoval], acked: Mapping[str, float] | None = None
    ) -> None:
        """Rewrite the file with only `pending` (what is still unsent) and, for their teams,
        the last acknowledged seq from `acked` (what Convex already has), atomically."""
        tmp = self.path.with_suffix(".tmp")
        size = 0
        records: list[Record] = list(pending)
        teams = {r.dir_name for r in records}
        records += [Ack(dir_name=d, seq=seq) for d, seq in (acked or {}).items() if d in teams]
        with open(tmp, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            for record in records:
                for line in encode(record):
                    f.write(line)
                    size += len(line)
            f.flush()
            os.fsync(f.fileno())
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        os.replace(tmp, self.path)
        self.size = size
        self.dirty = False

    def close(self) -> None:
        if self._fd is not None:
            self.sync()
            os.close(self._fd)
            self._fd = None

    def load(self) -> list[TeamItem | TeamRemoval]:
        """Unacknowledged team observations and removals, in the order they were written.

        Never raises on content: a line that is not a well-formed record (cut by a crash,
        damaged on disk, written by something else) is skipped and counted in a warning, so a
        bad outbox can never keep the daemon from starting.
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        self.size = len(data)
        records: list[TeamItem | TeamRemoval] = []
        acked: dict[str, float] = {}
        torn = malformed = 0
        for raw in data.split(b"\n"):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except (ValueError, UnicodeDecodeError, RecursionError):
                torn += 1  # a line cut by a crash: it was never acknowledged, so never lost
                continue
            record = decode(line)
            if record is None:
                malformed += 1
            elif isinstance(record, Ack):
                acked[record.dir_name] = max(acked.get(record.dir_name, 0.0), record.seq)
            else:
                records.append(record)
        if torn:
            log.warning("outbox.torn_lines", path=str(self.path), lines=torn)
        if malformed:
            log.warning("outbox.malformed_lines", path=str(self.path), lines=malformed)
        self.acked = acked
        return [r for r in records if r.seq > acked.get(r.dir_name, -1.0)]


# --- the outbox: an ordered writer off the event loop --------------------------------------------


@attrs.frozen
class _Compaction:
    pending: tuple[TeamItem | TeamRemoval, ...]
    acked: Mapping[str, float] = attrs.field(factory=dict)


class Outbox:
    """The durable outbox. `append` and `compact` queue (they never block); `run`, the writer
    task, applies the queue in order in a thread of `disk`; `written` waits until what was
    queued is in the file."""

    def __init__(self, path: Path, *, disk: trio.CapacityLimiter) -> None:
        self.file = OutboxFile(path)
        self._disk = disk
        self._queue: list[Record | _Compaction] = []
        self._queued = 0  # entries ever queued
        self._done = 0  # entries ever applied
        self._compaction_queued = False
        self._wake = trio.Event()  # set when something is queued
        self._progress = trio.Event()  # set (and replaced) when entries were applied
        self._sync_at = -math.inf  # trio time of the next fsync

    @property
    def path(self) -> Path:
        return self.file.path

    @property
    def size(self) -> int:
        """Bytes in the file, as of the last write."""
        return self.file.size

    @property
    def queued(self) -> int:
        """A mark: once `written(mark)` returns, everything queued so far is in the file."""
        return self._queued

    def load(self) -> list[TeamItem | TeamRemoval]:
        """What a previous run left unacknowledged (read once, at start, before `run`)."""
        return self.file.load()

    @property
    def acked(self) -> dict[str, float]:
        """Per team directory, the last seq Convex acknowledged (as of `load`)."""
        return self.file.acked

    def append(self, record: Record) -> None:
        self._queue.append(record)
        self._queued += 1
        self._wake.set()

    def compact(
        self, pending: Iterable[TeamItem | TeamRemoval], acked: Mapping[str, float] | None = None
    ) -> None:
        """Queue a rewrite of the file with `pending` (what is unsent now) and the last
        acknowledged seq of their teams. Skipped while an earlier rewrite is still queued: the
        next call has fresher contents anyway."""
        if self._compaction_queued:
            return
        self._compaction_queued = True
        self._queue.append(_Compaction(tuple(pending), dict(acked or {})))
        self._queued += 1
        self._wake.set()

    async def written(self, mark: int) -> None:
        """Wait until every entry queued before `mark` was taken is in the file."""
        while self._done < mark:
            await self._progress.wait()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The writer. When cancelled it still writes (and fsyncs) what is queued, for at most
        `DRAIN_TIMEOUT`, so a graceful stop loses nothing."""
        task_status.started()
        try:
            while True:
                if not self._queue:
                    with trio.move_on_at(self._sync_at if self.file.dirty else math.inf):
                        await self._wake.wait()
                self._wake = trio.Event()
                await self._flush()
        except trio.Cancelled:
            if self._queue or self.file.dirty:
                with trio.CancelScope(shield=True), trio.move_on_after(DRAIN_TIMEOUT):
                    await self._flush(sync=True)
            raise

    async def _flush(self, *, sync: bool = False) -> None:
        """Apply what is queued in one thread of the disk limiter, then fsync if it is due.

        What was written counts as written before the fsync: a crash of the daemon cannot take
        it (the kernel has it), so sending need not wait for the disk; a power loss can take
        what the last `FSYNC_INTERVAL` wrote, as before."""
        batch = list(self._queue)
        sync = sync or trio.current_time() >= self._sync_at
        applied = [0]
        try:
            await trio.to_thread.run_sync(self._apply, batch, applied, limiter=self._disk)
        finally:
            # Only what was applied leaves the queue (a failed write is tried again).
            done = applied[0]
            if done:
                if any(isinstance(entry, _Compaction) for entry in batch[:done]):
                    self._compaction_queued = False
                del self._queue[:done]
                self._done += done
                self._progress.set()
                self._progress = trio.Event()
        if sync:
            await trio.to_thread.run_sync(self.file.sync, limiter=self._disk)
            self._sync_at = trio.current_time() + FSYNC_INTERVAL

    def _apply(self, batch: Sequence[Record | _Compaction], applied: list[int]) -> None:
        for entry in batch:
            if isinstance(entry, _Compaction):
                self.file.compact(entry.pending, entry.acked)
            else:
                self.file.append(entry)
            applied[0] += 1
