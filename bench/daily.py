"""Benchmark: the daily run and a 15-minute inbox run of a large municipality, stage by stage.

A municipality of 1,000,000 inhabitants on PostgreSQL: three years of history (about
20,000 episodes a year: 60,000 episodes with their notices, meetings and activities,
from bench/worklist.py's generator), a case register of 100,000 cases (imported from
CSV like a real export), and a normal day's files: about 80 new termination notices
and 170 later notices (payment orders, decisions, settlements) for open episodes. The
generated history is first settled by one untimed daily run on the previous working
day, so the timed run is a normal day, not the catch-up of a backlog.
Times the whole daily run (``flows.pipeline.run_daily``'s stages, each under its lock)
and then a 15-minute inbox run with one small new file, each stage with the peak
memory of the process so far. Letters go to a real local SMTP server (aiosmtpd).

    .venv/bin/python bench/daily.py                      # PostgreSQL (the goal)
    .venv/bin/python bench/daily.py --db sqlite
    .venv/bin/python bench/daily.py --episodes 60000 --cases 100000

Goal on the development machine: daily run < 60 s, 15-minute run < 10 s.
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
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from worklist import RUN, generate  # noqa: E402

from connectors.local_smtp import LocalSmtpServer  # noqa: E402
from domain.identity import check_digit  # noqa: E402
from flows.pipeline import DAILY_STAGES, INBOX_STAGES, Stage, run_stage  # noqa: E402
from flows.stages.cases import import_register  # noqa: E402
from flows.stages.setup import create_folders  # noqa: E402
from models.config import (  # noqa: E402
    AdvisorConfig,
    CompanyConfig,
    MunicipalityConfig,
    PathsConfig,
    Settings,
    SmtpConfig,
)
from models.db import make_engine, upgrade  # noqa: E402

PG_URL = os.environ.get(
    "KVARBOENDE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
HEADER = (
    "personnummer;tenant_name;co_tenant_name;co_tenant_personnummer;street_address;apartment;"
    "postal_code;town;contract_ref;event_type;event_date;service_date;debt_amount;"
    "monthly_rent;eviction_at;email;phone;language"
)


def pnr(rnd: random.Random) -> str:
    year = rnd.randrange(1940, 2004)
    eleven = f"{year}{rnd.randrange(1, 13):02d}{rnd.randrange(1, 29):02d}{rnd.randrange(1000):03d}"
    return eleven + check_digit(eleven[2:])


def write_register(folder: Path, n: int, rnd: random.Random) -> tuple[Path, Path, list[str]]:
    """``n`` cases (and a partner for a third of them); returns the clients' numbers too."""
    cases = [
        "case_id;personnummer;name;street_address;apartment;postal_code;unit;caseworker_id;"
        "caseworker_name;caseworker_email;language"
    ]
    household = ["case_id;personnummer;name;relation;birth_date"]
    clients = []
    for i in range(n):
        client = pnr(rnd)
        clients.append(client)
        cases.append(
            f"C{i};{client};Klient {i};Gatan {i % 300};{1000 + i % 900};194 {30 + i % 50};"
            f"Ekonomiskt bistånd;hl{i % 40};Handläggare {i % 40};hl{i % 40}@exempelby.se;sv"
        )
        if i % 3 == 0:
            household.append(f"C{i};{pnr(rnd)};Partner {i};partner;")
        if i % 5 == 0:
            household.append(f"C{i};;;child;2015-05-05")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cases.csv").write_text("\n".join(cases) + "\n", encoding="utf-8")
    (folder / "household.csv").write_text("\n".join(household) + "\n", encoding="utf-8")
    return folder / "cases.csv", folder / "household.csv", clients


def notice_rows(
    rnd: random.Random, day: date, new: int, later: int, clients: list[str], episodes: int, tag: str
) -> list[str]:
    """``new`` termination notices (a quarter for register clients) and ``later`` notices
    for open episodes of the history."""
    rows = []
    for i in range(new):
        person = rnd.choice(clients) if rnd.random() < 0.25 else pnr(rnd)
        rows.append(
            f"{person};Ny Hyresgäst {tag}{i};;;Nygatan {i};{1100 + i};194 40;Exempelby;"
            f"N{tag}-{i};termination_notice;{day};{day};{rnd.randrange(5, 40) * 1000};9000;;"
            f"{'ny' + str(i) + '@example.se' if i % 2 else ''};;sv"
        )
    for _ in range(later):
        person = rnd.randrange(episodes * 2 // 3)
        kind = rnd.choice(["payment_order", "decision", "settled", "withdrawn"])
        rows.append(
            f"19{person:010d};Hyresgäst {person};;;Gatan {person % 300};{1000 + person % 900};"
            f"123 45;Exempelby;K{person};{kind};{day};;{rnd.randrange(5, 40) * 1000};9000;;;;sv"
        )
    return rows


def write_file(inbox: Path, name: str, rows: list[str]) -> None:
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / name).write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_run(
    label: str,
    engine: Engine,
    settings: Settings,
    day: date,
    stages: tuple[tuple[str, Stage, bool], ...],
) -> float:
    print(f"\n{label}")
    total = 0.0
    for name, stage, _ in stages:
        started = time.perf_counter()
        counts = run_stage(engine, settings, day, name, stage)
        spent = time.perf_counter() - started
        total += spent
        shown = ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "nothing to do"
        print(f"  {name:<10} {spent:7.2f} s  peak {peak_mb():6.0f} MB  {shown[:90]}")
    print(f"  {'total':<10} {total:7.2f} s")
    return total


