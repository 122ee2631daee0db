"""Fixtures for tests that need a Convex backend: the local one (``convex-local/``).

- ``convex_backend``: the repository's ``convex/`` functions, one server per
  test session, emptied before each test (``BackendProcess.reset``). Use
  ``.url`` with any Convex client.
- ``backend_factory``: starts servers of your own, e.g. with ``--env`` values,
  another functions folder, a fixed port, a ``state_file`` (the database then
  survives ``process.restart()``, as a real deployment's does; without one a
  restart comes back empty) or ``verify_tokens=True``; all are stopped after
  the test.

Fixtures are synchronous (they block for the ~0.5 s a start takes). In trio
tests, call ``restart`` through ``trio.to_thread.run_sync``.

Every collected test also gets exactly one category marker (``unit``, ``integration``, ``e2e``,
``chaos``, ``bench``; see ``CATEGORIES``), so ``pytest -m unit`` is the fast edit-test loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tina.dev.backend import DEFAULT_FUNCTIONS_DIR, BackendOptions, BackendProcess

BackendFactory = Callable[..., BackendProcess]

#: A failed test's report ends with this many lines of each log it left in its `tmp_path`: the
#: backends' (`backend-N.log`) and the simulated laptops' daemons' (`<laptop>/daemon.log`), so a
#: failure in CI can be read from the output alone.
FAILURE_LOG_LINES = 40


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    tmp = getattr(item, "funcargs", {}).get("tmp_path")
    if report.when != "call" or not report.failed or not isinstance(tmp, Path):
        return
    for path in sorted(tmp.glob("backend-*.log")) + sorted(tmp.glob("*/daemon.log")):
        lines = path.read_text(errors="replace").splitlines()[-FAILURE_LOG_LINES:]
        title = f"{path.relative_to(tmp)} (last {len(lines)} lines)"
        report.sections.append((title, "\n".join(lines)))


@pytest.fixture
def backend_factory(tmp_path: Path) -> Iterator[BackendFactory]:
    started: list[BackendProcess] = []

    def start(
        *,
        functions_dir: Path = DEFAULT_FUNCTIONS_DIR,
        env: Mapping[str, str] | None = None,
        port: int = 0,
        ping_ms: int | None = None,
        trace: bool = False,
        state_file: Path | None = None,
        verify_tokens: bool = False,
    ) -> BackendProcess:
        options = BackendOptions(
            port=port,
            functions_dir=functions_dir,
            env=dict(env or {}),
            ping_ms=ping_ms,
            trace=trace,
            state_file=state_file,
            verify_tokens=verify_tokens,
        )
        process = BackendProcess(options, log_path=tmp_path / f"backend-{len(started)}.log")
        started.append(process)
        process.start()
        return process

    try:
        yield start
    finally:
        for process in started:
            process.stop()


@pytest.fixture(scope="session")
def _session_convex_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendProcess]:
    log_path = tmp_path_factory.mktemp("convex-backend") / "backend.log"
    process = BackendProcess(BackendOptions(port=0), log_path=log_path)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def convex_backend(_session_convex_backend: BackendProcess) -> BackendProcess:
    """The repository's functions on a local backend, with empty tables."""
    return _session_convex_backend.fresh()


# -- test categories ------------------------------------------------------------------------------

#: The categories, as registered in pyproject.toml.
KINDS = ("unit", "integration", "e2e", "chaos", "bench")

