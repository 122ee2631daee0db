"""``tina backend``: the console entry point, its process handling and the fixture API."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from tina import cli
from tina.dev import backend
from tina.dev.backend import BackendError, BackendOptions, BackendProcess


def http_query(url: str, path: str, args: dict[str, object]) -> object:
    body = json.dumps({"path": path, "args": [args], "format": "convex_encoded_json"}).encode()
    request = urllib.request.Request(
        f"{url}/api/query", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        reply = json.loads(response.read())
    assert reply["status"] == "success", reply
    return reply["value"]


def post_status(url: str, headers: dict[str, str]) -> int:
    """The HTTP status of a JSON POST of ``{}``."""
    request = urllib.request.Request(
        url, data=b"{}", method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


@contextmanager
def tina_backend(*args: str) -> Iterator[tuple[subprocess.Popen[bytes], str, psutil.Process]]:
    """Runs ``python -m tina backend ARGS``; yields the process, its URL and the node child."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tina", "backend", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    try:
        line = process.stdout.readline().decode()
        assert line.startswith("ready "), line
        url = line.split()[1]
        children = psutil.Process(process.pid).children()
        assert len(children) == 1
        yield process, url, children[0]
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdout.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_tina_backend_serves_and_stops_cleanly_on_signal(
    contract_functions_dir: Path, sig: signal.Signals
) -> None:
    args = [
        "--port",
        "0",
        "--functions",
        str(contract_functions_dir),
        "--env",
        "CONTRACT_GREETING=x=y",
    ]
    with tina_backend(*args) as (process, url, node):
        assert url.startswith("http://127.0.0.1:")
        assert http_query(url, "env:get", {"name": "CONTRACT_GREETING"}) == "x=y"
        assert http_query(url, "env:get", {"name": "CONVEX_SITE_URL"}) == url
        process.send_signal(sig)
        assert process.wait(timeout=10) == 0
        node.wait(timeout=5)
        assert not node.is_running()


def test_tina_backend_keeps_secrets_off_the_command_line_and_guards_its_local_api(
    contract_functions_dir: Path, tmp_path: Path
) -> None:
    token_file = tmp_path / "local-token"
    args = ["--port", "0", "--functions", str(contract_functions_dir)]
    args += ["--env", "CONTRACT_GREETING=not-for-ps-0123456789"]
    args += ["--local-token-file", str(token_file), "--allow-origin", "http://127.0.0.1:4444"]
    with tina_backend(*args) as (process, url, node):
        assert http_query(url, "env:get", {"name": "CONTRACT_GREETING"}) == (
            "not-for-ps-0123456789"
        )
        assert not any("not-for-ps" in arg for arg in node.cmdline())
        assert token_file.stat().st_mode & 0o777 == 0o600
        token = token_file.read_text().strip()
        assert not any(token in arg for arg in node.cmdline())

        assert post_status(f"{url}/api/local/dump", {}) == 401
        assert post_status(f"{url}/api/local/dump", {backend.LOCAL_TOKEN_HEADER: token}) == 200
        # A page is refused even with the token (and a page cannot know it).
        local_from_page = {backend.LOCAL_TOKEN_HEADER: token, "Origin": "http://127.0.0.1:4444"}
        assert post_status(f"{url}/api/local/dump", local_from_page) == 403
        # --allow-origin replaces the default (the demo dashboard's origin).
        assert post_status(f"{url}/api/query_ts", {"Origin": "http://127.0.0.1:4444"}) == 200
        assert post_status(f"{url}/api/query_ts", {"Origin": "http://127.0.0.1:5173"}) == 403
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    # The token dies with the server.
    assert not token_file.exists()


