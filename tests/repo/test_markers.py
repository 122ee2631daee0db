"""The test categories partition the suite: every collected test is in exactly one of ``pytest
-m unit|integration|e2e|chaos|bench``, ``unit`` holds nothing that needs the system, and a test
the table in ``tests/conftest.py`` cannot classify fails collection."""

from __future__ import annotations

import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
KINDS = ("unit", "integration", "e2e", "chaos", "bench")


def collect(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def node_ids(done: subprocess.CompletedProcess[str]) -> set[str]:
    ok = (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)  # `-m` may select nothing
    assert done.returncode in ok, done.stdout[-2000:] + done.stderr[-2000:]
    return {line for line in done.stdout.splitlines() if "::" in line}


@pytest.fixture(scope="module")
def collected() -> dict[str, set[str]]:
    """Node ids of the whole suite (``all``) and of each ``-m <category>``."""
    runs = {"all": ()} | {kind: ("-m", kind) for kind in KINDS}
    with ThreadPoolExecutor(len(runs)) as pool:
        done = {name: pool.submit(collect, *args) for name, args in runs.items()}
        return {name: node_ids(future.result()) for name, future in done.items()}


@pytest.fixture
def table(pytestconfig: pytest.Config) -> ModuleType:
    """``tests/conftest.py`` as pytest loaded it."""
    for plugin in pytestconfig.pluginmanager.get_plugins():
        path = getattr(plugin, "__file__", None)
        if path and Path(path).resolve() == TESTS / "conftest.py":
            assert isinstance(plugin, ModuleType)
            return plugin
    raise AssertionError("tests/conftest.py is not loaded")


def test_every_test_is_in_exactly_one_category(collected: dict[str, set[str]]) -> None:
    everything = collected["all"]
    assert len(everything) > 500, "the suite is collected"
    for kind in KINDS:
        assert collected[kind], f"-m {kind} selects nothing"
    in_none = everything - set().union(*(collected[kind] for kind in KINDS))
    assert not in_none, f"tests in no category: {sorted(in_none)[:20]}"
    for i, a in enumerate(KINDS):
        for b in KINDS[i + 1 :]:
            both = collected[a] & collected[b]
            assert not both, f"tests in both {a} and {b}: {sorted(both)[:20]}"


def test_unit_needs_no_system(collected: dict[str, set[str]]) -> None:
    for heavy in ("e2e", "chaos", "backend", "contract", "security"):
        found = sorted(n for n in collected["unit"] if n.startswith(f"tests/{heavy}/"))
        assert not found, f"unit runs tests/{heavy}: {found[:20]}"
    assert not collected["unit"] & collected["integration"]


def test_every_entry_of_the_table_names_collected_tests(
    collected: dict[str, set[str]], table: ModuleType
) -> None:
    """A renamed module or test must not leave its entry behind (its tests would silently fall
    back to the directory's category)."""
    names = {n.split("[", 1)[0].removeprefix("tests/") for n in collected["all"]}
    stale = [
        key
        for key in table.CATEGORIES
        if not any(name == key or name.startswith((f"{key}/", f"{key}::")) for name in names)
    ]
    assert not stale, f"entries of CATEGORIES in tests/conftest.py that match no test: {stale}"
    assert set(table.CATEGORIES.values()) <= set(KINDS)
    assert table.KINDS == KINDS


def test_a_directory_missing_from_the_table_fails_collection(tmp_path: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "tests" / "newdir").mkdir(parents=True)
    (tmp_path / "tests" / "local").mkdir()
    shutil.copy(TESTS / "conftest.py", tmp_path / "tests" / "conftest.py")
    (tmp_path / "tests" / "newdir" / "test_new.py").write_text("def test_new():\n    pass\n")
    (tmp_path / "tests" / "local" / "test_mixed.py").write_text(
        "import pytest\n\n\n"
        "@pytest.mark.unit\n@pytest.mark.e2e\ndef test_two():\n    pass\n\n\n"
        "def test_backend(backend_factory):\n    pass\n\n\n"
        "@pytest.mark.integration\ndef test_marked(backend_factory):\n    pass\n"
    )
    done = collect(cwd=tmp_path)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    errors = done.stderr
    assert "tests/newdir has no test category" in errors
    assert "test_two: more than one test category: e2e, unit" in errors
    assert "test_backend: is unit but uses backend_factory" in errors
    assert "test_marked" not in errors  # its own marker keeps it out of unit
