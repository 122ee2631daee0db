"""The demo's cost summary: one line from the local backend's cost meter."""

from __future__ import annotations

import time

from tina.dev.backend import BackendProcess
from tina.dev.demo import cost_line


def test_cost_line_sums_calls_by_kind_reads_writes_and_names_the_busiest() -> None:
    def counters(**values: int) -> dict[str, int]:
        keys = [
            "calls",
            "rerun",
            "scheduled",
            "cron",
            "documentsRead",
            "bytesRead",
            "documentsWritten",
            "bytesWritten",
            "errors",
        ]
        return {key: values.get(key, 0) for key in keys}

    report = {
        "since": time.time() * 1000 - 5 * 60_000,
        "functions": {
            "nodes:heartbeat": counters(calls=1200, documentsWritten=1200, bytesWritten=300_000),
            "orchestrations:list": counters(calls=2, rerun=40, documentsRead=5_000),
            "crons:sweep": counters(cron=10, errors=1),
        },
        "totals": counters(
            calls=1202,
            rerun=40,
            cron=10,
            documentsRead=5_000,
            bytesRead=2_500_000,
            documentsWritten=1200,
            bytesWritten=300_000,
            errors=1,
        ),
    }
    line = cost_line(report)
    assert line.startswith("[cost 5 min] 1.3k function calls (1.2k calls, 40 query re-runs, ")
    assert "0 scheduled, 10 cron)" in line
    assert "read 5.0k docs / 2.5 MB, wrote 1.2k docs / 0.3 MB, 1 errors" in line
    assert line.endswith("busiest: nodes:heartbeat 1.2k, orchestrations:list 42, crons:sweep 10")
    assert "\n" not in line


def test_cost_line_of_a_live_backend(contract_backend: BackendProcess) -> None:
    contract_backend.reset_metrics()
    contract_backend.call("mutation", "messages:send", {"channel": "c", "body": "x"})
    line = cost_line(contract_backend.metrics())
    assert "1 function calls (1 calls," in line
    assert "wrote 1 docs" in line
    assert line.endswith("busiest: messages:send 1")