def test_tina_backend_takes_keys_from_an_env_file_made_by_make_auth_keys(
    contract_functions_dir: Path, tmp_path: Path
) -> None:
    # The documented way to run a backend with fresh Convex Auth keys: nothing secret in any
    # process's argv, tina's own included.
    keys = tmp_path / "keys.json"
    subprocess.run(
        ["node", "--import", "tsx", "convex-local/make-auth-keys.ts", "--json", str(keys)],
        cwd=backend.REPO_ROOT,
        check=True,
        timeout=60,
    )
    assert keys.stat().st_mode & 0o777 == 0o600
    secret = json.loads(keys.read_text())["JWT_PRIVATE_KEY"]
    args = ["--port", "0", "--functions", str(contract_functions_dir), "--env-file", str(keys)]
    with tina_backend(*args) as (process, url, node):
        assert http_query(url, "env:get", {"name": "JWT_PRIVATE_KEY"}) == secret
        for proc in (node, psutil.Process(process.pid)):
            assert not any(secret[40:80] in arg for arg in proc.cmdline())
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("not json", "not JSON"),
        ("[1]", "expected a JSON object of strings"),
        ('{"KEY": 1}', "field 'KEY': expected a name without '=' and a string value"),
    ],
)
def test_a_bad_env_file_names_the_file_and_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    path = tmp_path / "env.json"
    path.write_text(content)
    assert cli.main(["backend", "--env-file", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err
    assert expected in err


def test_tina_backend_help_explains_the_access_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["backend", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--allow-origin ORIGIN" in text
    assert "--local-token-file PATH" in text
    assert backend.LOCAL_TOKEN_HEADER in text
    assert "not on its command line" in text


def test_server_stops_when_tina_backend_is_killed(contract_functions_dir: Path) -> None:
    with tina_backend("--port", "0", "--functions", str(contract_functions_dir)) as (
        process,
        _,
        node,
    ):
        process.kill()
        process.wait()
        # Its stdin closes with the parent, and it exits by itself.
        node.wait(timeout=10)
        assert not node.is_running()


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["backend", "--port", "70000"],
        ["backend", "--port", "http"],
        ["backend", "--env", "NO_EQUALS_SIGN"],
        ["backend", "--unknown"],
        ["backend", "--state-file"],
    ],
)
def test_bad_command_lines_exit_with_status_2(argv: list[str]) -> None:
    assert cli.main(argv) == 2


def test_missing_node_is_a_readable_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TINA_NODE", str(tmp_path / "no-such-node"))
    assert cli.main(["backend", "--port", "0"]) == 1
    assert "could not run" in capsys.readouterr().err


def test_server_argv(tmp_path: Path) -> None:
    options = BackendOptions(
        port=0,
        functions_dir=Path("convex"),
        env={"A": "1=2", "SECRET": "s3cret-value"},
        trace=True,
        ping_ms=50,
        allow_origins=("http://127.0.0.1:4000", "http://localhost:4000"),
    )
    env_file = backend.write_env_file(options.env, tmp_path)
    argv = backend.server_argv(
        options,
        node="node",
        exit_on_stdin_close=True,
        env_file=env_file,
        local_token_file=tmp_path / "token",
    )
    assert argv[:4] == ["node", "--import", "tsx", str(backend.SERVER_SCRIPT)]
    assert argv[argv.index("--functions") + 1] == str(Path("convex").resolve())
    # The environment is in a private file, not on the command line.
    assert "--env" not in argv
    assert not any("s3cret-value" in arg for arg in argv)
    assert argv[argv.index("--env-file") + 1] == str(env_file)
    assert json.loads(env_file.read_text()) == {"A": "1=2", "SECRET": "s3cret-value"}
    assert env_file.stat().st_mode & 0o777 == 0o600
    assert argv[argv.index("--local-token-file") + 1] == str(tmp_path / "token")
    origins = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--allow-origin"]
    assert origins == ["http://127.0.0.1:4000", "http://localhost:4000"]
    assert argv[argv.index("--ping-ms") + 1] == "50"
    assert "--trace" in argv
    assert "--exit-on-stdin-close" in argv
    with pytest.raises(BackendError, match="env file"):
        backend.server_argv(options, node="node")
    with pytest.raises(BackendError, match="invalid environment variable"):
        backend.write_env_file({"A=B": "x"}, tmp_path)


def test_server_argv_state_file_and_verify_tokens(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = backend.server_argv(
        BackendOptions(state_file=Path("state.json"), verify_tokens=True), node="node"
    )
    # Resolved here: the server runs in the repository root.
    assert argv[argv.index("--state-file") + 1] == str(tmp_path / "state.json")
    assert "--verify-tokens" in argv
    plain = backend.server_argv(BackendOptions(), node="node")
    assert "--state-file" not in plain
    assert "--verify-tokens" not in plain


def test_tina_backend_state_file_survives_a_restart(
    contract_functions_dir: Path, tmp_path: Path
) -> None:
    state_file = tmp_path / "state.json"
    args = ["--port", "0", "--functions", str(contract_functions_dir)]
    args += ["--state-file", str(state_file)]
    with tina_backend(*args) as (process, url, _):
        body = {"path": "messages:send", "args": [{"channel": "cli", "body": "kept"}]}
        request = urllib.request.Request(
            f"{url}/api/mutation",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["status"] == "success"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    with tina_backend(*args, "--verify-tokens") as (_, url, _):
        assert http_query(url, "messages:list", {"channel": "cli"}) == ["kept"]


def test_exit_status() -> None:
    assert backend.exit_status(0) == 0
    assert backend.exit_status(3) == 3
    assert backend.exit_status(-signal.SIGTERM) == 128 + signal.SIGTERM


def test_process_api_start_reset_restart_stop(contract_functions_dir: Path, tmp_path: Path) -> None:
    process = BackendProcess(
        BackendOptions(port=0, functions_dir=contract_functions_dir), log_path=tmp_path / "b.log"
    )
    with process:
        url = process.url
        first_id = process.call("mutation", "messages:send", {"channel": "c", "body": "1"})
        assert process.call("query", "messages:list", {"channel": "c"}) == ["1"]
        process.reset()
        assert process.call("query", "messages:list", {"channel": "c"}) == []
        # Ids are never reused, even after a reset.
        assert process.call("mutation", "messages:send", {"channel": "c", "body": "2"}) != first_id
        with pytest.raises(BackendError, match="Could not find public function"):
            process.call("query", "messages:listInternal", {"channel": "c"})
        pid = process.pid
        assert process.restart() == url
        assert process.pid != pid
        assert process.call("query", "messages:list", {"channel": "c"}) == []
    assert not process.running
    assert "serving" in (tmp_path / "b.log").read_text()
    with pytest.raises(BackendError, match="not running"):
        _ = process.url


def test_start_failure_reports_the_server_log(tmp_path: Path) -> None:
    functions = tmp_path / "convex"
    functions.mkdir()
    (functions / "schema.ts").write_text("export default undefined;\n")
    process = BackendProcess(
        BackendOptions(port=0, functions_dir=functions), log_path=tmp_path / "b.log"
    )
    with pytest.raises(
        BackendError, match=r"exited with status 1 before it was ready(.|\n)*No _generated"
    ):
        process.start()
    assert not process.running


def test_convex_backend_fixture_serves_the_repository_functions(
    convex_backend: BackendProcess,
) -> None:
    reply = convex_backend.post("/api/query_ts", b"")
    assert isinstance(reply, dict)
    assert set(reply) == {"ts"}
    with pytest.raises(BackendError, match="Could not find public function for 'noSuchModule:fn'"):
        convex_backend.call("query", "noSuchModule:fn")
