"""A permission prompt through the "Needs you" inbox and back: the two latencies a person feels.

A real daemon on a sandbox laptop (`tina daemon run`, enrolled) and the repository's Convex
functions on the local backend. Each sample runs `tina hook` as Claude Code runs it for a
`PermissionRequest` (the event's JSON on stdin, the hook environment with `CLAUDE_PROJECT_DIR`,
the installed command `<tina> hook`, in the project directory), with a command of its own, and
measures

1. **hook invoked → item visible**: from spawning the hook process to the first result of a
   dashboard subscription of `needs:needsYou` (our trio client, signed in as the owner) that
   lists the prompt;
2. **dashboard tap → decision printed**: from sending `prompts:answer` (`allow_once`, the
   arguments the web sends) over the same client to the moment the waiting hook process writes
   Claude Code's `hookSpecificOutput` line on its stdout; every decision is checked.

Median, p90, p99 and max over `--runs` samples, in milliseconds, printed (`--record` writes them
into docs/benchmarks.md, `--json PATH` for `bench/run.py`). Targets: (1) p99 ≤ 150 ms, (2) p99 ≤
250 ms.

    .venv/bin/python bench/needs_latency.py [--runs 100] [--record] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import trio
from _common import (
    backend_and_laptop,
    fmt,
    machine,
    record,
    sign_up,
    summary,
    target,
    today,
    write_result,
)

from tina.convex import open_convex_client
from tina.dev.sim.sandbox import BIN, Laptop
from tina.log import configure_logging

WAIT_MS = "20000"
NEEDS_QUERY = "needs:needsYou"
VISIBLE_TARGET_MS = 150.0
DECISION_TARGET_MS = 250.0
SESSION_ID = "5b0f3c2e-8d41-4a7e-9c1b-2f6e0d9a7b13"


def listed_prompts(query: str, value: Any) -> list[dict[str, Any]]:
    """The permission prompts a result of `query` (`needs:needsYou`) lists."""
    if not isinstance(value, dict):
        return []
    return [
        item["prompt"]
        for item in value.get("items", [])
        if item.get("kind") == "permission_prompt" and isinstance(item.get("prompt"), dict)
    ]


def event(laptop: Laptop, project: Path, command: str) -> bytes:
    """What Claude Code sends a PermissionRequest hook (reference §8.3, §8.4)."""
    return json.dumps(
        {
            "session_id": SESSION_ID,
            "transcript_path": str(laptop.claude / "projects" / "bench" / f"{SESSION_ID}.jsonl"),
            "cwd": str(project),
            "permission_mode": "default",
            "hook_event_name": "PermissionRequest",
            "tool_name": "Bash",
            "tool_input": {"command": command, "description": "Run the benchmark step"},
            "permission_suggestions": [
                {
                    "type": "addRules",
                    "rules": [{"toolName": "Bash", "ruleContent": "echo:*"}],
                    "behavior": "allow",
                    "destination": "localSettings",
                }
            ],
        }
    ).encode()


EXPECTED = (
    json.dumps(
        {
            "hookSpecificOutput": {
                "hookEventName": "PermissionRequest",
                "decision": {"behavior": "allow"},
            }
        }
    ).encode()
    + b"\n"
)


async def sample(
    client: Any, sub: Any, query: str, laptop: Laptop, project: Path, index: int
) -> tuple[float, float]:
    command = f"echo needs-latency {index} {uuid.uuid4().hex[:8]}"
    env = laptop.env({"TINA_PERMISSION_WAIT_MS": WAIT_MS, "CLAUDE_PROJECT_DIR": str(project)})
    # The installed hook's command is `<tina> hook` (tina.hooks.settings.default_command).
    argv = [str(BIN / "tina"), "hook"]
    t0 = time.perf_counter()
    proc = await trio.lowlevel.open_process(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=env, cwd=project,
    )  # fmt: skip
    try:
        assert proc.stdin is not None
        assert proc.stdout is not None
        await proc.stdin.send_all(event(laptop, project, command))
        await proc.stdin.aclose()
        prompt_id: str | None = None
        with trio.fail_after(10):
            while prompt_id is None:
                for p in listed_prompts(query, await sub.next()):
                    if json.loads(p.get("toolInput") or "{}").get("command") == command:
                        prompt_id = str(p["promptId"])
        visible = (time.perf_counter() - t0) * 1000
        out = b""
        t1 = time.perf_counter()
        await client.mutation("prompts:answer", {"promptId": prompt_id, "decision": "allow_once"})
        with trio.fail_after(10):
            while not out.endswith(b"\n"):
                chunk = await proc.stdout.receive_some(65536)
                if not chunk:
                    break
                out += chunk
        decided = (time.perf_counter() - t1) * 1000
        if out != EXPECTED:
            raise SystemExit(f"sample {index}: the hook printed {out!r}, expected {EXPECTED!r}")
        with trio.fail_after(10):
            code = await proc.wait()
        if code != 0:
            raise SystemExit(f"sample {index}: the hook exited {code}")
        return visible, decided
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def measure(
    url: str, token: str, laptop: Laptop, project: Path, runs: int, query: str
) -> tuple[list[float], list[float]]:
    visible: list[float] = []
    decided: list[float] = []
    async with open_convex_client(url, timeout=10) as client:
        client.set_auth(token)
        await client.wait_connected()
        async with client.subscribe(query, {}) as sub:
            await sub.next()
            # One warm-up sample (not counted): the first hook pays for a cold file cache.
            await sample(client, sub, query, laptop, project, -1)
            for i in range(runs):
                v, d = await sample(client, sub, query, laptop, project, i)
                visible.append(v)
                decided.append(d)
                await trio.sleep(0.05)  # the prompt settles (applied) before the next opens
    return visible, decided


def render(visible: list[float], decided: list[float], runs: int, query: str, host: str) -> str:
    rows = [
        (f"hook invoked → item visible in `{query}`", summary(visible), VISIBLE_TARGET_MS),
        (
            "`prompts:answer` sent → decision printed by the hook",
            summary(decided),
            DECISION_TARGET_MS,
        ),
    ]
    table = "\n".join(
        f"| {name} | {fmt(s['median'])} | {fmt(s['p90'])} | {fmt(s['p99'])} | {fmt(s['max'])} "
        f"| ≤ {goal:.0f} |"
        for name, s, goal in rows
    )
    return f"""## Needs you: a permission prompt, hook → dashboard → hook

