"""Contract tests with the official Python ``convex`` client (PyPI, Rust-backed).

Every scenario runs in its own interpreter (``convex_py_scenarios.py``): the
client holds the GIL while it waits, so it must never run in pytest's process.
"""

from __future__ import annotations

import base64
import json
import os
import selectors
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from tina.dev.backend import BackendProcess

RunScenario = Callable[..., list[dict[str, Any]]]
ScenarioArgv = Callable[..., list[str]]


def fake_jwt(claims: dict[str, Any]) -> str:
    """An unsigned JWT: the local backend decodes tokens and never verifies them."""

    def encode(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{encode({'alg': 'none', 'typ': 'JWT'})}.{encode(claims)}."


def by_step(lines: list[dict[str, Any]]) -> dict[str, Any]:
    return {line["step"]: line for line in lines}


def test_query_mutation_action_and_values(
    contract_backend: BackendProcess, run_scenario: RunScenario
) -> None:
    steps = by_step(run_scenario("basics", contract_backend.url, "py-basics"))
    assert isinstance(steps["mutation"]["result"], str)
    assert steps["query"]["result"] == ["hello"]
    assert steps["echo"]["result"] == {"i": {"int64": 2**40}, "b": {"bytes": "0001"}}
    assert steps["action"]["result"] == "sent"
    assert steps["after-action"]["result"] == ["hello", "b"]


def test_mutation_from_second_client_reaches_subscriber(
    contract_backend: BackendProcess, run_scenario: RunScenario
) -> None:
    steps = by_step(run_scenario("two-clients", contract_backend.url, "py-two"))
    assert steps["initial"]["result"] == []
    assert steps["update"]["result"] == ["from writer"]
    assert steps["update"]["seconds"] < 2.0


def test_convex_error_data_and_plain_errors(
    contract_backend: BackendProcess, run_scenario: RunScenario
) -> None:
    calls = {line["call"]: line for line in run_scenario("errors", contract_backend.url)}
    assert calls["convex-query"]["error"] == "ConvexError"
    assert calls["convex-query"]["data"] == {"code": "NOPE", "detail": 7.0}
    assert calls["convex-mutation"]["data"] == {"code": "E9"}
    assert calls["convex-action"]["data"] == "just a string"
    for name, text in [
        ("plain-query", "boom in a query"),
        ("plain-mutation", "boom in a mutation"),
        ("plain-action", "boom in an action"),
    ]:
        assert calls[name]["error"] != "ConvexError", name
        assert text in calls[name]["message"], name
        assert "Server Error" in calls[name]["message"], name
    assert calls["internal"]["error"] != "ConvexError"
    assert (
        "Could not find public function for 'messages:listInternal'" in calls["internal"]["message"]
    )


def test_auth_identity(contract_backend: BackendProcess, run_scenario: RunScenario) -> None:
    token = fake_jwt({"iss": "https://issuer.test", "sub": "py-user", "email": "py@example.com"})
    steps = by_step(run_scenario("auth", contract_backend.url, token))
    assert steps["anonymous"]["result"] is None
    assert steps["query"]["result"] == {
        "tokenIdentifier": "https://issuer.test|py-user",
        "subject": "py-user",
        "issuer": "https://issuer.test",
        "email": "py@example.com",
    }
    assert steps["mutation"]["result"]["subject"] == "py-user"
    assert steps["cleared"]["result"] is None


def test_scheduled_function_reaches_subscriber(
    contract_backend: BackendProcess, run_scenario: RunScenario
) -> None:
    steps = by_step(run_scenario("scheduled", contract_backend.url, "py-scheduled", "300"))
    assert steps["initial"]["result"] == []
    assert steps["update"]["result"] == ["scheduled"]
    assert 0.25 <= steps["update"]["seconds"] < 3.0


class JsonLines:
    """Reads JSON lines from a child's stdout with a deadline, without threads."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._buffer = b""

    def next(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self._stream, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no line within {timeout} s (buffered {self._buffer!r})"
                if selector.select(remaining):
                    chunk = os.read(self._stream.fileno(), 4096)
                    assert chunk, f"stream closed (buffered {self._buffer!r})"
                    self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        parsed: dict[str, Any] = json.loads(line)
        return parsed

    def until(self, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            line = self.next(max(0.01, deadline - time.monotonic()))
            if predicate(line):
                return line


@contextmanager
def scenario_process(
    argv: list[str], log: Path
) -> Iterator[tuple[subprocess.Popen[bytes], JsonLines]]:
    with log.open("wb") as stderr:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr)
    assert process.stdout is not None
    try:
        yield process, JsonLines(process.stdout)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdout.close()


def test_subscription_resumes_after_server_restart(
    backend_factory: Callable[..., BackendProcess],
    contract_functions_dir: Path,
    scenario_argv: ScenarioArgv,
    tmp_path: Path,
) -> None:
    backend = backend_factory(functions_dir=contract_functions_dir, trace=True)
    channel = "py-restart"
    argv = scenario_argv("watch", backend.url, channel, "after")
    with scenario_process(argv, tmp_path / "watch.log") as (process, lines):
        assert lines.next(timeout=20)["result"] == []
        backend.call("mutation", "messages:send", {"channel": channel, "body": "before"})
        assert lines.next(timeout=5)["result"] == ["before"]

        url = backend.url
        backend.restart()
        assert backend.url == url
        # The new server starts empty; the client reconnects and resubscribes by itself.
        backend.call("mutation", "messages:send", {"channel": channel, "body": "after"})
        lines.until(lambda line: line["result"] == ["after"], timeout=15)
        assert process.wait(timeout=10) == 0
    # --trace logged the protocol, including the client's reconnect.
    log = backend.log_path.read_text()
    assert log.count('in {"type":"Connect"') >= 2
    assert '"type":"Transition"' in log
