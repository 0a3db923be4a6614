"""Time retention (gallring) on a large municipality.

Usage: ``.venv/bin/python bench/retention.py [EPISODES] [DATABASE_URL]``
(default 100 000 episodes over five years in a temporary SQLite file). The data is
bench/report.py's (notices, appointments, letters), plus a personnummer on every
episode so that the research birth days keep about a tenth of them. Every episode is
closed and its notices were received "now", so on 2032-01-10 all but the research
ones are due: a dry run, then the real run, then a second run that finds nothing.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

# bench/ holds scripts named like the project's packages (letters.py): put the repo first.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collections.abc import Callable  # noqa: E402

from sqlalchemy import Engine, bindparam, func, select, update  # noqa: E402

from flows.stages.retention import apply_retention  # noqa: E402
from models.config import Settings  # noqa: E402
from models.db import make_engine, session_scope, upgrade  # noqa: E402
from models.tables import Base, Episode  # noqa: E402

RUN = date(2032, 1, 10)


def _populate_from_report_bench() -> Callable[..., None]:
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "bench" / "report.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.populate


def add_personnummer(engine: Engine, n: int) -> None:
    """Synthetic 12-digit numbers, birth days 1-28 (3 in 28 on a research day)."""
    table = Episode.__table__
    statement = (
        update(table).where(table.c.id == bindparam("eid")).values(personnummer=bindparam("p"))
    )
    rows = [
        {"eid": i, "p": f"19{50 + i % 50:02d}{1 + i % 12:02d}{1 + i % 28:02d}{i % 10_000:04d}"}
        for i in range(1, n + 1)
    ]
    with session_scope(engine) as session:
        for start in range(0, len(rows), 5000):
            session.execute(statement, rows[start : start + 5000])


def total_rows(engine: Engine) -> int:
    with session_scope(engine) as session:
        return sum(
            session.scalar(select(func.count()).select_from(t)) or 0
            for t in Base.metadata.sorted_tables
        )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        url = sys.argv[2] if len(sys.argv) > 2 else f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        upgrade(engine)
        data = Path(tmp) / "data"
        settings = Settings(
            paths={
                "data_dir": data,
                "archive_dir": data / "archive",
                "rejected_dir": data / "rejected",
                "letters_dir": data / "letters",
                "print_dir": data / "print",
                "reports_dir": data / "reports",
            }
        )
        started = time.perf_counter()
        _populate_from_report_bench()(engine, n)
        add_personnummer(engine, n)
        print(f"populate {n} episodes: {time.perf_counter() - started:.1f} s")
        before = total_rows(engine)
        for label, dry in (("dry run", True), ("retention", False), ("second run", False)):
            started = time.perf_counter()
            counts = apply_retention(engine, settings, RUN, dry_run=dry)
            took = time.perf_counter() - started
            shown = {k: v for k, v in counts.items() if v}
            print(f"{label}: {took:.2f} s {shown}")
        print(f"rows in all tables: {before} before, {total_rows(engine)} after")


if __name__ == "__main__":
    main()
