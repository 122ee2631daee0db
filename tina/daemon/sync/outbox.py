"""The durable outbox: team observations Convex has not acknowledged yet survive a crash.

An append-only JSON-lines file in the daemon's state directory. Every team snapshot the
daemon reads (and every team removal) is appended before it is sent; an `ack` line is appended
when Convex confirmed it. A daemon that starts again replays what was never acknowledged, in
order, so task transitions seen while offline still reach Convex once (the server skips
states it already applied, by sequence number). Lines are written with one `write` each on an
`O_APPEND` descriptor, so a SIGKILL leaves at worst a torn last line (ignored on load);
`fsync` runs in batches (`sync`). Once everything is acknowledged, or the file grows large,
it is rewritten with only what is still pending (temp file, fsync, rename).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import structlog

from tina.convex.wire import make_converter
from tina.daemon.messages import MemberSnapshot, TaskSnapshot, TeamSnapshot

log = structlog.get_logger("tina.outbox")
_conv = make_converter()

COMPACT_BYTES = 8 * 1024 * 1024


def team_key(dir_name: str) -> str:
    return f"team:{dir_name}"


class Outbox:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._dirty = False
        self.appended = 0

    # --- writing ----------------------------------------------------------------------------

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return self._fd

    def _write(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        os.write(self._open(), line)
        self._dirty = True
        self.appended += 1

    def append_team(
        self,
        seq: float,
        team: TeamSnapshot,
        members: list[MemberSnapshot],
        tasks: list[TaskSnapshot],
        history: list[tuple[float, TaskSnapshot]] | None = None,
    ) -> None:
        record: dict[str, Any] = {
            "t": "team",
            "seq": seq,
            "team": _conv.unstructure(team),
            "members": _conv.unstructure(members),
            "tasks": _conv.unstructure(tasks),
        }
        if history:
            record["history"] = [{"seq": s, "task": _conv.unstructure(t)} for s, t in history]
        self._write(record)

    def append_removal(self, seq: float, dir_name: str) -> None:
        self._write({"t": "rm", "seq": seq, "dir": dir_name})

    def ack(self, key: str, seq: float) -> None:
        self._write({"t": "ack", "key": key, "seq": seq})

    def sync(self) -> None:
        """fsync what was written since the last call (called in batches by the syncer)."""
        if self._dirty and self._fd is not None:
            os.fsync(self._fd)
            self._dirty = False

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def close(self) -> None:
        if self._fd is not None:
            self.sync()
            os.close(self._fd)
            self._fd = None

    # --- reading ----------------------------------------------------------------------------

    def load(self) -> list[dict[str, Any]]:
        """Unacknowledged records (`team` / `rm`) in the order they were written.

        Never raises on content: a line that is not a well-formed record (cut by a crash,
        damaged on disk, written by something else) is skipped and counted in a warning, so a
        bad outbox can never keep the daemon from starting.
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        records: list[tuple[str, float, dict[str, Any]]] = []
        acked: dict[str, float] = {}
        torn = malformed = 0
        for raw in data.split(b"\n"):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                torn += 1  # a line cut by a crash: it was never acknowledged, so never lost
                continue
            checked = _check(rec)
            if checked is None:
                malformed += 1
                continue
            key, seq, rec = checked
            if rec["t"] == "ack":
                acked[key] = max(acked.get(key, 0.0), seq)
            else:
                records.append((key, seq, rec))
        if torn:
            log.warning("outbox.torn_lines", path=str(self.path), lines=torn)
        if malformed:
            log.warning("outbox.malformed_lines", path=str(self.path), lines=malformed)
        return [rec for key, seq, rec in records if seq > acked.get(key, -1.0)]

    @staticmethod
    def decode_team(
        rec: dict[str, Any],
    ) -> tuple[
        float,
        TeamSnapshot,
        list[MemberSnapshot],
        list[TaskSnapshot],
        list[tuple[float, TaskSnapshot]],
    ]:
        """A `team` record's parts; ValueError (or TypeError, KeyError) if it is not well formed."""
        history = [
            (_seq(h["seq"]), _conv.structure(h["task"], TaskSnapshot))
            for h in rec.get("history") or []
        ]
        return (
            _seq(rec["seq"]),
            _conv.structure(rec["team"], TeamSnapshot),
            _conv.structure(rec["members"], list[MemberSnapshot]),
            _conv.structure(rec["tasks"], list[TaskSnapshot]),
            history,
        )

    def compact(self, records: Iterable[dict[str, Any]]) -> None:
        """Rewrite the file with only `records` (what is still pending), atomically."""
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            for rec in records:
                f.write((json.dumps(rec, separators=(",", ":")) + "\n").encode())
            f.flush()
            os.fsync(f.fileno())
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        os.replace(tmp, self.path)
        self._dirty = False


def _seq(value: Any) -> float:
    """A sequence number as written: a finite, non-negative number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"sequence number: expected a number, got {type(value).__name__}")
    number = float(value)  # OverflowError is an ArithmeticError: callers catch it too
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"sequence number: expected a finite number >= 0, got {number}")
    return number


def _check(rec: Any) -> tuple[str, float, dict[str, Any]] | None:
    """(key, seq, record) for a well-formed record of this file; None for anything else."""
    if not isinstance(rec, dict):
        return None
    try:
        seq = _seq(rec.get("seq"))
        if rec.get("t") == "ack" and isinstance(rec.get("key"), str):
            return rec["key"], seq, rec
        if rec.get("t") == "rm" and isinstance(rec.get("dir"), str) and rec["dir"]:
            return team_key(rec["dir"]), seq, rec
        if rec.get("t") == "team":
            _, team, _, _, _ = Outbox.decode_team(rec)
            return team_key(team.dir_name), seq, rec
    except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError):
        return None
    return None
