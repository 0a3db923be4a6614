"""Time the statistics on a large municipality: refresh of every month, then the reports.

Usage: ``.venv/bin/python bench/report.py [EPISODES] [DATABASE_URL]``
(default 100 000 episodes over five years in a temporary SQLite file). The data is
random but shaped like the pipeline's: every episode has a termination notice, most a
payment order, some an eviction; a third get a letter and an appointment.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

# bench/ holds scripts named like the project's packages (letters.py): put the repo first.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import polars as pl  # noqa: E402
from sqlalchemy import Engine, insert  # noqa: E402

from domain import statistics as st  # noqa: E402
from flows.stages.statistics import build_report, refresh_stat_facts_for, write_report  # noqa: E402
from models.config import Settings  # noqa: E402
from models.db import make_engine, session_scope, upgrade  # noqa: E402
from models.tables import (  # noqa: E402
    Appointment,
    AppointmentSlot,
    Episode,
    HousingCompany,
    Letter,
    Notice,
    NoticeFile,
)


def _insert(engine: Engine, table: type, frame: pl.DataFrame) -> None:
    rows = frame.to_dicts()
    with session_scope(engine) as session:
        for start in range(0, len(rows), 5000):
            session.execute(insert(table), rows[start : start + 5000])


def populate(engine: Engine, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    first = date(2021, 1, 1)
    opened = [first + timedelta(days=rng.randrange(5 * 365)) for _ in range(n)]
    ids = list(range(1, n + 1))
    routing = rng.choices(["caseworker", "advisor"], [0.2, 0.8], k=n)
    outcome = rng.choices(
        ["settled_without_intervention", "settled_with_support", "evicted", "unknown", None],
        [0.55, 0.15, 0.03, 0.07, 0.2],
        k=n,
    )
    with session_scope(engine) as session:
        session.add(HousingCompany(id="bolaget", name="Bolaget", landlord_type="municipal"))
        session.flush()
        session.add(NoticeFile(company_id="bolaget", filename="x", content_hash="0", status="ok"))
    episodes = pl.DataFrame(
        {
            "id": ids,
            "company_id": "bolaget",
            "tenancy_key": [f"t{i}" for i in ids],
            "status": "closed",
            "opened_on": opened,
            "first_notice_date": opened,
            "routing": routing,
            "has_children": [rng.random() < 0.3 for _ in ids],
            "is_recurrence": [rng.random() < 0.1 for _ in ids],
            "outcome": outcome,
            "outcome_certainty": rng.choices(["confirmed", "presumed"], k=n),
            "outcome_date": [d + timedelta(days=40) for d in opened],
            "reached_payment_order": True,
            "personnummer_valid": False,
            "children_count": 0,
            "created_at": datetime.now(UTC),
            "updated_at": datetime.now(UTC),
        }
    )
    _insert(engine, Episode, episodes)
    kinds = [("termination_notice", 0, 1.0), ("payment_order", 12, 0.8)]
    kinds += [("eviction_scheduled", 30, 0.06), ("eviction_executed", 50, 0.03)]
    frames = []
    for kind, offset, share in kinds:
        take = [rng.random() < share for _ in ids]
        frames.append(
            pl.DataFrame(
                {
                    "episode_id": [i for i, t in zip(ids, take, strict=True) if t],
                    "event_type": kind,
                    "event_date": [
                        d + timedelta(days=offset) for d, t in zip(opened, take, strict=True) if t
                    ],
                }
            )
        )
    notices = pl.concat(frames).with_row_index("row_number", offset=1)
    notices = notices.with_columns(
        pl.col("row_number").cast(pl.Int64),
        pl.format("k{}", pl.col("row_number")).alias("natural_key"),
        pl.lit(1).alias("file_id"),
        pl.lit("bolaget").alias("company_id"),
        pl.lit(False).alias("personnummer_valid"),
        pl.lit(datetime.now(UTC)).alias("received_at"),
    )
    _insert(engine, Notice, notices)
    advised = [i for i, r in zip(ids, routing, strict=True) if r == "advisor"][: n // 3]
    numbers = list(range(1, len(advised) + 1))
    starts = [
        datetime.combine(opened[i - 1], datetime.min.time(), UTC)
        + timedelta(days=14, minutes=int(i))
        for i in advised
    ]  # noqa: E501
    _insert(
        engine,
        AppointmentSlot,
        pl.DataFrame(
            {
                "id": numbers,
                "advisor_id": [f"a{i}" for i in advised],
                "location": "x",
                "starts_at": starts,
                "ends_at": [s + timedelta(minutes=45) for s in starts],
                "capacity": 1,
                "booked": 1,
            }
        ),
    )
    booked = [datetime.combine(opened[i - 1], datetime.min.time(), UTC) for i in advised]
    _insert(
        engine,
        Appointment,
        pl.DataFrame(
            {
                "id": numbers,
                "episode_id": advised,
                "slot_id": numbers,
                "status": rng.choices(["attended", "no_show", "booked"], k=len(advised)),
                "before_deadline": True,
                "booked_at": booked,
                "updated_at": booked,
            }
        ),
    )
    _insert(
        engine,
        Letter,
        pl.DataFrame(
            {
                "idempotency_key": [f"l{i}" for i in advised],
                "episode_id": advised,
                "appointment_id": numbers,
                "kind": "appointment",
                "version": 1,
                "language": "sv",
                "channel": "print",
                "status": "sent",
                "attempts": 1,
                "created_on": [opened[i - 1] + timedelta(days=1) for i in advised],
                "created_at": booked,
                "sent_at": booked,
            }
        ),
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        url = sys.argv[2] if len(sys.argv) > 2 else f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        upgrade(engine)
        settings = Settings(paths={"reports_dir": Path(tmp) / "reports"})
        started = time.perf_counter()
        populate(engine, n)
        print(f"populate {n} episodes: {time.perf_counter() - started:.1f} s")
        months = st.month_range("2021-01", "2026-03")
        started = time.perf_counter()
        counts = refresh_stat_facts_for(engine, settings, months, today=date(2026, 4, 1))
        print(f"refresh {len(months)} months: {time.perf_counter() - started:.2f} s {counts}")
        started = time.perf_counter()
        refresh_stat_facts_for(engine, settings, ["2025-10"], today=date(2025, 11, 1))
        print(f"refresh one month: {time.perf_counter() - started:.2f} s")
        for label, kwargs in (("month", {"month": "2025-10"}), ("year", {"year": 2025})):
            started = time.perf_counter()
            build_report(engine, settings, **kwargs)
            print(f"build_report {label}: {time.perf_counter() - started:.2f} s")
        for fmt in ("json", "html", "xlsx", "pdf"):
            started = time.perf_counter()
            write_report(engine, settings, month="2025-10", fmt=fmt)
            print(f"write_report {fmt}: {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
