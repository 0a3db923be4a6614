"""Issue 16: notice files as companies really export them, each case from a small file."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from connectors.notice_files import read_notice_bytes
from domain.notices import (
    NoticeFormatError,
    ParseOptions,
    ignored_columns_note,
    map_headers,
    mapping_notes,
    parse_notices,
    require_columns,
)

TODAY = date(2026, 11, 20)


def parse(text: str, **options: object):
    raw = read_notice_bytes(text.encode("utf-8"), columns=options.get("columns"))  # type: ignore[arg-type]
    opts = ParseOptions(company_id="c", today=TODAY, **options)  # type: ignore[arg-type]
    return raw, parse_notices(raw.frame, opts, raw.first_data_row, raw.ragged)


def test_name_in_two_columns_is_joined_for_tenant_and_co_tenant() -> None:
    _, parsed = parse(
        "Pnr;Förnamn;Efternamn;Medhyresgäst förnamn;Medhyresgäst efternamn;Kontraktsnr;"
        "Händelse;Datum\n"
        "800101-1231;Anna;Andersson;Bo;Berg;K-1;Uppsägning;2026-11-02\n"
        "900101-1239;Cecilia;Dahl;;;K-2;Uppsägning;2026-11-02\n"
    )
    assert parsed.rejected.height == 0
    assert parsed.accepted["tenant_name"].to_list() == ["Anna Andersson", "Cecilia Dahl"]
    assert parsed.accepted["co_tenant_name"].to_list() == ["Bo Berg", None]
    assert parsed.mapping.shown("tenant_name") == "Förnamn + Efternamn"


def test_english_first_and_last_name_and_a_configured_list_of_columns() -> None:
    mapping = map_headers(["ssn", "first_name", "last_name", "event", "date", "contract"])
    assert mapping.joined["tenant_name"] == ("first_name", "last_name")
    configured = map_headers(
        ["Pnr", "Gata", "Gatunummer", "Typ", "Datum"],
        {"Gata": "street_address", "Gatunummer": "street_address"},
    )
    assert configured.joined["street_address"] == ("Gata", "Gatunummer")


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Medhyresgäst personnr", "co_tenant_personnummer"),
        ("MEDHYRESGAST PNR", "co_tenant_personnummer"),
        ("Pnr medhyresgäst", "co_tenant_personnummer"),
        ("Medhyresg. personnummer", "co_tenant_personnummer"),
        ("Hyresgäst 2 pnr", "co_tenant_personnummer"),
        ("LAGENHETSNR", "apartment"),
        ("Lgh. nr", "apartment"),
        ("Lägenhets_nr", "apartment"),
        ("Kontrakts-nr", "contract_ref"),
        ("HANDELSE", "event_type"),
        ("Personnummer för hyresgäst", "personnummer"),
    ],
)
def test_header_spelling_variants(header: str, field: str) -> None:
    assert map_headers([header]).fields == {field: header}


@pytest.mark.parametrize(
    "word",
    [
        "Uppsägning pga hyresskuld",
        "Uppsägning - hyresskuld",
        "Uppsägning/hyresskuld",
        "UPPSAGNING P.G.A. HYRESSKULD",
        "uppsägning, hyresskuld",
    ],
)
def test_event_word_spelling_variants(word: str) -> None:
    _, parsed = parse(f"Pnr;Kontraktsnr;Händelse;Datum\n800101-1231;K-1;{word};2026-11-02\n")
    assert parsed.accepted["event_type"].to_list() == ["termination_notice"]


def test_an_ambiguous_event_word_is_rejected_with_a_reason_never_guessed() -> None:
    _, parsed = parse(
        "Pnr;Kontraktsnr;Händelse;Datum\n800101-1231;K-1;Uppsägning/återkallad;2026-11-02\n"
    )
    assert parsed.accepted.height == 0
    (reason,) = parsed.rejected["reason"].to_list()
    assert reason.startswith("Händelsen 'Uppsägning/återkallad' är tvetydig (uppsägning eller")
    assert "Avhysning bokad" in reason


def test_bare_avhysning_with_date_and_time_is_a_booked_eviction() -> None:
    _, parsed = parse(
        "Pnr;Kontraktsnr;Händelse;Datum;Avhysningsdatum\n"
        "800101-1231;K-1;Avhysning;2026-11-02;2026-12-14 09:00\n"
        "800101-1231;K-2;AVHYSNING;2026-11-02;2026-12-14\n"
        "800101-1231;K-3;Avhysning;2026-11-02;\n"
    )
    assert parsed.accepted["event_type"].to_list() == ["eviction_scheduled"]
    assert parsed.accepted["eviction_at"].to_list() == [datetime(2026, 12, 14, 8, 0, tzinfo=UTC)]
    reasons = parsed.rejected["reason"].to_list()
    assert parsed.rejected["row_number"].to_list() == [3, 4]
    for reason in reasons:
        assert "bokad avhysning bara när raden har avhysningsdatum och klockslag" in reason
        assert "Avhysning bokad, Verkställd avhysning" in reason


def test_a_name_that_is_a_formula_or_has_no_letters_is_rejected() -> None:
    _, parsed = parse(
        "Pnr;Namn;Kontraktsnr;Händelse;Datum\n"
        '800101-1231;"=HYPERLINK(""http://x"")";K-1;Uppsägning;2026-11-02\n'
        "800101-1231;12345;K-2;Uppsägning;2026-11-02\n"
        "800101-1231;Anna Andersson;K-3;Uppsägning;2026-11-02\n"
    )
    assert parsed.accepted["contract_ref"].to_list() == ["K-3"]
    assert parsed.rejected["reason"].to_list() == [
        "Namnet ser ut som en formel (börjar med =, +, - eller @)",
        "Namnet har inga bokstäver",
    ]


def test_an_unreadable_date_word_is_quoted_as_typed() -> None:
    _, parsed = parse(
        "Pnr;Kontraktsnr;Händelse;Datum\n"
        "800101-1231;K-1;Uppsägning;igår\n"
        "800101-1231;K-2;Uppsägning;Anna Andersson\n"
    )
    assert parsed.rejected["reason"].to_list() == [
        "Datumet 'igår' kan inte läsas",
        "Texten i Datum kan inte läsas som ett datum",
    ]


def test_missing_name_and_unrecognised_co_tenant_and_apartment_are_said() -> None:
    mapping = map_headers(["Pnr", "Medhyresg.info", "Lghkod", "Kontraktsnr", "Händelse", "Datum"])
    notes = mapping_notes(mapping)
    assert notes[0].startswith("Ingen kolumn med hyresgästens namn lästes")
    assert any("'Medhyresg.info' liknar medhyresgäst" in n for n in notes)
    assert any("'Lghkod' liknar lägenhetsnummer" in n for n in notes)
    assert ignored_columns_note(mapping) == "Kolumner som inte används: 'Medhyresg.info', 'Lghkod'"
    assert mapping_notes(map_headers(["Pnr", "Namn", "Lgh nr", "Händelse", "Datum"])) == []


def test_whole_file_rejection_lists_every_missing_column() -> None:
    mapping = map_headers(["Skuld", "Ort"])
    with pytest.raises(NoticeFormatError) as caught:
        require_columns(mapping, ["Skuld", "Ort"], "fil.csv")
    message = str(caught.value)
    for field in ("event_type", "event_date", "personnummer eller tenant_name", "contract_ref"):
        assert field in message


# --- through the CLI (SQLite file under tmp_path) -------------------------------------

NEW_FORMAT = (
    "Pnr;Förnamn;Efternamn;Medhyresgäst personnr;Lgh. nr;Kontrakts-nr;Händelse;Datum;"
    "Avhysningsdatum;Saldo;Anteckning\n"
    "800101-1231;Anna;Andersson;900101-1239;1001;K-1;Uppsägning - hyresskuld;2026-11-02;;1;x\n"
    "800101-1231;Anna;Andersson;;1001;K-1;Avhysning;2026-11-03;2026-12-14 09:00;1;x\n"
    "800101-1231;Anna;Andersson;;1001;K-1;Avhysning;2026-11-04;;1;x\n"
)


def _cli(tmp_path: Path):
    from flows.cli import _register_commands, main

    _register_commands()
    config = tmp_path / "config.toml"
    config.write_text(
        '[database]\nurl = "sqlite:///data/k.db"\n\n[[companies]]\nid = "ny"\nname = "Ny AB"\n',
        encoding="utf-8",
    )
    return main, config


def test_companies_check_lists_columns_ignored_columns_event_words_and_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main, config = _cli(tmp_path)
    path = tmp_path / "ny.csv"
    path.write_text(NEW_FORMAT, encoding="utf-8")
    assert main(["--config", str(config), "companies", "check", str(path), "--company", "ny"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Förnamn + Efternamn" in out
    assert "co_tenant_personnummer" in out and "Medhyresgäst personnr" in out
    assert "Kolumner som inte används: 'Saldo', 'Anteckning'" in out
    assert "Uppsägning - hyresskuld" in out and "Uppsägning (termination_notice)" in out
    assert "bokad avhysning (eviction_scheduled)" in out
    assert "Rader: 3, skulle tas emot: 2, skulle avvisas: 1" in out
    assert "Andersson" not in out and "800101" not in out


def test_a_file_with_nothing_new_exits_0_and_the_first_receipt_lists_ignored_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main, config = _cli(tmp_path)
    first, again = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text(NEW_FORMAT, encoding="utf-8")
    again.write_text(NEW_FORMAT.replace(";x\n", ";y\n"), encoding="utf-8")  # other bytes
    args = ["--config", str(config), "ingest", "--company", "ny"]
    assert main([*args, str(first)]) == 0
    out = capsys.readouterr().out
    assert "Kolumner som inte används: 'Saldo', 'Anteckning'" in out
    valid_only = tmp_path / "c.csv"
    valid_only.write_text("\n".join(NEW_FORMAT.splitlines()[:3]) + "\n", encoding="utf-8")
    assert main([*args, str(valid_only)]) == 0
    out = capsys.readouterr().out
    assert "0 accepted, 0 rejected, 2 duplicates: nothing new" in out
    assert "Kolumner som inte används" not in out  # only on the company's first receipt


# --- receipts a clerk can act on --------------------------------------------------------


def test_the_receipt_file_has_time_hash_contact_and_each_rows_contract_reference(
    tmp_path: Path,
) -> None:
    import csv

    from connectors.inbox import ReceiptLine, write_receipt
    from domain.vocabulary import Receipt, RejectedRow

    receipt = Receipt(
        filename="nov.csv",
        company_id="ny",
        content_hash="ab" * 32,
        rows_read=3,
        accepted=1,
        rejected=1,
        duplicates=1,
        rejections=[
            RejectedRow(row_number=4, reason="Datumet 'igår' kan inte läsas", contract_ref="K-9")
        ],
        received_at=datetime(2026, 11, 2, 7, 15, tzinfo=UTC),
        contact="Individ- och familjeomsorgen, Exempelby kommun, e-post ifo@exempelby.se",
    )
    duplicate = ReceiptLine(3, "dubblett", "K-1", "Händelsen finns redan", "rad 2 i samma fil")
    csv_path, _ = write_receipt(receipt, tmp_path / "nov.csv", [duplicate])
    lines = list(csv.reader(csv_path.read_text("utf-8-sig").splitlines(), delimiter=";"))
    summary = dict(line for line in lines if len(line) == 2)
    assert summary["Mottagen"] == "2026-11-02 08:15"
    assert summary["SHA-256"] == "ab" * 32
    assert summary["Frågor om kvittot"].endswith("e-post ifo@exempelby.se")
    rows = [line for line in lines if len(line) == 5]
    assert rows == [
        ["Rad", "Kontraktsnummer", "Status", "Orsak", "Upprepar"],
        ["3", "K-1", "dubblett", "Händelsen finns redan", "rad 2 i samma fil"],
        ["4", "K-9", "avvisad", "Datumet 'igår' kan inte läsas", ""],
    ]


def test_the_portal_receipt_lists_hash_notes_and_contact() -> None:
    from services.receipts import ReceiptDetail, ReceiptSummary, summary_lines

    summary = ReceiptSummary(
        id=1,
        filename="nov.csv",
        received_at=datetime(2026, 11, 2, 7, 15, tzinfo=UTC),
        status="ingested",
        rows_read=1,
        accepted=1,
        rejected=0,
        duplicates=0,
        file_error=None,
        content_hash="cd" * 32,
    )
    detail = ReceiptDetail(summary, [], notes=["Kolumner som inte används: 'Saldo'"])
    lines = dict(summary_lines(detail, "IFO, Exempelby kommun"))
    assert lines["SHA-256"] == "cd" * 32 and lines["Mottagen"] == "2026-11-02 08:15"
    assert lines["Anmärkning"] == "Kolumner som inte används: 'Saldo'"
    assert lines["Frågor om kvittot"] == "IFO, Exempelby kommun"
