"""tina's trio Convex client vs the official Python client, side by side, in one run.

All clients talk to the same local backend (``convex-local/``, the contract fixture project):

- ``tina``: ``tina.convex`` with its default transport (its own WebSocket on wsproto);
- ``tina-tws``: ``tina.convex`` over trio-websocket (``transport="trio-websocket"``);
- ``official``: the official Python client (PyPI ``convex``, Rust-backed).

Each client runs in processes of its own (the official client blocks holding the GIL, so it
never shares a process with anything it is measured against): a mutator and a subscriber. The
run is cut into blocks; in each block every client in turn (rotating the order) starts its two
processes, takes its samples and stops, so only one client's sockets are open at a time (as on
a laptop: one daemon) while drift and background load are spread over all clients alike. Two
measures, taken alternately:

- **mutation round trip**: one ``messages:send`` on request, timed inside the mutator process
  until the call returns (every client returns once the covering Transition arrived, i.e. the
  write is visible to it);
- **subscription latency**: a neutral writer (HTTP ``/api/mutation`` from this harness) inserts
  a message; the time from just before the write until the subscriber process sees the new
  ``messages:count`` (``time.monotonic_ns`` is one clock for all processes of the machine).

Usage::

    .venv/bin/python bench/client_vs_official.py [--samples 600] [--record]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import REPO_ROOT, machine, record, summary, today

CONTRACT_FUNCTIONS = REPO_ROOT / "convex-local" / "contract" / "convex"
BLOCKS = 10  # per client; blocks of the clients alternate, in rotating order
BLOCK_WARMUP = 5
KINDS = ("tina", "tina-tws", "official")
TRANSPORTS = {"tina": "wsproto", "tina-tws": "trio-websocket"}
MEASURES = ("mutation round trip", "subscription latency")

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


def role_tina_subscriber(url: str, channel: str, transport: Any) -> None:
    import trio

    from tina.convex import open_convex_client

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

    client = ConvexClient(url)
    sub = client.subscribe("messages:count", {"channel": channel})
    next(sub)
    print("READY", flush=True)
    for value in sub:
        print(f"SEEN {int(value)} {time.monotonic_ns()}", flush=True)


ROLES = {
    "tina-mutator": role_tina_mutator,
    "tina-subscriber": role_tina_subscriber,
    "official-mutator": role_official_mutator,
    "official-subscriber": role_official_subscriber,
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


def measure_block(
    backend: Any, kind: str, samples: int, block: int, results: dict[str, dict[str, list[float]]]
) -> None:
    """Start one client's mutator and subscriber, take ``samples`` of each measure, stop them."""
    mutator = Role(kind, "mutator", backend.url, f"m-{kind}-{block}")
    subscriber = Role(kind, "subscriber", backend.url, f"s-{kind}-{block}")
    try:
        mutator.expect("READY")
        subscriber.expect("READY")
        for i in range(BLOCK_WARMUP + samples):
            mutator.send("go")
            (ms,) = mutator.expect("MUT ")
            started = time.monotonic_ns()
            backend.call("mutation", "messages:send", {"channel": subscriber.channel, "body": "u"})
            while True:
                value, seen = subscriber.expect("SEEN ")
                if int(value) >= i + 1:
                    break
            if i >= BLOCK_WARMUP:
                results["mutation round trip"][kind].append(float(ms))
                results["subscription latency"][kind].append((int(seen) - started) / 1e6)
    finally:
        mutator.stop()
        subscriber.stop()


def render(results: dict[str, dict[str, list[float]]], samples: int, host: str) -> str:
    from importlib.metadata import version

    lines = [
        f"Measured {today()} on {host}; official client: `convex` {version('convex')} (PyPI).",
        "",
        f"`bench/client_vs_official.py --samples {samples}`, one run: every client against one "
        "local backend (`convex-local/`, contract fixture project), each in processes of its "
        f"own (a mutator and a subscriber), in {BLOCKS} blocks per client alternating in "
        "rotating order (one client connected at a time). "
        "`tina` is `tina.convex` with its default transport (its own WebSocket on "
        '`wsproto`); `tina-tws` is `transport="trio-websocket"`; `official` is the Rust-backed '
        "official Python client, in its own processes.",
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
    lines += ["", "Ratio to the official client, same run (below 1: tina is faster):", ""]
    for measure in MEASURES:
        official = summary(results[measure]["official"])
        for kind in ("tina", "tina-tws"):
            ours = summary(results[measure][kind])
            lines.append(
                f"- {measure}, {kind}: median {ours['median'] / official['median']:.2f}, "
                f"p90 {ours['p90'] / official['p90']:.2f}, "
                f"p99 {ours['p99'] / official['p99']:.2f}"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=600, help="samples per client and measure")
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

    from tina.backend import BackendOptions, BackendProcess

    host = machine()
    results: dict[str, dict[str, list[float]]] = {
        measure: {kind: [] for kind in KINDS} for measure in MEASURES
    }
    with BackendProcess(BackendOptions(port=0, functions_dir=CONTRACT_FUNCTIONS)) as backend:
        per_block = max(1, args.samples // BLOCKS)
        for block in range(BLOCKS):
            order = KINDS[block % len(KINDS) :] + KINDS[: block % len(KINDS)]
            for kind in order:
                measure_block(backend, kind, per_block, block, results)
            print(f"block {block + 1}/{BLOCKS} done", file=sys.stderr)
    body = render(results, args.samples, host)
    print(body)
    if args.record:
        record(
            "client-vs-official",
            "## Convex client: tina (trio) vs the official Python client\n\n" + body,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
