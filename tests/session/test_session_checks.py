"""`tina-session check verify | complexity | plan` (reference §3.19-3.21): the real script on
real temporary projects, and the rules behind it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import attrs
import pytest

from tina.session.checks import complexity, plan, verify

VENV_BIN = Path(sys.executable).parent
NODE = shutil.which("npm") and shutil.which("node")


@attrs.frozen
class Done:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


@pytest.fixture
def empty_bin(tmp_path: Path) -> Path:
    path = tmp_path / "empty-bin"
    path.mkdir()
    return path


def tina_session(*args: str, path: str | Path, home: Path, timeout: float = 180) -> Done:
    env = {"PATH": str(path), "HOME": str(home), "LANG": "C.UTF-8"}
    proc = subprocess.run(
        [str(VENV_BIN / "tina-session"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Done(proc.returncode, proc.stdout, proc.stderr)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def python_project(root: Path, test_body: str, *, own_venv: bool) -> Path:
    write(
        root,
        {
            "pyproject.toml": '[project]\nname = "demo"\nversion = "0"\n\n[tool.pytest.ini_options]\n',
            "tests/test_demo.py": f"def test_demo():\n    {test_body}\n",
        },
    )
    if own_venv:  # the project's own .venv/bin/pytest: a link to ours (its shebang is absolute)
        (root / ".venv" / "bin").mkdir(parents=True)
        (root / ".venv" / "bin" / "pytest").symlink_to(VENV_BIN / "pytest")
    return root


# --- verify -----------------------------------------------------------------------------------


def test_verify_a_passing_python_project_runs_its_own_pytest_and_skips_a_missing_flake8(
    tmp_path: Path, empty_bin: Path
) -> None:
    project = python_project(tmp_path / "proj", "assert 1 + 1 == 2", own_venv=True)
    done = tina_session("check", "verify", "--cwd", str(project), path=empty_bin, home=tmp_path)
    assert done.code == 0, done
    assert done.lines[:3] == [
        f"Running verification in {project}...",
        "Detected Python project",
        "Running .venv/bin/pytest...",
    ]
    # The child's output comes after our line and before the verdict: stdout is flushed first.
    assert "1 passed" in done.out
    assert done.out.index("1 passed") < done.out.index("PASS: All verification checks passed")
    # flake8 is not installed: skipped, with a note, as the original skipped it silently.
    assert done.lines[-2:] == ["Running flake8...", "PASS: All verification checks passed"]
    assert done.err == "Note: flake8 not found; skipping lint\n"


def test_verify_a_failing_python_project_fails_with_exit_1(tmp_path: Path, empty_bin: Path) -> None:
    project = python_project(tmp_path / "proj", "assert 1 + 1 == 3", own_venv=True)
    done = tina_session("check", "verify", "--cwd", str(project), path=empty_bin, home=tmp_path)
    assert done.code == 1, done
    assert "1 failed" in done.out
    assert done.lines[-1] == "FAIL: Tests failed"
    assert "flake8" not in done.out + done.err  # lint does not run after failing tests


def test_verify_finds_pytest_on_path_without_a_project_venv(tmp_path: Path) -> None:
    project = python_project(tmp_path / "proj", "assert True", own_venv=False)
    done = tina_session("check", "verify", "--cwd", str(project), path=VENV_BIN, home=tmp_path)
    assert done.code == 0, done
    assert "Running pytest..." in done.lines
    assert done.lines[-1] == "PASS: All verification checks passed"


def test_verify_without_a_test_runner_is_an_error(tmp_path: Path, empty_bin: Path) -> None:
    project = python_project(tmp_path / "proj", "assert True", own_venv=False)
    done = tina_session("check", "verify", "--cwd", str(project), path=empty_bin, home=tmp_path)
    assert done.code == 1
    assert done.lines[-1] == "Running pytest..."
    assert done.err == "Error: cannot run pytest: not found\n"


def _node_project(root: Path, scripts: dict[str, str]) -> Path:
    return write(root, {"package.json": json.dumps({"name": "demo", "scripts": scripts})})


@pytest.mark.skipif(not NODE, reason="needs node and npm")
def test_verify_a_node_project_whose_tests_fail(tmp_path: Path) -> None:
    project = _node_project(tmp_path / "proj", {"test": 'node -e "process.exit(1)"'})
    done = tina_session(
        "check", "verify", "--cwd", str(project), path=os.environ["PATH"], home=tmp_path
    )
    assert done.code == 1, done
    assert done.lines[1:3] == ["Detected Node.js project", "Running npm test..."]
    assert done.lines[-1] == "FAIL: Tests failed"


@pytest.mark.skipif(not NODE, reason="needs node and npm")
def test_verify_a_node_project_without_a_lint_script_passes(tmp_path: Path) -> None:
    project = _node_project(tmp_path / "proj", {"test": 'node -e "process.exit(0)"'})
    done = tina_session(
        "check", "verify", "--cwd", str(project), path=os.environ["PATH"], home=tmp_path
    )
    assert done.code == 0, done
    assert "Running npm run lint..." not in done.lines
    assert 'Note: package.json has no "lint" script; skipping lint' in done.err
    assert done.lines[-1] == "PASS: All verification checks passed"


@pytest.mark.skipif(not NODE, reason="needs node and npm")
def test_verify_a_node_project_whose_lint_fails(tmp_path: Path) -> None:
    project = _node_project(
        tmp_path / "proj",
        {"test": 'node -e "process.exit(0)"', "lint": 'node -e "process.exit(2)"'},
    )
    done = tina_session(
        "check", "verify", "--cwd", str(project), path=os.environ["PATH"], home=tmp_path
    )
    assert done.code == 1, done
    assert "Running npm run lint..." in done.lines
    assert done.lines[-1] == "FAIL: Lint errors found"


@pytest.mark.skipif(not NODE, reason="needs node and npm")
def test_verify_timeout_stops_the_whole_command(tmp_path: Path) -> None:
    marker = tmp_path / "still-running"
    script = f"setTimeout(() => require('fs').writeFileSync({str(marker)!r}, 'x'), 8000)"
    project = _node_project(tmp_path / "proj", {"test": f"node -e {json.dumps(script)}"})
    started = time.monotonic()
    done = tina_session(
        "check",
        "verify",
        "--cwd",
        str(project),
        "--timeout",
        "1.5",
        path=os.environ["PATH"],
        home=tmp_path,
    )
    assert done.code == 1, done
    assert done.lines[-1] == "FAIL: Tests failed (npm test timed out after 1.5 s)"
    assert time.monotonic() - started < 60
    # npm's grandchild (node) was stopped with it: the file it would write never appears.
    deadline = time.monotonic() + 12
    while time.monotonic() < deadline:
        assert not marker.exists()
        time.sleep(0.2)


def test_verify_an_unknown_project_passes_with_a_warning(tmp_path: Path, empty_bin: Path) -> None:
    done = tina_session("check", "verify", "--cwd", str(tmp_path), path=empty_bin, home=tmp_path)
    assert done.code == 0
    assert done.lines == [
        f"Running verification in {tmp_path}...",
        "Warning: Unknown project type, skipping verification",
    ]


def test_verify_a_missing_directory_is_an_error(tmp_path: Path, empty_bin: Path) -> None:
    missing = tmp_path / "nope"
    done = tina_session("check", "verify", "--cwd", str(missing), path=empty_bin, home=tmp_path)
    assert (done.code, done.out, done.err) == (1, "", f"Error: Directory not found: {missing}\n")


def test_detection_order_and_commands(tmp_path: Path) -> None:
    both = write(tmp_path / "both", {"Cargo.toml": "", "package.json": "{}", "go.mod": ""})
    rust = verify.detect(both)
    assert rust is not None and rust.label == "Rust"
    assert [s.argv for s in rust.steps] == [
        ("cargo", "test", "--no-fail-fast"),
        ("cargo", "clippy", "--", "-D", "warnings"),
    ]
    assert [s.failure for s in rust.steps] == ["Tests failed", "Clippy warnings found"]
    assert all(s.required for s in rust.steps)  # clippy that cannot start is an error
    go = verify.detect(write(tmp_path / "go", {"go.mod": ""}))
    assert go is not None and go.label == "Go"
    assert [(s.argv, s.failure, s.required) for s in go.steps] == [
        (("go", "test", "./..."), "Tests failed", True),
        (("golangci-lint", "run"), "Lint errors found", False),
    ]
    setup_py = verify.detect(write(tmp_path / "py", {"setup.py": ""}))
    assert setup_py is not None and setup_py.label == "Python"
    assert [(s.argv, s.failure) for s in setup_py.steps] == [
        (("pytest",), "Tests failed"),
        (("flake8", "."), "Flake8 errors found"),
    ]
    broken = verify.detect(write(tmp_path / "node", {"package.json": "{not json"}))
    assert broken is not None and broken.steps[1].skip is None  # npm says what is wrong
    assert verify.detect(tmp_path / "nothing-here") is None


# --- complexity -------------------------------------------------------------------------------


def _lines_of(n: int, line: str = "x = 1") -> str:
    return "".join(f"{line}\n" for _ in range(n))


def _long_python_function(name: str, body_lines: int, indent: str = "") -> str:
    body = "".join(f"{indent}    v{i} = {i}\n" for i in range(body_lines))
    return f"{indent}def {name}():\n{body}"


def test_complexity_passes_under_the_limits(tmp_path: Path, empty_bin: Path) -> None:
    project = write(tmp_path / "proj", {"src/a.py": _lines_of(10), "src/b.rs": "fn a() {\n}\n"})
    done = tina_session("check", "complexity", "--cwd", str(project), path=empty_bin, home=tmp_path)
    assert done.code == 0, done
    assert done.lines == [
        f"Checking complexity in {project}...",
        "Total lines: 12",
        "PASS: Complexity checks passed",
    ]
    assert done.err == ""


def test_complexity_lists_files_over_the_limit_sorted_and_relative(
    tmp_path: Path, empty_bin: Path
) -> None:
    project = write(
        tmp_path / "proj",
        {
            "src/z.py": _lines_of(450),
            "src/pkg/big.ts": _lines_of(401, "let x = 1;"),
            "src/ok.go": _lines_of(400, "var x = 1"),
            "src/notes.md": _lines_of(900, "words"),  # not source
            "src/.hidden/huge.py": _lines_of(900),
            "src/node_modules/dep.js": _lines_of(900),
            "src/target/gen.rs": _lines_of(900),
            "outside.py": _lines_of(900),  # src/ exists: only it is scanned
        },
    )
    done = tina_session(
        "check",
        "complexity",
        "--cwd",
        str(project),
        "--max-total-lines",
        "5000",
        path=empty_bin,
        home=tmp_path,
    )
    assert done.code == 1, done
    assert done.lines == [
        f"Checking complexity in {project}...",
        "Total lines: 1251",
        "FAIL: Files exceeding 400 lines:",
        "  src/pkg/big.ts (401 lines)",
        "  src/z.py (450 lines)",
    ]


def test_complexity_without_src_scans_the_directory(tmp_path: Path, empty_bin: Path) -> None:
    project = write(tmp_path / "proj", {"app.py": _lines_of(450)})
    done = tina_session("check", "complexity", "--cwd", str(project), path=empty_bin, home=tmp_path)
    assert done.code == 1
    assert done.lines[-2:] == ["FAIL: Files exceeding 400 lines:", "  app.py (450 lines)"]


def test_complexity_total_budget_counts_code_lines_only(tmp_path: Path, empty_bin: Path) -> None:
    code = "# a comment\n\n" + _lines_of(30) + '"""a docstring is code"""\n'
    project = write(
        tmp_path / "proj", {"src/a.py": code, "src/b.rs": "// c\n/* c\n c */\nfn x() {}\n"}
    )
    done = tina_session(
        "check",
        "complexity",
        "--cwd",
        str(project),
        "--max-total-lines",
        "31",
        path=empty_bin,
        home=tmp_path,
    )
    assert done.code == 1
    assert done.lines[1:] == ["Total lines: 32", "FAIL: Total lines 32 exceeds budget 31"]


def test_complexity_lists_long_python_and_rust_functions(tmp_path: Path, empty_bin: Path) -> None:
    rust = "fn very_long_function() {\n" + _lines_of(55, "    let x = 1;") + "}\n"
    python = (
        _long_python_function("long_one", 60)
        + "\n\nclass Service:\n"
        + "    @property\n"
        + _long_python_function("method", 50, indent="    ")  # 51 lines with its def
        + _long_python_function("short", 3, indent="    ")
    )
    project = write(tmp_path / "proj", {"src/main.rs": rust, "src/mod.py": python})
    done = tina_session("check", "complexity", "--cwd", str(project), path=empty_bin, home=tmp_path)
    assert done.code == 1, done
    assert done.lines[2:] == [
        "FAIL: Functions exceeding 50 lines:",
        "  src/main.rs::very_long_function (57 lines)",
        "  src/mod.py::long_one (61 lines)",
        "  src/mod.py::Service.method (51 lines)",
    ]


def test_complexity_notes_python_it_cannot_parse(tmp_path: Path, empty_bin: Path) -> None:
    project = write(tmp_path / "proj", {"src/bad.py": "def broken(:\n"})
    done = tina_session("check", "complexity", "--cwd", str(project), path=empty_bin, home=tmp_path)
    assert done.code == 0
    assert done.err == "Note: src/bad.py is not valid Python; its functions were not measured\n"


def test_complexity_limits_are_u32_usage_errors(tmp_path: Path, empty_bin: Path) -> None:
    for value in ("-1", "4294967296", "ten"):
        done = tina_session(
            "check",
            "complexity",
            "--cwd",
            str(tmp_path),
            "--max-file-lines",
            value,
            path=empty_bin,
            home=tmp_path,
        )
        assert done.code == 2 and done.out == "" and "--max-file-lines" in done.err


def test_rust_function_lengths_are_the_originals() -> None:
    code = textwrap.dedent(
        """
        fn short_function() {
            println!("short");
        }

        fn longer_function() {
            let x = 1;
            let y = 2;
            let z = 3;
            println!("{}", x + y + z);
        }

        impl Foo {
            fn method_one(&self) {
                self.do_thing();
            }

            fn method_two(&self) -> i32 {
                let a = 1;
                let b = 2;
                a + b
            }
        }
        """
    )
    assert complexity.rust_function_lengths(code) == [
        ("short_function", 3),
        ("longer_function", 6),
        ("method_one", 3),
        ("method_two", 5),
    ]


@pytest.mark.parametrize(
    ("suffix", "text", "expected"),
    [
        (".py", "x = 1\n\n   \n# c\n    # c\ny = '#'  # c\n", 2),
        (".rs", "// c\nlet a = 1; // c\n/* one */\n/* a\n   b */ let b = 2;\n/** doc\n */\n", 2),
        (".ts", "/* a */ /* b */ f();\n/* a */ // b\nconst g = 'src/**/*.ts';\n", 2),
        (".go", "\r\n\tx := 1\r\n", 1),
    ],
)
def test_code_lines(suffix: str, text: str, expected: int) -> None:
    source = complexity.Source(path="f" + suffix, suffix=suffix, text=text)
    assert complexity.code_lines(source) == expected


def test_line_count_is_rusts_lines() -> None:
    assert [complexity.line_count(t) for t in ("", "a", "a\n", "a\r\nb", "\n\n", "a\u2028b")] == [
        0,
        1,
        1,
        2,
        2,
        1,
    ]


# --- plan -------------------------------------------------------------------------------------

BUDGET = "## Complexity Budget\n\n| Metric | Limit |\n|--------|-------|\n| Max lines | 400 |\n"


def test_plan_passes(tmp_path: Path, empty_bin: Path) -> None:
    path = write(tmp_path, {"plan.md": "### Task 1: x\n**Model:** haiku\n\n" + BUDGET}) / "plan.md"
    done = tina_session("check", "plan", "--path", str(path), path=empty_bin, home=tmp_path)
    assert (done.code, done.lines) == (
        0,
        [f"Validating plan: {path}", "PASS: Plan validation passed"],
    )


def test_plan_fails_on_the_first_broken_rule(tmp_path: Path, empty_bin: Path) -> None:
    path = write(tmp_path, {"plan.md": "### Task 1\n### Task 2\n**Model:** sonnet\n"}) / "plan.md"
    done = tina_session("check", "plan", "--path", str(path), path=empty_bin, home=tmp_path)
    assert (done.code, done.lines) == (
        1,
        [f"Validating plan: {path}", "FAIL: Missing model specifications (2 tasks, 1 model specs)"],
    )


def test_plan_missing_file(tmp_path: Path, empty_bin: Path) -> None:
    done = tina_session("check", "plan", "--path", "no-such.md", path=empty_bin, home=tmp_path)
    assert (done.code, done.out, done.err) == (1, "", "Error: File not found: no-such.md\n")


@pytest.mark.parametrize(
    ("text", "failure"),
    [
        (
            "### Task 1\n### Task 2\n**Model:** opus\n" + BUDGET,
            "Missing model specifications (2 tasks, 1 model specs)",
        ),
        (
            "### Task 1\n**Model:** Sonnet \n" + BUDGET,
            "Invalid model 'sonnet'. Must be 'opus' or 'haiku'.",
        ),
        (
            "### Task 1\n  **Model:** gpt-5\n" + BUDGET,
            "Invalid model 'gpt-5'. Must be 'opus' or 'haiku'.",
        ),
        ("### Task 1\n**Model:** opus\n", "Missing Complexity Budget section"),
        (
            "### Task 1\n**Model:** opus\n## Complexity Budget\n\nsmall.\n",
            "Complexity Budget section must contain a table with metrics",
        ),
        (
            "**Model:** opus\n## Complexity Budget\nsee below\n## Other\n| a | b |\n|---|---|\n",
            "Complexity Budget section must contain a table with metrics",
        ),
        ("### Task 1\n**Model:** opus\n" + BUDGET, None),
        ("### Task 1\n**Model:** OPUS-4\n### Complexity Budget\n| a |\n|---|\n", None),
        # Not model names, so not checked: empty, code, or longer than 20 bytes.
        ("**Model:**\n**Model:** `sonnet`\n**Model:** whichever the lead prefers\n" + BUDGET, None),
        ("#### Task 1\n**Model:** haiku\n" + BUDGET, None),  # "#### Task" holds "### Task"
    ],
)
def test_plan_rules(text: str, failure: str | None) -> None:
    assert plan.failure(text) == failure


# --- help ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["verify", "complexity", "plan"])
def test_help_has_an_example(name: str, tmp_path: Path, empty_bin: Path) -> None:
    done = tina_session("check", name, "--help", path=empty_bin, home=tmp_path)
    assert done.code == 0
    assert "examples:" in done.out and f"tina-session check {name} --" in done.out
    assert "--cwd DIR" in done.out or "--path FILE" in done.out
