"""The local Convex-compatible backend (``convex-local/``) as a child process.

``tina backend`` runs it in the foreground (:func:`run`); tests and scripts
start and stop it with :class:`BackendProcess`. The server is one Node process
(``node --import tsx convex-local/server.ts``) that prints ``ready <url>`` on
stdout once clients can connect. It keeps data in memory (or in a state file,
``state_file``), decodes tokens without verifying them (unless
``verify_tokens``), and is for tests, demos and development only: not a
security boundary, never to be exposed beyond localhost.

A page in the laptop's browser cannot use it: browser origins other than the
dashboard's (``allow_origins``) and ``Host`` names other than loopback ones are
refused, and the test-only ``/api/local/*`` endpoints need a token the server
makes at every start (:attr:`BackendProcess.local_token`). The functions'
environment (signing keys) reaches the server in a private file, never on its
command line.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import attrs

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_SCRIPT = REPO_ROOT / "convex-local" / "server.ts"
DEFAULT_FUNCTIONS_DIR = REPO_ROOT / "convex"
DEFAULT_PORT = 3210
DEFAULT_HOST = "127.0.0.1"
#: The demo dashboard's port (``tina demo --web-port``, Vite's dev server).
DEFAULT_DASHBOARD_PORT = 5173
#: The header that carries the per-start token of ``/api/local/*``.
LOCAL_TOKEN_HEADER = "X-Tina-Local-Token"
READY_PREFIX = "ready "
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class BackendError(Exception):
    """The backend could not be started or stopped."""


@attrs.frozen(kw_only=True)
class BackendOptions:
    """How to run the server; mirrors ``convex-local/server.ts``'s flags."""

    port: int = DEFAULT_PORT
    host: str = DEFAULT_HOST
    functions_dir: Path = DEFAULT_FUNCTIONS_DIR
    env: Mapping[str, str] = attrs.field(factory=dict)
    trace: bool = False
    ping_ms: int | None = None
    #: Keep the database in this file across restarts (``--state-file``); None: memory only.
    state_file: Path | None = None
    #: Verify user tokens against the functions' ``auth.config.ts`` (``--verify-tokens``).
    verify_tokens: bool = False
    #: Browser origins that may use the API (``--allow-origin``); empty: the server's
    #: default, the demo dashboard's (:func:`dashboard_origins` of port 5173).
    allow_origins: tuple[str, ...] = ()
    #: Where the server writes its ``/api/local/*`` token (``--local-token-file``, mode
    #: 0600); None: a private temporary file (:class:`BackendProcess` reads it).
    local_token_file: Path | None = None


