"""The stand-in Claude Code's status line: the account's rate limits and the context, piped to
the configured ``statusLine.command`` as Claude Code does."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from tina.dev.sim.account import WINDOWS, Account
from tina.dev.sim.claude_hooks import status_line_command
from tina.session import statusline

from .standin_world import StandinWorld

INIT = "/tina:team-lead-init team_name: f-phase-1 plan_path: {plan}"
FIVE_HOURS = WINDOWS["five_hour"][0]


def test_the_account_fills_its_windows_and_opens_new_ones_when_they_reset(tmp_path: Path) -> None:
    now = [1_000.0]
    account = Account(tmp_path / "account.json", clock=lambda: now[0])
    assert account.rate_limits() == {}  # nothing spent: no window yet
    five_budget, week_budget = WINDOWS["five_hour"][1], WINDOWS["seven_day"][1]
    limits = account.spend(five_budget // 10)
    assert limits["five_hour"] == {"used_percentage": 10.0, "resets_at": 1_000 + FIVE_HOURS}
    assert limits["seven_day"]["used_percentage"] == round(100 * five_budget / 10 / week_budget, 1)
    # Another session of the laptop (another process) spends from the same account.
    other = Account(tmp_path / "account.json", clock=lambda: now[0])
    assert other.spend(five_budget // 10)["five_hour"]["used_percentage"] == 20.0
    now[0] += FIVE_HOURS  # the 5-hour window resets; the week's goes on
    limits = account.spend(0)
    assert limits["five_hour"] == {"used_percentage": 0.0, "resets_at": now[0] + FIVE_HOURS}
    assert limits["seven_day"]["used_percentage"] > 0
    limits = account.limit_reached(now[0] + 90.5)
    assert limits["five_hour"] == {"used_percentage": 100.0, "resets_at": now[0] + 91}
    assert account.spend(10**12)["five_hour"]["used_percentage"] == 100.0  # never past 100


def test_an_unreadable_account_starts_afresh(tmp_path: Path) -> None:
    path = tmp_path / "account.json"
    path.write_text("{not json")
    assert Account(path).spend(1_000)["five_hour"]["used_percentage"] == 0.0
    assert json.loads(path.read_text())["five_hour"]["used_micros"] == 1_000


def test_the_status_line_is_the_last_settings_files_command(tmp_path: Path) -> None:
    home, project = tmp_path / "home", tmp_path / "wt"
    (home / ".claude").mkdir(parents=True)
    (project / ".claude").mkdir(parents=True)
    env = {"HOME": str(home)}
    assert status_line_command(env, project) is None

    def put(path: Path, setting: Any) -> None:
        path.write_text(json.dumps({"statusLine": setting}))

    put(home / ".claude" / "settings.json", {"type": "command", "command": "user"})
    put(project / ".claude" / "settings.json", {"type": "command", "command": "project"})
    assert status_line_command(env, project) == "project"
    put(project / ".claude" / "settings.local.json", {"type": "command", "command": "local"})
    assert status_line_command(env, project) == "local"
    put(project / ".claude" / "settings.local.json", {"type": "static", "command": "no"})
    assert status_line_command(env, project) == "project"


RECORDER = """\
import json, sys
with open(sys.argv[1], "a") as f:
    f.write(json.dumps(json.load(sys.stdin)) + "\\n")
print("recorded")
"""


def test_a_phase_pipes_its_status_and_the_accounts_rate_limits(tmp_path: Path) -> None:
    world = StandinWorld(tmp_path)
    records, recorder = tmp_path / "status.jsonl", tmp_path / "record.py"
    recorder.write_text(RECORDER)
    settings = world.worktree / ".claude" / "settings.local.json"
    settings.parent.mkdir(parents=True)
    command = f"{sys.executable} {recorder} {records}"
    settings.write_text(json.dumps({"statusLine": {"type": "command", "command": command}}))
    world.scenario({"default": {"step_secs": 0.0, "tasks": 2, "rate_limit_secs": 0.0}})
    started = time.time()
    result = world.run(INIT.format(plan=world.plan))
    assert result.returncode == 0, result.stderr

    docs = [json.loads(line) for line in records.read_text().splitlines()]
    config = json.loads((world.home / ".claude/teams/f-phase-1/config.json").read_text())
    assert {d["session_id"] for d in docs} == {config["leadSessionId"]}
    assert {d["cwd"] for d in docs} == {str(world.worktree)}
    assert all(Path(d["transcript_path"]).is_file() for d in docs)
    # At start, before any response, no rate limits; then the account's after each refresh.
    assert "rate_limits" not in docs[0] and docs[0]["context_window"]["total_input_tokens"] == 0
    limited = [d["rate_limits"] for d in docs[1:]]
    assert limited and all(set(rl) == {"five_hour", "seven_day"} for rl in limited)
    assert all(rl["five_hour"]["resets_at"] >= started for rl in limited)
    assert 100.0 in [rl["five_hour"]["used_percentage"] for rl in limited]  # the rate limit
    last = docs[-1]
    assert last["context_window"]["total_input_tokens"] > 0
    assert last["cost"]["total_cost_usd"] > 0
    ran = [e for e in _log(world) if e["event"] == "status_line"]
    assert len(ran) == len(docs) and {e["stdout"] for e in ran} == {"recorded\n"}


def test_the_status_line_tina_session_installs_records_the_context(tmp_path: Path) -> None:
    world = StandinWorld(tmp_path)
    assert statusline.install(world.worktree) == []
    world.scenario({"default": {"step_secs": 0.0, "tasks": 1}})
    assert world.run(INIT.format(plan=world.plan)).returncode == 0
    metrics = json.loads((world.worktree / ".claude/tina/context-metrics.json").read_text())
    assert metrics["tokens"] > 0 and metrics["max"] == 200_000


def _log(world: StandinWorld) -> list[dict[str, Any]]:
    path = world.home / ".claude" / "tina-standin.log"
    return [json.loads(line) for line in path.read_text().splitlines()]
