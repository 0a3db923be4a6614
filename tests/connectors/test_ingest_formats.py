"""Every file format of issue 3 through the reader and the row parser (no database)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import polars as pl
import pytest
import xlsxwriter

from connectors import notice_files
from connectors.notice_files import read_notice_bytes, to_utf8
from domain.identity import normalise
from domain.notices import (
    NoticeFormatError,
    ParseOptions,
    map_headers,
    normalise_personnummer,
    parse_amount,
    parse_date,
    parse_local_datetime,
    parse_name,
    parse_notices,
    require_columns,
    to_notice_rows,
)
from models.errors import one_line_without_values

TODAY = date(2026, 11, 20)
HYRESVARD_HEADER = (
    "Personnummer;Hyresgäst;Adress;Lgh nr;Postnr;Ort;Kontraktsnr;Händelse;Datum;"
    "Delgivningsdatum;Skuld;Månadshyra;Avhysningsdatum;E-post;Telefon"
)


def parse(data: bytes, **options: object):
    sheet = options.pop("sheet", None)
    raw = read_notice_bytes(data, columns=options.get("columns"), sheet=sheet)  # type: ignore[arg-type]
    opts = ParseOptions(company_id="c", today=TODAY, **options)  # type: ignore[arg-type]
    return raw, parse_notices(raw.frame, opts, raw.first_data_row, raw.ragged)


def hyresvard_file(*rows: str, encoding: str = "cp1252", newline: str = "\r\n") -> bytes:
    return newline.join([HYRESVARD_HEADER, *rows, ""]).encode(encoding)


def test_swedish_cp1252_export_is_read_out_of_the_box() -> None:
    data = hyresvard_file(
        "800101-1231;Andersson, Anna;Storgatan 1;1001;123 45;Exempelby;K-1;Uppsägning;"
        "02.11.2026;04.11.2026;12 345,50;8 000;;Anna@Ex.se;070-123",
        "900101-1239;Berg, Bo;Vägen 2;1002;12345;Exempelby;K-2;Ansökan BF;03.11.2026;;1 000 kr;;;;",
        "900101-1239;Berg, Bo;Vägen 2;1002;12345;Exempelby;K-2;Avhysning bokad;05.11.2026;;;;"
        "14.12.2026 09:00;;",
    )
    raw, parsed = parse(data)
    assert (raw.encoding, raw.separator, raw.header_row) == ("cp1252", ";", 1)
    assert parsed.rejected.height == 0
    rows = to_notice_rows(parsed.accepted)
    first = rows[0]
    assert first.tenant_name == "Anna Andersson"
    assert first.street_address == "Storgatan 1"
    assert first.personnummer == "198001011231" and first.personnummer_valid
    assert first.event_type == "termination_notice"
    assert first.event_date == date(2026, 11, 2)
    assert first.service_date == date(2026, 11, 4)
    assert str(first.debt_amount) == "12345.50"
    assert first.postal_code == "12345"
    assert first.email == "anna@ex.se"
    assert rows[1].event_type == "payment_order" and str(rows[1].debt_amount) == "1000.00"
    assert rows[2].eviction_at == datetime(2026, 12, 14, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("word", "event"),
    [
        ("Uppsägning", "termination_notice"),
        ("Ansökan BF", "payment_order"),
        ("Utslag", "decision"),
        ("Avhysning bokad", "eviction_scheduled"),
        ("Verkställd", "eviction_executed"),
        ("Reglerad", "settled"),
        ("Återkallad", "withdrawn"),
        ("Ansökan återkallad", "withdrawn"),
        ("återkallelse", "withdrawn"),
        ("betald", "settled"),
        ("  UPPSÄGNING. ", "termination_notice"),
    ],
)
def test_default_event_words(word: str, event: str) -> None:
    data = hyresvard_file(f"800101-1231;A;S 1;1;12345;O;K;{word};02.11.2026;;;;14.12.2026 09:00;;")
    _, parsed = parse(data)
    assert parsed.accepted["event_type"].to_list() == [event]


def test_unknown_event_word_is_quoted_and_disturbance_is_out_of_scope() -> None:
    data = hyresvard_file(
        "800101-1231;A;S 1;1;12345;O;K;Flyttanmälan;02.11.2026;;;;;;",
        "800101-1231;A;S 1;1;12345;O;K;Störning;02.11.2026;;;;;;",
        "800101-1231;A;S 1;1;12345;O;K;Störningsanmälan;02.11.2026;;;;;;",
    )
    _, parsed = parse(data)
    reasons = parsed.rejected["reason"].to_list()
    assert reasons == [
        "Okänd händelse 'Flyttanmälan'",
        "Händelsen 'Störning' gäller inte hyresskuld och tas inte emot",
        "Händelsen 'Störningsanmälan' gäller inte hyresskuld och tas inte emot",
    ]
    assert parsed.rejected["row_number"].to_list() == [2, 3, 4]


def test_company_mapping_and_event_words_from_config() -> None:
    data = "Kund-ID;Objekt;Typ av ärende;Händelsedag;Belopp\n800101-1231;A-7;UPPS;2026-11-02;5\n"
    _, parsed = parse(
        data.encode(),
        columns={
            "Kund-ID": "personnummer",
            "Objekt": "contract_ref",
            "Typ av ärende": "event_type",
            "Händelsedag": "event_date",
        },
        events={"UPPS": "termination_notice"},
    )
    assert parsed.accepted["event_type"].to_list() == ["termination_notice"]
    assert parsed.accepted["contract_ref"].to_list() == ["A-7"]


def test_missing_required_column_names_file_field_and_headers() -> None:
    raw = read_notice_bytes(b"Personnummer;Skuld\n800101-1231;5\n")
    parsed = parse_notices(raw.frame, ParseOptions(company_id="c", today=TODAY))
    with pytest.raises(NoticeFormatError) as error:
        require_columns(parsed.mapping, list(raw.frame.columns), "nov.csv")
    message = str(error.value)
    assert message.startswith("nov.csv:")
    assert "händelse (event_type)" in message and "datum (event_date)" in message
    assert "'Personnummer', 'Skuld'" in message
    assert "\n" not in message


@pytest.mark.parametrize("separator", [";", ",", "\t"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_separator_and_encoding_are_detected(separator: str, encoding: str) -> None:
    rows = [
        ["Personnummer", "Hyresgäst", "Kontraktsnr", "Händelse", "Datum", "Skuld"],
        ["800101-1231", "Åsa Öberg", "K1", "Uppsägning", "2026-11-02", "12 345,50"],
        ["900101-1239", 'Bo "Bosse", Berg', "K2", "Utslag", "20261102", "12345.50"],
    ]
    buffer = io.StringIO()
    import csv

    csv.writer(buffer, delimiter=separator, lineterminator="\r\n").writerows(rows)
    raw, parsed = parse(buffer.getvalue().encode(encoding))
    assert raw.separator == separator
    assert raw.encoding == encoding
    assert parsed.accepted["tenant_name"].to_list() == ["Åsa Öberg", 'Berg Bo "Bosse"']
    assert parsed.accepted["debt_amount"].to_list() == [12345.5, 12345.5]


def test_quoted_fields_with_separators_and_line_breaks() -> None:
    data = (
        "Personnummer;Hyresgäst;Adress;Kontraktsnr;Händelse;Datum\n"
        '800101-1231;"Anna; med semikolon";"Storgatan 1\nuppgång B";K1;Uppsägning;2026-11-02\n'
        "900101-1239;Bo;Vägen 2;K2;Utslag;2026-11-02\n"
    ).encode()
    _, parsed = parse(data)
    assert parsed.rows_read == 2
    assert parsed.accepted["tenant_name"].to_list()[0] == "Anna; med semikolon"
    assert parsed.accepted["street_address"].to_list()[0] == "Storgatan 1 uppgång B"


def test_rows_with_too_many_fields_are_rejected_not_cut() -> None:
    data = (
        "Pnr;Namn;Kontrakt;Händelse;Datum\n"
        "800101-1231;Anna;K1;Uppsägning;2026-11-02\n"
        "900101-1239;Berg; Bo;K2;Uppsägning;2026-11-02\n"
        "\n"
        '800101-1231;"Anna; A";K1;Utslag;"2026-11-03"\n'
        "800101-1231;Anna;K1;Reglerad\n"
    ).encode()
    raw, parsed = parse(data)
    assert raw.ragged == [1]
    assert parsed.rows_read == 4
    assert parsed.accepted["row_number"].to_list() == [2, 5]
    assert parsed.rejected.to_dicts() == [
        {
            "row_number": 3,
            "reason": "Raden har fler fält än rubrikraden (ett avgränsningstecken i ett värde?)",
        },
        {"row_number": 6, "reason": "Datum saknas"},
    ]


def test_title_lines_above_the_header_in_csv() -> None:
    data = (
        "Hyresvärden AB;;;\n\nExport november;;;\nPnr;Namn;Kontrakt;Händelse;Datum\n"
        "800101-1231;Anna;K1;Uppsägning;2026-11-02\n"
    ).encode()
    raw, parsed = parse(data)
    assert raw.header_row == 4
    assert parsed.accepted["row_number"].to_list() == [5]


def test_utf8_split_across_chunks_is_still_utf8(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notice_files, "CHUNK_BYTES", 3)
    text = "Pnr;Hyresgäst;Händelse;Datum\nÅÄÖ;åäö;Uppsägning;2026-11-02\n"
    assert to_utf8(text.encode()) == (text.encode(), "utf-8")
    assert to_utf8(text.encode("cp1252")) == (text.encode(), "cp1252")


def test_decode_never_lossy() -> None:
    assert to_utf8("Hyresgäst".encode()) == ("Hyresgäst".encode(), "utf-8")
    assert to_utf8("Hyresgäst".encode("cp1252")) == ("Hyresgäst".encode(), "cp1252")
    assert to_utf8(b"\xef\xbb\xbfx") == (b"x", "utf-8-sig")
    with pytest.raises(NoticeFormatError):
        to_utf8(b"\x81\x8d\x8f\x90\x9d\xff")


@pytest.mark.parametrize(
    "data",
    [b"", b"   \n\n", b"just some words\nno header here\n", b"\x00\x01\x02PK", b"PK\x03\x04bad"],
)
def test_unusable_files_give_one_line_errors(data: bytes) -> None:
    with pytest.raises(NoticeFormatError) as error:
        read_notice_bytes(data)
    assert "\n" not in str(error.value)


def _xlsx(title_rows: int = 2, sheet: str = "Blad1") -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    other = workbook.add_worksheet("Info")
    other.write(0, 0, "Inget här")
    sheet_obj = workbook.add_worksheet(sheet)
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    time_format = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    if title_rows:
        sheet_obj.merge_range(0, 0, 0, 5, "Uppsägningar november 2026")
    row = title_rows
    sheet_obj.write_row(
        row, 0, ["Personnummer", "Hyresgäst", "Kontraktsnr", "Händelse", "Datum", "Skuld",
                 "Avhysningsdatum"]
    )  # fmt: skip
    sheet_obj.write(row + 1, 0, "800101-1231")
    sheet_obj.write(row + 1, 1, "Andersson, Anna")
    sheet_obj.write(row + 1, 2, "K1")
    sheet_obj.write(row + 1, 3, "Avhysning bokad")
    sheet_obj.write_datetime(row + 1, 4, datetime(2026, 11, 2), date_format)
    sheet_obj.write_number(row + 1, 5, 12345.5)
    sheet_obj.write_datetime(row + 1, 6, datetime(2026, 12, 14, 9, 0), time_format)
    sheet_obj.write(row + 2, 0, "900101-1239")
    sheet_obj.write(row + 2, 2, "K2")
    sheet_obj.write(row + 2, 3, "Uppsägning")
    sheet_obj.write(row + 2, 4, "02.11.2026")
    sheet_obj.write(row + 2, 5, "1 000,00 kr")
    workbook.close()
    return buffer.getvalue()


def test_xlsx_with_title_rows_date_cells_and_numeric_cells() -> None:
    raw, parsed = parse(_xlsx(), sheet="Blad1")
    assert raw.file_format == "xlsx" and raw.sheet == "Blad1"
    assert raw.header_row == 3  # a merged title row and a blank row above the header
    assert parsed.rejected.height == 0
    accepted = parsed.accepted
    assert accepted["event_date"].to_list() == [date(2026, 11, 2)] * 2
    assert accepted["debt_amount"].to_list() == [12345.5, 1000.0]
    assert accepted["eviction_at"].to_list()[0] == datetime(2026, 12, 14, 8, 0, tzinfo=UTC)
    assert accepted["tenant_name"].to_list()[0] == "Anna Andersson"
    assert accepted["row_number"].to_list() == [4, 5]  # the rows Excel shows


def test_xlsx_first_sheet_by_default_and_unknown_sheet() -> None:
    with pytest.raises(NoticeFormatError, match="ingen rubrikrad"):
        read_notice_bytes(_xlsx())  # the first sheet is "Info"
    with pytest.raises(NoticeFormatError, match="'Saknas' finns inte"):
        read_notice_bytes(_xlsx(), sheet="Saknas")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12 345,50", 12345.5),
        ("12345,50", 12345.5),
        ("12 345 kr", 12345.0),
        ("12345.50", 12345.5),
        ("12\u00a0345,50", 12345.5),
        ("12.345,50", 12345.5),
        ("12,345.50", 12345.5),
        ("1 000:-", 1000.0),
        ("-5", -5.0),
        ("abc", None),
        ("1,2,3", None),
        ("inf", None),
    ],
)
def test_amounts(text: str, value: float | None) -> None:
    result = pl.select(parse_amount(pl.lit(text))).item()
    assert result == value


@pytest.mark.parametrize(
    ("text", "day_first", "value"),
    [
        ("2026-11-02", False, date(2026, 11, 2)),
        ("20261102", False, date(2026, 11, 2)),
        ("02.11.2026", False, date(2026, 11, 2)),
        ("2.11.2026", False, date(2026, 11, 2)),
        ("2026-11-02 00:00:00", False, date(2026, 11, 2)),
        ("2/11/2026", False, None),
        ("2/11/2026", True, date(2026, 11, 2)),
        ("2026-02-30", False, None),
    ],
)
def test_dates(text: str, day_first: bool, value: date | None) -> None:
    assert pl.select(parse_date(pl.lit(text), day_first)).item() == value


def test_ambiguous_slash_date_is_rejected_unless_day_first() -> None:
    data = b"Pnr;Kontrakt;H\xc3\xa4ndelse;Datum\n800101-1231;K1;Upps\xc3\xa4gning;2/11/2026\n"
    _, parsed = parse(data)
    assert "tvetydigt" in parsed.rejected["reason"][0]
    _, parsed = parse(data, day_first=True)
    assert parsed.accepted["event_date"].to_list() == [date(2026, 11, 2)]


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-03-14 09:00", datetime(2026, 3, 14, 8, 0, tzinfo=UTC)),
        ("2026-07-14 09:00", datetime(2026, 7, 14, 7, 0, tzinfo=UTC)),  # summer time
        ("2026-07-14 kl. 09.30", datetime(2026, 7, 14, 7, 30, tzinfo=UTC)),
        ("14.12.2026 09:00", datetime(2026, 12, 14, 8, 0, tzinfo=UTC)),
        ("2026-12-14T09:00", datetime(2026, 12, 14, 8, 0, tzinfo=UTC)),
        ("2026-12-14", datetime(2026, 12, 13, 23, 0, tzinfo=UTC)),
        ("nästa vecka", None),
    ],
)
def test_eviction_times_are_stockholm_time(text: str, utc: datetime | None) -> None:
    assert pl.select(parse_local_datetime(pl.lit(text))).item() == utc


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Andersson, Anna", "Anna Andersson"),
        ("Anna  Andersson", "Anna Andersson"),
        ("ÖBERG, ÅSA-MARIA", "Åsa-Maria Öberg"),
    ],
)
def test_names(text: str, name: str) -> None:
    assert pl.select(parse_name(pl.lit(text))).item() == name


@pytest.mark.parametrize(
    "text",
    [
        "800101-1231", "19800101-1231", "198001011231", "800101-1232", "701063-2391",
        "121212+1212", "20121212-1212", "801301-1231", "8001011231", "12345", "",
        "800101 1231", "000229-1234",
    ],
)  # fmt: skip
def test_vectorised_personnummer_agrees_with_identity(text: str) -> None:
    digits, valid = normalise_personnummer(pl.lit(text), TODAY)
    got = pl.select(digits.alias("d"), valid.alias("v")).row(0)
    expected = normalise(text, today=TODAY)
    assert got == (expected.digits, expected.valid)


def test_numeric_personnummer_from_excel_gets_its_leading_zero_back() -> None:
    data = b"Pnr;Kontrakt;H\xc3\xa4ndelse;Datum\n501011231;K1;Utslag;2026-11-02\n"
    _, parsed = parse(data)
    expected = normalise("0501011231", today=TODAY)
    assert parsed.accepted["personnummer"].to_list() == [expected.digits]
    assert parsed.accepted["personnummer"].to_list()[0].startswith("2005")


@pytest.mark.parametrize(
    ("cell", "digits"),
    [
        ("1010008", "200001010008"),  # 000101-0008: three zeros lost
        ("3150000", "200003150000"),  # 000315-0000
        ("10150001", "200010150001"),  # 001015-0001: two zeros lost
        ("0001010008", "200001010008"),  # kept as text: nothing lost
    ],
)
def test_people_born_in_2000_get_every_lost_zero_back(cell: str, digits: str) -> None:
    data = f"Pnr;Kontrakt;Händelse;Datum\n{cell};K1;Utslag;2026-11-02\n".encode()
    _, parsed = parse(data)
    assert parsed.accepted["personnummer"].to_list() == [digits]
    assert parsed.accepted["personnummer_valid"].to_list() == [True]


def test_eight_digits_that_are_no_lost_zeros_are_not_padded() -> None:
    data = "Pnr;Namn;Kontrakt;Händelse;Datum\n19800101;A;K1;Utslag;2026-11-02\n".encode()
    _, parsed = parse(data)
    assert parsed.accepted["personnummer"].to_list() == [None]  # a birth date, not a number


def test_invalid_personnummer_is_kept_and_flagged() -> None:
    data = b"Pnr;Kontrakt;H\xc3\xa4ndelse;Datum\n800101-1232;K1;Utslag;2026-11-02\n"
    _, parsed = parse(data)
    assert parsed.accepted["personnummer"].to_list() == ["198001011232"]
    assert parsed.accepted["personnummer_valid"].to_list() == [False]


def test_row_rules_amounts_dates_and_eviction_booking() -> None:
    data = (
        "Pnr;Namn;Kontrakt;Händelse;Datum;Skuld;Avhysningsdatum\n"
        "800101-1231;A;K1;Avhysning bokad;2026-11-02;;\n"
        "800101-1231;A;K1;Utslag;1999-01-01;5;\n"
        "800101-1231;A;K1;Utslag;2026-11-02;-100;\n"
        ";;;Utslag;2026-11-02;;\n"
        "800101-1231;A;;Utslag;2026-11-02;;\n"
        "800101-1231;A;K1;;;;\n"
    ).encode()
    _, parsed = parse(data)
    assert parsed.accepted.height == 0
    assert parsed.rejected.to_dicts() == [
        {"row_number": 2, "reason": "Avhysningsdatum saknas för en bokad avhysning"},
        {"row_number": 3, "reason": "Datumet '1999-01-01' är orimligt"},
        {"row_number": 4, "reason": "Skulden är negativ"},
        {
            "row_number": 5,
            "reason": "Personnummer och namn saknas; kontraktsnummer och adress saknas",
        },
        {"row_number": 6, "reason": "Kontraktsnummer och adress saknas"},
        {"row_number": 7, "reason": "Händelse saknas; datum saknas"},
    ]


def test_eviction_date_far_ahead_is_rejected() -> None:
    """Only a lower bound used to exist: an eviction in the year 3000 was accepted."""
    data = (
        "Pnr;Namn;Kontrakt;Händelse;Datum;Avhysningsdatum\n"
        "800101-1231;A;K1;Avhysning bokad;2026-11-02;3000-01-01 09:00\n"
        "800101-1231;A;K1;Avhysning bokad;2026-11-02;2028-11-21\n"
        "800101-1231;A;K1;Avhysning bokad;2026-11-02;2028-11-20 09:00\n"
        "800101-1231;A;K1;Avhysning bokad;2026-11-02;2026-12-14 09:00\n"
    ).encode()
    _, parsed = parse(data)
    assert parsed.rejected.to_dicts() == [
        {
            "row_number": 2,
            "reason": "Avhysningsdatumet '3000-01-01 09:00' ligger mer än 2 år fram i tiden",
        },
        {
            "row_number": 3,
            "reason": "Avhysningsdatumet '2028-11-21' ligger mer än 2 år fram i tiden",
        },
    ]
    assert parsed.accepted["row_number"].to_list() == [4, 5]
    _, wider = parse(data, eviction_years_ahead=5)
    assert wider.rejected["row_number"].to_list() == [2]


def test_eviction_limit_counts_from_a_later_notice_date() -> None:
    data = (
        "Pnr;Namn;Kontrakt;Händelse;Datum;Avhysningsdatum\n"
        "800101-1231;A;K1;Avhysning bokad;2027-12-01;2029-06-01 09:00\n"
    ).encode()
    _, parsed = parse(data)
    assert parsed.rejected.height == 0


def test_termination_served_before_its_own_date_is_rejected() -> None:
    """The 3 weeks to pay run from service: served before the notice was written would
    make the deadline pass before the notice reached the social services."""
    data = (
        "Pnr;Namn;Kontrakt;Händelse;Datum;Delgivningsdatum;Skuld\n"
        "800101-1231;A;K1;Uppsägning;2026-11-02;2026-10-01;5 000\n"
        "800101-1231;A;K1;Uppsägning;2026-11-02;2026-11-02;5 000\n"
        "800101-1231;A;K1;Uppsägning;02.11.2026;04.11.2026;5 000\n"
        # A later event may repeat the termination notice's service date: not an error.
        "800101-1231;A;K1;Ansökan BF;2026-11-20;2026-11-04;5 450\n"
    ).encode()
    _, parsed = parse(data)
    assert parsed.rejected.to_dicts() == [
        {
            "row_number": 2,
            "reason": "Delgivningsdatumet '2026-10-01' är före uppsägningens datum '2026-11-02': "
            "uppsägningen kan inte ha delgivits innan den skrevs",
        }
    ]
    assert parsed.accepted["row_number"].to_list() == [3, 4, 5]


def test_amounts_finer_than_ore_and_zero_debt_on_arrears_notices() -> None:
    """0,001 used to be rounded to 0 kr without a word; 0 kr on an arrears notice is a
    wrong cell (a letter would say 'skuld 0 kr'), while a settled debt is 0 by nature."""
    data = (
        "Pnr;Namn;Kontrakt;Händelse;Datum;Skuld;Månadshyra\n"
        "800101-1231;A;K1;Uppsägning;2026-11-02;0,001;8 000\n"
        "800101-1231;A;K1;Uppsägning;2026-11-02;12 345,505;8 000,125\n"
        "800101-1231;A;K1;Uppsägning;2026-11-02;0;8 000\n"
        "800101-1231;A;K1;Ansökan BF;2026-11-20;0,00;\n"
        "800101-1231;A;K1;Reglerad;2026-11-25;0;\n"
        "800101-1231;A;K1;Återkallad;2026-11-25;0;\n"
        "800101-1231;A;K1;Utslag;2026-11-25;0;\n"
        "800101-1231;A;K1;Uppsägning;2026-11-02;12 345,50;8 000,10\n"
        "800101-1231;A;K1;Uppsägning;2026-11-02;12345.5000;\n"
        "800101-1231;A;K1;Uppsägning;2026-11-02;;\n"
    ).encode()
    _, parsed = parse(data)
    zero = (
        "Skulden är 0 kr, men uppsägningar och ansökningar om betalningsföreläggande "
        "gäller obetald hyra (lämna rutan tom om skulden inte är känd)"
    )
    assert parsed.rejected.to_dicts() == [
        {
            "row_number": 2,
            "reason": "Skulden '0,001' har fler än två decimaler (skriv kronor och ören)",
        },
        {
            "row_number": 3,
            "reason": "Skulden '12 345,505' har fler än två decimaler (skriv kronor och ören); "
            "månadshyran '8 000,125' har fler än två decimaler (skriv kronor och ören)",
        },
        {"row_number": 4, "reason": zero},
        {"row_number": 5, "reason": zero},
    ]
    assert parsed.accepted["row_number"].to_list() == [6, 7, 8, 9, 10, 11]
    assert parsed.accepted["debt_amount"].to_list() == [0.0, 0.0, 0.0, 12345.5, 12345.5, None]


def test_excel_float_noise_in_an_amount_is_not_a_third_decimal() -> None:
    _, parsed = parse(
        "Pnr;Namn;Kontrakt;Händelse;Datum;Skuld\n"
        "800101-1231;A;K1;Uppsägning;2026-11-02;100.10000000000001\n"
        "800101-1231;A;K1;Uppsägning;2026-11-02;99999999.99\n".encode()
    )
    assert parsed.rejected.height == 0
    assert parsed.accepted["debt_amount"].to_list() == [100.1, 99999999.99]


def test_text_in_a_misplaced_column_is_not_quoted_back() -> None:
    """Reasons are stored, printed and sent in receipts: a name or address in a number
    or date column is described, never repeated; digits and dates still are."""
    data = (
        "Pnr;Namn;Kontrakt;Händelse;Datum;Delgivningsdatum;Skuld;Avhysningsdatum\n"
        "800101-1231;A;K1;Utslag;Åsa Häggström;;Åsa Häggström;\n"
        "800101-1231;A;K1;Avhysning bokad;2026-11-02;Storgatan 1;12,345,6;Bo Berg\n"
        "800101-1231;A;K1;Utslag;2026-13-45;;12 345 kr;\n"
    ).encode()
    _, parsed = parse(data)
    reasons = parsed.rejected["reason"].to_list()
    assert reasons == [
        "Texten i Datum kan inte läsas som ett datum; texten i Skuld kan inte läsas som ett belopp",
        "Texten i Delgivningsdatum kan inte läsas som ett datum; "
        "texten i Avhysningsdatum kan inte läsas som ett datum; "
        "skulden '12,345,6' är inte ett belopp",
        "Datumet '2026-13-45' kan inte läsas",
    ]
    assert not any(word in r for r in reasons for word in ("Åsa", "Storgatan", "Berg"))


def test_header_aliases() -> None:
    mapping = map_headers(
        ["Personnr", "Namn", "Lägenhetsnummer", "Hyresskuld", "Avhysningsdatum", "Övrigt"]
    )
    assert mapping.fields == {
        "personnummer": "Personnr",
        "tenant_name": "Namn",
        "apartment": "Lägenhetsnummer",
        "debt_amount": "Hyresskuld",
        "eviction_at": "Avhysningsdatum",
    }
    assert mapping.unused == ["Övrigt"]


def test_xlsx_empty_rows_above_the_data_still_count() -> None:
    """Excel row numbers even when the sheet's first rows are entirely empty."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Aviseringar"
    for column, values in zip(
        "BCDE",
        [
            ("Personnummer", "800101-1231", "800101-1231"),
            ("Kontraktsnr", "K1", "K1"),
            ("Händelse", "Utslag", "Okänt"),
            ("Datum", "2026-11-02", "2026-11-02"),
        ],
        strict=True,
    ):
        sheet[f"{column}3"], sheet[f"{column}4"], sheet[f"{column}6"] = values
    buffer = io.BytesIO()
    workbook.save(buffer)
    raw, parsed = parse(buffer.getvalue())
    assert raw.header_row == 3
    assert parsed.accepted["row_number"].to_list() == [4]
    assert parsed.rejected["row_number"].to_list() == [6]


def test_reader_errors_are_one_line_without_cell_values() -> None:
    # A quoted field left open spans lines: polars quotes it, line breaks and all.
    data = (
        'Personnummer;Hyresgäst;Händelse;Datum\n"800101-1231;Anna Andersson;Uppsägning;'
        '2026-11-02\n"x"y;a;b;c\n'
    ).encode()
    with pytest.raises(NoticeFormatError) as raised:
        read_notice_bytes(data)
    message = str(raised.value)
    assert message.startswith("rad 2 kan inte läsas: ") and "\n" not in message
    assert "800101" not in message and "Anna" not in message and "Uppsägning" not in message
    with pytest.raises(NoticeFormatError, match=r"^filen kan inte läsas som XLSX \("):
        read_notice_bytes(b"PK\x03\x04" + b"800101-1231 Anna Andersson" * 10)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "could not parse `800101-1231\nAnna` as dtype `str`\nmore",
            "could not parse … as dtype …",
        ),
        ("field 'Anna Andersson' is bad", "field … is bad"),
        ("unclosed `800101-1231 at the end", "unclosed …"),
        ("", "ValueError"),
    ],
)
def test_one_line_without_values(text: str, expected: str) -> None:
    assert one_line_without_values(ValueError(text)) == expected
