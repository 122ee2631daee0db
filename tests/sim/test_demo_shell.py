"""`tina demo shell` and `tina demo env`: a demo laptop's environment, from the file the running
demo writes, with errors that say what to do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tina import cli
from tina.dev import demo_shell
from tina.dev.sim.sandbox import BIN

TRICKY = 'it\'s a "path" with $HOME and `ticks`\nand a newline'


def _tina(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "tina"), *argv], capture_output=True, text=True, timeout=60)


def test_env_prints_export_lines_a_posix_shell_evaluates_back_to_the_same_values(
    tmp_path: Path,
) -> None:
    demo_shell.write_laptops(tmp_path, {"mbp-alex": {"TINA_X": TRICKY, "HOME": "/h"}})
    assert (tmp_path / "laptops.json").stat().st_mode & 0o777 == 0o600
    out = _tina("demo", "env", "--dir", str(tmp_path), "mbp-alex")
    assert out.returncode == 0, out.stderr
    # What a person does with it: eval in their shell.
    back = subprocess.run(
        ["sh", "-c", 'eval "$1"; printf %s "$TINA_X|$HOME|$TINA_DEMO_LAPTOP"', "sh", out.stdout],
        capture_output=True,
        text=True,
        check=True,
    )
    assert back.stdout == f"{TRICKY}|/h|mbp-alex"


def test_shell_runs_a_command_with_the_laptops_environment_over_this_one(
    tmp_path: Path,
) -> None:
    demo_shell.write_laptops(tmp_path, {"mbp-sam": {"TINA_NODE_NAME": "mbp-sam"}})
    code = "import json, os; print(json.dumps(dict(os.environ)))"
    out = _tina(
        "demo", "shell", "--dir", str(tmp_path), "mbp-sam", "--", sys.executable, "-c", code
    )
    assert out.returncode == 0, out.stderr
    env = json.loads(out.stdout)
    assert env["TINA_NODE_NAME"] == "mbp-sam"
    assert env["TINA_DEMO_LAPTOP"] == "mbp-sam"
    assert "PATH" in env  # this terminal's variables stay, under the laptop's


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no demo in"),
        ("{not json", "not a demo's laptop list"),
        ('{"version": 99, "laptops": {}}', "expected version 1"),
        (
            '{"version": 1, "laptops": {"other": {}}}',
            "no demo laptop named 'mbp-alex' (the demo's laptops: other)",
        ),
    ],
)
def test_errors_name_the_file_or_the_laptops_there_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, expected: str
) -> None:
    if content is not None:
        (tmp_path / "laptops.json").write_text(content)
    assert cli.main(["demo", "env", "--dir", str(tmp_path), "mbp-alex"]) == 1
    err = capsys.readouterr().err
    assert expected in err
    if content is None:
        assert "make demo" in err


def test_shell_says_when_the_command_cannot_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo_shell.write_laptops(tmp_path, {"a": {}})
    code = cli.main(["demo", "shell", "--dir", str(tmp_path), "a", "--", str(tmp_path / "nope")])
    assert code == 127
    assert "cannot run" in capsys.readouterr().err
