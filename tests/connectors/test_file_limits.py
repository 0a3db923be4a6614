"""One bad file must not stop the others: the size guard, reader panics, odd encodings and
quotes, through the reader and the row parser (no database; the stage is in
test_ingest_files.py). No bomb is ever handed to the XLSX reader here."""

from __future__ import annotations

import time
from datetime import date

import pytest
import xlsx_parts

from connectors.file_limits import FileLimits, check_csv, check_xlsx
from connectors.inbox import stored_name
from connectors.notice_files import read_notice_bytes, read_xlsx_bytes
from domain.notices import NoticeFormatError, ParseOptions, parse_notices

HEADER = "Personnummer;Hyresgäst;Adress;Kontraktsnr;Händelse;Datum"


def parse(data: bytes):
    raw = read_notice_bytes(data)
    options = ParseOptions(company_id="c", today=date(2026, 11, 20))
    return raw, parse_notices(raw.frame, options, raw.first_data_row, raw.ragged, raw.broken)


@pytest.mark.parametrize(
    ("bomb", "limits", "message"),
    [
        (xlsx_parts.far_cell_bomb, FileLimits(), "bladet har fler än 200 kolumner"),
        (xlsx_parts.wide_bomb, FileLimits(), "bladet har fler än 200 kolumner"),
        (xlsx_parts.big_cell_bomb, FileLimits(), "en cell har mer än 32767 tecken"),
        (
            xlsx_parts.shared_count_bomb,
            FileLimits(),
            "arbetsbokens lista över texter är felaktig (uppgivet antal stämmer inte)",
        ),
        (
            lambda: xlsx_parts.size_bomb(3),
            FileLimits(max_uncompressed_mb=2),
            "arbetsboken är större än 2 MB när den packas upp (dela upp den i flera filer)",
        ),
    ],
    ids=["XFD1048576", "million-columns", "1MiB-cell", "shared-count-2**64", "unpacked-size"],
)
def test_xlsx_bombs_are_rejected_before_the_reader(bomb, limits, message) -> None:
    data = bomb()
    assert len(data) < 64 * 1024  # small files: the danger is in what they unpack to
    started = time.perf_counter()
    with pytest.raises(NoticeFormatError) as raised:
        check_xlsx(data, limits)
    assert str(raised.value) == message
    assert time.perf_counter() - started < 2
    with pytest.raises(NoticeFormatError, match="^" + message.replace("(", r"\(")[:30]):
        read_notice_bytes(data, limits=limits)  # the guard comes first: the reader never runs


def test_the_dimension_alone_is_checked_too() -> None:
    data = xlsx_parts.xlsx(dimension="A1:XFD1048576")
    with pytest.raises(NoticeFormatError, match="fler än 200 kolumner"):
        check_xlsx(data, FileLimits())


def test_an_ordinary_workbook_passes_the_guard() -> None:
    check_xlsx(xlsx_parts.xlsx(), FileLimits())  # no error


def test_a_reader_panic_becomes_a_rejection_of_that_file() -> None:
    # Past the guard, this file makes the Rust reader panic (a BaseException).
    with pytest.raises(NoticeFormatError) as raised:
        read_xlsx_bytes(xlsx_parts.shared_count_bomb())
    assert str(raised.value).startswith("filen kan inte läsas som XLSX")


def test_csv_caps_on_lines_and_rows() -> None:
    line = "x" * 2000
    with pytest.raises(NoticeFormatError, match="^rad 3 är längre än 1000 tecken"):
        check_csv(f"a;b\n1;2\n{line}\n".encode(), FileLimits(max_line_chars=1000))
    with pytest.raises(NoticeFormatError, match="^filen har fler än 5 rader"):
        check_csv(("a;b\n" + "1;2\n" * 6).encode(), FileLimits(max_rows=5))
    check_csv(("a;b\n" + "1;2\n" * 5).encode(), FileLimits(max_rows=5))  # within the caps


