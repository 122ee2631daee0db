"""A Claude account's quota: the 5-hour and 7-day windows, and the last rate limit hit.

Claude Code pipes ``rate_limits`` to the status line (recent versions, Claude.ai subscribers,
after a session's first answer); the status-line script tina installs writes it to
``<worktree>/.claude/tina/rate-limits.json`` with the session's transcript path::

    {"five_hour": {"used_percentage": 23.5, "resets_at": 1738425600},
     "seven_day": {"used_percentage": 41.2, "resets_at": 1738857600},
     "transcript_path": "/home/me/.claude-work/projects/-repo/<session>.jsonl",
     "timestamp": "2026-03-02T12:00:00Z"}

(``resets_at`` in epoch seconds; either window may be absent.) A ``StopFailure`` hook event
with ``error: "rate_limit"`` says the limit was hit. The transcript's config dir names the
account (`tina.claude_dirs.account_of`: each config dir keeps its own login); a file written by
an older script, without the path, is the laptop's account not known. Which account the config
dir is logged in to comes with each observation (`tina.usage.account`, read by the caller): a
new login is a change to report. :class:`QuotaState`
keeps one account's newest observation of each and decides when ``usage:recordQuota`` is due:
on a change, at most once per :data:`MIN_INTERVAL`, at once when a window's use crosses 80 % or
100 % or a limit is hit.

Pure: no I/O, no clock (times are passed in, ms since the epoch).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import attrs

from ..claude_dirs import account_of
from .transcript import time_ms

__all__ = [
    "FILE_NAME",
    "LIMITED_TEXT_MAX",
    "MIN_INTERVAL_MS",
    "QuotaReport",
    "QuotaState",
    "Window",
    "parse_rate_limits",
    "window_from",
]

FILE_NAME = "rate-limits.json"
"""Beside ``context-metrics.json`` in a worktree's ``.claude/tina/``."""
FILE_MAX = 8192
"""The windows and a transcript path (the script keeps at most 4096 characters of it)."""
ACCOUNTS_MAX = 8
"""Accounts (config dirs) a laptop reports, at most: as many as Convex keeps rows for."""
MIN_INTERVAL_MS = 30_000
"""At most one ``usage:recordQuota`` per this long, unless a threshold is crossed or a limit hit."""
THRESHOLDS = (80.0, 100.0)
MAX_PCT = 1000.0
FUTURE_SLACK_MS = 5 * 60_000
"""Convex refuses an ``observedAt`` further in the future than this; later ones are clamped."""
LIMITED_TEXT_MAX = 300
TIMESTAMP_MS = (946_684_800_000, 7_258_118_400_000)  # 2000..2200, as usage rows


@attrs.frozen(kw_only=True)
class Window:
    used_pct: float  # 0..MAX_PCT
    resets_at: int  # ms since the epoch

    def to_wire(self) -> dict[str, float]:
        return {"usedPct": float(self.used_pct), "resetsAt": float(self.resets_at)}


@attrs.frozen(kw_only=True)
class QuotaReport:
    """The arguments of ``usage:recordQuota``."""

    account: str | None = None
    account_key: str | None = None  # `tina.usage.account.account_key`
    observed_at: int
    five_hour: Window | None = None
    seven_day: Window | None = None
    limited_at: int | None = None
    limited_text: str | None = None

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"observedAt": float(self.observed_at)}
        if self.account is not None:
            out["account"] = self.account
        if self.account_key is not None:
            out["accountKey"] = self.account_key
        if self.five_hour is not None:
            out["fiveHour"] = self.five_hour.to_wire()
        if self.seven_day is not None:
            out["sevenDay"] = self.seven_day.to_wire()
        if self.limited_at is not None:
            out["limitedAt"] = float(self.limited_at)
        if self.limited_text is not None:
            out["limitedText"] = self.limited_text
        return out


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def window_from(value: object) -> Window | None:
    """A window as Claude Code writes it (``used_percentage``, ``resets_at`` in seconds), or
    None when it is not one (absent, the wrong shape, out of range)."""
    if not isinstance(value, dict):
        return None
    used = _number(value.get("used_percentage"))
    resets = _number(value.get("resets_at"))
    if used is None or resets is None or not 0 <= used <= MAX_PCT:
        return None
    resets_ms = round(resets * 1000)
    if not TIMESTAMP_MS[0] <= resets_ms < TIMESTAMP_MS[1]:
        return None
    return Window(used_pct=used, resets_at=resets_ms)


def _time_ms(value: object) -> int | None:
    ms = time_ms(value)
    return ms if ms is not None and TIMESTAMP_MS[0] <= ms < TIMESTAMP_MS[1] else None


