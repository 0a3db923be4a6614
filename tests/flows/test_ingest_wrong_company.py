"""Issue 16: a file ingested under the wrong company is refused whole; a tenant who moves is not."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from domain.identity import check_digit
from domain.ownership import Evidence, belongs_elsewhere
from models.config import CompanyConfig, Settings
from models.db import session_scope
from models.tables import Episode
from services.ingest import ingest_file

HEADER = "Personnummer;Namn;Adress;Lgh nr;Kontraktsnr;Händelse;Datum;Skuld"
RUN = date(2026, 11, 20)


def pnr(index: int) -> str:
    prefix = f"19800{index % 9 + 1:01d}{10 + index % 18:02d}12{index % 10}"  # YYYYMMDD + 3
    return prefix + check_digit(prefix[2:])


def rows(start: int, count: int, ref: str, event: str = "Uppsägning", day: str = "2026-11-02"):
    return [
        f"{pnr(i)};Person {chr(65 + i)};Gatan {i};{1000 + i};{ref.format(i)};{event};{day};5000"
        for i in range(start, start + count)
    ]


def settings_for(tmp_path: Path) -> Settings:
    settings = Settings(
        companies=[
            CompanyConfig(id="alfa", name="Alfahem AB"),
            CompanyConfig(id="beta", name="Betabostäder AB"),
        ],
        paths={
            "data_dir": tmp_path / "data",
            "archive_dir": tmp_path / "archive",
            "rejected_dir": tmp_path / "rejected",
        },
    )
    return settings.resolve_paths(tmp_path)


def ingest(engine, settings: Settings, tmp_path: Path, name: str, company: str, lines: list[str]):
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return ingest_file(engine, settings, path, company, received_on=RUN, move=False)


def episodes(engine, company: str) -> int:
    with session_scope(engine) as session:
        return session.scalar(
            select(func.count()).select_from(Episode).where(Episode.company_id == company)
        )


def test_the_wrong_companys_file_is_refused_whole(db_engine, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    assert ingest(db_engine, settings, tmp_path, "a.csv", "alfa", rows(0, 6, "AL-{:05d}")).accepted
    assert ingest(db_engine, settings, tmp_path, "b.csv", "beta", rows(20, 4, "{:06d}")).accepted
    # Alfa's next export (payment orders for the same tenants) sent as Beta's.
    wrong = ingest(
        db_engine,
        settings,
        tmp_path,
        "a2.csv",
        "beta",
        rows(0, 6, "AL-{:05d}", "Ansökan BF", "2026-11-10"),
    )
    assert wrong.file_error is not None and "annat bostadsbolag" in wrong.file_error
    assert wrong.accepted == 0
    assert "Person" not in wrong.file_error and "alfa" not in wrong.file_error.lower()
    assert (episodes(db_engine, "alfa"), episodes(db_engine, "beta")) == (6, 4)
    # The same file under the right company goes in.
    right = ingest(
        db_engine,
        settings,
        tmp_path,
        "a3.csv",
        "alfa",
        rows(0, 6, "AL-{:05d}", "Ansökan BF", "2026-11-10"),
    )
    assert right.file_error is None and right.accepted == 6


def test_a_tenant_who_really_moves_gets_a_new_episode(db_engine, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    ingest(db_engine, settings, tmp_path, "a.csv", "alfa", rows(0, 6, "AL-{:05d}"))
    ingest(db_engine, settings, tmp_path, "b.csv", "beta", rows(20, 4, "{:06d}"))
    # Beta's own file in its own numbering, with one of Alfa's tenants who moved there.
    moved = ingest(
        db_engine,
        settings,
        tmp_path,
        "b2.csv",
        "beta",
        rows(30, 4, "{:06d}") + rows(0, 1, "{:06d}"),
    )
    assert moved.file_error is None and moved.accepted == 5
    assert episodes(db_engine, "beta") == 9


def test_the_rule_on_counts() -> None:
    def evidence(overlap: int, tenants: int, own: float, other: float) -> Evidence:
        return Evidence(tenants, {"alfa": overlap}, 10, {"beta": own, "alfa": other}, "beta")

    assert belongs_elsewhere(evidence(6, 6, 0.0, 1.0)) is not None
    assert belongs_elsewhere(evidence(3, 5, 0.5, 0.5)) is not None  # most tenants are Alfa's
    assert belongs_elsewhere(evidence(2, 40, 0.5, 0.5)) is None  # a few who moved
    assert belongs_elsewhere(evidence(1, 40, 0.0, 0.9)) is not None  # Alfa's numbering
    assert belongs_elsewhere(evidence(30, 40, 1.0, 0.0)) is None  # Beta's own numbering
