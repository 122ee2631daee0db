"""The real daemon against hostile files under ~/.claude: names that are not UTF-8, FIFOs, a
symlink to /dev/zero, oversized files. The daemon keeps running (and starts again with them in
place), logs each once with its path, and good files written afterwards reach Convex."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard_api import eventually
from tina.dev.backend import BackendProcess
from tina.dev.sim.sandbox import Laptop
from tina.local.files import TASK_MAX, TEAM_CONFIG_MAX

pytestmark = pytest.mark.timeout(180)

TEAM = "hostile-files"


def synced_tasks(backend: BackendProcess, team: str) -> set[str]:
    dump = backend.dump("teams", "tasks")
    ids = [t["_id"] for t in dump["teams"] if t["dirName"] == team]
    return {t["taskId"] for t in dump["tasks"] if ids and t["teamId"] == ids[0]}


def bad_file(directory: Path, name: bytes, doc: Any) -> bytes:
    directory.mkdir(parents=True, exist_ok=True)
    path = os.fsencode(directory) + b"/" + name
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, json.dumps(doc).encode())
    os.close(fd)
    return path


def bad_dir(directory: Path, name: bytes) -> bytes:
    path = os.fsencode(directory) + b"/" + name
    os.makedirs(path)
    return path


def task_doc(i: str) -> dict[str, Any]:
    return {"id": i, "subject": f"task {i}", "description": "d", "status": "pending"}


def logged(laptop: Laptop, event: str) -> list[tuple[Any, Any]]:
    return sorted((e["path"], e.get("limit")) for e in laptop.log_events() if e["event"] == event)


def test_hostile_files_are_logged_once_and_skipped_and_good_files_still_sync(
    backend: BackendProcess, laptop: Laptop
) -> None:
    claude = laptop.claude
    tasks = claude / "tasks" / TEAM
    laptop.write_team(TEAM, [{"name": "team-lead"}], cwd=laptop.root)
    laptop.write_task(TEAM, "1", subject="task 1")
    undecodable = [
        bad_file(tasks, b"bad\xff.json", task_doc("9")),
        bad_dir(claude / "tasks", b"bad\xfe"),
        bad_dir(claude / "teams", b"bad\xfd"),
        bad_file(claude / "tina-sessions", b"bad\xfc.json", {"feature": "x", "cwd": "/x"}),
    ]
    bad_file(Path(os.fsdecode(undecodable[2])), b"config.json", {"name": "bad", "members": []})
    fifo = tasks / "3.json"
    os.mkfifo(fifo)  # no writer: a blocking open() would stall every team
    big = tasks / "4.json"
    big.write_text(json.dumps(task_doc("4")) + " " * TASK_MAX)
    zero = claude / "teams" / "zero" / "config.json"
    zero.parent.mkdir(parents=True)
    zero.symlink_to("/dev/zero")

    laptop.start_daemon()
    eventually(lambda: synced_tasks(backend, TEAM) == {"1"}, timeout=30)

    # More while it runs; then good files, in the same team and in another one.
    undecodable.append(bad_file(tasks, b"later\xfb.json", task_doc("8")))
    laptop.write_task(TEAM, "2", subject="task 2")
    laptop.write_team("other-team", [{"name": "team-lead"}], cwd=laptop.root)
    laptop.write_task("other-team", "1", subject="task 1")
    eventually(lambda: synced_tasks(backend, TEAM) == {"1", "2"}, timeout=30)
    eventually(lambda: synced_tasks(backend, "other-team") == {"1"}, timeout=30)
    assert laptop.daemon is not None and laptop.daemon.poll() is None  # still running

    assert logged(laptop, "file.undecodable_name") == sorted(
        (repr(path), None) for path in undecodable
    )
    assert logged(laptop, "file.refused") == sorted(
        [(str(fifo), TASK_MAX), (str(big), TASK_MAX), (str(zero), TEAM_CONFIG_MAX)]
    )
    teams = {t["dirName"] for t in backend.dump("teams")["teams"]}
    assert teams == {TEAM, "other-team"}

    # It starts again with all of them in place, and keeps syncing.
    assert laptop.stop_daemon() == 0
    laptop.daemon_log.unlink()
    laptop.start_daemon()
    laptop.write_task(TEAM, "5", subject="task 5")
    eventually(lambda: synced_tasks(backend, TEAM) == {"1", "2", "5"}, timeout=30)
    assert len(logged(laptop, "file.undecodable_name")) == len(undecodable)
    assert len(logged(laptop, "file.refused")) == 3
