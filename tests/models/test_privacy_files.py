"""Every file the program writes is private (0600 files, 0700 folders), whatever the umask.

The database, the archive, rejected files, letters, print batches, worklists, the
local mail folder and register exports all hold sensitive personal data.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from models.db import make_engine
from models.privacy import private_dir

REPO = Path(__file__).resolve().parents[2]  # not from conftest: tests/web has one too


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask (022), under which files are created world-readable."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def exposed(root: Path) -> list[str]:
    """Every file group/other can read or write, every folder they can enter or list."""
    found = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & 0o077:
            found.append(f"{oct(mode)} {path.relative_to(root)}")
    return found


def test_the_demo_leaves_nothing_readable_by_others(tmp_path: Path, open_umask: None) -> None:
    config = tmp_path / "config.toml"
    shutil.copy(REPO / "config.toml", config)
    data = tmp_path / "data"
    # An installation from before the rule: open folders and an open database file.
    (data / "out").mkdir(parents=True, mode=0o755)
    os.chmod(data, 0o755)
    env = {
        **os.environ,
        "KVARBOENDE_DEMO_DAYS": "8",
        "KVARBOENDE_DEMO_HOUSEHOLDS": "120",
    }
    kvarboende = Path(sys.executable).with_name("kvarboende")
    done = subprocess.run(
        [str(kvarboende), "--config", str(config), "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    written = {p.relative_to(data).parts[0] for p in data.rglob("*")}
    assert {"kvarboende.db", "archive", "inbox", "out", "register"} <= written
    assert {p.name for p in (data / "out").iterdir()} >= {
        "letters", "print", "worklists", "mail", "reports"
    }  # fmt: skip
    assert list((data / "out" / "mail").glob("*.eml"))
    assert exposed(data) == []


def test_the_sqlite_database_is_private_whatever_the_umask(
    tmp_path: Path, open_umask: None
) -> None:
    database = tmp_path / "new" / "folder" / "k.db"
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.execute(text("create table t (pnr text)"))
        connection.execute(text("insert into t values ('198112189876')"))
    assert (tmp_path / "new" / "folder" / "k.db-wal").exists()
    assert exposed(tmp_path / "new") == []
    engine.dispose()
    # An older, readable database file is closed when it is opened again.
    os.chmod(database, 0o644)
    make_engine(f"sqlite:///{database}").dispose()
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


def test_private_dir_closes_every_folder_it_creates(tmp_path: Path, open_umask: None) -> None:
    private_dir(tmp_path / "a" / "b" / "c")
    assert exposed(tmp_path / "a") == []


def test_an_archived_file_is_private_however_it_arrived(tmp_path: Path, open_umask: None) -> None:
    from connectors.inbox import move_file

    arrived = tmp_path / "inbox" / "uppsagningar.csv"
    arrived.parent.mkdir()
    arrived.write_text("personnummer\n198112189876\n", encoding="utf-8")
    assert stat.S_IMODE(arrived.stat().st_mode) == 0o644
    archived = move_file(arrived, tmp_path / "archive" / "vasbyhem", "x.csv")
    assert exposed(tmp_path / "archive") == []
    assert archived.read_text(encoding="utf-8").startswith("personnummer")
