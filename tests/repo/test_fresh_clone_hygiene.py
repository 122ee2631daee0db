"""A fresh clone's set-up must leave ``git status`` clean and print no warning of ours.

These check the set-up's inputs directly (fast, no install): the npm lock file must be
one that ``npm ci`` accepts as it is (otherwise ``npm install`` rewrites it), the
Makefile must not echo its comments, and the Python build backend must not print
deprecation banners about our ``pyproject.toml``.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_npm_ci_accepts_the_committed_lock_file(tmp_path: Path) -> None:
    # `npm ci` refuses a lock that does not match package.json for every platform; then
    # the only way to install is `npm install`, which rewrites the lock in the clone.
    for name in ("package.json", "package-lock.json"):
        shutil.copy(ROOT / name, tmp_path / name)
    result = subprocess.run(
        ["npm", "ci", "--dry-run", "--no-audit", "--no-fund", "--ignore-scripts"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "package-lock.json").read_bytes() == (
        ROOT / "package-lock.json"
    ).read_bytes()


def test_makefile_recipes_do_not_echo_comments() -> None:
    # make passes a tab-indented '# ...' line to the shell and prints it: comments belong
    # outside recipes.
    result = subprocess.run(
        [
            "make",
            "-n",
            "--no-print-directory",
            "-C",
            str(ROOT),
            "-B",
            "node_modules/.installed",
            "setup",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    echoed = [line for line in result.stdout.splitlines() if line.lstrip().startswith("#")]
    assert echoed == []


def test_pyproject_uses_the_current_license_form() -> None:
    # A TOML table under project.license makes setuptools print a deprecation banner on
    # every install; an SPDX string is the current form.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert isinstance(project["license"], str)
