"""The laptop's quota: the status line's rate limits and StopFailure rate limits -> what
``usage:recordQuota`` is sent, and when."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from tina.convex import LatestValue
from tina.convex.errors import ConvexError
from tina.convex.gateway import GatewayProtocol
from tina.daemon.actors import usage as actor
from tina.daemon.watch import WatchHub
from tina.dev.fakes import FakeGateway
from tina.supervision import Backoff
from tina.usage.account import account_key
from tina.usage.quota import (
    ACCOUNTS_MAX,
    LIMITED_TEXT_MAX,
    MIN_INTERVAL_MS,
    Observation,
    QuotaReport,
    QuotaState,
    Window,
    parse_rate_limits,
)

NOW = 1_772_460_000_000
RESET_5H = 1_772_470_000  # seconds, as Claude Code writes it
RESET_7D = 1_772_900_000
FAST = Backoff(initial=0.01, cap=0.05, jitter=0.0)


def _file(five: float | None = 23.5, seven: float | None = 41.2, **extra: Any) -> bytes:
    doc: dict[str, Any] = {"timestamp": "2026-03-02T14:00:00Z", **extra}
    if five is not None:
        doc["five_hour"] = {"used_percentage": five, "resets_at": RESET_5H}
    if seven is not None:
        doc["seven_day"] = {"used_percentage": seven, "resets_at": RESET_7D}
    return json.dumps(doc).encode()


def _obs(at: int, five: float | None = None, seven: float | None = None) -> Observation:
    return Observation(
        observed_at=at,
        five_hour=None if five is None else Window(used_pct=five, resets_at=RESET_5H * 1000),
        seven_day=None if seven is None else Window(used_pct=seven, resets_at=RESET_7D * 1000),
    )


# --- parsing -------------------------------------------------------------------------------------


def test_a_status_line_file_becomes_windows_in_ms() -> None:
    obs = parse_rate_limits(_file(), now_ms=NOW)
    assert obs == Observation(
        observed_at=1_772_460_000_000,
        five_hour=Window(used_pct=23.5, resets_at=RESET_5H * 1000),
        seven_day=Window(used_pct=41.2, resets_at=RESET_7D * 1000),
    )


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b"{}",
        json.dumps({"five_hour": {"used_percentage": "23", "resets_at": RESET_5H}}).encode(),
        json.dumps({"five_hour": {"used_percentage": 23, "resets_at": None}}).encode(),
        json.dumps({"five_hour": {"used_percentage": -1, "resets_at": RESET_5H}}).encode(),
        json.dumps({"five_hour": {"used_percentage": 1001, "resets_at": RESET_5H}}).encode(),
        json.dumps({"five_hour": {"used_percentage": True, "resets_at": RESET_5H}}).encode(),
        json.dumps({"seven_day": {"used_percentage": 5, "resets_at": 10**15}}).encode(),
        b'{"five_hour": {"used_percentage": NaN, "resets_at": 1772470000}}',
        b" " * 9000,  # more than a status line writes
    ],
)
def test_anything_else_is_no_observation(data: bytes) -> None:
    assert parse_rate_limits(data, now_ms=NOW) is None


def test_the_transcript_path_names_the_account() -> None:
    path = "/home/me/.claude-work/projects/-repo/0c9d7e21.jsonl"
    obs = parse_rate_limits(_file(transcript_path=path), now_ms=NOW, home=Path("/home/me"))
    assert obs is not None and obs.account == "~/.claude-work"
    for bad in (None, 7, "relative/projects/-repo/s.jsonl", "/home/me/.claude/s.txt"):
        found = parse_rate_limits(_file(transcript_path=bad), now_ms=NOW, home=Path("/home/me"))
        assert found is not None and found.account is None  # the windows count, unattributed


def test_a_time_in_the_future_or_missing_is_now() -> None:
    later = parse_rate_limits(_file(timestamp="2099-01-01T00:00:00Z"), now_ms=NOW)
    bare = parse_rate_limits(_file(timestamp=None), now_ms=NOW)
    assert later is not None and later.observed_at == NOW
    assert bare is not None and bare.observed_at == NOW


def test_the_wire_form() -> None:
    report = QuotaReport(
        account="~/.claude-work",
        observed_at=NOW,
        five_hour=Window(used_pct=23.5, resets_at=RESET_5H * 1000),
        limited_at=NOW - 5,
        limited_text="limit",
    )
    assert report.to_wire() == {
        "account": "~/.claude-work",
        "observedAt": float(NOW),
        "fiveHour": {"usedPct": 23.5, "resetsAt": float(RESET_5H * 1000)},
        "limitedAt": float(NOW - 5),
        "limitedText": "limit",
    }


# --- when a report is due ------------------------------------------------------------------------


def test_a_change_is_sent_at_most_once_per_interval() -> None:
    state = QuotaState()
    assert state.due_in(NOW) is None  # nothing known: nothing to send
    assert state.observe(_obs(NOW, five=10, seven=20))
    assert state.due_in(NOW) == 0
    report = state.report(NOW)
    assert report is not None
    state.sent(report, NOW)
    assert state.due_in(NOW + 1) is None  # nothing new
    assert not state.observe(_obs(NOW + 2, five=10, seven=20))  # the same windows, later
    assert state.due_in(NOW + 2) is None
    assert state.observe(_obs(NOW + 3, five=11))  # the 7-day window absent: kept
    assert state.due_in(NOW + 3) == MIN_INTERVAL_MS - 3
    assert state.due_in(NOW + MIN_INTERVAL_MS) == 0
    later = state.report(NOW + MIN_INTERVAL_MS)
    assert later is not None and later.seven_day == report.seven_day
    assert later.five_hour is not None and later.five_hour.used_pct == 11


def test_an_older_observation_is_ignored() -> None:
    state = QuotaState()
    state.observe(_obs(NOW, five=50))
    assert not state.observe(_obs(NOW - 1, five=99))
    assert state.five_hour is not None and state.five_hour.used_pct == 50
    assert state.ignored == 1


@pytest.mark.parametrize(("before", "after"), [(79.9, 80.0), (95, 100), (10, 100.5)])
def test_crossing_80_or_100_percent_is_sent_at_once(before: float, after: float) -> None:
    state = QuotaState()
    state.observe(_obs(NOW, five=before))
    report = state.report(NOW)
    assert report is not None
    state.sent(report, NOW)
    state.observe(_obs(NOW + 1, five=after))
    assert state.due_in(NOW + 1) == 0


def test_a_rise_that_crosses_nothing_waits() -> None:
    state = QuotaState()
    state.observe(_obs(NOW, five=81))
    report = state.report(NOW)
    assert report is not None
    state.sent(report, NOW)
    state.observe(_obs(NOW + 1, five=90))
    assert state.due_in(NOW + 1) == MIN_INTERVAL_MS - 1


def test_a_limit_hit_is_sent_at_once_with_its_text_cut() -> None:
    state = QuotaState()
    state.observe(_obs(NOW, five=60))
    report = state.report(NOW)
    assert report is not None
    state.sent(report, NOW)
    assert state.limited(NOW + 10, "5-hour limit reached\n  resets 3pm " + "x" * 400)
    assert state.due_in(NOW + 10) == 0
    limited = state.report(NOW + 10)
    assert limited is not None and limited.limited_at == NOW + 10
    assert limited.limited_text is not None and len(limited.limited_text) == LIMITED_TEXT_MAX
    assert limited.limited_text.startswith("5-hour limit reached resets 3pm x")
    assert not state.limited(NOW + 5, "older")  # an older limit changes nothing


# --- the actor -----------------------------------------------------------------------------------


def _trio_ms() -> int:
    return int(trio.current_time() * 1000)


async def _start_quota(
    nursery: trio.Nursery, quota: actor.Quota, gateway: FakeGateway, **kwargs: Any
) -> LatestValue[GatewayProtocol | None]:
    cell: LatestValue[GatewayProtocol | None] = LatestValue(gateway)
    await nursery.start(
        lambda task_status: actor.run_quota(
            quota, cell, backoff=FAST, task_status=task_status, **kwargs
        )
    )
    return cell


async def test_reports_are_rate_limited_and_a_threshold_goes_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gateway = FakeGateway()
    quota = actor.Quota(clock=_trio_ms)
    async with trio.open_nursery() as nursery:
        await _start_quota(nursery, quota, gateway)
        assert quota.observe_file(_file(five=10, seven=20, timestamp=None))
        await trio.testing.wait_all_tasks_blocked()
        assert len(gateway.quota_reports) == 1
        start = trio.current_time()
        quota.observe_file(_file(five=11, seven=20, timestamp=None))
        quota.observe_file(_file(five=12, seven=20, timestamp=None))
        await trio.sleep(MIN_INTERVAL_MS / 1000 - 1)
        assert len(gateway.quota_reports) == 1  # not before 30 s
        await trio.sleep(1.5)
        assert len(gateway.quota_reports) == 2  # the newest, once
        assert trio.current_time() - start >= MIN_INTERVAL_MS / 1000
        five = gateway.quota_reports[-1].five_hour
        assert five is not None and five.used_pct == 12
        quota.observe_file(_file(five=85, seven=20, timestamp=None))
        await trio.testing.wait_all_tasks_blocked()
        assert len(gateway.quota_reports) == 3  # 80 % crossed: at once
        quota.limited(trio.current_time() * 1000, "5-hour limit reached")
        await trio.testing.wait_all_tasks_blocked()
        assert gateway.quota_reports[-1].limited_text == "5-hour limit reached"
        nursery.cancel_scope.cancel("test done")


async def test_a_failed_report_is_sent_again_and_a_refused_one_is_not(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gateway = FakeGateway(fail_next=1)
    quota = actor.Quota(clock=_trio_ms)
    async with trio.open_nursery() as nursery:
        await _start_quota(nursery, quota, gateway)
        quota.observe_file(_file(timestamp=None))
        await trio.sleep(1)
        assert gateway.count("record_quota") == 2 and len(gateway.quota_reports) == 1
        gateway.inject(
            "record_quota", ConvexError({"code": "invalid", "message": "fiveHour.usedPct"}, "x")
        )
        quota.limited(trio.current_time() * 1000, None)
        await trio.sleep(120)
        assert gateway.count("record_quota") == 3  # refused: not again until it changes
        nursery.cancel_scope.cancel("test done")


async def test_a_reconnect_sends_the_quota_again(autojump_clock: trio.testing.MockClock) -> None:
    gateway = FakeGateway()
    quota = actor.Quota(clock=_trio_ms)
    reconcile = LatestValue(0)
    async with trio.open_nursery() as nursery:
        await _start_quota(nursery, quota, gateway, reconcile=reconcile)
        quota.observe_file(_file(timestamp=None))
        await trio.testing.wait_all_tasks_blocked()
        assert len(gateway.quota_reports) == 1
        reconcile.set(1)
        await trio.testing.wait_all_tasks_blocked()
        assert len(gateway.quota_reports) == 2
        nursery.cancel_scope.cancel("test done")


async def _until(condition: Callable[[], object], timeout: float = 20.0) -> None:
    with trio.fail_after(timeout):
        while not condition():
            await trio.sleep(0.01)


@pytest.mark.timeout(60)
async def test_the_status_line_file_of_a_worktree_reaches_the_gateway(tmp_path: Path) -> None:
    worktree = tmp_path / "wt"
    (worktree / ".claude" / "tina").mkdir(parents=True)
    gateway = FakeGateway()
    quota = actor.Quota()
    hub = WatchHub()
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        await _start_quota(nursery, quota, gateway)
        await nursery.start(
            lambda task_status: actor.watch_rate_limits(
                worktree, hub, quota, task_status=task_status
            )
        )
        target = worktree / ".claude" / "tina" / "rate-limits.json"
        temp = target.with_name(".rate-limits.json.tmp")
        temp.write_bytes(_file(five=42, seven=7, timestamp=None))
        temp.rename(target)  # as the script writes it: atomically
        await _until(lambda: gateway.quota_reports)
        five = gateway.quota_reports[0].five_hour
        assert five is not None and five.used_pct == 42
        nursery.cancel_scope.cancel("test done")


@pytest.mark.timeout(60)
async def test_the_account_a_config_dir_is_logged_in_to_goes_with_its_report(
    tmp_path: Path,
) -> None:
    """Two config dirs logged in to one account send the same key; a new login, another."""
    worktrees = [tmp_path / "wt1", tmp_path / "wt2"]
    for wt, config in zip(worktrees, (".claude", ".claude-work"), strict=True):
        (wt / ".claude" / "tina").mkdir(parents=True)
        (tmp_path / config).mkdir()
    login = {"oauthAccount": {"accountUuid": "4f6c1a2e-0b7d-4c1e-9a55-2f3b8d7e6c10"}}
    (tmp_path / ".claude.json").write_text(json.dumps(login))  # ~/.claude's
    (tmp_path / ".claude-work" / ".claude.json").write_text(json.dumps(login))
    gateway = FakeGateway()
    quota = actor.Quota(home=tmp_path)
    hub = WatchHub()

    def write(wt: Path, config: str, five: float) -> None:
        target = wt / ".claude" / "tina" / "rate-limits.json"
        temp = target.with_name(".rate-limits.json.tmp")
        path = f"{tmp_path}/{config}/projects/-repo/s.jsonl"
        temp.write_bytes(_file(five=five, timestamp=None, transcript_path=path))
        temp.rename(target)

    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        await _start_quota(nursery, quota, gateway)
        for wt in worktrees:
            await nursery.start(
                lambda task_status, wt=wt: actor.watch_rate_limits(
                    wt, hub, quota, task_status=task_status
                )
            )
        write(worktrees[0], ".claude", 10)
        write(worktrees[1], ".claude-work", 10)
        await _until(lambda: len(gateway.quota_reports) == 2)
        keys = {r.account: r.account_key for r in gateway.quota_reports}
        assert keys.keys() == {"~/.claude", "~/.claude-work"}
        assert (
            keys["~/.claude"] == keys["~/.claude-work"] == account_key(json.dumps(login).encode())
        )
        assert "accountKey" in gateway.quota_reports[0].to_wire()
        # Logged in to another account: the next report (the 80 % crossed: at once) says so.
        other = {"oauthAccount": {"accountUuid": "0a1b2c3d-0000-4000-8000-000000000002"}}
        (tmp_path / ".claude-work" / ".claude.json").write_text(json.dumps(other))
        write(worktrees[1], ".claude-work", 85)
        await _until(lambda: len(gateway.quota_reports) == 3)
        last = gateway.quota_reports[-1]
        assert last.account == "~/.claude-work"
        assert last.account_key == account_key(json.dumps(other).encode())
        nursery.cancel_scope.cancel("test done")


@pytest.mark.timeout(60)
async def test_a_rate_limit_stop_of_a_config_dir_with_no_status_line_carries_its_key(
    tmp_path: Path,
) -> None:
    """A config dir seen only through a ``StopFailure`` (its sessions never ran the status
    line): its account's key is looked up from its config file, and goes with the stop's
    report; a config dir logged in with no account sends its stop with none."""
    login = {"oauthAccount": {"accountUuid": "4f6c1a2e-0b7d-4c1e-9a55-2f3b8d7e6c10"}}
    (tmp_path / ".claude-work").mkdir()
    (tmp_path / ".claude-work" / ".claude.json").write_text(json.dumps(login))
    (tmp_path / ".claude-api").mkdir()
    (tmp_path / ".claude-api" / ".claude.json").write_text(json.dumps({"primaryApiKey": "x"}))
    gateway = FakeGateway()
    quota = actor.Quota(home=tmp_path)
    async with trio.open_nursery() as nursery:
        await _start_quota(nursery, quota, gateway)
        quota.limited(
            time.time() * 1000,
            "limit reached",
            f"{tmp_path}/.claude-work/projects/-repo/s/subagents/agent-a1.jsonl",
        )
        await _until(lambda: len(gateway.quota_reports) == 1)
        first = gateway.quota_reports[0]
        assert (first.account, first.limited_text) == ("~/.claude-work", "limit reached")
        assert first.account_key == account_key(json.dumps(login).encode())
        assert first.to_wire()["accountKey"] == first.account_key
        quota.limited(time.time() * 1000, "again", f"{tmp_path}/.claude-api/projects/-r/s.jsonl")
        await _until(lambda: len(gateway.quota_reports) == 2)
        second = gateway.quota_reports[1]
        assert (second.account, second.account_key) == ("~/.claude-api", None)
        assert "accountKey" not in second.to_wire()
        nursery.cancel_scope.cancel("test done")


def test_a_new_login_alone_is_reported() -> None:
    quota = actor.Quota(clock=lambda: NOW, home=Path("/home/me"))
    data = _account_file(".claude", 10, timestamp=None)
    assert quota.observe_file(data, "a" * 32)
    state = quota.accounts["~/.claude"]
    report = state.report(NOW)
    assert report is not None
    state.sent(report, NOW)
    assert not quota.observe_file(data, "a" * 32)  # nothing new
    assert quota.observe_file(data, "b" * 32)  # the same windows, another account
    assert state.due_in(NOW) is not None


def _account_file(config: str, five: float, **extra: Any) -> bytes:
    return _file(five=five, transcript_path=f"/home/me/{config}/projects/-repo/s.jsonl", **extra)


async def test_each_account_is_reported_on_its_own_and_at_its_own_pace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Two config dirs (two logins) on one laptop: each has its row, neither's report waits for
    or replaces the other's, and a rate-limit stop is its session's account's."""
    gateway = FakeGateway()
    quota = actor.Quota(clock=_trio_ms, home=Path("/home/me"))
    async with trio.open_nursery() as nursery:
        await _start_quota(nursery, quota, gateway)
        quota.observe_file(_account_file(".claude", 10, timestamp=None))
        await trio.testing.wait_all_tasks_blocked()
        quota.observe_file(_account_file(".claude-work", 50, timestamp=None))
        await trio.testing.wait_all_tasks_blocked()
        # The second account's first report went at once, though the first's was just sent.
        assert [
            (r.account, r.five_hour and r.five_hour.used_pct) for r in gateway.quota_reports
        ] == [
            ("~/.claude", 10),
            ("~/.claude-work", 50),
        ]
        quota.limited(
            trio.current_time() * 1000,
            "limit reached",
            "/home/me/.claude-work/projects/-repo/s/subagents/agent-a1.jsonl",
        )
        await trio.testing.wait_all_tasks_blocked()
        last = gateway.quota_reports[-1]
        assert (last.account, last.limited_text) == ("~/.claude-work", "limit reached")
        assert last.five_hour is not None and last.five_hour.used_pct == 50  # its own windows
        personal = quota.accounts["~/.claude"]
        assert personal.limited_at is None
        assert quota.detail()["accounts"] == 2
        nursery.cancel_scope.cancel("test done")


def test_past_eight_accounts_the_least_recently_observed_makes_room() -> None:
    quota = actor.Quota(clock=lambda: NOW, home=Path("/home/me"))
    for i in range(ACCOUNTS_MAX):
        assert quota.observe_file(_account_file(f".claude-{i}", 10 + i))
    quota.observe_file(_account_file(".claude-0", 50))  # observed again: the most recent
    assert quota.observe_file(_account_file(".claude-new", 1))
    assert len(quota.accounts) == ACCOUNTS_MAX
    assert "~/.claude-1" not in quota.accounts
    assert {"~/.claude-0", "~/.claude-new"} <= set(quota.accounts)
