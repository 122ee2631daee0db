"""tina's trio Convex client vs the official Python client, side by side, in one run.

All clients talk to the same local backend (``convex-local/``, the contract fixture project):

- ``tina``: ``tina.convex`` with its default transport (its own WebSocket framing on wsproto);
- ``tina-tws``: ``tina.convex`` over trio-websocket (``transport="trio-websocket"``);
- ``official``: the official Python client (PyPI ``convex``, Rust-backed).

Each client runs in processes of its own (the official client blocks holding the GIL, so it
never shares a process with anything it is measured against): a mutator and a subscriber. The
run is a series of rounds; in each round every client in turn (in rotating order) starts its two
processes, takes a block of samples and stops, so only one client is connected at a time: the
local backend serves its sessions one after another, so with all clients connected the first
one to connect would be served first (measured: ~25 % apart). The backend's tables are emptied
before every block (convex-test walks whole tables, so growing tables would slow the server
through the run). Rounds pair the clients' blocks, taken seconds apart, so drift and background
load on a shared machine hit all clients alike. Between samples the clients are idle, as a
daemon is between its sporadic writes. Two measures:

- **mutation round trip**: one ``messages:send`` on request, timed inside the mutator process
  until the call returns (every client returns once the covering Transition arrived, i.e. the
  write is visible to it);
- **subscription latency**: a neutral writer (HTTP ``/api/mutation`` from this harness) inserts
  a message; the time from just before the write until the subscriber process sees the new
  ``messages:count`` (``time.monotonic_ns`` is one clock for all processes of the machine).

A third measure isolates each client's own cost: ``bench/minimal_peer.mjs`` is a WebSocket peer
that answers every frame at once and does no work; each client in turn runs mutations back to back
against it (the median round trip is the client's own time plus loopback).

Reported: each client's distribution, and per measure the median over rounds of the ratio
tina/official of the block medians, with a 95 % bootstrap interval (below 1: tina is faster).

Usage::

    .venv/bin/python bench/client_vs_official.py [--samples 600] [--block 20] [--record]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import REPO_ROOT, machine, record, summary, today

CONTRACT_FUNCTIONS = REPO_ROOT / "convex-local" / "contract" / "convex"
BOOTSTRAP = 2000  # resamples for the interval of a median ratio
KINDS = ("tina", "tina-tws", "official")
TRANSPORTS = {"tina": "wsproto", "tina-tws": "trio-websocket"}
MEASURES = ("mutation round trip", "subscription latency")
LOOP = "back-to-back round trip, minimal peer (µs)"
LOOP_WARMUP = 200
MINIMAL_PEER = Path(__file__).resolve().parent / "minimal_peer.mjs"

# --- roles (each runs in its own subprocess) -----------------------------------------------------
#
# A mutator reads one command per line on stdin ("go": one timed mutation, answered with
# "MUT <ms>"; anything else: exit). A subscriber prints "SEEN <count> <monotonic_ns>" for each
# new ``messages:count`` of its channel. Both print "READY" once connected.


def quiet_structlog() -> None:
    """Our client logs with structlog (stdout by default); keep stdout for results."""
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))


def role_tina_mutator(url: str, channel: str, transport: Any) -> None:
    import trio

    from tina.convex import open_convex_client

    async def main() -> None:
        stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
        buffered = b""
        async with open_convex_client(url, transport=transport) as client:
            await client.wait_connected()
            await client.mutation("messages:send", {"channel": channel, "body": "warm"})
            print("READY", flush=True)
            while True:
                while b"\n" not in buffered:
                    chunk = await stdin.receive_some()
                    if not chunk:
                        return
                    buffered += chunk
                line, buffered = buffered.split(b"\n", 1)
                if line.strip() != b"go":
                    return
                start = time.perf_counter()
                await client.mutation("messages:send", {"channel": channel, "body": "m"})
                print(f"MUT {(time.perf_counter() - start) * 1000}", flush=True)

    quiet_structlog()
    trio.run(main)


def exit_on_stdin_eof() -> None:
    """A subscriber never reads its stdin: end the process when the harness closes it."""
    import threading

    def watch() -> None:
        sys.stdin.read()
        sys.stdout.flush()
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def role_tina_subscriber(url: str, channel: str, transport: Any) -> None:
    import trio

    from tina.convex import open_convex_client

    exit_on_stdin_eof()

    async def main() -> None:
        async with (
            open_convex_client(url, transport=transport) as client,
            client.subscribe("messages:count", {"channel": channel}) as sub,
        ):
            await sub.next()
            print("READY", flush=True)
            while True:
                value = await sub.next()
                print(f"SEEN {int(value)} {time.monotonic_ns()}", flush=True)

    quiet_structlog()
    trio.run(main)


def role_official_mutator(url: str, channel: str, _transport: Any) -> None:
    from convex import ConvexClient

    client = ConvexClient(url)
    client.mutation("messages:send", {"channel": channel, "body": "warm"})
    print("READY", flush=True)
    for line in sys.stdin:
        if line.strip() != "go":
            break
        start = time.perf_counter()
        client.mutation("messages:send", {"channel": channel, "body": "m"})
        print(f"MUT {(time.perf_counter() - start) * 1000}", flush=True)
    sys.stdout.flush()
    os._exit(0)  # no interpreter shutdown with the Rust client alive


def role_official_subscriber(url: str, channel: str, _transport: Any) -> None:
    from convex import ConvexClient

    exit_on_stdin_eof()
    client = ConvexClient(url)
    sub = client.subscribe("messages:count", {"channel": channel})
    next(sub)
    print("READY", flush=True)
    for value in sub:
        print(f"SEEN {int(value)} {time.monotonic_ns()}", flush=True)


def role_tina_loop(url: str, ops: str, transport: Any) -> None:
    import trio

    from tina.convex import open_convex_client

    async def main() -> None:
        async with open_convex_client(url, transport=transport) as client:
            for _ in range(LOOP_WARMUP):
                await client.mutation("peer:write", {"n": 1})
            times = []
            for _ in range(int(ops)):
                start = time.perf_counter()
                await client.mutation("peer:write", {"n": 1})
                times.append(time.perf_counter() - start)
        print(f"LOOP {statistics.median(times) * 1e6}", flush=True)

    quiet_structlog()
    trio.run(main)


def role_official_loop(url: str, ops: str, _transport: Any) -> None:
    from convex import ConvexClient

    client = ConvexClient(url)
    for _ in range(LOOP_WARMUP):
        client.mutation("peer:write", {"n": 1})
    times = []
    for _ in range(int(ops)):
        start = time.perf_counter()
        client.mutation("peer:write", {"n": 1})
        times.append(time.perf_counter() - start)
    print(f"LOOP {statistics.median(times) * 1e6}", flush=True)
    os._exit(0)


ROLES = {
    "tina-mutator": role_tina_mutator,
    "tina-subscriber": role_tina_subscriber,
    "official-mutator": role_official_mutator,
    "official-subscriber": role_official_subscriber,
    "tina-loop": role_tina_loop,
    "official-loop": role_official_loop,
}


# --- harness -------------------------------------------------------------------------------------


class Role:
    """One role process; its stdout read line by line."""

    def __init__(self, kind: str, role: str, url: str, channel: str) -> None:
        self.channel = channel
        family = "official" if kind == "official" else "tina"
        argv = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--role",
            f"{family}-{role}",
            url,
            channel,
            TRANSPORTS.get(kind, "-"),
        ]
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=REPO_ROOT,
        )
        assert self.process.stdout is not None
        self._lines = iter(self.process.stdout.readline, "")

    def expect(self, prefix: str) -> list[str]:
        for line in self._lines:
            if line.startswith(prefix):
                return line.split()[1:]
        raise RuntimeError(f"{self.process.args} ended early")

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        if self.process.stdin is not None:
            try:
                self.send("quit")
                self.process.stdin.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Client:
    """One client's two role processes, its channels and its samples."""

    def __init__(self, kind: str, url: str, round_: int) -> None:
        self.kind = kind
        self.mutator = Role(kind, "mutator", url, f"m-{kind}-{round_}")
        self.subscriber = Role(kind, "subscriber", url, f"s-{kind}-{round_}")
        self.seen = 0  # messages:count the subscriber has reported

    def ready(self) -> None:
        self.mutator.expect("READY")
        self.subscriber.expect("READY")

    def mutation_ms(self) -> float:
        self.mutator.send("go")
        (ms,) = self.mutator.expect("MUT ")
        return float(ms)

    def subscription_ms(self, backend: Any) -> float:
        started = time.monotonic_ns()
        backend.call("mutation", "messages:send", {"channel": self.subscriber.channel, "body": "u"})
        while True:
            value, seen = self.subscriber.expect("SEEN ")
            if int(value) > self.seen:
                self.seen = int(value)
                return (int(seen) - started) / 1e6

    def stop(self) -> None:
        self.mutator.stop()
        self.subscriber.stop()


