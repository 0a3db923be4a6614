"""Importing the case register: snapshots, caseworkers, members, children, bad input."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from register_helpers import pnr, write_register
from sqlalchemy import func, select

from connectors.case_register import RegisterError, read_cases_file
from flows.stages.cases import import_register
from models.config import RegisterConfig, Settings
from models.db import session_scope
from models.tables import AuditLog, CaseSnapshot, Caseworker, HouseholdMember, RegisterCase


def test_import_creates_snapshot_members_and_caseworkers(db_engine, tmp_path: Path) -> None:
    cases, household = write_register(tmp_path)
    counts = import_register(db_engine, Settings(), cases, household, taken_on=date(2026, 11, 2))
    assert counts["cases"] == 2
    assert counts["members"] == 4
    assert counts["children"] == 2
    assert counts["caseworkers"] == 2
    assert counts["unchanged"] == 0
    with session_scope(db_engine) as session:
        snapshot = session.scalars(select(CaseSnapshot)).one()
        assert snapshot.taken_on == date(2026, 11, 2)
        refs = dict(session.execute(select(RegisterCase.case_ref, RegisterCase.personnummer)).all())
        # The 10-digit form with a dash is stored as 12 digits.
        assert refs["C2"] == pnr("19900303789")
        children = session.scalars(select(HouseholdMember).where(HouseholdMember.is_child)).all()
        assert len(children) == 2
        # Children are counted, not described: no number, no name.
        assert all(c.personnummer is None and c.name is None for c in children)
        assert {c.birth_date for c in children} == {date(2015, 5, 5), date(2019, 1, 1)}
        assert session.get(Caseworker, "hs1").unit == "Ekonomiskt bistånd"
        assert session.scalar(select(func.count()).select_from(AuditLog)) == 1


def test_same_content_twice_makes_no_new_snapshot(db_engine, tmp_path: Path) -> None:
    cases, household = write_register(tmp_path)
    first = import_register(db_engine, Settings(), cases, household)
    second = import_register(db_engine, Settings(), cases, household)
    assert second["unchanged"] == 1
    assert second["snapshot_id"] == first["snapshot_id"]
    with session_scope(db_engine) as session:
        assert session.scalar(select(func.count()).select_from(CaseSnapshot)) == 1
        assert session.scalar(select(func.count()).select_from(RegisterCase)) == 2


def test_changed_content_makes_a_new_snapshot(db_engine, tmp_path: Path) -> None:
    cases, household = write_register(tmp_path)
    import_register(db_engine, Settings(), cases, household)
    cases.write_text(cases.read_text(encoding="utf-8").replace("Omar Ali", "Omar Aly"), "utf-8")
    counts = import_register(db_engine, Settings(), cases, household)
    assert counts["unchanged"] == 0
    with session_scope(db_engine) as session:
        assert session.scalar(select(func.count()).select_from(CaseSnapshot)) == 2


def test_mapped_columns_cp1252_and_sql_source(tmp_path: Path) -> None:
    export = tmp_path / "procapita.csv"
    export.write_bytes(
        ("Ärendenr;Pnr;Namn;Enhet;Handläggare\nA1;198001011231;Åsa Öberg;IFO;hs1\n").encode(
            "cp1252"
        )
    )
    config = RegisterConfig(
        columns={
            "case_id": "Ärendenr",
            "personnummer": "Pnr",
            "name": "Namn",
            "unit": "Enhet",
            "caseworker_id": "Handläggare",
        }
    )
    frame = read_cases_file(export, config)
    assert frame.row(0, named=True)["name"] == "Åsa Öberg"
    assert frame.row(0, named=True)["case_id"] == "A1"


def test_sql_source(db_engine, db_url: str) -> None:
    from sqlalchemy import text

    with db_engine.begin() as connection:
        connection.execute(text("CREATE TABLE ext_cases (arende varchar(10), pnr varchar(13))"))
        connection.execute(text(f"INSERT INTO ext_cases VALUES ('X9', '{pnr('19800101123')}')"))
    settings = Settings(
        cases=RegisterConfig(
            sql_url=db_url,
            sql_query="SELECT arende AS case_id, pnr AS personnummer FROM ext_cases",
        )
    )
    counts = import_register(db_engine, settings, None)
    assert counts["cases"] == 1


def test_missing_column_is_one_clear_line(tmp_path: Path) -> None:
    export = tmp_path / "cases.csv"
    export.write_text("id;nummer\n1;198001011231\n", encoding="utf-8")
    with pytest.raises(RegisterError) as error:
        read_cases_file(export, RegisterConfig())
    message = str(error.value)
    assert message == (
        "cases.csv: kolumn saknas för ärende-id (case_id), personnummer (personnummer); "
        "rubriker i filen: 'id', 'nummer'"
    )
    # A mapped header is named as config.toml maps it.
    config = RegisterConfig(columns={"case_id": "Ärendenr", "personnummer": "Pnr"})
    export.write_text("Ärende;Pnr\nA1;198001011231\n", encoding="utf-8")
    with pytest.raises(RegisterError) as error:
        read_cases_file(export, config)
    assert str(error.value) == (
        "cases.csv: kolumn saknas för ärende-id (case_id, rubriken 'Ärendenr' enligt "
        "config.toml); rubriker i filen: 'Ärende', 'Pnr'"
    )
    assert "\n" not in str(error.value)


def test_duplicate_case_id_is_rejected(db_engine, tmp_path: Path) -> None:
    cases, household = write_register(tmp_path)
    text = cases.read_text(encoding="utf-8")
    duplicated = tmp_path / "dup.csv"
    duplicated.write_text(text + text.splitlines()[1] + "\n", encoding="utf-8")
    with pytest.raises(RegisterError, match="finns mer än en gång"):
        import_register(db_engine, Settings(), duplicated, household)


def test_swedish_and_unknown_relation_words_never_stop_the_import(
    db_engine, tmp_path: Path
) -> None:
    cases, _ = write_register(tmp_path)
    household = tmp_path / "household.csv"
    household.write_text(
        "\n".join(
            [
                "case_id;personnummer;name;relation;birth_date",
                f"C1;{pnr('19850202456')};Lars Berg;Sambo;",
                f"C1;{pnr('19900101234')};Eva Berg;Kusin;",
                "C1;;;Styvbarn;2012-03-04",
                "C1;;;fosterbarn;2016-05-06",
                f"C2;{pnr('19700101234')};Ali Ali;syskon;",
                "C2;;;granne;2015-01-01",  # unknown word, under 18: a child
                f"C2;{pnr('19600101234')};Kim Ali;granne;1960-01-01",  # unknown, adult
                "C2;;;;",  # no word, no birth date: an adult, guessed
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    counts = import_register(db_engine, Settings(), cases, household, taken_on=date(2026, 11, 2))
    assert counts["members"] == 8
    assert counts["children"] == 3
    assert counts["relations_guessed"] == 3
    with session_scope(db_engine) as session:
        stored = session.execute(select(HouseholdMember.name, HouseholdMember.relation)).all()
    relations = {name: relation for name, relation in stored if name}
    assert relations == {
        "Lars Berg": "partner",
        "Eva Berg": "adult",
        "Ali Ali": "adult",
        "Kim Ali": "adult",
    }
    assert sorted(r for _, r in stored).count("child") == 3


def test_no_file_and_no_sql_source_is_an_error(db_engine) -> None:
    with pytest.raises(RegisterError, match="ingen SQL-källa inställd"):
        import_register(db_engine, Settings(), None)


def test_xlsx_export_is_read(tmp_path: Path) -> None:
    import xlsxwriter

    path = tmp_path / "cases.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["case_id", "personnummer", "name", "apartment"])
    sheet.write_row(1, 0, ["C1", pnr("19800101123"), "Åsa Öberg", 1102])
    workbook.close()
    row = read_cases_file(path, RegisterConfig()).row(0, named=True)
    assert (row["case_id"], row["name"], row["apartment"]) == ("C1", "Åsa Öberg", "1102")


def test_spreadsheet_number_without_leading_zero_is_restored(tmp_path: Path) -> None:
    import xlsxwriter

    born_2005 = pnr("20050101234")
    path = tmp_path / "cases.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["case_id", "personnummer"])
    sheet.write_row(1, 0, ["C1", int(born_2005[2:])])  # Excel keeps 501011234x as a number
    workbook.close()
    frame = read_cases_file(path, RegisterConfig())
    assert frame["personnummer"][0] == born_2005[2:]
