"""Benchmark: a 1,000,000-row housing-company CSV (Windows-1252, Swedish formats) into
SQLite and PostgreSQL through the real ingest stage.

    .venv/bin/python bench/ingest.py                 # 1,000,000 rows, both databases
    .venv/bin/python bench/ingest.py --rows 100000 --db sqlite

Each database run is a separate child process, so the peak memory printed
(``ru_maxrss``) is that of the ingest alone. PostgreSQL: ``KVARBOENDE_BENCH_PG_URL``
(default postgresql+psycopg://postgres@127.0.0.1:5432/test), in a schema of its own
that is dropped afterwards. Goal: under 60 s and under 2 GB for either database.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402

PG_URL = os.environ.get(
    "KVARBOENDE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
RECEIVED_ON = date(2026, 11, 20)
HEADER = [
    "Personnummer", "Hyresgäst", "Adress", "Lgh nr", "Postnr", "Ort", "Kontraktsnr",
    "Händelse", "Datum", "Delgivningsdatum", "Skuld", "Månadshyra", "Avhysningsdatum",
    "E-post", "Telefon",
]  # fmt: skip
CHAIN = ["Uppsägning", "Ansökan BF", "Utslag", "Avhysning bokad"]
FIRST = ["Åsa", "Björn", "Märta", "Örjan", "Anna", "Lars", "Eva", "Göran", "Ulla", "Per"]
LAST = ["Öberg", "Andersson", "Källström", "Åkesson", "Berg", "Lindqvist", "Ström", "Näslund"]
STREETS = ["Storgatan", "Kvarnvägen", "Ängsvägen", "Björkallén", "Sjöstigen", "Häradsvägen"]


def _personnummer(count: int) -> list[str]:
    """Valid 10-digit numbers with separator (Luhn check digit), generated once."""
    from stdnum import luhn

    numbers = []
    for index in range(count):
        year = 40 + index % 60
        month = 1 + (index // 60) % 12
        day = 1 + (index // 720) % 28
        serial = (index // 20160) % 1000
        nine = f"{year:02d}{month:02d}{day:02d}{serial:03d}"
        numbers.append(f"{nine[:6]}-{nine[6:]}{luhn.calc_check_digit(nine)}")
    return numbers


def generate(path: Path, rows: int) -> None:
    """Write the company file: chains of up to four events per tenancy, ~8 % settled."""
    tenancies = (rows + 3) // 4
    people = pl.Series("pnr", _personnummer(tenancies))
    index = pl.int_range(0, rows, eager=True).alias("i")
    frame = pl.DataFrame(index).with_columns(t=pl.col("i") // 4, step=pl.col("i") % 4)
    base = pl.lit(date(2025, 6, 1)) + pl.duration(days=(pl.col("t") * 7919) % 500)
    event_date = base + pl.duration(days=pl.col("step") * 21)
    settled = (pl.col("t") % 12 == 0) & (pl.col("step") == 3)
    eviction = event_date + pl.duration(days=30)
    debt = (pl.col("t") * 37 % 60000 + 1500).cast(pl.Int64)
    frame = frame.with_columns(
        pnr=people.gather(frame["t"]),
        name=pl.concat_str(
            [
                pl.lit(pl.Series(LAST)).gather(pl.col("t") % len(LAST)),
                pl.lit(pl.Series(FIRST)).gather(pl.col("t") % len(FIRST)),
            ],
            separator=", ",
        ),
        address=pl.concat_str(
            [
                pl.lit(pl.Series(STREETS)).gather(pl.col("t") % len(STREETS)),
                (pl.col("t") % 97 + 1).cast(pl.String),
            ],
            separator=" ",
        ),
        apartment=(1001 + pl.col("t") % 899).cast(pl.String),
        postal=pl.lit("194 30"),
        town=pl.lit("Upplands Väsby"),
        contract=pl.concat_str([pl.lit("HV-"), pl.col("t").cast(pl.String).str.zfill(7)]),
        event=pl.when(settled)
        .then(pl.lit("Reglerad"))
        .otherwise(pl.lit(pl.Series(CHAIN)).gather(pl.col("step"))),
        date=event_date.dt.strftime("%d.%m.%Y"),
        service=pl.when(pl.col("step") == 0).then(
            (event_date + pl.duration(days=3)).dt.strftime("%d.%m.%Y")
        ),
        debt=pl.concat_str(
            [
                (debt // 1000).cast(pl.String),
                pl.lit(" "),
                (debt % 1000).cast(pl.String).str.zfill(3),
                pl.lit(",50"),
            ]
        ),
        rent=pl.lit("8 450"),
        eviction=pl.when((pl.col("step") == 3) & ~settled).then(
            eviction.dt.strftime("%d.%m.%Y") + " 09:00"
        ),
        email=pl.when(pl.col("t") % 3 == 0).then(
            pl.concat_str([pl.lit("hyresgast"), pl.col("t").cast(pl.String), pl.lit("@example.se")])
        ),
        phone=pl.lit("070-123 45 67"),
    )
    out = frame.select(
        "pnr", "name", "address", "apartment", "postal", "town", "contract", "event", "date",
        "service", "debt", "rent", "eviction", "email", "phone",
    )  # fmt: skip
    out.columns = HEADER
    text = out.write_csv(separator=";", quote_style="necessary")
    path.write_bytes(text.replace("\n", "\r\n").encode("cp1252"))


def child(kind: str, file: Path) -> None:
    """One measured ingest into a fresh database of the kind; prints one result line."""
    import logging

    from sqlalchemy import create_engine, text

    from flows.stages.setup import prepare_database
    from models.config import CompanyConfig, Settings
    from models.db import make_engine
    from services.ingest import ingest_file

    logging.basicConfig(format=f"  {kind}: %(message)s")
    logging.getLogger("services.ingest").setLevel(logging.INFO)
    logging.getLogger("services.notices").setLevel(logging.INFO)
    workdir = Path(tempfile.mkdtemp(prefix="kvarboende-bench-"))
    settings = Settings(
        companies=[CompanyConfig(id="hyresvard", name="Hyresvärden AB", landlord_type="private")]
    ).resolve_paths(workdir)
    cleanup = None
    if kind == "sqlite":
        engine = make_engine(f"sqlite:///{workdir / 'bench.db'}")
    else:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT", hide_parameters=True)
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in PG_URL else "?"
        engine = make_engine(f"{PG_URL}{sep}options=-csearch_path%3D{schema}")

        def cleanup() -> None:
            engine.dispose()
            with admin.connect() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()

    try:
        prepare_database(engine, settings)
        start = time.perf_counter()
        receipt = ingest_file(
            engine, settings, file, "hyresvard", received_on=RECEIVED_ON, move=False
        )
        seconds = time.perf_counter() - start
        with engine.connect() as connection:
            episodes = connection.execute(text("SELECT count(*) FROM episode")).scalar_one()
            notices = connection.execute(text("SELECT count(*) FROM notice")).scalar_one()
    finally:
        if cleanup is not None:
            cleanup()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_mb = usage.ru_maxrss / 1024
    cpu = usage.ru_utime + usage.ru_stime
    print(
        f"{kind:10s} rows={receipt.rows_read:,} accepted={receipt.accepted:,} "
        f"rejected={receipt.rejected:,} notices={notices:,} episodes={episodes:,} "
        f"time={seconds:.1f}s rows/s={receipt.rows_read / seconds:,.0f} "
        f"peak_rss={peak_mb:,.0f} MB cpu={cpu:.0f}s (this process; the load average "
        f"was {os.getloadavg()[0]:.1f}) balanced={receipt.balanced}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--child", choices=["sqlite", "postgresql"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.file)
        return
    with tempfile.TemporaryDirectory(prefix="kvarboende-bench-") as folder:
        file = Path(folder) / "hyresvard.csv"
        start = time.perf_counter()
        generate(file, args.rows)
        size = file.stat().st_size / 1e6
        print(
            f"generated {args.rows:,} rows, {size:.0f} MB cp1252 in "
            f"{time.perf_counter() - start:.1f}s"
        )
        kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
        for kind in kinds:
            subprocess.run(
                [sys.executable, __file__, "--child", kind, "--file", str(file)], check=True
            )


if __name__ == "__main__":
    main()
