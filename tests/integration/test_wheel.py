"""The installed package is the product only, and works outside the checkout: the wheel holds
the six packages with the migrations (no tests, tools or config), and an installed `duban` with
no DUBAN_CONFIG_DIR says which setting to give instead of failing somewhere inside."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.support.paths import REPO

PACKAGES = {"duban", "cli", "portal", "flows", "tasks", "notifications"}


def _uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if not found:
        pytest.skip("uv not found (./run installs it into .venv/bin)")
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([_uv(), "build", "--wheel", "--quiet", "-o", str(out), str(REPO)],
                   check=True, timeout=300)
    return next(out.glob("duban-*.whl"))


def test_the_wheel_holds_the_product_and_its_migrations(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == PACKAGES
    assert "duban/ledger/migrations/env.py" in names
    assert "duban/ledger/migrations/script.py.mako" in names
    assert any(n.startswith("duban/ledger/migrations/versions/0001_") for n in names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    entry = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt")))
    assert b"duban = cli:main" in entry


def test_an_installed_duban_asks_for_its_config(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([_uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    subprocess.run([_uv(), "pip", "install", "--quiet", "--no-deps", "--python",
                    str(venv / "bin" / "python"), str(wheel)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")}
    # the dependencies from the test venv; duban itself only from the wheel
    env.update(PYTHONPATH=sysconfig.get_paths()["purelib"], DUBAN_HOME=str(tmp_path / "home"))
    done = subprocess.run([str(venv / "bin" / "duban"), "status"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "DUBAN_CONFIG_DIR" in done.stderr and "未找到计划配置目录" in done.stderr
    assert "Traceback" not in done.stderr
