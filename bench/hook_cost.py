"""The cost of `tina hook`: what every Claude Code hook event pays before the session goes on.

Claude Code runs the command for each hook event and waits for it, so its wall time is added to
every tool call, prompt and stop. Measured here: the wall time from spawning the process (event
JSON on stdin, `CLAUDE_PROJECT_DIR` set, as Claude Code runs it) to its exit, for

- `tina hook`: the installed entry point (the venv's `tina` script, through `tina/cli.py`);
- `python -m tina.hooks.hook`: the module alone;
- `python -c pass`: the interpreter's own start, the floor under both;

each with the daemon **down** (no control socket: the hook finds nothing and exits) and **up**
(the daemon's real control socket, `tina.daemon.control.serve`, taking the events into the hooks
actor's intake, as `tina daemon run` wires it; the hook waits for its acknowledgement). Every run
is checked: exit 0 and nothing on stdout. Median, p90, p99 and max over `--runs` runs each, in
milliseconds, printed (`--record` writes them into docs/benchmarks.md, `--json PATH` for
`bench/run.py`).

    .venv/bin/python bench/hook_cost.py [--runs 200] [--record] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import trio
from _common import machine, record, summary, target, today, write_result

from tina.daemon import control
from tina.daemon.actors.hooks import Hooks

PAYLOAD = json.dumps(
    {
        "session_id": "0c9d7e21-4b5a-4f3e-8a2d-6e1f0b9c8d74",
        "transcript_path": "/home/dev/.claude/projects/-home-dev-shop/0c9d7e21.jsonl",
        "cwd": "/home/dev/shop",
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": "npm test -- --runInBand", "description": "Run the tests"},
        "tool_use_id": "toolu_01ABCDEF",
    }
).encode()


def commands() -> dict[str, list[str]]:
    python = sys.executable
    return {
        "tina hook": [str(Path(python).with_name("tina")), "hook"],
        "python -m tina.hooks.hook": [python, "-m", "tina.hooks.hook"],
        "python -c pass (floor)": [python, "-c", "pass"],
    }


async def time_runs(argv: list[str], env: dict[str, str], cwd: Path, runs: int) -> list[float]:
    out: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        with trio.fail_after(30):
            done = await trio.run_process(
                argv, stdin=PAYLOAD, capture_stdout=True, capture_stderr=True, check=False,
                env=env, cwd=cwd,
            )  # fmt: skip
        out.append((time.perf_counter() - start) * 1000)
        if done.returncode != 0 or done.stdout:
            raise SystemExit(
                f"{' '.join(argv)}: exit {done.returncode}, stdout {done.stdout[:200]!r}, "
                f"stderr {done.stderr[:500]!r}"
            )
    return out


async def measure(runs: int) -> dict[str, dict[str, list[float]]]:
    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="tina-hb-") as d:  # short: AF_UNIX path limit
        home = Path(d)
        project = home / "project"
        project.mkdir()
        state = home / "state"
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "TINA_STATE_DIR": str(state),
            "CLAUDE_PROJECT_DIR": str(project),
        }
        for name, argv in commands().items():
            # Warm the file cache once (not counted), as on a laptop that runs hooks all day.
            await time_runs(argv, env, project, 2)
            results[name] = {"down": await time_runs(argv, env, project, runs)}
        hooks = Hooks(buffer=runs * 4 + 16)
        async with trio.open_nursery() as nursery:
            await nursery.start(
                partial(control.serve, state / "daemon.sock", dict, on_hook=hooks.offer)
            )

            async def drain() -> None:
                async for _ in hooks.receive:
                    pass

            nursery.start_soon(drain)
            for name, argv in commands().items():
                await time_runs(argv, env, project, 2)
                results[name]["up"] = await time_runs(argv, env, project, runs)
            nursery.cancel_scope.cancel()
        taken = hooks.events
        expected = 2 * (2 + runs)  # the two hook commands, warm-up included
        if taken != expected or hooks.dropped:
            raise SystemExit(f"the daemon took {taken} events, dropped {hooks.dropped}")
    return results


def render(results: dict[str, dict[str, list[float]]], runs: int) -> str:
    lines = [
        f"`tina hook` wall time, {today()}, {runs} runs each; {machine()}",
        "",
        "| command | daemon | median ms | p90 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|",
    ]
    for name, by_state in results.items():
        for state in ("down", "up"):
            s = summary(by_state[state])
            lines.append(
                f"| `{name}` | {state} | {s['median']:.1f} | {s['p90']:.1f} | {s['p99']:.1f} "
                f"| {s['max']:.1f} |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--record", action="store_true", help="write the table into docs/benchmarks.md"
    )
    args = parser.parse_args()
    results = trio.run(measure, max(1, args.runs))
    body = render(results, args.runs)
    print(body)
    data = {
        name: {state: summary(values) for state, values in by_state.items()}
        for name, by_state in results.items()
    }
    down = data["tina hook"]["down"]["median"]
    goal = target(
        "`tina hook` with the daemon down (median)", f"{down:.1f} ms", "≤ 50 ms", down <= 50
    )
    if args.record:
        record("hook-cost", body)
    write_result(args.json, "hook-cost", body, [goal], {"ms": data})
    return 0


if __name__ == "__main__":
    sys.exit(main())