#: Where each test's category comes from: the most specific entry wins, a test's own function
#: (``dir/test_x.py::test_y``, parameters ignored), then its module, then its directory under
#: ``tests/``. A test that carries a category marker itself keeps it.
#:
#: - ``unit``: in-process only. Real files, threads and the OS's file watcher are fine; fakes
#:   stand in for Convex (FakeGateway, the in-memory FakeConvex).
#: - ``integration``: starts a process (tina-session, git, npm, pytest, a stand-in), the local
#:   backend (node), a tmux server, or talks over a real socket (TCP, Unix).
#: - ``e2e``: whole flows through the real entry points: daemons, backend, tmux, git worktrees;
#:   the skills' own command lines (contract).
#: - ``chaos``: kills, suspends, outages and faults against the whole system.
#: - ``bench``: the benchmarks' own tests.
#:
#: A new directory must be added here: collection fails until it is.
CATEGORIES: dict[str, str] = {
    # directories
    "actions": "integration",  # handlers run tina-session and type into a real tmux server
    "backend": "integration",  # the local backend (node)
    "bench": "bench",
    "chaos": "chaos",
    "contract": "e2e",  # the skills' command lines: bash, jq, git, tmux, tina-session, a lead
    "convex": "unit",  # the sans-IO protocol and the client against the in-memory fake
    "daemon": "unit",  # actors against the FakeGateway, over real files
    "e2e": "e2e",
    "hooks": "unit",  # settings files on disk; the daemon's status reply faked
    "local": "unit",
    "push": "unit",  # `tina push keys`: files and keys
    "repo": "unit",  # checks of the repository's own files
    "security": "integration",  # over the wire against the local backend
    "session": "integration",  # tina-session as a process, with git and tmux
    "sim": "integration",  # the stand-in claude in tmux
    "supervision": "unit",
    "usage": "unit",  # transcripts, prices, attribution, the usage state file: tmp_path only
    # modules unlike their directory
    "convex/test_client_integration.py": "integration",  # the local backend, TLS over TCP
    "convex/test_convex_websocket.py": "integration",  # half its cases over loopback TCP
    "daemon/test_control.py": "integration",  # a Unix socket server and its client
    "daemon/test_systemd.py": "integration",  # systemd-analyze, a systemctl stand-in process
    "repo/test_fresh_clone_hygiene.py": "integration",  # npm ci --dry-run, make -n
    "repo/test_markers.py": "integration",  # pytest --collect-only, six times
    "session/test_session_cli_inprocess.py": "unit",
    "session/test_session_machine.py": "unit",
    "session/test_session_matrix.py": "unit",
    "session/test_session_store.py": "unit",
    # single tests unlike their module
    "convex/test_convex_client.py::test_importing_the_client_prints_nothing": "integration",
    "daemon/test_resilience.py::test_a_deployment_that_answers_again_is_reconnected_at_once": (
        "integration"
    ),
    "daemon/test_resilience.py::test_a_deployment_that_was_never_unreachable_is_left_to_the_backoff": (
        "integration"
    ),
    "session/test_session_store.py::test_concurrent_appends_and_a_tailing_reader": "integration",
}

#: Fixtures that start the local backend: a test using one is never ``unit``.
BACKEND_FIXTURES = frozenset(
    {"backend_factory", "convex_backend", "contract_backend", "contract_backend_url", "wire"}
)

TESTS_DIR = Path(__file__).resolve().parent


class UnclassifiedTest(Exception):
    pass


def category_of(relpath: str, test: str = "") -> str:
    """The table's category for ``test`` (``test_y`` or ``TestX::test_y``, no parameters) in the
    module at ``relpath`` (``dir/test_x.py``, relative to ``tests/``)."""
    keys = [f"{relpath}::{test}"] if test else []
    keys.append(relpath)
    if "/" in relpath:
        keys.append(relpath.split("/", 1)[0])
    for key in keys:
        if key in CATEGORIES:
            return CATEGORIES[key]
    where = relpath.split("/", 1)[0] if "/" in relpath else relpath
    raise UnclassifiedTest(
        f"tests/{where} has no test category: add it to CATEGORIES in tests/conftest.py "
        f"(one of {', '.join(KINDS)}; a test that starts processes, the local backend, tmux or "
        f"uses real sockets is not unit)"
    )


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by these markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    problems: list[str] = []
    for item in items:
        own = sorted({m.name for m in item.iter_markers() if m.name in KINDS})
        if len(own) > 1:
            problems.append(f"{item.nodeid}: more than one test category: {', '.join(own)}")
            continue
        if own:
            kind = own[0]
        else:
            try:
                relpath = item.path.resolve().relative_to(TESTS_DIR).as_posix()
            except ValueError:
                problems.append(f"{item.nodeid}: outside tests/, so it has no test category")
                continue
            test = item.nodeid.split("::", 1)[1].split("[", 1)[0] if "::" in item.nodeid else ""
            try:
                kind = category_of(relpath, test)
            except UnclassifiedTest as err:
                problems.append(str(err))
                continue
            item.add_marker(kind)
        used = BACKEND_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if kind == "unit" and used:
            problems.append(
                f"{item.nodeid}: is unit but uses {', '.join(sorted(used))} (the local backend); "
                f"classify it in CATEGORIES in tests/conftest.py"
            )
    if problems:
        raise pytest.UsageError("\n".join(dict.fromkeys(problems)))
