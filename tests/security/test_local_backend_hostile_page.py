"""A hostile web page against the local backend (``convex-local/``) on a demo user's laptop.

The browser on the same laptop can reach ``127.0.0.1``: a page on another origin may send
requests there (with or without CORS), open WebSockets, or rebind its own DNS name to
127.0.0.1 (its requests then carry ``Host: evil.example``). None of that may read a document
or change anything: browser origins outside the allowlist are refused outright, so is any
``Host`` that is not a loopback name on the backend's own port, ``/api/local/*`` needs the
per-start token, and JSON endpoints take only ``application/json`` bodies. Clients that send
no ``Origin`` (the official clients, the daemon) are not affected. The functions' secrets
(the signing key) and the token never appear on the backend's command line.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import stat
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
from conftest import ENROLLMENT_SECRET, PASSWORD, backend_env

from tina.dev.backend import (
    LOCAL_TOKEN_HEADER,
    BackendOptions,
    BackendProcess,
    password_sign_up,
)

DASHBOARD = "http://127.0.0.1:5173"  # the demo dashboard's origin, allowed by default
EVIL = "https://evil.example"
ENROLL = {"enrollmentSecret": ENROLLMENT_SECRET, "name": "laptop-x", "os": "darwin"}


@attrs.frozen(kw_only=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendProcess]:
    log_path = tmp_path_factory.mktemp("hostile-page") / "backend.log"
    process = BackendProcess(BackendOptions(port=0, env=backend_env()), log_path=log_path)
    try:
        process.start()
        yield process
    finally:
        process.stop()


@pytest.fixture
def fresh(backend: BackendProcess) -> BackendProcess:
    return backend.fresh()


def send(
    backend: BackendProcess,
    method: str,
    path: str,
    body: bytes | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    host: str | None = None,
) -> Answer:
    """One raw HTTP request to the backend (``host`` overrides the ``Host`` header)."""
    sent = dict(headers or {})
    if host is not None:
        sent["Host"] = host
    connection = http.client.HTTPConnection("127.0.0.1", backend.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        return Answer(
            status=response.status,
            headers={name.lower(): value for name, value in response.getheaders()},
            body=response.read(),
        )
    finally:
        connection.close()


def post_json(backend: BackendProcess, path: str, body: object, **headers: str) -> Answer:
    return send(
        backend,
        "POST",
        path,
        json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
    )


def with_token(backend: BackendProcess, **headers: str) -> dict[str, str]:
    return {"Content-Type": "application/json", LOCAL_TOKEN_HEADER: backend.local_token, **headers}


def websocket_handshake(
    backend: BackendProcess, *, host: str | None = None, origin: str | None = None
) -> int:
    """The HTTP status of a WebSocket upgrade to ``/api/sync`` (101 when accepted)."""
    lines = [
        "GET /api/sync HTTP/1.1",
        f"Host: {host or f'127.0.0.1:{backend.port}'}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
        "Sec-WebSocket-Version: 13",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    with socket.create_connection(("127.0.0.1", backend.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        received = b""
        while b"\r\n" not in received:
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
    return int(received.split(b" ", 2)[1])


def nodes(backend: BackendProcess) -> list[dict[str, Any]]:
    return backend.dump("nodes")["nodes"]


QUERY = {"path": "users:me", "args": [{}], "format": "convex_encoded_json"}
MUTATION = {"path": "nodes:enrollNode", "args": [ENROLL], "format": "convex_encoded_json"}


def test_a_foreign_origin_gets_no_cors_and_is_refused(fresh: BackendProcess) -> None:
    for path, body in [
        ("/api/query", QUERY),
        ("/api/mutation", MUTATION),
        ("/api/function", {"path": "nodes:enrollNode", "args": ENROLL}),
        ("/api/query_ts", {}),
    ]:
        for origin in (EVIL, "null", "http://127.0.0.1:5174"):
            answer = post_json(fresh, path, body, Origin=origin)
            assert answer.status == 403, (path, origin, answer)
            assert "access-control-allow-origin" not in answer.headers, (path, origin)
            assert "access-control-allow-credentials" not in answer.headers, (path, origin)
    preflight = send(
        fresh,
        "OPTIONS",
        "/api/mutation",
        headers={
            "Origin": EVIL,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,authorization",
        },
    )
    assert preflight.status == 403
    assert "access-control-allow-origin" not in preflight.headers
    assert nodes(fresh) == []


def test_the_dashboard_origin_and_non_browser_clients_still_work(fresh: BackendProcess) -> None:
    preflight = send(
        fresh,
        "OPTIONS",
        "/api/action",
        headers={"Origin": DASHBOARD, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status == 204
    assert preflight.headers["access-control-allow-origin"] == DASHBOARD
    answer = post_json(fresh, "/api/mutation", MUTATION, Origin=DASHBOARD)
    assert answer.status == 200, answer
    assert answer.headers["access-control-allow-origin"] == DASHBOARD
    assert len(nodes(fresh)) == 1
    # The backend's own origin is same-origin; no Origin at all is not a browser.
    assert post_json(fresh, "/api/query_ts", {}, Origin=fresh.url).status == 200
    assert post_json(fresh, "/api/query_ts", {}).status == 200


def test_a_foreign_page_reads_no_document_and_runs_nothing(fresh: BackendProcess) -> None:
    password_sign_up(fresh.url, "owner@example.com", PASSWORD)
    for path, body in [
        ("/api/local/dump", {}),
        ("/api/local/run", {"path": "nodes:enrollNode", "args": ENROLL}),
        ("/api/local/reset", {}),
    ]:
        # Even with the token (which a page cannot know), a foreign origin is refused.
        for headers in (
            {"Origin": EVIL},
            with_token(fresh, Origin=EVIL),
            # Not even the dashboard's pages: an XSS there must not read every document.
            with_token(fresh, Origin=DASHBOARD),
        ):
            answer = send(fresh, "POST", path, json.dumps(body).encode(), headers=headers)
            assert answer.status == 403, (path, answer)
            assert b"authAccounts" not in answer.body
            assert "access-control-allow-origin" not in answer.headers
        # Nor does the dashboard's origin make /api/local/* a CORS endpoint.
        preflight = send(
            fresh,
            "OPTIONS",
            path,
            headers={"Origin": DASHBOARD, "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in preflight.headers
        assert preflight.status == 403
    assert nodes(fresh) == []
    assert len(fresh.dump("authAccounts")["authAccounts"]) == 1


def test_local_endpoints_need_the_per_start_token(fresh: BackendProcess) -> None:
    token = fresh.local_token
    assert len(token) >= 32
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
    run = {"path": "nodes:enrollNode", "args": ENROLL}
    for path, body in [("/api/local/dump", {}), ("/api/local/run", run), ("/api/local/reset", {})]:
        for headers in (
            {},
            {LOCAL_TOKEN_HEADER: ""},
            {LOCAL_TOKEN_HEADER: wrong},
            {LOCAL_TOKEN_HEADER: token[:8]},
            {"Authorization": f"Bearer {token}"},
        ):
            answer = post_json(fresh, path, body, **headers)
            assert answer.status == 401, (path, headers, answer)
            assert b"tables" not in answer.body
    assert nodes(fresh) == []
    assert post_json(fresh, "/api/local/run", run, **{LOCAL_TOKEN_HEADER: token}).status == 200
    assert len(nodes(fresh)) == 1


def test_text_plain_bodies_are_not_read_as_json(fresh: BackendProcess) -> None:
    run = json.dumps({"path": "nodes:enrollNode", "args": ENROLL}).encode()
    mutation = json.dumps(MUTATION).encode()
    simple_types = (
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    )
    for content_type in (*simple_types, None):
        headers = {} if content_type is None else {"Content-Type": content_type}
        answer = send(fresh, "POST", "/api/mutation", mutation, headers=headers)
        assert answer.status == 415, (content_type, answer)
        answer = send(
            fresh,
            "POST",
            "/api/local/run",
            run,
            headers={**headers, LOCAL_TOKEN_HEADER: fresh.local_token},
        )
        assert answer.status == 415, (content_type, answer)
    assert nodes(fresh) == []
    # The same bodies as application/json are accepted.
    assert post_json(fresh, "/api/mutation", MUTATION).status == 200
    assert len(nodes(fresh)) == 1


def test_a_rebound_host_is_refused(fresh: BackendProcess) -> None:
    port = fresh.port
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1.evil.example:{port}"):
        for method, path, body, headers in [
            (
                "POST",
                "/api/query",
                json.dumps(QUERY).encode(),
                {"Content-Type": "application/json"},
            ),
            ("POST", "/api/local/dump", b"{}", with_token(fresh)),
            ("GET", "/.well-known/openid-configuration", None, {}),
        ]:
            answer = send(fresh, method, path, body, headers=headers, host=host)
            assert 400 <= answer.status < 500, (host, path, answer)
            assert b"tables" not in answer.body
        assert websocket_handshake(fresh, host=host) == 403, host
    # Loopback names are fine, on any port (a TLS terminator or tunnel forwards with its own).
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "LOCALHOST:8443"):
        answer = send(
            fresh,
            "POST",
            "/api/query_ts",
            b"{}",
            headers={"Content-Type": "application/json"},
            host=host,
        )
        assert answer.status == 200, (host, answer)


def test_websockets_from_a_foreign_origin_are_refused(fresh: BackendProcess) -> None:
    for origin in (EVIL, "null", "http://localhost:1"):
        assert websocket_handshake(fresh, origin=origin) == 403, origin
    assert websocket_handshake(fresh, origin=DASHBOARD) == 101
    assert websocket_handshake(fresh, origin=fresh.url) == 101
    assert websocket_handshake(fresh) == 101


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_no_secret_on_the_command_line(backend: BackendProcess) -> None:
    assert backend.pid is not None
    cmdline = Path(f"/proc/{backend.pid}/cmdline").read_bytes().decode()
    secrets = [*backend_env().values(), backend.local_token]
    for secret in secrets:
        for line in secret.splitlines():
            if len(line.strip()) >= 16:
                assert line.strip() not in cmdline
    assert "--env" not in cmdline.split("\0")


def test_the_token_file_is_private_to_its_owner(tmp_path: Path) -> None:
    token_file = tmp_path / "local-token"
    options = BackendOptions(port=0, env=backend_env(), local_token_file=token_file)
    with BackendProcess(options, log_path=tmp_path / "backend.log") as process:
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert token_file.read_text().strip() == process.local_token
        first = process.local_token
        process.restart()
        # A new token per start.
        assert process.local_token != first
        assert token_file.read_text().strip() == process.local_token
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
