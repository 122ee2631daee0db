"""The unwired usage actor with a fake `send`: real files and threads, so the real clock."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import trio

from tests.usage.conftest import FIXTURES
from tina.convex.errors import ConvexError
from tina.daemon.actors import usage as actor
from tina.usage import Batch, Facts, UsageLedger, load_prices

PRICES = load_prices()


def _copy(tmp_path: Path) -> Path:
    projects = tmp_path / "projects"
    shutil.copytree(FIXTURES / "projects", projects)
    return projects


async def _until(condition: object, timeout: float = 20.0) -> None:
    assert callable(condition)
    with trio.fail_after(timeout):
        while not condition():
            await trio.sleep(0.01)


@pytest.mark.timeout(60)
async def test_a_failed_send_is_retried_under_the_same_id_then_acknowledged(tmp_path: Path) -> None:
    projects = _copy(tmp_path)
    ledger = UsageLedger(tmp_path / "usage.json")
    sent: list[Batch] = []
    failures = [True]

    async def send(batch: Batch) -> bool:
        sent.append(batch)
        if failures:
            failures.pop()
            raise ConnectionError("lost reply")
        return True

    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: actor.run(
                ledger,
                projects,
                Facts,
                send,
                prices=PRICES,
                interval=0.01,
                task_status=task_status,
            )
        )
        await _until(lambda: len(sent) >= 2 and not ledger.pending())
        nursery.cancel_scope.cancel("test done")
    assert sent[0].id == sent[1].id
    assert sum(r["messages"] for r in sent[0].rows) == 6
    assert UsageLedger.load(tmp_path / "usage.json").pending() == []


@pytest.mark.timeout(60)
async def test_new_lines_are_sent_once_and_deleted_files_forgotten(tmp_path: Path) -> None:
    projects = _copy(tmp_path)
    ledger = UsageLedger(tmp_path / "usage.json")
    sent: list[Batch] = []

    async def send(batch: Batch) -> bool:
        sent.append(batch)
        return True

    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: actor.run(
                ledger, projects, Facts, send, prices=PRICES, interval=0.01, task_status=task_status
            )
        )
        await _until(lambda: len(sent) == 1)
        new = projects / "-p" / "s.jsonl"
        new.parent.mkdir()
        line = {
            "type": "assistant",
            "timestamp": "2026-03-02T12:00:00Z",
            "requestId": "r1",
            "message": {"id": "m1", "model": "m", "usage": {"input_tokens": 9}},
        }
        new.write_text(json.dumps(line) + "\n")
        await _until(lambda: len(sent) == 2)
        assert [r["input"] for r in sent[1].rows] == [9]
        new.unlink()
        await _until(lambda: str(new) not in ledger.reader.marks)
        nursery.cancel_scope.cancel("test done")
    assert len(sent) == 2


def test_scan_once_on_a_missing_directory_seals_nothing(tmp_path: Path) -> None:
    ledger = UsageLedger(tmp_path / "usage.json")
    assert actor.scan_once(ledger, tmp_path / "none", Facts(), PRICES) == 0


@pytest.mark.timeout(60)
async def test_a_refused_batch_is_dropped_and_a_refused_credential_is_not(tmp_path: Path) -> None:
    projects = _copy(tmp_path)
    ledger = UsageLedger(tmp_path / "usage.json")
    answers: list[BaseException] = [
        ConvexError({"code": "forbidden", "message": "revoked"}, "forbidden"),
        ConvexError({"code": "invalid", "message": "rows[0].hour"}, "invalid"),
    ]
    sent: list[Batch] = []

    async def send(batch: Batch) -> bool:
        sent.append(batch)
        if answers:
            raise answers.pop(0)
        return True

    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: actor.run(
                ledger, projects, Facts, send, prices=PRICES, interval=0.01, task_status=task_status
            )
        )
        await _until(lambda: len(sent) >= 2 and not ledger.pending())
        nursery.cancel_scope.cancel("test done")
    assert len(sent) == 2  # kept after the credential refusal, dropped after the data refusal
    assert sent[0].id == sent[1].id
    assert ledger.refused == 1
