"""Durations as people read them, in one format everywhere (the debug tree, `status`): 45s, 3m05s,
2h03m. No dependencies, so the daemon's status can use it without loading rich."""

from __future__ import annotations


def duration(secs: float) -> str:
    s = max(0, int(secs))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"