def measure(
    backend: Any, samples: int, block: int, warmup: int
) -> tuple[dict[str, dict[str, list[float]]], dict[str, dict[str, list[float]]]]:
    """Rounds of one block per client (rotating order); only one client connected at a time.

    Returns every sample, and each block's median (paired by round).
    """
    results: dict[str, dict[str, list[float]]] = {m: {k: [] for k in KINDS} for m in MEASURES}
    medians: dict[str, dict[str, list[float]]] = {m: {k: [] for k in KINDS} for m in MEASURES}
    rounds = max(1, samples // block)
    for round_ in range(rounds):
        shift = round_ % len(KINDS)
        for kind in KINDS[shift:] + KINDS[:shift]:
            taken: dict[str, list[float]] = {m: [] for m in MEASURES}
            backend.reset()  # every block starts from empty tables: the same server work for all
            client = Client(kind, backend.url, round_)
            try:
                client.ready()
                for i in range(warmup + block):
                    mutation = client.mutation_ms()
                    subscription = client.subscription_ms(backend)
                    if i >= warmup:
                        taken["mutation round trip"].append(mutation)
                        taken["subscription latency"].append(subscription)
            finally:
                client.stop()
            for m in MEASURES:
                results[m][kind] += taken[m]
                medians[m][kind].append(statistics.median(taken[m]))
        print(f"round {round_ + 1}/{rounds} done", file=sys.stderr)
    return results, medians


def measure_minimal_peer(rounds: int, ops: int) -> dict[str, list[float]]:
    """Each client in turn (rotating order), ``rounds`` times: one process runs ``ops``
    mutations back to back against the minimal peer and reports their median, in µs."""
    peer = subprocess.Popen(
        ["node", str(MINIMAL_PEER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,  # resolves the `ws` package
    )
    assert peer.stdout is not None
    try:
        url = peer.stdout.readline().split()[-1]
        medians: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for round_ in range(rounds):
            shift = round_ % len(KINDS)
            for kind in KINDS[shift:] + KINDS[:shift]:
                role = Role(kind, "loop", url, str(ops))
                try:
                    (median_us,) = role.expect("LOOP ")
                finally:
                    role.stop()
                medians[kind].append(float(median_us))
        return medians
    finally:
        peer.kill()
        peer.wait()


def paired_ratio(ours: list[float], theirs: list[float], rng: random.Random) -> dict[str, float]:
    """Median of the per-round ratios, its 95 % bootstrap interval, and how often ours won."""
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    resampled = sorted(
        statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(BOOTSTRAP)
    )
    return {
        "median": statistics.median(ratios),
        "low": resampled[int(BOOTSTRAP * 0.025)],
        "high": resampled[int(BOOTSTRAP * 0.975) - 1],
        "won": sum(a < b for a, b in zip(ours, theirs, strict=True)) / len(ratios),
    }


def render(
    results: dict[str, dict[str, list[float]]],
    medians: dict[str, dict[str, list[float]]],
    loop: dict[str, list[float]],
    args: argparse.Namespace,
    host: str,
) -> str:
    from importlib.metadata import version

    rounds = len(medians[MEASURES[0]]["official"])
    lines = [
        f"Measured {today()} on {host}; official client: `convex` {version('convex')} (PyPI).",
        "",
        f"`bench/client_vs_official.py --samples {args.samples} --block {args.block}`, one run: "
        "every client against one local backend (`convex-local/`, contract fixture project), "
        "each in processes of its own (a mutator and a subscriber); "
        f"{rounds} rounds, in each of which every client in turn (rotating order) connects, "
        f"takes {args.block} samples of each measure after {args.warmup} unrecorded ones, and "
        "disconnects, so only one client is connected at a time (the local backend serves its "
        "sessions one after another, and the first connected would be served first); the "
        "backend's tables are emptied before every block, so every block costs the server the "
        "same. "
        "`tina` is `tina.convex` with its default transport (its own WebSocket framing on "
        '`wsproto`); `tina-tws` is `transport="trio-websocket"`; `official` is the Rust-backed '
        "official Python client.",
        "",
        "- *Mutation round trip*: one `messages:send`, until the call returns (the write is "
        "then visible to the caller's queries).",
        "- *Subscription latency*: an HTTP mutation from the harness, until the subscriber "
        "process sees the new `messages:count` (one monotonic clock for all processes).",
        "",
        "| measure (ms) | client | n | median | p90 | p99 | max |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for measure in MEASURES:
        for kind in KINDS:
            s = summary(results[measure][kind])
            lines.append(
                f"| {measure} | {kind} | {s['n']:.0f} | {s['median']:.2f} | {s['p90']:.2f} "
                f"| {s['p99']:.2f} | {s['max']:.2f} |"
            )
    lines += [
        "",
        "Ratios to the official client (below 1: tina is faster). *Paired*: the median over "
        "rounds of the ratio of the two clients' block medians in the same round, with its 95 % "
        "bootstrap interval and the share of rounds tina was faster; then the ratios of the "
        "pooled medians, p90 and p99:",
        "",
    ]
    rng = random.Random(7)
    for measure in MEASURES:
        theirs = summary(results[measure]["official"])
        for kind in ("tina", "tina-tws"):
            paired = paired_ratio(medians[measure][kind], medians[measure]["official"], rng)
            mine = summary(results[measure][kind])
            lines.append(
                f"- {measure}, {kind}: paired {paired['median']:.3f} "
                f"[{paired['low']:.3f}, {paired['high']:.3f}], faster in "
                f"{paired['won'] * 100:.0f} % of rounds; median "
                f"{mine['median'] / theirs['median']:.2f}, p90 {mine['p90'] / theirs['p90']:.2f}, "
                f"p99 {mine['p99'] / theirs['p99']:.2f}"
            )
    lines += [
        "",
        f"*Client's own cost*: {args.loop_rounds} rounds, in each of which every client in turn "
        f"runs {args.loop_ops} mutations back to back against `bench/minimal_peer.mjs` (a "
        "WebSocket peer that answers every frame at once and does no work) and reports their "
        "median; the round trip is then the client's own time plus loopback.",
        "",
        "| client | median of round medians (µs) | min | max | paired ratio to official |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind in KINDS:
        ratio = (
            "—"
            if kind == "official"
            else f"{paired_ratio(loop[kind], loop['official'], rng)['median']:.3f}"
        )
        lines.append(
            f"| {kind} | {statistics.median(loop[kind]):.0f} | {min(loop[kind]):.0f} "
            f"| {max(loop[kind]):.0f} | {ratio} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=600, help="samples per client and measure")
    parser.add_argument("--block", type=int, default=20, help="samples per client per round")
    parser.add_argument("--warmup", type=int, default=5, help="unrecorded samples per block")
    parser.add_argument("--loop-rounds", type=int, default=10, help="rounds against the peer")
    parser.add_argument("--loop-ops", type=int, default=2000, help="mutations per loop")
    parser.add_argument(
        "--record", action="store_true", help="write the result into docs/benchmarks.md"
    )
    parser.add_argument("--role", choices=sorted(ROLES), help=argparse.SUPPRESS)
    parser.add_argument("role_args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        url, channel, transport = args.role_args
        ROLES[args.role](url, channel, transport)
        return 0

    from tina.dev.backend import BackendOptions, BackendProcess

    host = machine()
    with BackendProcess(BackendOptions(port=0, functions_dir=CONTRACT_FUNCTIONS)) as backend:
        results, medians = measure(backend, args.samples, args.block, args.warmup)
    loops = measure_minimal_peer(args.loop_rounds, args.loop_ops)
    body = render(results, medians, loops, args, host)
    print(body)
    if args.record:
        record(
            "client-vs-official",
            "## Convex client: tina (trio) vs the official Python client\n\n" + body,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
