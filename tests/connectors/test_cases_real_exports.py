"""Issue 16: case-register exports as case systems really have them, each from a small file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from connectors.case_register import read_cases_file, read_household_file
from domain.register import missing_useful, missing_useful_line
from flows.stages.cases import import_register
from models.config import RegisterConfig, Settings
from tests.register_helpers import pnr


def test_name_in_two_columns_is_read_without_configuration(tmp_path: Path) -> None:
    export = tmp_path / "treserva.csv"
    export.write_text(
        "Ärendenr;Personnr;Förnamn;Efternamn;Gatuadress;Lgh nr;Handläggare\n"
        f"A1;{pnr('19800101123')};Åsa;Öberg;Storgatan 1;1001;hs1\n",
        encoding="utf-8",
    )
    row = read_cases_file(export, RegisterConfig()).row(0, named=True)
    assert row["name"] == "Åsa Öberg"
    assert (row["case_id"], row["street_address"], row["apartment"]) == (
        "A1",
        "Storgatan 1",
        "1001",
    )
    english = tmp_path / "household.csv"
    english.write_text(
        f"case;ssn;first_name;last_name;relation\nA1;{pnr('19850202456')};Lars;Berg;sambo\n",
        encoding="utf-8",
    )
    member = read_household_file(english, RegisterConfig()).row(0, named=True)
    assert (member["case_id"], member["name"]) == ("A1", "Lars Berg")


def test_a_list_of_headers_per_field_in_cases_config(tmp_path: Path) -> None:
    export = tmp_path / "viva.csv"
    export.write_text(
        f"Akt;Id;Tilltal;Släktnamn;Gata;Nr\nA1;{pnr('19800101123')};Åsa;Öberg;Storgatan;1 B\n",
        encoding="utf-8",
    )
    config = RegisterConfig(
        columns={
            "personnummer": "Id",
            "name": ["Tilltal", "Släktnamn"],
            "street_address": ["Gata", "Nr"],
        }
    )
    row = read_cases_file(export, config).row(0, named=True)
    assert (row["case_id"], row["name"], row["street_address"]) == (
        "A1",
        "Åsa Öberg",
        "Storgatan 1 B",
    )


def test_import_names_the_useful_fields_it_misses(db_engine, tmp_path: Path) -> None:
    export = tmp_path / "cases.csv"
    export.write_text(
        "Ärendenr;Pnr;Efternamn;Adress\n"
        f"A1;{pnr('19800101123')};Öberg;Storgatan 1\n"
        f"A2;{pnr('19900303789')};Ali;\n",
        encoding="utf-8",
    )
    cases = read_cases_file(export, RegisterConfig())
    assert missing_useful(cases) == {
        "without_name": 2,
        "without_street_address": 1,
        "without_apartment": 2,
    }
    counts = import_register(db_engine, Settings(), export, taken_on=date(2026, 11, 2))
    line = missing_useful_line(counts, counts["cases"])
    assert line == (
        "Matchningen blir sämre: namn saknas för alla 2 ärenden (ingen kolumn känns igen: "
        'mappa den under [cases] columns, t.ex. name = "Rubrik"); adress saknas för 1 av 2 '
        "ärenden; lägenhetsnummer saknas för alla 2 ärenden (ingen kolumn känns igen: mappa "
        'den under [cases] columns, t.ex. apartment = "Rubrik").'
    )