def _generate_at(url: str, n: int) -> None:
    engine = make_engine(url)
    generate(engine, n)
    if engine.dialect.name == "postgresql":
        # The generator writes its ids itself: move every sequence past them.
        with engine.begin() as connection:
            for table in ("notice_file", "notice", "appointment", "activity"):
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                    )
                )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--episodes", type=int, default=60_000)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=80, help="new episodes in the day's files")
    parser.add_argument("--later", type=int, default=170, help="later notices that day")
    args = parser.parse_args()
    rnd = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cleanup = None
        if args.db == "sqlite":
            url = f"sqlite:///{tmp / 'bench.db'}"
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

        smtp = LocalSmtpServer(mail_dir=tmp / "mail", port=0).start()
        try:
            engine = make_engine(url)
            upgrade(engine)
            week = ["08:30-12:00", "13:00-16:30"]
            settings = Settings(
                municipality=MunicipalityConfig(inhabitants=1_000_000, children=220_000),
                companies=[CompanyConfig(id="bo", name="Bo AB", inbox=tmp / "inbox" / "bo")],
                advisors=[
                    AdvisorConfig(
                        id=f"radgivare{k}",
                        name=f"Rådgivare {k}",
                        email=f"r{k}@exempelby.se",
                        location="Medborgarhuset",
                        capacity=2,
                        hours={d: week for d in ("mon", "tue", "wed", "thu", "fri")},
                    )
                    for k in range(1, 4)
                ],  # fmt: skip
                paths=PathsConfig(
                    **{name: tmp / "data" / name for name in PathsConfig.model_fields}
                ),
                smtp=SmtpConfig(port=smtp.port, start_local=False, rate_per_second=1000),
            )
            create_folders(settings)
            started = time.perf_counter()
            child = multiprocessing.get_context("fork").Process(
                target=_generate_at, args=(url, args.episodes)
            )
            child.start()
            child.join()
            if child.exitcode != 0:
                raise SystemExit("generating the history failed")
            print(f"{args.db}: {args.episodes} episodes of history in "
                  f"{time.perf_counter() - started:.1f} s")  # fmt: skip
            started = time.perf_counter()
            cases, household, clients = write_register(tmp / "register", args.cases, rnd)
            counts = import_register(engine, settings, cases, household, taken_on=RUN)
            print(f"case register: {counts.get('cases')} cases, {counts.get('members')} "
                  f"household members imported in {time.perf_counter() - started:.1f} s "
                  "(nightly, not part of the daily run)")  # fmt: skip

            # The history as the program would have left it: one daily run the working day
            # before (outcome rules, bookings and letters of the backlog), not timed.
            before = RUN - timedelta(days=3)  # Friday
            started = time.perf_counter()
            for name, stage, _ in DAILY_STAGES:
                run_stage(engine, settings, before, name, stage)
            print(f"previous working day's run ({before}, settles the generated history): "
                  f"{time.perf_counter() - started:.1f} s, not counted")  # fmt: skip

            inbox = settings.companies[0].inbox
            half = args.new // 2
            write_file(inbox, "morgon.csv", notice_rows(rnd, RUN, half, args.later // 2, clients,
                                                        args.episodes, "a"))  # fmt: skip
            write_file(inbox, "natt.csv", notice_rows(rnd, RUN, args.new - half,
                                                      args.later - args.later // 2, clients,
                                                      args.episodes, "b"))  # fmt: skip
            daily = timed_run(
                f"daily run {RUN} ({args.new} new, {args.later} later notices)",
                engine, settings, RUN, DAILY_STAGES,
            )  # fmt: skip

            write_file(inbox, "kl10.csv", notice_rows(rnd, RUN, 8, 12, clients, args.episodes,
                                                      "c"))  # fmt: skip
            quarter = timed_run(
                "15-minute inbox run (one file: 8 new, 12 later notices)",
                engine, settings, RUN, INBOX_STAGES,
            )  # fmt: skip
            engine.dispose()
            print(f"\nemails received by the local SMTP server: {len(smtp.messages)}")
            print(f"daily {daily:.1f} s (goal < 60 s), 15-minute run {quarter:.1f} s "
                  f"(goal < 10 s), peak memory {peak_mb():.0f} MB")  # fmt: skip
        finally:
            smtp.stop()
            if cleanup:
                cleanup()


if __name__ == "__main__":
    main()
