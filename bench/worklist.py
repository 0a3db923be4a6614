"""Benchmark: outcome rules, follow-up tasks and the daily worklists on a large database.

Generates a synthetic history of N episodes (two notices each, meetings, activities,
no-shows, caseworker routing, earlier episodes of the same tenants), then times
``apply_outcome_rules`` (first run and rerun), ``create_follow_up_tasks`` and
``write_worklists`` for one run date, and prints the peak memory.

    .venv/bin/python bench/worklist.py --episodes 200000 --db sqlite
    .venv/bin/python bench/worklist.py --episodes 200000 --db postgresql

PostgreSQL: ``KVARBOENDE_BENCH_PG_URL`` (default the local test database); the
benchmark uses its own schema and drops it afterwards.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flows.stages.outcomes import apply_outcome_rules, create_follow_up_tasks  # noqa: E402
from flows.stages.worklist import write_worklists  # noqa: E402
from models.config import AdvisorConfig, PathsConfig, Settings  # noqa: E402
from models.db import make_engine, upgrade  # noqa: E402
from models.tables import (  # noqa: E402
    Activity,
    Appointment,
    AppointmentSlot,
    Caseworker,
    Episode,
    HousingCompany,
    Notice,
    NoticeFile,
)

RUN = date(2026, 11, 23)
OPEN = ["termination_notice", "payment_order", "decision", "eviction_scheduled"]
PG_URL = os.environ.get(
    "KVARBOENDE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def generate(engine: Engine, n: int, seed: int = 7) -> None:
    """Bulk-insert N episodes with notices, meetings and activities (Core executemany)."""
    rnd = random.Random(seed)
    now = datetime.now(UTC)
    episodes, notices, slots, appointments, activities = [], [], [], [], []
    for i in range(1, n + 1):
        person = rnd.randrange(n * 2 // 3)  # about a third of tenants have two episodes
        last = RUN - timedelta(days=rnd.randrange(0, 400))
        roll = rnd.random()
        status = (
            rnd.choice(OPEN) if roll < 0.45 else
            "settled" if roll < 0.62 else
            "eviction_executed" if roll < 0.64 else
            "closed"
        )  # fmt: skip
        routing = "caseworker" if rnd.random() < 0.2 else "advisor"
        eviction = None
        if status == "eviction_scheduled":
            eviction = datetime.combine(last + timedelta(days=28), datetime.min.time(), UTC)
        episodes.append(
            {
                "id": i, "company_id": "bo", "tenancy_key": f"bo|K{person}",
                "personnummer": f"19{person:010d}", "personnummer_valid": True,
                "tenant_name": f"Hyresgäst {i}", "street_address": f"Gatan {i % 300}",
                "apartment": f"{1000 + i % 900}", "postal_code": "123 45", "town": "Exempelby",
                "status": status, "opened_on": last - timedelta(days=10),
                "first_notice_date": last - timedelta(days=10), "last_event_date": last,
                "deadline_date": last + timedelta(days=21),
                "debt_amount": rnd.randrange(2, 60) * 1000,
                "has_children": rnd.random() < 0.3, "routing": routing,
                "caseworker_id": f"hl{i % 40}" if routing == "caseworker" else None,
                "eviction_at": eviction, "created_at": now, "updated_at": now,
                "outcome": "settled_without_intervention" if status == "closed" else None,
                "outcome_certainty": "confirmed" if status == "closed" else None,
                "outcome_source": "notice:settled" if status == "closed" else None,
                "outcome_date": last if status == "closed" else None,
                "is_recurrence": False,
            }
        )  # fmt: skip
        first_type = "termination_notice"
        last_type = {"settled": "settled", "eviction_executed": "eviction_executed",
                     "closed": "settled"}.get(status, status)  # fmt: skip
        for k, (kind, day) in enumerate(
            ((first_type, last - timedelta(days=10)), (last_type, last))
        ):
            notices.append(
                {
                    "natural_key": f"{i}-{k}", "file_id": 1, "row_number": 2 * i + k,
                    "company_id": "bo", "episode_id": i, "event_type": kind, "event_date": day,
                    "personnummer_valid": True, "received_at": now,
                }
            )  # fmt: skip
        if routing == "advisor" and rnd.random() < 0.4:
            # A meeting a week after the last notice; microseconds keep every slot unique.
            starts = datetime.combine(last + timedelta(days=7), datetime.min.time(), UTC)
            starts += timedelta(hours=8 + i % 8, microseconds=i)
            slots.append(
                {"id": len(slots) + 1, "advisor_id": "radgivare1", "location": "Medborgarhuset",
                 "starts_at": starts, "ends_at": starts + timedelta(minutes=45),
                 "capacity": 1, "booked": 1}
            )  # fmt: skip
            state = rnd.choices(["booked", "attended", "no_show"], [0.4, 0.3, 0.3])[0]
            appointments.append(
                {"episode_id": i, "slot_id": len(slots), "status": state, "before_deadline": True,
                 "booked_at": now, "updated_at": now}
            )  # fmt: skip
        if rnd.random() < 0.1:
            activities.append(
                {"episode_id": i, "kind": rnd.choice(["contacted", "note", "home_visit"]),
                 "on_date": last, "by": "bench", "at": now}
            )  # fmt: skip
    with engine.begin() as connection:
        connection.execute(
            insert(HousingCompany.__table__),
            [{"id": "bo", "name": "Bo AB", "landlord_type": "municipal"}],
        )
        connection.execute(
            insert(NoticeFile.__table__),
            [
                {
                    "id": 1,
                    "company_id": "bo",
                    "filename": "bench.csv",
                    "content_hash": "b",
                    "status": "ingested",
                    "received_at": now,
                }
            ],  # fmt: skip
        )
        connection.execute(
            insert(Caseworker.__table__),
            [{"id": f"hl{k}", "name": f"Handläggare {k}", "unit": "EKB"} for k in range(40)],
        )
        for table, rows in (
            (Episode.__table__, episodes),
            (Notice.__table__, notices),
            (AppointmentSlot.__table__, slots),
            (Appointment.__table__, appointments),
            (Activity.__table__, activities),
        ):
            for start in range(0, len(rows), 20_000):
                connection.execute(insert(table), rows[start : start + 20_000])
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            for table in ("episode", "appointment_slot"):
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )


def _generate_at(url: str, n: int) -> None:
    engine = make_engine(url)
    generate(engine, n)
    engine.dispose()


def timed(label: str, func: Callable[..., dict[str, int]], *args: object) -> dict[str, int]:
    started = time.perf_counter()
    result = func(*args)
    print(f"{label:<28} {time.perf_counter() - started:7.2f} s  {result}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=200_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cleanup = None
        if args.db == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        else:
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT", hide_parameters=True)
            with admin.connect() as connection:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            url = f"{PG_URL}?options=-csearch_path%3D{schema}"

            def cleanup() -> None:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()

        try:
            engine = make_engine(url)
            upgrade(engine)
            settings = Settings(
                advisors=[
                    AdvisorConfig(
                        id="radgivare1", name="Anna", email="anna@x.se", location="Medborgarhuset"
                    )
                ],  # fmt: skip
                paths=PathsConfig(worklist_dir=Path(tmp) / "worklists"),
            )
            started = time.perf_counter()
            # Generated in a child process, so the peak memory below is the stages' own.
            child = multiprocessing.get_context("fork").Process(
                target=_generate_at, args=(url, args.episodes)
            )
            child.start()
            child.join()
            if child.exitcode != 0:
                raise SystemExit("generating the data failed")
            print(f"{args.db}: generated {args.episodes} episodes in "
                  f"{time.perf_counter() - started:.1f} s")  # fmt: skip
            timed("apply_outcome_rules", apply_outcome_rules, engine, settings, RUN)
            timed("apply_outcome_rules (rerun)", apply_outcome_rules, engine, settings, RUN)
            timed("create_follow_up_tasks", create_follow_up_tasks, engine, settings, RUN)
            timed("write_worklists", write_worklists, engine, settings, RUN)
            timed("write_worklists (rerun)", write_worklists, engine, settings, RUN)
            engine.dispose()
        finally:
            if cleanup:
                cleanup()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of the stages {peak:.0f} MB")


if __name__ == "__main__":
    main()