def test_mostly_utf8_file_keeps_its_letters_and_names_the_cp1252_line() -> None:
    data = (
        (HEADER + "\n").encode()
        + "19800101-1231;Åsa Öberg;Storgatan 1;K1;Uppsägning;2026-11-02\n".encode()
        + "19900101-1239;Bo Ärlig;Vägen 2;K2;Uppsägning;2026-11-02\n".encode("cp1252")
        + "19800101-1231;Göran Ström;Torget 3;K3;Uppsägning;2026-11-02\n".encode()
    )
    raw, parsed = parse(data)
    assert raw.encoding == "utf-8+cp1252" and raw.cp1252_lines == [3]
    names = parsed.accepted["tenant_name"].to_list()
    assert names == ["Åsa Öberg", "Bo Ärlig", "Göran Ström"]
    assert parsed.repaired_rows == [] and parsed.garbled_rows == []


def test_classic_mojibake_is_repaired_and_what_remains_is_flagged() -> None:
    data = (
        HEADER
        + "\n19800101-1231;Ã…sa StrÃ¶m;GÃ¤rdet 1;K1;Uppsägning;2026-11-02"
        + "\n19900101-1239;G\ufffdran Berg;Vägen 2;K2;Uppsägning;2026-11-02\n"
    ).encode()
    _, parsed = parse(data)
    assert parsed.accepted["tenant_name"].to_list() == ["Åsa Ström", "G\ufffdran Berg"]
    assert parsed.accepted["street_address"].to_list() == ["Gärdet 1", "Vägen 2"]
    assert (parsed.repaired_rows, parsed.garbled_rows) == ([2], [3])


def test_unclosed_quote_rejects_that_line_only_and_names_it() -> None:
    data = (
        HEADER
        + "\n19800101-1231;Anna;Storgatan 1;K1;Uppsägning;2026-11-02"
        + '\n19900101-1239;"Bo Berg;Vägen 2;K2;Uppsägning;2026-11-02'
        + '\n19800101-1231;"Cilla, C";Torget 3;K3;Uppsägning;2026-11-02'
        + '\n19800101-1231;"Dan\nDansson";Torget 4;K4;Uppsägning;2026-11-02\n'
    ).encode()
    _, parsed = parse(data)
    assert parsed.rejected.to_dicts() == [
        {
            "row_number": 3,
            "reason": 'Raden kan inte läsas: ett citattecken (") öppnas men stängs aldrig',
        }
    ]
    assert parsed.accepted["contract_ref"].to_list() == ["K1", "K3", "K4"]
    assert parsed.accepted["tenant_name"].to_list()[1] == "C Cilla"  # "Efternamn, Förnamn"


def test_a_file_of_unreadable_lines_is_rejected_naming_the_first() -> None:
    data = (HEADER + '\n1;"a;b;c;d;e\n2;"a;b;c;d;e\n').encode()
    with pytest.raises(NoticeFormatError) as raised:
        read_notice_bytes(data)
    assert str(raised.value) == (
        'rad 2 kan inte läsas: ett citattecken (") öppnas men stängs aldrig '
        "(sammanlagt 2 rader som inte kan läsas)"
    )


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        (
            "å" * 115 + ".csv",
            "2026-11-02_0123456789ab_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.csv",
        ),
        ("../../etc/passwd", "2026-11-02_0123456789ab_passwd"),
        ("Uppsägningar nov.XLSX", "2026-11-02_0123456789ab_Uppsagningar_nov.xlsx"),
        ("ÅÄÖ", "2026-11-02_0123456789ab_AAO"),
        ("€€€.csv", "2026-11-02_0123456789ab_fil.csv"),
    ],
)
def test_stored_names_are_short_and_safe(filename: str, expected: str) -> None:
    name = stored_name(date(2026, 11, 2), "0123456789abcdef" * 4, filename)
    assert name == expected
    assert len((name + ".kvitto.xlsx").encode()) < 100
