"""Shared by the Python benchmarks: statistics, machine description, recording in docs."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import re
import statistics
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tina.dev.backend import BackendOptions, BackendProcess

if TYPE_CHECKING:
    from tina.dev.sim.sandbox import Laptop

REPO_ROOT = Path(__file__).resolve().parent.parent
# `TINA_BENCH_DOC` points the recording elsewhere (the smoke tests record into a temporary file).
BENCHMARKS_MD = Path(os.environ.get("TINA_BENCH_DOC") or REPO_ROOT / "docs" / "benchmarks.md")
sys.path.insert(0, str(REPO_ROOT))
SECRET = "bench-enrollment-secret-0123456789"
"""The enrollment secret of the benchmarks' local backends."""


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
    with contextlib.suppress(OSError):
        load = f" (1-minute load {os.getloadavg()[0]:.1f} at the start)"
    return f"{cpu} × {cores}{mem}, {platform.system()} {platform.release()}, Python {platform.python_version()}{load}"


def today() -> str:
    return datetime.date.today().isoformat()


def record(section: str, body: str, *, top: bool = False) -> None:
    """Replace the section between `<!-- section:start -->` and `<!-- section:end -->`; a new one
    is appended, or with `top` put after the document's first paragraph (below its title)."""
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else "# Benchmarks\n"
    start, end = f"<!-- {section}:start -->", f"<!-- {section}:end -->"
    block = f"{start}\n{body.strip()}\n{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    elif top:
        head, sep, rest = text.partition("\n\n")
        intro, sep2, rest2 = rest.partition("\n\n")
        if head.startswith("# ") and intro and not intro.startswith(("#", "<!--")):
            text = (
                f"{head}\n\n{intro}\n\n{block}\n\n{rest2}"
                if sep2
                else f"{head}\n\n{intro}\n\n{block}\n"
            )
        else:
            text = f"{head}\n\n{block}\n\n{rest}" if sep else f"{head.rstrip()}\n\n{block}\n"
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    BENCHMARKS_MD.parent.mkdir(parents=True, exist_ok=True)
    BENCHMARKS_MD.write_text(text)


def sign_up(url: str, email: str, password: str = "benchmark-password-123") -> str:
    from tina.dev.backend import password_sign_up

    return password_sign_up(url, email, password)


def auth_env(secret: str) -> dict[str, str]:
    keys = REPO_ROOT / "tests" / "fixtures" / "auth-keys"
    env = {"TINA_ENROLLMENT_SECRET": secret}
    for name in ("JWT_PRIVATE_KEY", "JWKS"):
        env[name] = (keys / name).read_text().strip()
    return env


def start_backend(root: Path, secret: str) -> tuple[BackendProcess, str]:
    """The local backend of a benchmark, started (its log `root/backend.log`, signed-in users and
    laptops enrolling with `secret` accepted): the process and its URL."""
    backend = BackendProcess(
        BackendOptions(port=0, env=auth_env(secret)), log_path=root / "backend.log"
    )
    return backend, backend.start()


@contextlib.contextmanager
def backend_and_laptop(
    *, prefix: str = "tina-bench-", laptop_dir: str = "laptop"
) -> Iterator[tuple[Path, BackendProcess, str, Laptop]]:
    """A temporary directory (`prefix`: keep it short where a socket path goes under it) with the
    local backend started (`start_backend`) and a simulated laptop enrolling with it: (the
    directory, the backend, its URL, the laptop), each stopped at the end, the laptop first."""
    from tina.dev.sim.sandbox import Laptop

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        root = Path(tmp)
        backend, url = start_backend(root, SECRET)
        try:
            laptop = Laptop(root / laptop_dir, "bench-laptop", url, enrollment_secret=SECRET)
            try:
                yield root, backend, url, laptop
            finally:
                laptop.close()
        finally:
            backend.stop()


def fmt(v: float) -> str:
    return f"{v:.1f}" if v == v else "–"


def target(measure: str, measured: str, goal: str, met: bool) -> dict[str, Any]:
    """One row of the summary table: what was measured against which target (DESIGN §8)."""
    return {"measure": measure, "measured": measured, "target": goal, "met": bool(met)}


def add_output_args(parser: argparse.ArgumentParser) -> None:
    """`--record` (this script's section of docs/benchmarks.md) and `--json PATH` (for
    `bench/run.py`): every benchmark's two outputs besides its printed report."""
    parser.add_argument(
        "--record",
        action="store_true",
        help=f"write the result into {REPO_ROOT / 'docs/benchmarks.md'}",
    )
    parser.add_argument("--json", type=Path, help="write the result as JSON (for bench/run.py)")


def write_result(
    path: Path | None,
    section: str,
    body: str,
    targets: list[dict[str, Any]],
    data: dict[str, Any] | None = None,
) -> None:
    """The machine-readable result `bench/run.py` collects (`--json PATH` of every script)."""
    if path is not None:
        doc = {"section": section, "body": body, "targets": targets, "data": data or {}}
        path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
