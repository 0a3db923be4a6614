"""Write a synthetic municipality to disk the way real sources deliver it.

- the case register: ``register/cases.csv`` and ``register/household.csv`` (canonical);
- company ``vasbyhem``: the canonical notice format (UTF-8, ISO dates);
- every other company: an Excel-style Swedish export (Windows-1252, ``;``, Swedish
  headers and event words, ``02.11.2026``, ``12 345,50``), including a few rows a
  clerk must see rejected (no identity, unreadable date, negative debt, a
  disturbance notice) and one overlapping export that repeats yesterday's rows.

Files are grouped by the day they are delivered: ``notices/<YYYY-MM-DD>/<company>/``.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl

from domain.synthetic import DemoMunicipality
from models.privacy import private_dir

CANONICAL_COLUMNS = [
    "personnummer", "tenant_name", "co_tenant_name", "co_tenant_personnummer",
    "street_address", "apartment", "postal_code", "town", "contract_ref", "event_type",
    "event_date", "service_date", "debt_amount", "monthly_rent", "eviction_at", "email",
    "phone", "language",
]  # fmt: skip

SWEDISH_HEADERS = {
    "personnummer": "Personnummer",
    "tenant_name": "Hyresgäst",
    "street_address": "Adress",
    "apartment": "Lgh nr",
    "postal_code": "Postnr",
    "town": "Ort",
    "contract_ref": "Kontraktsnr",
    "event_type": "Händelse",
    "event_date": "Datum",
    "service_date": "Delgivningsdatum",
    "debt_amount": "Skuld",
    "monthly_rent": "Månadshyra",
    "eviction_at": "Avhysningsdatum",
    "email": "E-post",
    "phone": "Telefon",
}
SWEDISH_EVENTS = {
    "termination_notice": "Uppsägning",
    "payment_order": "Ansökan BF",
    "decision": "Utslag",
    "eviction_scheduled": "Avhysning bokad",
    "eviction_executed": "Verkställd",
    "settled": "Reglerad",
}


def write_register(demo: DemoMunicipality, folder: Path) -> tuple[Path, Path]:
    """Write the case register export; returns (cases, household)."""
    private_dir(folder)
    cases, household = folder / "cases.csv", folder / "household.csv"
    demo.cases.write_csv(cases, separator=";")
    demo.household.write_csv(household, separator=";")
    return cases, household


def _swedish_amount(value: float | int | None) -> str:
    if value is None:
        return ""
    whole, ore = divmod(round(float(value) * 100), 100)
    text = f"{whole:,}".replace(",", " ")
    return f"{text},{ore:02d}"


def _swedish_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%d.%m.%Y %H:%M}"
    return f"{value:%d.%m.%Y}"


def _canonical_frame(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.select(
        [
            pl.col(name).cast(pl.String).replace("", None).alias(name)
            if name not in {"eviction_at"}
            else pl.col(name).cast(pl.Datetime).dt.strftime("%Y-%m-%d %H:%M").alias(name)
            for name in CANONICAL_COLUMNS
        ]
    )


def _swedish_frame(rows: pl.DataFrame) -> pl.DataFrame:
    records = []
    for row in rows.iter_rows(named=True):  # a day's export: tens of rows
        number = row["personnummer"]
        records.append(
            {
                "Personnummer": f"{number[2:8]}-{number[8:]}",
                "Hyresgäst": _surname_first(row["tenant_name"]),
                "Adress": row["street_address"],
                "Lgh nr": row["apartment"],
                "Postnr": row["postal_code"],
                "Ort": row["town"],
                "Kontraktsnr": row["contract_ref"],
                "Händelse": SWEDISH_EVENTS[row["event_type"]],
                "Datum": _swedish_date(row["event_date"]),
                "Delgivningsdatum": _swedish_date(row["service_date"]),
                "Skuld": _swedish_amount(row["debt_amount"]),
                "Månadshyra": _swedish_amount(row["monthly_rent"]),
                "Avhysningsdatum": _swedish_date(row["eviction_at"]),
                "E-post": row["email"],
                "Telefon": row["phone"],
            }
        )
    frame = pl.DataFrame(records, schema={h: pl.String for h in SWEDISH_HEADERS.values()})
    return frame.with_columns(pl.all().replace("", None))


def _surname_first(name: str) -> str:
    first, _, last = name.partition(" ")
    return f"{last}, {first}" if last else name


def _bad_rows() -> pl.DataFrame:
    """Rows a real export contains now and then; each must be rejected with a reason."""
    blank = dict.fromkeys(SWEDISH_HEADERS.values(), "")
    rows = [
        {**blank, "Händelse": "Uppsägning", "Datum": "03.09.2026", "Skuld": "8 000,00",
         "Kontraktsnr": "HY-999001"},  # no personnummer, no name
        {**blank, "Personnummer": "850101-1237", "Hyresgäst": "Test, Person",
         "Händelse": "Uppsägning", "Datum": "31.02.2026", "Skuld": "5 000,00",
         "Kontraktsnr": "HY-999002"},  # no 31 February
        {**blank, "Personnummer": "790512-1233", "Hyresgäst": "Prov, Exempel",
         "Händelse": "Uppsägning", "Datum": "03.09.2026", "Skuld": "-1 200,00",
         "Kontraktsnr": "HY-999003"},  # negative debt
        {**blank, "Personnummer": "690303-1237", "Hyresgäst": "Stör, Ning",
         "Händelse": "Störningsanmälan", "Datum": "03.09.2026", "Skuld": "",
         "Kontraktsnr": "HY-999004"},  # disturbance notice: out of scope
    ]  # fmt: skip
    frame = pl.DataFrame(rows, schema={h: pl.String for h in SWEDISH_HEADERS.values()})
    return frame.with_columns(pl.all().replace("", None))


def write_notice_files(demo: DemoMunicipality, folder: Path) -> dict[date, list[tuple[str, Path]]]:
    """Write one file per company and delivery day; returns {day: [(company, path)]}."""
    deliveries: dict[date, list[tuple[str, Path]]] = {}
    days = demo.notices.get_column("delivered_on").unique().sort().to_list()
    previous: dict[str, pl.DataFrame] = {}
    files_written: dict[str, int] = {}
    for day in days:
        todays = demo.notices.filter(pl.col("delivered_on") == day)
        for company_id in todays.get_column("company_id").unique().sort().to_list():
            rows = todays.filter(pl.col("company_id") == company_id)
            target = folder / day.isoformat() / company_id
            private_dir(target)
            if company_id == "vasbyhem":
                path = target / f"vasbyhem_{day:%Y%m%d}.csv"
                _canonical_frame(rows).write_csv(path, separator=";")
            else:
                frame = _swedish_frame(rows)
                delivered = files_written.get(company_id, 0)
                if delivered == 0:
                    frame = pl.concat([frame, _bad_rows()])
                if delivered == 3:  # an overlapping export: yesterday's first rows again
                    frame = pl.concat([previous[company_id].head(2), frame])
                files_written[company_id] = delivered + 1
                previous[company_id] = frame
                path = target / f"Avisering hyresskulder {day:%Y-%m-%d}.csv"
                text = frame.write_csv(separator=";")
                path.write_bytes(text.replace("\n", "\r\n").encode("cp1252"))
            deliveries.setdefault(day, []).append((company_id, path))
    return deliveries
