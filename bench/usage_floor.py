"""The least a quick usage round can cost on this machine: a floor to read the daemon's figure
against.

With a dashboard open the daemon reads and sends usage in quick rounds (`bench/usage_tail.py`).
This script does only what any such round must do, in plain Python with no event loop, no
attribution, no pricing and no real WebSocket (each a cost the daemon has and the floor does
not), over the same transcripts written the same way:

- wait until a transcript changes (inotify on the transcripts' directories), then until the
  round's time comes (`--pace` seconds after the last round);
- read what inotify says changed: each changed transcript's new whole lines from the offset
  reached (open, one `pread`, close), decoded typed (msgspec, the fields usage reads), message
  ids deduplicated;
- append one journal line and fsync it (what keeps a count from being made twice after the
  machine crashes; `--no-fsync` leaves it out);
- send one frame to a "backend" (another process, over a socket pair) and read the two frames
  it answers with, `--answer-gap` (1) ms apart, as a Convex backend answers a mutation: its
  reply, then the transition that makes it visible.

A writer (another process) appends an assistant message to a random transcript, Poisson, at
`--transcripts / --every` messages a second, exactly as `usage_tail.py` does. The figure is this
process's CPU (getrusage: user + system, every thread) per second of writing; the writer and
the backend are not counted, as the daemon's figure does not count them either.

    .venv/bin/python bench/usage_floor.py [--pace 0.6] [--seconds 60] [--transcripts 200]
                                          [--every 20] [--no-fsync] [--answer-gap 1]
                                          [--json PATH]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import random
import resource
import select
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec

IN_MODIFY = 0x2
TEAM_SIZE = 10


class _Usage(msgspec.Struct):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0


class _Message(msgspec.Struct):
    id: str = ""
    model: str = ""
    usage: _Usage | None = None


class _Line(msgspec.Struct):
    type: str = ""
    message: _Message | None = None


def layout(root: Path, transcripts: int) -> list[Path]:
    """`transcripts` transcript paths laid out as agent teams: a lead's session file and its 9
    in-process teammates' files under `<session>/subagents/` (as `usage_tail.py --shape teams`)."""
    paths: list[Path] = []
    while len(paths) < transcripts:
        session = str(uuid.uuid4())
        paths.append(root / f"{session}.jsonl")
        for _ in range(min(TEAM_SIZE - 1, transcripts - len(paths))):
            paths.append(root / session / "subagents" / f"agent-a{uuid.uuid4().hex[:16]}.jsonl")
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.touch()
    return paths