@attrs.frozen(kw_only=True)
class Observation:
    account: str | None = None
    observed_at: int
    five_hour: Window | None = None
    seven_day: Window | None = None


def parse_rate_limits(data: bytes, *, now_ms: int, home: Path | None = None) -> Observation | None:
    """The windows a ``rate-limits.json`` holds and their account (None: no valid window, or
    not that file's shape). Never raises. A time missing or later than `now_ms` is taken as
    `now_ms`; the account is named with ``~`` for `home` (`account_of`)."""
    if len(data) > FILE_MAX:
        return None
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict):
        return None
    five, seven = window_from(doc.get("five_hour")), window_from(doc.get("seven_day"))
    if five is None and seven is None:
        return None
    at = _time_ms(doc.get("timestamp"))
    return Observation(
        account=account_of(doc.get("transcript_path"), home),
        observed_at=now_ms if at is None or at > now_ms else at,
        five_hour=five,
        seven_day=seven,
    )


def _crossed(before: Window | None, after: Window | None) -> bool:
    """Whether `after` reaches a threshold `before` was under (a new window counts from 0)."""
    if after is None:
        return False
    was = 0.0 if before is None or before.resets_at != after.resets_at else before.used_pct
    return any(was < t <= after.used_pct for t in THRESHOLDS)


@attrs.define
class QuotaState:
    """One account's newest observation and limit, what was sent last, and when."""

    account: str | None = None
    # The account the config dir is logged in to (`tina.usage.account`), as last looked up
    # (`key_known`: it was; None then means no account, such as an API-key login).
    account_key: str | None = None
    key_known: bool = False
    five_hour: Window | None = None
    seven_day: Window | None = None
    observed_at: int | None = None
    limited_at: int | None = None
    limited_text: str | None = None
    _sent: QuotaReport | None = None
    _sent_at: int | None = None  # ms, the laptop's clock
    _urgent: bool = False  # a threshold crossed or a limit hit since the last send
    observations: int = 0
    ignored: int = 0  # older than the newest one

    def observe(self, obs: Observation) -> bool:
        """Take an observation; whether anything changed (the newest wins)."""
        if self.observed_at is not None and obs.observed_at < self.observed_at:
            self.ignored += 1
            return False
        self.observations += 1
        changed = (obs.five_hour, obs.seven_day) != (self.five_hour, self.seven_day)
        sent = self._sent
        if _crossed(sent.five_hour if sent else None, obs.five_hour) or _crossed(
            sent.seven_day if sent else None, obs.seven_day
        ):
            self._urgent = True
        self.observed_at = obs.observed_at
        self.five_hour = obs.five_hour or self.five_hour
        self.seven_day = obs.seven_day or self.seven_day
        return changed

    def limited(self, at_ms: int, text: str | None) -> bool:
        """A ``StopFailure`` rate limit at `at_ms` (ms); whether it is newer than the last."""
        if self.limited_at is not None and at_ms <= self.limited_at:
            return False
        self.limited_at = at_ms
        cleaned = " ".join((text or "").split())[:LIMITED_TEXT_MAX]
        self.limited_text = cleaned or None
        self._urgent = True
        return True

    def report(self, now_ms: int) -> QuotaReport | None:
        """What to send now (None: nothing known yet)."""
        if self.observed_at is None and self.limited_at is None:
            return None
        observed = self.observed_at if self.observed_at is not None else self.limited_at
        assert observed is not None
        return QuotaReport(
            account=self.account,
            account_key=self.account_key,
            observed_at=min(observed, now_ms + FUTURE_SLACK_MS),
            five_hour=self.five_hour,
            seven_day=self.seven_day,
            limited_at=self.limited_at,
            limited_text=self.limited_text,
        )

    def due_in(self, now_ms: int) -> int | None:
        """Milliseconds until a send is due (0: now), or None when nothing new is to be sent."""
        report = self.report(now_ms)
        if report is None or _same(report, self._sent):
            return None
        if self._urgent or self._sent_at is None:
            return 0
        return max(0, self._sent_at + MIN_INTERVAL_MS - now_ms)

    def sent(self, report: QuotaReport, now_ms: int) -> None:
        self._sent, self._sent_at = report, now_ms
        self._urgent = False

    def resend(self) -> None:
        """Convex may have lost it (a reconnect): the next report is due at once."""
        self._sent = self._sent_at = None


def _same(report: QuotaReport, sent: QuotaReport | None) -> bool:
    """Whether `report` says nothing `sent` did not (the time of the observation aside)."""
    return sent is not None and attrs.evolve(report, observed_at=sent.observed_at) == sent
