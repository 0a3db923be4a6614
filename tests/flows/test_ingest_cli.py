"""``kvarboende ingest`` and ``kvarboende companies check`` through the real CLI entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import _register_commands, main

_register_commands()

HEADER = (
    "Personnummer;Hyresgäst;Adress;Lgh nr;Postnr;Ort;Kontraktsnr;Händelse;Datum;"
    "Delgivningsdatum;Skuld;Månadshyra;Avhysningsdatum;E-post;Telefon"
)


def _config(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[database]
url = "sqlite:///data/k.db"

[[companies]]
id = "hyresvard"
name = "Privata Hyresvärden AB"
landlord_type = "private"
{extra}
""",
        encoding="utf-8",
    )
    return config


def _file(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "november.csv"
    path.write_bytes("\r\n".join([HEADER, *rows, ""]).encode("cp1252"))
    return path


ROWS = (
    "800101-1231;Andersson, Anna;Storgatan 1;1001;123 45;Exempelby;K-1;Uppsägning;02.11.2026;"
    "04.11.2026;12 345,50;8 000;;anna@example.se;070-1",
    "900101-1239;Berg, Bo;Vägen 2;1002;12345;Exempelby;K-2;Störning;02.11.2026;;;;;;",
)


def test_ingest_prints_counts_and_then_already_received(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, path = _config(tmp_path), _file(tmp_path, *ROWS)
    args = ["--config", str(config), "ingest", str(path), "--company", "hyresvard"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "2 rows, 1 accepted, 1 rejected, 0 duplicates" in out
    assert "row 3: Händelsen 'Störning' gäller inte hyresskuld" in out
    assert path.exists()  # --keep is the default on the command line
    assert main(args) == 0
    out = capsys.readouterr().out.strip()
    assert out == "november.csv: already received (same content), nothing changed"


def test_ingest_archive_moves_the_file_with_receipts(tmp_path: Path) -> None:
    config, path = _config(tmp_path), _file(tmp_path, *ROWS)
    args = ["--config", str(config), "ingest", str(path), "--company", "hyresvard", "--archive"]
    assert main([*args, "--date", "2026-11-20"]) == 0
    assert not path.exists()
    archived = sorted(p.name for p in (tmp_path / "data/archive/hyresvard").iterdir())
    assert len(archived) == 3
    assert archived[0].startswith("2026-11-20_") and archived[0].endswith("november.csv")
    assert {Path(name).suffix for name in archived} == {".csv", ".xlsx"}


def test_companies_check_shows_reading_without_storing_or_personal_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, path = _config(tmp_path), _file(tmp_path, *ROWS)
    code = main(
        ["--config", str(config), "companies", "check", str(path), "--company", "hyresvard"]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "cp1252" in out and "semikolon" in out and "rubrikrad 1" in out
    assert "Kontraktsnr" in out and "contract_ref" in out
    assert "Störning" in out
    assert "Andersson" not in out and "800101" not in out
    assert not (tmp_path / "data" / "k.db").exists()


def test_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("Namn;Adress\nAnna;Storgatan 1\n", encoding="utf-8")
    code = main(["--config", str(config), "companies", "check", str(bad), "--company", "hyresvard"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.csv" in err and "event_type" in err
    assert main(["--config", str(config), "ingest", str(bad), "--company", "nope"]) == 2
    assert "unknown housing company 'nope'" in capsys.readouterr().err
    missing = tmp_path / "missing.csv"
    assert main(["--config", str(config), "ingest", str(missing), "--company", "hyresvard"]) == 2
    assert "file not found" in capsys.readouterr().err


def test_wrong_company_mapping_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, 'columns = { "Kund" = "kundnummer" }')
    path = _file(tmp_path, *ROWS)
    assert main(["--config", str(config), "ingest", str(path), "--company", "hyresvard"]) == 2
    err = capsys.readouterr().err.strip()
    assert "companies[hyresvard]" in err and "kundnummer" in err
    assert path.exists()


def test_ingest_exits_1_when_a_file_has_no_accepted_row(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Receipts first, then exit status 1: a wholly rejected file, or one whose every row
    was rejected, must not look like success to a script or scheduler."""
    config = tmp_path / "pg.toml"
    config.write_text(
        _config(tmp_path).read_text(encoding="utf-8").replace("sqlite:///data/k.db", db_url),
        encoding="utf-8",
    )
    good = _file(tmp_path, *ROWS)
    rows_rejected = tmp_path / "storningar.csv"
    rows_rejected.write_bytes("\r\n".join([HEADER, ROWS[1], ""]).encode("cp1252"))
    unusable = tmp_path / "lista.csv"
    unusable.write_text("Namn;Adress\nAnna;Storgatan 1\n", encoding="utf-8")

    def ingest(*paths: Path) -> tuple[int, str, str]:
        args = ["--config", str(config), "ingest", *map(str, paths), "--company", "hyresvard"]
        code = main(args)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    code, out, err = ingest(unusable)
    assert code == 1
    assert "lista.csv: whole file rejected: " in out and "event_type" in out
    assert "1 of 1 file(s) had no accepted row" in err

    code, out, err = ingest(good, rows_rejected)
    assert code == 1
    assert "november.csv: 2 rows, 1 accepted, 1 rejected, 0 duplicates" in out
    assert "storningar.csv: 1 rows, 0 accepted, 1 rejected, 0 duplicates" in out
    assert "row 2: Händelsen 'Störning' gäller inte hyresskuld" in out
    assert "1 of 2 file(s) had no accepted row" in err

    # Already received: nothing happens now, so nothing failed now.
    assert ingest(good)[0] == 0
    fresh = tmp_path / "december.csv"
    fresh.write_bytes(good.read_bytes().replace(b"K-1", b"K-9"))
    assert ingest(fresh)[0] == 0


def test_ingest_help_documents_the_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Exit status 1 (after every receipt is printed): a file had no accepted row" in out
