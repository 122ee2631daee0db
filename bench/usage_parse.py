"""What reading one assistant line of a Claude Code transcript costs the daemon: the typed
decoding (`tina.usage.transcript.parse_line`, msgspec, only the fields usage needs) against the
tolerant reading it falls back to (`parse_tolerantly`, the standard library's JSON and a check of
every value), line by line, for lines of three shapes:

- **short**: the assistant line `bench/usage_tail.py` writes (a few words of text, about 700 B);
- **tool use**: an assistant line as Claude Code writes one that thinks, says a sentence and
  writes a file (a thinking block with its signature, text, a `Write` tool use with 9 KB of
  code; usage with `cache_creation`, `server_tool_use` and `service_tier`), about 13 KB;
- **compaction**: a line whose request compacted its context on the server (`iterations`) and
  searched the web.

Also the memory the daemon keeps to count each message once (`tina.usage.dedupe`), once it has
seen more messages than it remembers (a day of heavy use): the keys of the last 50,000 and what
was counted of the last 4,096, measured with `tracemalloc` in this process.

Both readings give the same record for each (checked). Each of `--repeats` rounds times
`--number` readings of each way, the two ways in alternating order; the figure is the median
over the rounds, in µs per line, and the ratio is the median of the rounds' own ratios (measured
side by side, so a noisy machine moves both alike).

    .venv/bin/python bench/usage_parse.py [--repeats 15] [--number 2000] [--record] [--json PATH]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from _common import add_output_args, machine, record, today, write_result

from tina.usage.dedupe import KEEP, OPEN, Dedupe
from tina.usage.transcript import UsageRecord, parse_line, parse_tolerantly

BASE = {
    "parentUuid": "7d3c2b1a-0f9e-4d8c-b7a6-5f4e3d2c1b0a",
    "isSidechain": False,
    "userType": "external",
    "cwd": "/Users/dev/repo/.worktrees/billing-export",
    "sessionId": "5b1f0c3e-8d2a-4f6b-9c7e-1a2b3c4d5e6f",
    "version": "2.1.47",
    "gitBranch": "tina/billing-export",
    "type": "assistant",
    "uuid": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    "timestamp": "2026-12-05T10:00:00.000Z",
    "requestId": "req_011CVqbmB1LfMXi7GmT2Fd5e",
}
USAGE = {
    "input_tokens": 4,
    "cache_creation_input_tokens": 600,
    "cache_read_input_tokens": 24_000,
    "output_tokens": 2400,
}


def _line(content: list[dict[str, Any]], usage: dict[str, Any]) -> bytes:
    message = {
        "model": "claude-sonnet-4-5-20250929",
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "content": content,
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": usage,
    }
    return json.dumps({**BASE, "message": message}, separators=(",", ":")).encode()


SHAPES: dict[str, bytes] = {
    "short": _line([{"type": "text", "text": "Working on it."}], USAGE),
    "tool use": _line(
        [
            {
                "type": "thinking",
                "thinking": "Let me look at the export. " * 60,
                "signature": "E" * 600,
            },
            {"type": "text", "text": "I'll write the exporter now."},
            {
                "type": "tool_use",
                "id": "toolu_01A09q90qw90lq917835lq9",
                "name": "Write",
                "input": {
                    "file_path": "/Users/dev/repo/.worktrees/billing-export/src/export.py",
                    "content": "def export(rows):\n    return [row.to_csv() for row in rows]\n"
                    * 150,
                },
            },
        ],
        {
            **USAGE,
            "cache_creation": {"ephemeral_5m_input_tokens": 600, "ephemeral_1h_input_tokens": 0},
            "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
            "service_tier": "standard",
        },
    ),
    "compaction": _line(
        [{"type": "text", "text": "Summarised; going on."}],
        {
            **USAGE,
            "server_tool_use": {"web_search_requests": 2},
            "iterations": [
                {"type": "compaction", "input_tokens": 180_000, "output_tokens": 3_000},
                {"type": "message", "input_tokens": 4, "output_tokens": 2400},
            ],
        },
    ),
}


def per_line_us(parse: Callable[[bytes], object], line: bytes, number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        parse(line)
    return (time.perf_counter() - t0) / number * 1e6


def measure(line: bytes, repeats: int, number: int) -> dict[str, Any]:
    typed_us: list[float] = []
    tolerant_us: list[float] = []
    ratios: list[float] = []
    for i in range(repeats):
        if i % 2:
            b = per_line_us(parse_tolerantly, line, number)
            a = per_line_us(parse_line, line, number)
        else:
            a = per_line_us(parse_line, line, number)
            b = per_line_us(parse_tolerantly, line, number)
        typed_us.append(a)
        tolerant_us.append(b)
        ratios.append(b / a)
    return {
        "bytes": len(line),
        "typed_us": statistics.median(typed_us),
        "tolerant_us": statistics.median(tolerant_us),
        "ratio": statistics.median(ratios),
    }


def dedupe_memory() -> dict[str, float]:
    """MB the message keys hold once the window is full: every key, and the figures counted."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        dedupe = Dedupe()
        for n in range(KEEP + OPEN):  # past the window: what a long-running daemon holds
            key = f"msg_01{n:022d}:req_011C{n:020d}"
            dedupe.first(key, (3, 400 + n % 999, 1200, 40_000 + n, 0, 0))
        dedupe.take_fresh()
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    return {"keys": len(dedupe), "figures": len(dedupe.open_items()), "mb": held / 1e6}


def main() -> int:
    parser = argparse.ArgumentParser(
        description="one transcript line's reading: typed decoding vs the tolerant reading"
    )
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--number", type=int, default=2000)
    add_output_args(parser)
    args = parser.parse_args()
    host = machine()
    results: dict[str, dict[str, Any]] = {}
    for name, line in SHAPES.items():
        typed, tolerant = parse_line(line), parse_tolerantly(line)
        if not isinstance(typed, UsageRecord) or typed != tolerant:
            raise SystemExit(f"{name}: the two readings differ: {typed!r} != {tolerant!r}")
        results[name] = measure(line, args.repeats, args.number)

    memory = dedupe_memory()
    rows = "\n".join(
        f"| {name} | {r['bytes']:,} | {r['typed_us']:.1f} | {r['tolerant_us']:.1f} | "
        f"{r['ratio']:.2f}× |"
        for name, r in results.items()
    )
    body = f"""## Usage: reading one transcript line

Measured {today()} on {host}; `bench/usage_parse.py --repeats {args.repeats} --number {args.number}`.
One assistant line read into its usage record, the typed decoding the daemon uses (msgspec, only
the fields usage needs; what does not fit its types falls back) against the tolerant reading
(the standard library's JSON, every value checked), which gives the same record. µs per line,
medians over {args.repeats} rounds of {args.number} readings each way in alternating order; the
ratio is the median of the rounds' own ratios.

| line | bytes | typed | tolerant | tolerant ÷ typed |
|---|---:|---:|---:|---:|
{rows}

The daemon parses every line of a streamed message (its output count grows from line to line)
and never parses a line without `"usage"` (user lines, tool results).

Counting each message once, with the window full ({memory["keys"]:,} keys, the figures of
{memory["figures"]:,} messages): **{memory["mb"]:.1f} MB** (`tracemalloc`)."""
    print(body)
    if args.record:
        record("usage-parse", body)
    write_result(args.json, "usage-parse", body, [], {"shapes": results, "dedupe": memory})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
