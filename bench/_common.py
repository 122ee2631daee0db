"""Shared by the Python benchmarks: statistics, machine description, recording in docs."""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import statistics
import sys
import urllib.request
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = REPO_ROOT / "docs" / "benchmarks.md"
sys.path.insert(0, str(REPO_ROOT))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "median": statistics.median(values) if values else float("nan"),
        "p90": pct(values, 90),
        "p99": pct(values, 99),
        "max": max(values) if values else float("nan"),
    }


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = os.cpu_count() or 0
    mem = ""
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, AttributeError):
        pass
    load = ""
    try:
        load = f" (1-minute load {os.getloadavg()[0]:.1f} at the start)"
    except OSError:
        pass
    return f"{cpu} × {cores}{mem}, {platform.system()} {platform.release()}, Python {platform.python_version()}{load}"


def today() -> str:
    return datetime.date.today().isoformat()


def record(section: str, body: str) -> None:
    """Replace (or append) the section between `<!-- section:start -->` and `<!-- section:end -->`."""
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else "# Benchmarks\n"
    start, end = f"<!-- {section}:start -->", f"<!-- {section}:end -->"
    block = f"{start}\n{body.strip()}\n{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    BENCHMARKS_MD.write_text(text)


def sign_up(url: str, email: str, password: str = "benchmark-password-123") -> str:
    body = json.dumps({"path": "auth:signIn", "format": "convex_encoded_json",
                       "args": [{"provider": "password", "params": {"email": email, "password": password,
                                                                    "flow": "signUp"}}]}).encode()
    req = urllib.request.Request(f"{url}/api/action", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        doc: dict[str, Any] = json.loads(resp.read())
    return str(doc["value"]["tokens"]["token"])


def auth_env(secret: str) -> dict[str, str]:
    keys = REPO_ROOT / "tests" / "fixtures" / "auth-keys"
    env = {"TINA_ENROLLMENT_SECRET": secret}
    for name in ("JWT_PRIVATE_KEY", "JWKS"):
        env[name] = (keys / name).read_text().strip()
    return env


def fmt(v: float) -> str:
    return f"{v:.1f}" if v == v else "–"
