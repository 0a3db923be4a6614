"""The CLI verbs of the case register and matching, through the real ``kvarboende`` entry."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from notice_rows import notice, notice_csv
from register_helpers import pnr, write_register

from flows.cli import main


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "k.db"}"\n'
        '[municipality]\nphone = "08-1"\nwebsite = "exempelby.se"\nemail = "s@exempelby.se"\n'
        '[[companies]]\nid = "bo"\nname = "Bo AB"\n',
        encoding="utf-8",
    )
    return path


def write_notices(path: Path) -> None:
    p1 = pnr("19800101123")
    wrong = p1[:10] + str((int(p1[10]) + 1) % 10) + p1[11]
    same = {
        "postal_code": "12345", "town": "By", "contract_ref": "K",
        "event_type": "termination_notice", "event_date": "2026-11-02",
        "debt_amount": "100", "monthly_rent": "5000",
    }  # fmt: skip
    rows = [
        notice(personnummer=p1, tenant_name="Anna Häggström", street_address="Storgatan 12",
               apartment="1102", **same),
        notice(personnummer=wrong, tenant_name="Anna Haggstrom", street_address="Storg. 12",
               apartment="1102", **same),
        notice(tenant_name="Omar Alizadeh", street_address="Björkvägen 3", apartment="1001",
               **{**same, "postal_code": "12346"}),
        notice(personnummer="197001011234", tenant_name="Per Svensson", street_address="Annan 1",
               apartment="1", **same),
    ]  # fmt: skip
    path.write_text(notice_csv(rows), encoding="utf-8")


def test_match_files_writes_one_row_per_notice_row(config: Path, tmp_path: Path) -> None:
    cases, household = write_register(tmp_path)
    notices, out = tmp_path / "notices.csv", tmp_path / "out" / "result.csv"
    write_notices(notices)
    code = main(
        [
            "--config", str(config), "match-files", "--notices", str(notices), "--cases",
            str(cases), "--household", str(household), "--out", str(out), "--date", "2026-11-02",
        ]
    )  # fmt: skip
    assert code == 0
    result = pl.read_csv(out, separator=";", infer_schema=False)
    assert result.columns == ["notice_row", "case_id", "tier", "score", "reasons"]
    assert result["notice_row"].to_list() == ["1", "2", "3", "4"]
    assert result["tier"].to_list() == ["certain", "probable", "possible", "none"]
    assert result["case_id"].to_list() == ["C1", "C1", "C2", ""]
    # The database was not touched.
    assert not (tmp_path / "k.db").exists()


def test_cases_import_matches_review_and_decide(config: Path, tmp_path: Path, capsys) -> None:
    cases, household = write_register(tmp_path)
    args = ["--config", str(config)]
    assert main([*args, "init"]) == 0
    assert main([*args, "cases", "import", str(cases), "--household", str(household)]) == 0
    assert "Snapshot 1: 2 cases, 4 household members (2 children)" in capsys.readouterr().out
    assert main([*args, "cases", "import", str(cases), "--household", str(household)]) == 0
    assert "unchanged" in capsys.readouterr().out
    assert main([*args, "matches", "list", "--pending"]) == 0
    assert "No matches waiting" in capsys.readouterr().out
    assert main([*args, "matches", "confirm", "7", "--by", "anna"]) == 2
    assert "match 7 not found" in capsys.readouterr().err


def test_bad_input_is_one_line(config: Path, tmp_path: Path, capsys) -> None:
    args = ["--config", str(config)]
    assert main([*args, "cases", "import", str(tmp_path / "missing.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.csv: filen finns inte" in err
    assert main([*args, "cases", "import", "x.csv", "--taken-on", "2026-13-01"]) == 2
    assert "--taken-on" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("foo;bar\n1;2\n", encoding="utf-8")
    cases, _ = write_register(tmp_path)
    out = tmp_path / "o.csv"
    code = main(
        [*args, "match-files", "--notices", str(bad), "--cases", str(cases), "--out", str(out)]
    )
    assert code == 2
    assert "canonical notice format expected" in capsys.readouterr().err


def test_match_files_reads_a_company_format(config: Path, tmp_path: Path) -> None:
    """--company uses the ingest's reader: Swedish headers, Windows-1252, surname first."""
    cases, household = write_register(tmp_path)
    notices, out = tmp_path / "bo.csv", tmp_path / "result.csv"
    p1 = pnr("19800101123")
    notices.write_bytes(
        (
            "Personnummer;Hyresgäst;Adress;Lgh nr;Postnr;Ort;Kontraktsnr;Händelse;Datum;Skuld\n"
            f"{p1[2:8]}-{p1[8:]};Häggström, Anna;Storgatan 12;1102;123 45;By;K1;Uppsägning;"
            "02.11.2026;12 345,50\n"
            "197001011234;Svensson, Per;Annan 1;1;12345;By;K2;Uppsägning;02.11.2026;100\n"
        ).encode("cp1252")
    )
    code = main(
        [
            "--config", str(config), "match-files", "--company", "bo", "--notices", str(notices),
            "--cases", str(cases), "--household", str(household), "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    result = pl.read_csv(out, separator=";", infer_schema=False)
    assert result["tier"].to_list() == ["certain", "none"]
    assert result["case_id"].to_list() == ["C1", ""]


def test_matches_list_confirm_and_reject(config: Path, tmp_path: Path, capsys) -> None:
    from datetime import date

    from register_helpers import add_episode
    from sqlalchemy import select

    from flows.stages.matching import match_episodes
    from models.config import load_settings
    from models.db import make_engine, session_scope
    from models.tables import AuditLog, Episode, Match

    args = ["--config", str(config)]
    cases, household = write_register(tmp_path)
    assert main([*args, "init"]) == 0
    assert main([*args, "cases", "import", str(cases), "--household", str(household)]) == 0
    settings = load_settings(config)
    engine = make_engine(settings.database.url)
    home = {"street_address": "Björkvägen 3", "apartment": "1001", "postal_code": "12346"}
    first = add_episode(engine, "k1", pnr("19660606666"), "Omar Ali", **home)
    second = add_episode(engine, "k2", pnr("19550505555"), "Sara Ali", **home)
    match_episodes(engine, settings, date(2026, 11, 2))
    capsys.readouterr()
    assert main([*args, "matches", "list", "--pending"]) == 0
    listed = capsys.readouterr().out
    assert "possible" in listed and "C2" in listed
    with session_scope(engine) as session:
        ids = dict(session.execute(select(Match.episode_id, Match.id)).all())
    assert main([*args, "matches", "confirm", str(ids[first]), "--by", "anna"]) == 0
    assert "routed to the caseworker" in capsys.readouterr().out
    assert main([*args, "matches", "reject", str(ids[second]), "--by", "anna"]) == 0
    assert "routed to the advisor" in capsys.readouterr().out
    with session_scope(engine) as session:
        routing = dict(session.execute(select(Episode.id, Episode.routing)).all())
        actions = session.scalars(select(AuditLog.action).where(AuditLog.actor == "anna")).all()
    assert routing == {first: "caseworker", second: "advisor"}
    assert sorted(actions) == ["match.confirm", "match.reject"]
    engine.dispose()