def dashboard_origins(port: int) -> tuple[str, ...]:
    """The origins of a dashboard served on this port of this machine (``web/serve.ts``)."""
    return (f"http://127.0.0.1:{port}", f"http://localhost:{port}")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for a server that must be named in advance)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((DEFAULT_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def write_env_file(env: Mapping[str, str], directory: Path) -> Path:
    """Writes the functions' environment for ``--env-file`` (JSON, mode 0600) in ``directory``.

    Never pass secrets on the server's command line: any user of the machine can read it.
    """
    for key, value in env.items():
        if not key or "=" in key:
            raise BackendError(f"invalid environment variable name {key!r}")
        if not isinstance(value, str):
            raise BackendError(f"environment variable {key} is not a string")
    path = directory / "env.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(dict(env), file)
    return path


def find_node() -> str:
    """The ``node`` executable: ``$TINA_NODE``, else the first on ``PATH``."""
    configured = os.environ.get("TINA_NODE")
    if configured:
        return configured
    found = shutil.which("node")
    if found is None:
        raise BackendError("node (>= 20) not found on PATH; install Node.js or set TINA_NODE")
    return found


def check_installed() -> None:
    """Fails with a readable error unless the repository's npm packages are installed."""
    if not SERVER_SCRIPT.is_file():
        raise BackendError(f"{SERVER_SCRIPT} is missing; tina backend runs from a source checkout")
    if not (REPO_ROOT / "node_modules" / "tsx").is_dir():
        raise BackendError(f"npm packages are not installed; run `npm install` in {REPO_ROOT}")


def server_argv(
    options: BackendOptions,
    *,
    node: str | None = None,
    exit_on_stdin_close: bool = False,
    env_file: Path | None = None,
    local_token_file: Path | None = None,
) -> list[str]:
    """The command line of the server process (run it with ``cwd=REPO_ROOT``).

    ``options.env`` is not on it: pass the file :func:`write_env_file` wrote as ``env_file``.
    ``local_token_file`` defaults to ``options.local_token_file``.
    """
    if options.env and env_file is None:
        raise BackendError("the functions' environment goes in an env file (write_env_file)")
    argv = [
        node if node is not None else find_node(),
        "--import",
        "tsx",
        str(SERVER_SCRIPT),
        "--port",
        str(options.port),
        "--host",
        options.host,
        "--functions",
        str(options.functions_dir.resolve()),
    ]
    if env_file is not None:
        argv += ["--env-file", str(env_file.resolve())]
    token_file = local_token_file if local_token_file is not None else options.local_token_file
    if token_file is not None:
        argv += ["--local-token-file", str(token_file.resolve())]
    for origin in options.allow_origins:
        argv += ["--allow-origin", origin]
    if options.state_file is not None:
        # The server runs in REPO_ROOT: relative paths are the caller's.
        argv += ["--state-file", str(options.state_file.resolve())]
    if options.verify_tokens:
        argv.append("--verify-tokens")
    if options.trace:
        argv.append("--trace")
    if options.ping_ms is not None:
        argv += ["--ping-ms", str(options.ping_ms)]
    if exit_on_stdin_close:
        argv.append("--exit-on-stdin-close")
    return argv


def exit_status(returncode: int) -> int:
    """A shell-style exit status: 128 + N for a child killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def run(options: BackendOptions) -> int:
    """Runs the server in the foreground until it exits; returns its exit status.

    SIGINT, SIGTERM and SIGHUP are forwarded to the server, which shuts down
    cleanly. The server runs in its own process group, so a terminal's Ctrl-C
    reaches it once (through us), and it stops by itself if we die (its stdin
    closes).
    """
    check_installed()
    # The functions' environment goes in a file only we can read, removed when the server ends.
    private = Path(tempfile.mkdtemp(prefix="tina-backend-"))  # mode 0700
    try:
        env_file = write_env_file(options.env, private) if options.env else None
        argv = server_argv(options, exit_on_stdin_close=True, env_file=env_file)
        try:
            process = subprocess.Popen(
                argv, cwd=REPO_ROOT, stdin=subprocess.PIPE, start_new_session=True
            )
        except OSError as error:
            raise BackendError(f"could not run {argv[0]}: {error}") from error
    except BaseException:
        shutil.rmtree(private, ignore_errors=True)
        raise

    def forward(signum: int, _frame: FrameType | None) -> None:
        if process.poll() is None:
            process.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED_SIGNALS}
    try:
        return exit_status(process.wait())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdin is not None:
            process.stdin.close()
        shutil.rmtree(private, ignore_errors=True)


def password_sign_up(url: str, email: str, password: str, *, timeout: float = 30.0) -> str:
    """Create a dashboard user's account on the deployment at ``url`` (Convex Auth's password
    provider, :func:`tina.convex.auth.password_sign_up`); returns the session's JWT."""
    # Imported on use: every `tina` command imports this module, and only this needs the client.
    from tina.convex.auth import password_sign_up as sign_up

    return sign_up(url, email, password, timeout=timeout)


class BackendProcess:
    """A server child process for tests and scripts.

    ``start()`` waits for the ready line; ``stop()`` sends SIGTERM and waits;
    ``restart()`` comes back on the same port, so clients exercise their
    reconnect path: with an empty database, or with everything kept when the
    options have a ``state_file`` (as a real deployment keeps it). The
    server's stderr goes to ``log_path``. ``reset``, ``dump`` and
    ``run_function`` use endpoints only the local backend has, with the token
    of the current start (:attr:`local_token`).
    """

    def __init__(self, options: BackendOptions, *, log_path: Path | None = None) -> None:
        self.options = options
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix="tina-backend-", suffix=".log")
            os.close(fd)
            log_path = Path(name)
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._url: str | None = None
        self._local_token: str | None = None
        self._port = options.port

    @property
    def url(self) -> str:
        """The deployment URL, e.g. ``http://127.0.0.1:41234``."""
        if self._url is None:
            raise BackendError("the backend is not running")
        return self._url

    @property
    def port(self) -> int:
        return self._port

    @property
    def local_token(self) -> str:
        """This start's token for ``/api/local/*`` (header :data:`LOCAL_TOKEN_HEADER`)."""
        if self._local_token is None:
            raise BackendError("the backend is not running")
        return self._local_token

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 30.0) -> str:
        """Starts the server and returns its URL once it is ready."""
        if self._process is not None:
            raise BackendError("the backend is already running")
        check_installed()
        options = attrs.evolve(self.options, port=self._port)
        # The environment and the token pass through files only we can read, gone once it is up.
        private = Path(tempfile.mkdtemp(prefix="tina-backend-"))  # mode 0700
        try:
            env_file = write_env_file(options.env, private) if options.env else None
            token_file = options.local_token_file or private / "local-token"
            argv = server_argv(
                options, exit_on_stdin_close=True, env_file=env_file, local_token_file=token_file
            )
            with self.log_path.open("ab") as log:
                try:
                    process = subprocess.Popen(
                        argv,
                        cwd=REPO_ROOT,
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        stderr=log,
                        start_new_session=True,
                    )
                except OSError as error:
                    raise BackendError(f"could not run {argv[0]}: {error}") from error
            self._process = process
            try:
                url = self._wait_ready(process, timeout)
                self._local_token = token_file.read_text().strip()
            except BaseException:
                self.stop()
                raise
        finally:
            shutil.rmtree(private, ignore_errors=True)
        self._url = url
        self._port = int(url.rsplit(":", 1)[1].rstrip("/"))
        return url

    def _wait_ready(self, process: subprocess.Popen[bytes], timeout: float) -> str:
        assert process.stdout is not None
        deadline = time.monotonic() + timeout
        buffered = b""
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while b"\n" not in buffered:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BackendError(f"backend not ready after {timeout} s{self._log_tail()}")
                if not selector.select(remaining):
                    continue
                chunk = os.read(process.stdout.fileno(), 4096)
                if not chunk:
                    process.wait()
                    raise BackendError(
                        f"backend exited with status {exit_status(process.returncode)} "
                        f"before it was ready{self._log_tail()}"
                    )
                buffered += chunk
        line = buffered.split(b"\n", 1)[0].decode()
        if not line.startswith(READY_PREFIX):
            raise BackendError(f"unexpected first line from the backend: {line!r}")
        return line[len(READY_PREFIX) :].strip()

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        tail = "\n".join(text.splitlines()[-lines:])
        return f"\n--- {self.log_path} ---\n{tail}" if tail else ""

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stops the server (SIGTERM, then SIGKILL after ``timeout``); returns its exit status."""
        process = self._process
        if process is None:
            return None
        self._process = None
        self._url = None
        self._local_token = None
        try:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        finally:
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()
        return exit_status(process.returncode)

    def restart(self, timeout: float = 30.0) -> str:
        """Stops the server and starts a new one on the same port.

        The database starts empty, unless the options have a ``state_file``:
        then every document, id and timestamp is kept (the server saves it on
        SIGTERM and shortly after every commit).
        """
        self.stop()
        return self.start(timeout)

    def fresh(self) -> BackendProcess:
        """Starts the server if it is not running (again), else empties its tables."""
        if self.running:
            self.reset()
        else:
            self.stop()
            self.start()
        return self

    def reset(self) -> None:
        """Empties every table (ids stay unique, time keeps moving forward)."""
        self.post("/api/local/reset", b"")

    def post(self, path: str, body: bytes, *, timeout: float = 10.0) -> object:
        """POSTs JSON to the server and returns the decoded JSON reply.

        ``/api/local/*`` requests carry this start's token.
        """
        headers = {"Content-Type": "application/json"}
        if path.startswith("/api/local/"):
            headers[LOCAL_TOKEN_HEADER] = self.local_token
        request = urllib.request.Request(self.url + path, data=body, method="POST", headers=headers)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def _post_json(self, path: str, body: Mapping[str, object]) -> dict[str, Any]:
        """POSTs JSON; an error status raises :class:`BackendError` with its code and message."""
        try:
            reply = self.post(path, json.dumps(body).encode())
        except urllib.error.HTTPError as error:
            with error:
                text = error.read()
            try:
                detail = json.loads(text or b"{}")
            except ValueError:
                detail = {"message": text.decode(errors="replace")}
            message = detail.get("errorMessage") or detail.get("message") or detail
            raise BackendError(f"HTTP {error.code}: {message}") from None
        if not isinstance(reply, dict):
            raise BackendError(f"unexpected reply from {path}: {reply!r}")
        return reply

    def call(self, kind: str, path: str, args: Mapping[str, object] | None = None) -> object:
        """Calls a public function over the HTTP API (``kind``: query, mutation or action).

        Arguments and results are plain JSON (no int64 or bytes); failures raise
        :class:`BackendError` with the server's message.
        """
        body = json.dumps(
            {"path": path, "args": [dict(args or {})], "format": "convex_encoded_json"}
        )
        try:
            reply = self.post(f"/api/{kind}", body.encode())
        except urllib.error.HTTPError as error:
            detail = json.loads(error.read() or b"{}")
            error.close()
            raise BackendError(str(detail.get("errorMessage") or detail)) from None
        assert isinstance(reply, dict)
        return reply["value"]

    def dump(self, *tables: str) -> dict[str, list[dict[str, Any]]]:
        """Every document of ``tables`` (default: every table of the schema), by table.

        Documents keep ``_id`` and ``_creationTime`` and are in Convex's JSON
        encoding (an int64 is ``{"$integer": <base64>}``), oldest first. System
        tables can be named (``_scheduled_functions``). Local backend only
        (``POST /api/local/dump``); an unknown table raises :class:`BackendError`.
        """
        body: dict[str, object] = {"tables": list(tables)} if tables else {}
        dumped = self._post_json("/api/local/dump", body)["tables"]
        assert isinstance(dumped, dict)
        return dumped

    def run_function(self, path: str, args: Mapping[str, object] | None = None) -> Any:
        """Runs any function, internal ones included (e.g. a cron's job, now).

        Arguments and the result are in Convex's JSON encoding; a failure raises
        :class:`BackendError` with the function's error message. Local backend
        only (``POST /api/local/run``).
        """
        return self._post_json("/api/local/run", {"path": path, "args": dict(args or {})})["value"]

    def metrics(self) -> dict[str, Any]:
        """What each function cost since the start or the last :meth:`reset_metrics`.

        ``{"since": <ms>, "functions": {"<udfPath>": counters}, "totals": counters, "reruns":
        {"<query udfPath>": {"<cause>": n}}}``, where counters are ``calls`` (clients' calls,
        nested calls), ``rerun`` (subscription re-runs), ``scheduled``, ``cron``,
        ``documentsRead``, ``bytesRead``, ``documentsWritten``, ``bytesWritten`` and ``errors``,
        and ``reruns`` says what made each subscribed query run again (the writing function,
        table and fields changed). Local backend only (``GET /api/local/metrics``).
        """
        request = urllib.request.Request(
            self.url + "/api/local/metrics", headers={LOCAL_TOKEN_HEADER: self.local_token}
        )
        try:
            with urllib.request.urlopen(request, timeout=10.0) as response:
                reply = json.loads(response.read())
        except urllib.error.HTTPError as error:
            with error:
                raise BackendError(
                    f"HTTP {error.code}: {error.read().decode(errors='replace')}"
                ) from None
        if not isinstance(reply, dict):
            raise BackendError(f"unexpected reply from /api/local/metrics: {reply!r}")
        return reply

    def reset_metrics(self) -> None:
        """Zeroes the cost meter (``POST /api/local/metrics/reset``)."""
        self._post_json("/api/local/metrics/reset", {})

    def __enter__(self) -> BackendProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