Measured {today()} on {host}; `bench/needs_latency.py --runs {runs}` ({runs} samples after one
warm-up). A real daemon on a sandbox laptop and the local backend; each sample runs `tina hook`
for a `PermissionRequest` as Claude Code runs it and waits, on a live subscription of `{query}`
signed in as the owner, until the prompt is listed; then sends `prompts:answer` (allow once) as
the dashboard does and waits until the hook prints Claude Code's decision line. Milliseconds.

| | median | p90 | p99 | max | target p99 |
|---|---:|---:|---:|---:|---:|
{table}

The first includes the hook process's own start (see `tina hook` above). Targets: hook → visible
**{verdict(visible, VISIBLE_TARGET_MS)}**, tap → decision **{verdict(decided, DECISION_TARGET_MS)}**.
"""


def verdict(values: list[float], goal: float) -> str:
    return "met" if summary(values)["p99"] <= goal else "NOT met"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument(
        "--record", action="store_true", help="write the result into docs/benchmarks.md"
    )
    parser.add_argument("--json", type=Path, help="write the result as JSON (for bench/run.py)")
    args = parser.parse_args()
    runs = max(1, args.runs)
    configure_logging("quiet")
    host = machine()
    query = NEEDS_QUERY
    # short: AF_UNIX path limit
    with backend_and_laptop(prefix="tina-nl-", laptop_dir="lt") as (_, _, url, laptop):
        try:
            token = sign_up(url, "bench@example.com")
            laptop.start_daemon(env={"TINA_PERMISSION_WAIT_MS": WAIT_MS})
            project = laptop.root / "project"
            project.mkdir()
            visible, decided = trio.run(measure, url, token, laptop, project, runs, query)
        except BaseException:
            print(laptop.log_tail(), file=sys.stderr)
            raise
    body = render(visible, decided, runs, query, host)
    print(body)
    sv, sd = summary(visible), summary(decided)
    goals = [
        target(
            "permission prompt: hook invoked → visible in Needs you (p99)",
            f"p50 {sv['median']:.0f} ms, p99 {sv['p99']:.0f} ms (n={runs})",
            f"≤ {VISIBLE_TARGET_MS:.0f} ms",
            sv["p99"] <= VISIBLE_TARGET_MS,
        ),
        target(
            "permission prompt: dashboard tap → decision printed by the hook (p99)",
            f"p50 {sd['median']:.0f} ms, p99 {sd['p99']:.0f} ms (n={runs})",
            f"≤ {DECISION_TARGET_MS:.0f} ms",
            sd["p99"] <= DECISION_TARGET_MS,
        ),
    ]
    if args.record:
        record("needs-latency", body)
    write_result(
        args.json,
        "needs-latency",
        body,
        goals,
        {"query": query, "visible": visible, "decided": decided},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