def write(root: Path, rate: float) -> None:
    """The writer: one assistant message (streamed as two lines, a user line before) to a random
    transcript under `root`, Poisson at `rate` a second, until killed."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from usage_tail import Transcript

    cwd = Path("/home/dev/floor")
    transcripts = []
    for p in sorted(root.rglob("*.jsonl")):
        if p.parent.name == "subagents":  # an in-process teammate, beside its meta file
            session = p.parent.parent.name
            team = f"floor-{session[:8]}"
            transcripts.append(Transcript(p, session, cwd, agent=f"worker-{p.stem}", team=team))
        else:
            transcripts.append(Transcript(p, p.stem, cwd))
    rng = random.Random(7)
    while True:
        rng.choice(transcripts).turn(rng.randint(200, 4000))
        time.sleep(rng.expovariate(rate))


def answer(fd: int, gap_ms: float) -> None:
    """The backend: to each frame, a reply and, `gap_ms` later, a transition (each a line; with
    no gap, both in one write, as a busy backend's may arrive)."""
    sock = socket.socket(fileno=fd)
    reply = b'{"type":"MutationResponse","requestId":0,"success":true}\n'
    transition = b'{"type":"Transition","modifications":[]}\n'
    while sock.recv(65536):
        if gap_ms <= 0:
            sock.sendall(reply + transition)
            continue
        sock.sendall(reply)
        time.sleep(gap_ms / 1000)
        sock.sendall(transition)


def measure(
    pace: float,
    seconds: float,
    transcripts: int,
    every: float,
    fsync: bool,
    answer_gap_ms: float = 1.0,
) -> dict[str, Any]:
    """Rounds at `pace` for `seconds` of writing; this process's CPU."""
    decoder = msgspec.json.Decoder(_Line)
    with tempfile.TemporaryDirectory(prefix="usage-floor-") as tmp:
        root = Path(tmp) / "projects" / "-home-dev-floor"
        paths = layout(root, transcripts)
        libc = ctypes.CDLL(None, use_errno=True)
        ifd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        by_wd: dict[int, Path] = {}
        for d in {p.parent for p in paths}:
            by_wd[libc.inotify_add_watch(ifd, str(d).encode(), IN_MODIFY)] = d
        ours, theirs = socket.socketpair()
        me = [sys.executable, __file__]
        backend = subprocess.Popen(
            [*me, "--answer", str(theirs.fileno()), "--answer-gap", f"{answer_gap_ms:g}"],
            pass_fds=[theirs.fileno()],
        )
        theirs.close()
        writer = subprocess.Popen([*me, "--write", str(root), "--rate", str(transcripts / every)])
        journal = os.open(Path(tmp) / "journal", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        offsets: dict[Path, int] = {}
        seen: dict[str, int] = {}
        totals = {"messages": 0, "output": 0}

        def one_round() -> None:
            changed: set[Path] = set()
            while True:
                try:
                    events = os.read(ifd, 65536)
                except BlockingIOError:
                    break
                i = 0
                while i < len(events):
                    wd, _mask, _cookie, size = struct.unpack_from("iIII", events, i)
                    name = events[i + 16 : i + 16 + size].rstrip(b"\0").decode()
                    if name.endswith(".jsonl"):  # not the teammates' meta files
                        changed.add(by_wd[wd] / name)
                    i += 16 + size
            for path in changed:
                fd = os.open(path, os.O_RDONLY)
                try:
                    at = offsets.get(path, 0)
                    data = os.pread(fd, 1 << 20, at)
                finally:
                    os.close(fd)
                end = data.rfind(b"\n") + 1
                offsets[path] = at + end
                for raw in data[:end].splitlines():
                    line = decoder.decode(raw)
                    m = line.message
                    if line.type != "assistant" or m is None or m.usage is None:
                        continue
                    before = seen.get(m.id)
                    if before is None:
                        totals["messages"] += 1
                    totals["output"] += m.usage.output_tokens - (before or 0)
                    seen[m.id] = m.usage.output_tokens
            os.write(journal, json.dumps({"offsets": len(offsets), **totals}).encode() + b"\n")
            if fsync:
                os.fsync(journal)
            ours.send(json.dumps({"type": "Mutation", "args": [totals]}).encode())
            answers = 0  # the reply, then the transition: apart or, late, in one read
            while answers < 2:
                select.select([ours], [], [])
                answers += ours.recv(65536).count(b"\n")

        try:
            # The clock starts with the writer's first message (its start takes a while).
            if not select.select([ifd], [], [], 120)[0]:
                raise SystemExit("usage_floor: the writer wrote nothing in 120 s")
            rusage = resource.getrusage(resource.RUSAGE_SELF)
            cpu0 = rusage.ru_utime + rusage.ru_stime
            start = last = time.monotonic()
            rounds = 0
            while (now := time.monotonic()) < start + seconds:
                ready, _, _ = select.select([ifd], [], [], start + seconds - now)
                if not ready:
                    break
                time.sleep(max(0.0, last + pace - time.monotonic()))
                last = time.monotonic()
                one_round()
                rounds += 1
            rusage = resource.getrusage(resource.RUSAGE_SELF)
            cpu = rusage.ru_utime + rusage.ru_stime - cpu0
            wall = time.monotonic() - start
        finally:
            writer.kill()
            writer.wait()
            ours.close()
            backend.wait()
            os.close(journal)
            os.close(ifd)
    return {
        "pace": pace,
        "fsync": fsync,
        "seconds": wall,
        "rounds": rounds,
        "round_rate": rounds / wall,
        "messages": totals["messages"],
        "per_round_ms": cpu / max(1, rounds) * 1000,
        "cpu": cpu / wall * 100,  # % of one core
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pace", type=float, default=0.6, help="seconds between rounds")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of writing")
    parser.add_argument("--transcripts", type=int, default=200)
    parser.add_argument(
        "--every", type=float, default=20.0, help="seconds between messages of one transcript"
    )
    parser.add_argument("--no-fsync", action="store_true", help="leave the journal's fsync out")
    parser.add_argument(
        "--answer-gap",
        type=float,
        default=1.0,
        help="ms between the backend stand-in's reply and its transition (0: one write)",
    )
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--answer", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write is not None:
        write(args.write, args.rate)
        return 0
    if args.answer is not None:
        answer(args.answer, args.answer_gap)
        return 0
    if args.pace <= 0 or args.seconds <= 0 or args.transcripts <= 0 or args.every <= 0:
        parser.error("--pace, --seconds, --transcripts and --every must be above 0")
    if args.answer_gap < 0:
        parser.error("--answer-gap must be 0 or more")
    figures = measure(
        args.pace, args.seconds, args.transcripts, args.every, not args.no_fsync, args.answer_gap
    )
    print(
        f"floor: {figures['rounds']} rounds in {figures['seconds']:.0f} s "
        f"({figures['round_rate']:.2f} a second, {figures['messages']} messages), "
        f"{figures['per_round_ms']:.2f} ms of CPU a round, {figures['cpu']:.3f} % of a core"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
