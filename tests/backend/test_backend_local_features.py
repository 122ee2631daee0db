"""The local backend's extras from Python: the state file across restarts, the
test-only dump and run endpoints, and token verification."""

from __future__ import annotations

import base64
import json
import stat
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tina.dev.backend import BackendError, BackendOptions, BackendProcess

BackendFactory = Callable[..., BackendProcess]


def unsigned_jwt(claims: dict[str, Any]) -> str:
    def encode(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{encode({'alg': 'none', 'typ': 'JWT'})}.{encode(claims)}."


def whoami_over_http(url: str, token: str | None) -> tuple[int, dict[str, Any]]:
    body = json.dumps({"path": "identity:whoami", "args": [{}], "format": "convex_encoded_json"})
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        f"{url}/api/query", data=body.encode(), method="POST", headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            reply: dict[str, Any] = json.loads(response.read())
            return response.status, reply
    except urllib.error.HTTPError as error:
        with error:
            refused: dict[str, Any] = json.loads(error.read())
            return error.code, refused


def test_state_file_keeps_documents_ids_and_times_across_restart(
    backend_factory: BackendFactory, contract_functions_dir: Path, tmp_path: Path
) -> None:
    state_file = tmp_path / "state.json"
    backend = backend_factory(functions_dir=contract_functions_dir, state_file=state_file)
    ids = [
        backend.call("mutation", "messages:send", {"channel": "keep", "body": body})
        for body in ("one", "two")
    ]
    before = backend.dump()
    assert [doc["_id"] for doc in before["messages"]] == ids

    url = backend.url
    assert backend.restart() == url
    assert backend.dump() == before
    assert backend.call("query", "messages:list", {"channel": "keep"}) == ["one", "two"]
    new_id = backend.call("mutation", "messages:send", {"channel": "keep", "body": "three"})
    assert new_id not in ids
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600


def test_reset_then_restart_keeps_ids_unique(
    backend_factory: BackendFactory, contract_functions_dir: Path, tmp_path: Path
) -> None:
    backend = backend_factory(
        functions_dir=contract_functions_dir, state_file=tmp_path / "state.json"
    )
    first = backend.call("mutation", "messages:send", {"channel": "r", "body": "a"})
    backend.reset()
    backend.restart()
    assert backend.dump("messages") == {"messages": []}
    assert backend.call("mutation", "messages:send", {"channel": "r", "body": "b"}) != first


def test_a_corrupt_state_file_stops_the_start(contract_functions_dir: Path, tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    state_file.write_text('{"format": "convex-local-state", "version": 1, "documents": [')
    process = BackendProcess(
        BackendOptions(port=0, functions_dir=contract_functions_dir, state_file=state_file),
        log_path=tmp_path / "b.log",
    )
    with pytest.raises(BackendError, match=r"exited with status 1 before it was ready") as raised:
        process.start()
    assert f"state file {state_file}" in str(raised.value)
    assert not process.running


def test_dump_returns_documents_by_table(contract_backend: BackendProcess) -> None:
    message_id = contract_backend.call("mutation", "messages:send", {"channel": "d", "body": "x"})
    dumped = contract_backend.dump("messages")
    assert dumped == {
        "messages": [
            {
                "_id": message_id,
                "_creationTime": dumped["messages"][0]["_creationTime"],
                "channel": "d",
                "body": "x",
            }
        ]
    }
    assert set(contract_backend.dump()) == {"messages", "ticks", "records"}
    with pytest.raises(BackendError, match=r"HTTP 400: No table \"nope\""):
        contract_backend.dump("nope")


def test_metrics_count_calls_and_documents_per_function(
    contract_backend: BackendProcess,
) -> None:
    contract_backend.reset_metrics()
    contract_backend.call("mutation", "messages:send", {"channel": "m", "body": "one"})
    assert contract_backend.call("query", "messages:list", {"channel": "m"}) == ["one"]
    with pytest.raises(BackendError):
        contract_backend.call("mutation", "messages:send", {"channel": 1, "body": "x"})

    report = contract_backend.metrics()
    assert set(report) == {"since", "functions", "totals", "reruns"}
    assert report["reruns"] == {}  # no subscribed query here: nothing ran again
    send = report["functions"]["messages:send"]
    assert send["calls"] == 2
    assert send["errors"] == 1
    assert send["documentsWritten"] == 1
    assert send["bytesWritten"] > 0
    assert report["functions"]["messages:list"]["documentsRead"] == 1
    assert report["totals"]["calls"] == 3
    assert set(report["totals"]) == {
        "calls",
        "rerun",
        "scheduled",
        "cron",
        "documentsRead",
        "bytesRead",
        "documentsWritten",
        "bytesWritten",
        "errors",
    }

    contract_backend.reset_metrics()
    assert contract_backend.metrics()["functions"] == {}


def test_run_function_runs_internal_functions(contract_backend: BackendProcess) -> None:
    contract_backend.run_function("messages:insertInternal", {"channel": "i", "body": "hidden"})
    assert contract_backend.run_function("messages:listInternal", {"channel": "i"}) == ["hidden"]
    # A cron's job, run now.
    contract_backend.run_function("ticks:tick", {"name": "now"})
    assert contract_backend.call("query", "ticks:get", {"name": "now"}) == 1
    with pytest.raises(BackendError, match=r"(?s)HTTP 560: .*Could not find public function"):
        contract_backend.run_function("messages:nope")


def test_verify_tokens_refuses_unsigned_tokens(
    backend_factory: BackendFactory, contract_functions_dir: Path
) -> None:
    token = unsigned_jwt({"iss": "https://issuer.test", "sub": "someone"})
    decoding = backend_factory(functions_dir=contract_functions_dir)
    status, reply = whoami_over_http(decoding.url, token)
    assert status == 200
    assert reply["value"]["subject"] == "someone"

    verifying = backend_factory(functions_dir=contract_functions_dir, verify_tokens=True)
    status, reply = whoami_over_http(verifying.url, token)
    assert status == 401
    assert reply["code"] == "Unauthenticated"
    assert whoami_over_http(verifying.url, None) == (
        200,
        {"status": "success", "value": None, "logLines": []},
    )
    assert "tokens verified against auth.config.ts" in verifying.log_path.read_text()
