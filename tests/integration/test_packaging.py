"""The files that ship with probe are found both in an editable checkout and in an installed wheel.

The wheel test builds the wheel (hatchling, no isolation), installs it with --no-deps into a fresh
venv whose only extra path is the dev venv's site-packages (dependencies without a network; the dev
venv's editable `probe` is not activated because its .pth files are not processed from there), and
runs `probe db upgrade --url sqlite:///…` from that venv, outside the checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from probe import resources

REPO = Path(__file__).resolve().parents[2]


def test_checkout_finds_the_top_level_folders() -> None:
    assert not (REPO / "probe" / "_data").exists(), "probe/_data only exists inside a built wheel"
    assert resources.data_dir() == REPO
    assert (resources.migrations_dir() / "env.py").is_file()
    assert (resources.migrations_dir() / "script.py.mako").is_file()
    assert list((resources.migrations_dir() / "versions").glob("0001_*.py"))
    assert resources.templates_dir() == REPO / "templates"
    assert resources.example_config() == REPO / "config.example.toml" and resources.example_config().is_file()


def test_installed_layout_wins_when_present(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "site-packages" / "probe"
    (package / "_data" / "migrations").mkdir(parents=True)
    monkeypatch.setattr(resources, "_PACKAGE_DIR", package)
    assert resources.data_dir() == package / "_data"
    assert resources.migrations_dir() == package / "_data" / "migrations"
    assert resources.templates_dir() == package / "_data" / "templates"
    assert resources.example_config() == package / "_data" / "config.example.toml"


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


def test_wheel_ships_migrations_and_upgrades_a_database(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(REPO)],
         cwd=tmp_path)
    (wheel,) = dist.glob("probe-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("probe/_data/migrations/env.py", "probe/_data/migrations/script.py.mako",
                   "probe/_data/migrations/versions/0001_initial.py", "probe/_data/config.example.toml",
                   "probe/store/engine.py", "probe/resources.py", "probe/report/templates/report.html.j2",
                   "probe/_data/migrations/versions/0003_research.py"):
        assert needed in names, f"{needed} missing from {wheel.name}"

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    purelib = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        cwd=tmp_path).stdout.strip())
    (purelib / "dev-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
          "--quiet", str(wheel)], cwd=tmp_path)

    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    where = _run([str(python), "-c", "from probe import resources; print(resources.data_dir())"],
                 cwd=tmp_path, env=env).stdout.strip()
    assert Path(where) == purelib / "probe" / "_data"
    database = tmp_path / "fresh.db"
    _run([str(venv / "bin" / "probe"), "db", "upgrade", "--url", f"sqlite:///{database}"], cwd=tmp_path, env=env)
    tables = _run([str(python), "-c", f"import sqlite3; print(sorted(r[0] for r in sqlite3.connect("
                   f"'{database}').execute(\"select name from sqlite_master where type='table'\")))"],
                  cwd=tmp_path, env=env).stdout
    for table in ("alembic_version", "campaign", "send", "target"):
        assert f"'{table}'" in tables
