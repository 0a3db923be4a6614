"""The ingest stage on SQLite and PostgreSQL: receipts, idempotency, episodes, atomicity."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

import pytest
from notice_rows import notice, notice_csv
from sqlalchemy import func, select

from flows.stages.ingest import ingest_inbox
from models.config import CompanyConfig, Settings
from models.db import session_scope
from models.errors import KvarboendeError
from models.tables import (
    AuditLog,
    Episode,
    EpisodeTransition,
    Notice,
    NoticeFile,
    RowRejection,
)
from services import notices as stored_notices
from services.ingest import ingest_file

#: Each tenant's own fields; a row adds the event (``notice(**ANNA, event_type=...)``).
ANNA = notice(
    personnummer="19800101-1231",
    tenant_name="Anna Andersson",
    street_address="Storgatan 1",
    apartment="1001",
    postal_code="12345",
    town="Exempelby",
    contract_ref="K1",
)
#: Bo's rows have no contract reference unless they add one (``contract_ref="K2"``).
BO = notice(
    personnummer="19900101-1239",
    tenant_name="Bo Berg",
    street_address="Vägen 2",
    apartment="1002",
    postal_code="12345",
    town="Exempelby",
)


def canonical(*rows: Mapping[str, str]) -> str:
    """A file in the canonical export format: the header, then the rows."""
    return notice_csv(rows)


def make_settings(tmp_path: Path, **company: object) -> Settings:
    settings = Settings(
        companies=[CompanyConfig(id="vasbyhem", name="Väsbyhem AB", **company)],
        paths={
            "data_dir": tmp_path / "data",
            "inbox_dir": tmp_path / "inbox",
            "archive_dir": tmp_path / "archive",
            "rejected_dir": tmp_path / "rejected",
        },
    )
    return settings.resolve_paths(tmp_path)


def write(tmp_path: Path, name: str, content: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode(encoding))
    return path


def count(engine, table) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(table))


def test_canonical_file_accounts_for_every_row(db_engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    path = write(
        tmp_path,
        "n.csv",
        canonical(
            notice(
                **ANNA,
                event_type="termination_notice",
                event_date="2026-10-01",
                service_date="2026-10-03",
                debt_amount="12345.50",
                monthly_rent="8000",
                email="a@b.se",
                language="sv",
            ),
            notice(
                **ANNA,
                event_type="payment_order",
                event_date="2026-10-20",
                debt_amount="14 000,00",
                monthly_rent="8000",
            ),
            notice(
                **BO,
                event_type="eviction_scheduled",
                event_date="2026-11-10",
                debt_amount="9000",
                eviction_at="2026-12-14 09:00",
            ),
            notice(event_type="bogus", event_date="2026-11-10"),
            notice(**BO, event_type="decision", event_date="2026-11-02", debt_amount="-5"),
        ),
    )
    receipt = ingest_file(db_engine, settings, path, "vasbyhem", received_on=date(2026, 11, 20))
    assert (receipt.rows_read, receipt.accepted, receipt.rejected, receipt.duplicates) == (
        5,
        3,
        2,
        0,
    )
    assert receipt.balanced
    reasons = {r.row_number: r.reason for r in receipt.rejections}
    assert "Okänd händelse 'bogus'" in reasons[5]
    assert "personnummer och namn saknas" in reasons[5]
    assert reasons[6] == "Skulden är negativ"
    archived = list((tmp_path / "archive" / "vasbyhem").iterdir())
    assert sorted(p.suffix for p in archived) == [".csv", ".csv", ".xlsx"]
    assert not path.exists()
    with session_scope(db_engine) as session:
        episodes = {e.tenancy_key: e for e in session.scalars(select(Episode))}
        assert len(episodes) == 2
        anna = episodes["vasbyhem|k|K1"]
        assert anna.status == "payment_order"
        assert anna.reached_payment_order
        assert anna.first_notice_date == date(2026, 10, 1)
        assert anna.service_date == date(2026, 10, 3)
        # Served Saturday 3 Oct + 21 days = Saturday 24 Oct: the last day moves to Monday.
        assert anna.deadline_date == date(2026, 10, 26)
        assert float(anna.debt_amount) == 14000.0
        assert anna.email == "a@b.se"
        assert anna.routing is None
        assert anna.opened_on == date(2026, 11, 20)
        assert anna.personnummer == "198001011231"
        bo = next(e for k, e in episodes.items() if k != "vasbyhem|k|K1")
        assert bo.status == "eviction_scheduled"
        # No termination notice known: no 12:44 right to keep the home, so no date.
        assert bo.deadline_date is None and bo.service_date is None
        assert bo.eviction_at is not None and bo.eviction_at.hour == 8  # 09:00 Stockholm, UTC
        statuses = [
            (t.from_status, t.to_status)
            for t in session.scalars(
                select(EpisodeTransition)
                .where(EpisodeTransition.episode_id == anna.id)
                .order_by(EpisodeTransition.id)
            )
        ]
        assert statuses == [(None, "termination_notice"), ("termination_notice", "payment_order")]
        assert session.scalar(select(func.count()).select_from(Notice)) == 3
        assert {n.episode_id for n in session.scalars(select(Notice))} == {anna.id, bo.id}


def test_same_file_twice_changes_nothing(db_engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    content = canonical(
        notice(
            **ANNA, event_type="termination_notice", event_date="2026-10-01", debt_amount="1000"
        ),
        notice(**BO, event_type="bogus", event_date="2026-10-01"),
    )
    first = ingest_file(
        db_engine, settings, write(tmp_path, "a.csv", content), "vasbyhem", move=False
    )
    second = ingest_file(
        db_engine, settings, write(tmp_path, "b.csv", content), "vasbyhem", move=False
    )
    assert not first.already_received and second.already_received
    assert second.accepted == 1
    assert second.rejections == first.rejections
    assert count(db_engine, Notice) == 1
    assert count(db_engine, NoticeFile) == 1
    assert count(db_engine, EpisodeTransition) == 1


def test_overlapping_exports_store_each_notice_once(db_engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    one = canonical(
        notice(
            **ANNA, event_type="termination_notice", event_date="2026-10-01", debt_amount="1000"
        ),
        notice(
            **ANNA, event_type="termination_notice", event_date="2026-10-01", debt_amount="1000"
        ),
    )
    two = canonical(
        notice(
            **ANNA, event_type="termination_notice", event_date="2026-10-01", debt_amount="1200"
        ),
        notice(**ANNA, event_type="payment_order", event_date="2026-10-21", debt_amount="1200"),
    )
    first = ingest_file(db_engine, settings, write(tmp_path, "1.csv", one), "vasbyhem")
    second = ingest_file(db_engine, settings, write(tmp_path, "2.csv", two), "vasbyhem")
    assert (first.accepted, first.duplicates) == (1, 1)
    assert (second.accepted, second.duplicates) == (1, 1)
    assert first.balanced and second.balanced
    assert count(db_engine, Notice) == 2
    assert count(db_engine, Episode) == 1
    with session_scope(db_engine) as session:
        kinds = session.scalars(select(RowRejection.kind)).all()
        assert sorted(kinds) == ["duplicate", "duplicate"]


def test_settlement_dated_before_a_booked_eviction_does_not_end_the_episode(
    db_engine, tmp_path: Path
) -> None:
    """Termination 10-01, eviction booked 11-20 (for 12-14 09:00); a later file reports a
    settlement dated 11-10. The booking is later than the settlement, so the episode
    stays open at eviction_scheduled: the eviction must not drop out of open work."""
    settings = make_settings(tmp_path)
    ingest_file(
        db_engine,
        settings,
        write(
            tmp_path,
            "1.csv",
            canonical(
                notice(
                    **ANNA,
                    event_type="termination_notice",
                    event_date="2026-10-01",
                    debt_amount="1000",
                ),
                notice(
                    **ANNA,
                    event_type="eviction_scheduled",
                    event_date="2026-11-20",
                    debt_amount="1000",
                    eviction_at="2026-12-14 09:00",
                ),
            ),
        ),
        "vasbyhem",
    )
    second = ingest_file(
        db_engine,
        settings,
        write(
            tmp_path,
            "2.csv",
            canonical(
                notice(**ANNA, event_type="settled", event_date="2026-11-10"),
                notice(**ANNA, event_type="payment_order", event_date="2026-10-15"),
            ),
        ),
        "vasbyhem",
    )
    assert second.accepted == 2
    with session_scope(db_engine) as session:
        episode = session.scalars(select(Episode)).one()
        assert episode.status == "eviction_scheduled"
        assert episode.eviction_at is not None
        assert episode.reached_payment_order  # the late payment order counts, status stays
        assert episode.last_event_date == date(2026, 11, 20)
        steps = session.execute(
            select(EpisodeTransition.to_status, EpisodeTransition.effective_date).order_by(
                EpisodeTransition.id
            )
        ).all()
        assert steps == [
            ("termination_notice", date(2026, 10, 1)),
            ("eviction_scheduled", date(2026, 11, 20)),
        ]
        # The settlement is kept in the episode's history as its notice.
        kinds = session.scalars(
            select(Notice.event_type).where(Notice.episode_id == episode.id)
        ).all()
        assert sorted(kinds) == [
            "eviction_scheduled", "payment_order", "settled", "termination_notice"
        ]  # fmt: skip


def test_booking_dated_after_a_stored_settlement_reopens_the_episode(
    db_engine, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    ingest_file(
        db_engine,
        settings,
        write(
            tmp_path,
            "1.csv",
            canonical(
                notice(
                    **ANNA,
                    event_type="termination_notice",
                    event_date="2026-10-01",
                    debt_amount="1000",
                ),
                notice(**ANNA, event_type="settled", event_date="2026-11-10"),
            ),
        ),
        "vasbyhem",
    )
    ingest_file(
        db_engine,
        settings,
        write(
            tmp_path,
            "2.csv",
            canonical(
                notice(
                    **ANNA,
                    event_type="eviction_scheduled",
                    event_date="2026-11-20",
                    debt_amount="1000",
                    eviction_at="2026-12-14 09:00",
                )
            ),
        ),
        "vasbyhem",
    )
    with session_scope(db_engine) as session:
        episode = session.scalars(select(Episode)).one()
        assert episode.status == "eviction_scheduled"
        last = session.scalars(
            select(EpisodeTransition).order_by(EpisodeTransition.id.desc())
        ).first()
        assert (last.from_status, last.to_status) == ("settled", "eviction_scheduled")
        assert last.reason.startswith("Ärendet är öppet igen: Avhysning bokad")


def test_termination_after_settlement_opens_a_recurrence(db_engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    ingest_file(
        db_engine,
        settings,
        write(
            tmp_path,
            "1.csv",
            canonical(
                notice(
                    **ANNA,
                    event_type="termination_notice",
                    event_date="2026-01-10",
                    debt_amount="1000",
                ),
                notice(**ANNA, event_type="settled", event_date="2026-02-01"),
            ),
        ),
        "vasbyhem",
    )
    ingest_file(
        db_engine,
        settings,
        write(
            tmp_path,
            "2.csv",
            canonical(
                notice(
                    **ANNA,
                    event_type="termination_notice",
                    event_date="2026-10-01",
                    debt_amount="3000",
                )
            ),
        ),
        "vasbyhem",
    )
    with session_scope(db_engine) as session:
        first, second = session.scalars(select(Episode).order_by(Episode.id)).all()
        assert first.status == "settled"
        assert second.status == "termination_notice"
        assert second.previous_episode_id == first.id
        assert second.is_recurrence
        assert float(second.debt_amount) == 3000.0


def test_recurrence_in_one_file_and_beyond_the_window(db_engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    ingest_file(
        db_engine,
        settings,
        write(
            tmp_path,
            "1.csv",
            canonical(
                notice(
                    **ANNA,
                    event_type="termination_notice",
                    event_date="2020-01-10",
                    debt_amount="1000",
                ),
                notice(**ANNA, event_type="settled", event_date="2020-02-01"),
                notice(
                    **ANNA,
                    event_type="termination_notice",
                    event_date="2026-10-01",
                    debt_amount="3000",
                ),
                notice(**ANNA, event_type="settled", event_date="2026-10-20"),
                notice(
                    **ANNA,
                    event_type="termination_notice",
                    event_date="2026-11-01",
                    debt_amount="3000",
                ),
            ),
        ),
        "vasbyhem",
        received_on=date(2026, 11, 20),
    )
    with session_scope(db_engine) as session:
        episodes = session.scalars(select(Episode).order_by(Episode.first_notice_date)).all()
        assert [e.status for e in episodes] == ["settled", "settled", "termination_notice"]
        assert episodes[0].previous_episode_id is None
        assert episodes[1].previous_episode_id == episodes[0].id
        assert not episodes[1].is_recurrence  # more than 24 months later
        assert episodes[2].previous_episode_id == episodes[1].id
        assert episodes[2].is_recurrence


def test_crash_mid_file_leaves_nothing_and_rerun_completes(
    db_engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path)
    path = write(
        tmp_path,
        "n.csv",
        canonical(
            notice(
                **ANNA, event_type="termination_notice", event_date="2026-10-01", debt_amount="1000"
            ),
            notice(
                **BO, event_type="termination_notice", event_date="2026-10-01", debt_amount="1000"
            ),
        ),
    )
    original = stored_notices.transition_frame

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash after notices and episodes were written")

    monkeypatch.setattr(stored_notices, "transition_frame", crash)
    with pytest.raises(RuntimeError):
        ingest_file(db_engine, settings, path, "vasbyhem")
    for table in (NoticeFile, Notice, Episode, EpisodeTransition, RowRejection):
        assert count(db_engine, table) == 0
    assert path.exists()
    monkeypatch.setattr(stored_notices, "transition_frame", original)
    receipt = ingest_file(db_engine, settings, path, "vasbyhem")
    assert receipt.accepted == 2
    assert count(db_engine, Episode) == 2
    assert count(db_engine, EpisodeTransition) == 2


def test_unusable_file_goes_to_rejected_with_receipt(db_engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    # Raw on purpose: a file without the canonical columns, which the builder cannot write.
    path = write(tmp_path, "fel.csv", "Namn;Adress\nAnna;Storgatan 1\n")
    receipt = ingest_file(db_engine, settings, path, "vasbyhem")
    assert receipt.file_error is not None
    assert "händelse (event_type)" in receipt.file_error
    assert "'Namn'" in receipt.file_error
    rejected = sorted(p.name for p in (tmp_path / "rejected" / "vasbyhem").iterdir())
    assert len(rejected) == 3 and rejected[0].endswith("fel.csv")
    again = write(tmp_path, "fel.csv", "Namn;Adress\nAnna;Storgatan 1\n")
    second = ingest_file(db_engine, settings, again, "vasbyhem")
    # Read again (the mapping may have been fixed), still unusable: one row, same reason.
    assert not second.already_received and second.file_error == receipt.file_error
    assert not again.exists()
    with session_scope(db_engine) as session:
        rows = session.execute(select(NoticeFile.status, NoticeFile.file_error)).all()
    assert rows == [("rejected", receipt.file_error)]


def test_rejected_file_is_read_again_after_the_mapping_is_fixed(db_engine, tmp_path: Path) -> None:
    content = canonical(
        notice(**ANNA, event_type="termination_notice", event_date="2026-10-01", debt_amount="1")
    ).replace("event_type", "Statuskod X")
    unmapped = make_settings(tmp_path)
    first = ingest_file(db_engine, unmapped, write(tmp_path, "n.csv", content), "vasbyhem")
    assert first.file_error is not None and "händelse (event_type)" in first.file_error
    assert len(list((tmp_path / "rejected" / "vasbyhem").iterdir())) == 3

    fixed = make_settings(tmp_path, columns={"Statuskod X": "event_type"})
    second = ingest_file(db_engine, fixed, write(tmp_path, "n.csv", content), "vasbyhem")
    assert not second.already_received and second.file_error is None
    assert (second.rows_read, second.accepted) == (1, 1)
    assert count(db_engine, Notice) == 1 and count(db_engine, Episode) == 1
    with session_scope(db_engine) as session:
        files = session.execute(
            select(NoticeFile.id, NoticeFile.status, NoticeFile.file_error, NoticeFile.rows_read)
        ).all()
        actions = session.execute(
            select(AuditLog.action, AuditLog.entity_id)
            .where(AuditLog.entity == "notice_file")
            .order_by(AuditLog.id)
        ).all()
    assert [f[1:] for f in files] == [("ingested", None, 1)]
    file_id = str(files[0][0])
    assert actions == [("reject_file", file_id), ("ingest_file", file_id)]
    # The bytes live in the archive now; no stale copy is left in rejected/.
    assert list((tmp_path / "rejected" / "vasbyhem").iterdir()) == []
    assert len(list((tmp_path / "archive" / "vasbyhem").iterdir())) == 3

    third = ingest_file(db_engine, fixed, write(tmp_path, "n.csv", content), "vasbyhem")
    assert third.already_received and count(db_engine, Notice) == 1


def test_inbox_takes_complete_files_only(db_engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, min_age_seconds=0)
    folder = settings.company("vasbyhem").inbox
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text(
        canonical(
            notice(
                **ANNA, event_type="termination_notice", event_date="2026-10-01", debt_amount="1"
            )
        )
    )
    (folder / "b.csv.part").write_text(
        canonical(
            notice(**BO, event_type="termination_notice", event_date="2026-10-01", debt_amount="1")
        )
    )
    (folder / "c.tmp").write_text("half")
    counts = ingest_inbox(db_engine, settings, date(2026, 11, 2))
    assert counts["files"] == 1 and counts["accepted"] == 1 and counts["rows"] == 1
    assert sorted(p.name for p in folder.iterdir()) == ["b.csv.part", "c.tmp"]
    archived = [p.name for p in (tmp_path / "archive" / "vasbyhem").iterdir()]
    assert any(name.startswith("2026-11-02_") and name.endswith("a.csv") for name in archived)


def test_one_failing_inbox_file_does_not_stop_the_others(
    db_engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, min_age_seconds=0)
    folder = settings.company("vasbyhem").inbox
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text(
        canonical(
            notice(
                **ANNA, event_type="termination_notice", event_date="2026-10-01", debt_amount="1"
            )
        )
    )
    (folder / "b.csv").write_text(
        canonical(
            notice(**BO, event_type="termination_notice", event_date="2026-10-02", debt_amount="1")
        )
    )
    (folder / "c.csv").write_text(
        canonical(
            notice(
                **BO,
                contract_ref="K9",
                event_type="termination_notice",
                event_date="2026-10-03",
                debt_amount="1",
            )
        )
    )
    real_store = stored_notices.store_file

    def concurrent_for_b(engine, settings, company, filename, *args, **kwargs):
        if filename == "b.csv":  # as when another ingest stored some of its notices
            raise KvarboendeError(f"{filename}: a concurrent ingest stored some notices")
        return real_store(engine, settings, company, filename, *args, **kwargs)

    monkeypatch.setattr(stored_notices, "store_file", concurrent_for_b)
    with caplog.at_level("WARNING", logger="flows.stages.ingest"):
        counts = ingest_inbox(db_engine, settings, date(2026, 11, 2))
    assert (counts["files"], counts["files_failed"], counts["accepted"]) == (2, 1, 2)
    assert [p.name for p in folder.iterdir()] == ["b.csv"]  # left for the next run
    failed = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert failed == [
        "ingest of b.csv for company vasbyhem failed (KvarboendeError); it stays in the inbox"
    ]
    monkeypatch.setattr(stored_notices, "store_file", real_store)
    again = ingest_inbox(db_engine, settings, date(2026, 11, 3))
    assert (again["files"], again["files_failed"], again["accepted"]) == (1, 0, 1)
    assert list(folder.iterdir()) == []


def test_inbox_skips_files_changed_just_now(db_engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, min_age_seconds=3600)
    folder = settings.company("vasbyhem").inbox
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text(
        canonical(
            notice(
                **ANNA, event_type="termination_notice", event_date="2026-10-01", debt_amount="1"
            )
        )
    )
    counts = ingest_inbox(db_engine, settings, date(2026, 11, 2))
    assert counts["files"] == 0 and counts["skipped_incomplete"] == 1
    assert (folder / "a.csv").exists()


def test_swedish_company_export_and_xlsx_through_the_stage(db_engine, tmp_path: Path) -> None:
    import io

    import xlsxwriter

    settings = make_settings(tmp_path)
    # Raw on purpose: a company's own Swedish column names (not canonical fields), sent as
    # Windows-1252 with CRLF; the same cells fill the XLSX below.
    header = (
        "Personnummer;Hyresgäst;Adress;Lgh nr;Postnr;Ort;Kontraktsnr;Händelse;Datum;"
        "Delgivningsdatum;Skuld;Månadshyra;Avhysningsdatum;E-post;Telefon"
    )
    row = (
        "800101-1231;Öberg, Åsa;Storgatan 1;1001;123 45;Exempelby;K-1;Uppsägning;02.11.2026;"
        "04.11.2026;12 345,50;8 000;;;070-1"
    )
    csv_path = tmp_path / "export.csv"
    csv_path.write_bytes(f"{header}\r\n{row}\r\n".encode("cp1252"))
    receipt = ingest_file(db_engine, settings, csv_path, "vasbyhem", received_on=date(2026, 11, 5))
    assert (receipt.accepted, receipt.rejected) == (1, 0)

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, header.split(";"))
    sheet.write_row(1, 0, row.replace("Uppsägning", "Ansökan BF").split(";"))
    sheet.write_number(1, 10, 14000)
    workbook.close()
    xlsx_path = tmp_path / "export.xlsx"
    xlsx_path.write_bytes(buffer.getvalue())
    receipt = ingest_file(db_engine, settings, xlsx_path, "vasbyhem", received_on=date(2026, 11, 6))
    assert (receipt.accepted, receipt.rejected) == (1, 0)
    with session_scope(db_engine) as session:
        episode = session.scalars(select(Episode)).one()
        assert episode.status == "payment_order"
        assert episode.tenant_name == "Åsa Öberg"
        assert float(episode.debt_amount) == 14000.0
        assert episode.deadline_date == date(2026, 11, 25)  # served 4 Nov + 21 days
        files = session.scalars(select(NoticeFile.encoding).order_by(NoticeFile.id)).all()
        assert files == ["cp1252", "xlsx"]


def test_stored_episode_deadline_comes_from_its_termination_notice(
    db_engine, tmp_path: Path
) -> None:
    """Across files: a payment order gives no deadline; a later-arriving termination notice
    does; the margin estimate counts from the first termination notice, read back from the
    stored notices."""
    settings = make_settings(tmp_path)

    def ingest(name: str, *rows: dict[str, str], on: date) -> None:
        path = write(tmp_path, name, canonical(*rows))
        receipt = ingest_file(db_engine, settings, path, "vasbyhem", received_on=on)
        assert receipt.accepted == len(rows)

    def episode() -> tuple[object, object]:
        with session_scope(db_engine) as session:
            stored = session.scalars(select(Episode)).one()
            return stored.service_date, stored.deadline_date

    ingest(
        "1.csv",
        notice(
            **ANNA,
            event_type="payment_order",
            event_date="2026-10-02",
            service_date="2026-10-05",
            debt_amount="9000",
        ),
        on=date(2026, 10, 6),
    )
    assert episode() == (None, None)
    ingest(
        "2.csv",
        notice(
            **ANNA, event_type="termination_notice", event_date="2026-09-11", debt_amount="9000"
        ),
        on=date(2026, 10, 7),
    )
    assert episode() == (None, date(2026, 10, 9))  # 11 Sep + 28 days
    ingest(
        "3.csv",
        notice(**ANNA, event_type="termination_notice", event_date="2026-09-25"),
        on=date(2026, 10, 8),
    )
    assert episode() == (None, date(2026, 10, 9))  # still from the first termination notice
    ingest(
        "4.csv",
        notice(
            **ANNA,
            event_type="termination_notice",
            event_date="2026-09-28",
            service_date="2026-10-03",
        ),
        on=date(2026, 10, 9),
    )
    # Served Saturday 3 Oct + 21 = Saturday 24 Oct -> Monday 26 Oct.
    assert episode() == (date(2026, 10, 3), date(2026, 10, 26))


def test_deadline_estimated_flag_is_stored_and_cleared_by_a_service_date(
    db_engine, tmp_path: Path
) -> None:
    """Bulk-inserted episodes carry the flag (set only for a termination notice without a
    service date); a later service date clears it on the stored episode; an episode the
    Python path opens after a terminal one gets it too."""
    settings = make_settings(tmp_path)
    cecilia = notice(
        personnummer="19700101-1232",
        tenant_name="Cecilia Ek",
        street_address="Backen 3",
        apartment="1003",
        postal_code="12345",
        town="Exempelby",
        contract_ref="K3",
    )

    def ingest(name: str, *rows: dict[str, str]) -> None:
        path = write(tmp_path, name, canonical(*rows))
        receipt = ingest_file(db_engine, settings, path, "vasbyhem", received_on=date(2026, 11, 2))
        assert receipt.accepted == len(rows)

    def flags() -> list[tuple[str, object, bool]]:
        with session_scope(db_engine) as session:
            rows = session.execute(
                select(
                    Episode.contract_ref, Episode.deadline_date, Episode.deadline_estimated
                ).order_by(Episode.contract_ref, Episode.first_notice_date)
            ).all()
            return [tuple(row) for row in rows]

    ingest(
        "1.csv",
        notice(
            **ANNA, event_type="termination_notice", event_date="2026-10-01", debt_amount="9000"
        ),
        notice(
            **BO,
            contract_ref="B2",
            event_type="termination_notice",
            event_date="2026-10-01",
            service_date="2026-10-05",
            debt_amount="9000",
        ),
        notice(**cecilia, event_type="payment_order", event_date="2026-10-01", debt_amount="9000"),
    )
    assert flags() == [
        ("B2", date(2026, 10, 26), False),  # served 5 Oct + 21 days: the law's date
        ("K1", date(2026, 10, 29), True),  # 1 Oct + 28 days: an estimate
        ("K3", None, False),  # no termination notice: no deadline, nothing estimated
    ]
    ingest(
        "2.csv",
        notice(
            **ANNA,
            event_type="termination_notice",
            event_date="2026-10-02",
            service_date="2026-10-06",
            debt_amount="9000",
        ),
        notice(**BO, contract_ref="B2", event_type="settled", event_date="2026-10-20"),
        notice(
            **BO,
            contract_ref="B2",
            event_type="termination_notice",
            event_date="2026-10-28",
            debt_amount="4000",
        ),
    )
    assert flags() == [
        ("B2", date(2026, 10, 26), False),
        ("B2", date(2026, 11, 25), True),  # new episode after the settlement: estimated
        ("K1", date(2026, 10, 27), False),  # the service date arrived: 6 Oct + 21 days
        ("K3", None, False),
    ]


def test_episode_closed_by_outcome_rules(db_engine, tmp_path: Path) -> None:
    """A terminal event never moves a closed episode; a notice dated before a closure for
    silence re-opens it (issue 15)."""
    settings = make_settings(tmp_path)
    ingest_file(
        db_engine,
        settings,
        write(
            tmp_path,
            "1.csv",
            canonical(
                notice(
                    **ANNA,
                    event_type="termination_notice",
                    event_date="2026-03-01",
                    debt_amount="1000",
                )
            ),
        ),
        "vasbyhem",
    )
    with session_scope(db_engine) as session:
        episode = session.scalars(select(Episode)).one()
        episode.status = "closed"
        episode.outcome = "unknown"
        episode.outcome_source = "rule:silence"
        episode.outcome_date = date(2026, 6, 1)
    ingest_file(
        db_engine,
        settings,
        write(
            tmp_path,
            "2.csv",
            canonical(
                notice(**ANNA, event_type="settled", event_date="2026-03-20"),
                notice(
                    **ANNA,
                    event_type="termination_notice",
                    event_date="2026-05-01",
                    debt_amount="2000",
                ),
            ),
        ),
        "vasbyhem",
    )
    with session_scope(db_engine) as session:
        # Issue 15: a closure for silence is provisional. The termination notice is dated
        # before the closure (1 June): the episode was still running, so it re-opens the
        # same episode (outcome withdrawn) instead of opening a recurrence.
        (only,) = session.scalars(select(Episode).order_by(Episode.id)).all()
        assert only.status == "termination_notice" and only.outcome is None
        assert not only.is_recurrence and only.previous_episode_id is None
        settled = session.scalars(select(Notice).where(Notice.event_type == "settled")).one()
        assert settled.episode_id == only.id


def test_withdrawn_application_closes_as_withdrawn_not_settled(db_engine, tmp_path: Path) -> None:
    """'Återkallad' is its own event: the episode ends withdrawn, never 'settled without
    intervention' (the headline measure)."""
    from flows.stages.outcomes import apply_outcome_rules

    settings = make_settings(tmp_path)
    path = write(
        tmp_path,
        "w.csv",
        canonical(
            notice(**ANNA, event_type="Ansökan BF", event_date="2026-10-01", debt_amount="9000"),
            notice(**ANNA, event_type="Återkallad", event_date="2026-10-20"),
        ),
    )
    receipt = ingest_file(db_engine, settings, path, "vasbyhem", received_on=date(2026, 10, 21))
    assert (receipt.accepted, receipt.rejected) == (2, 0)
    with session_scope(db_engine) as session:
        episode = session.scalars(select(Episode)).one()
        assert episode.status == "withdrawn"
        events = session.scalars(select(Notice.event_type).order_by(Notice.event_date)).all()
        assert events == ["payment_order", "withdrawn"]
    apply_outcome_rules(db_engine, settings, date(2026, 10, 22))
    with session_scope(db_engine) as session:
        episode = session.scalars(select(Episode)).one()
        assert (episode.status, episode.outcome) == ("closed", "withdrawn")
        assert (episode.outcome_certainty, episode.outcome_source) == (
            "confirmed",
            "notice:withdrawn",
        )
        assert episode.outcome_date == date(2026, 10, 20)


def test_receipt_files_add_up_and_are_formula_safe(db_engine, tmp_path: Path) -> None:
    import csv

    from openpyxl import load_workbook

    settings = make_settings(tmp_path)
    path = write(
        tmp_path,
        "=HYPERLINK(1).csv",
        canonical(
            notice(
                **ANNA, event_type="termination_notice", event_date="2026-10-01", debt_amount="1000"
            ),
            notice(
                **ANNA, event_type="termination_notice", event_date="2026-10-01", debt_amount="1000"
            ),
            notice(**ANNA, event_type="=cmd|calc", event_date="2026-10-01", debt_amount="1000"),
        ),
    )
    receipt = ingest_file(db_engine, settings, path, "vasbyhem", received_on=date(2026, 11, 2))
    assert (receipt.rows_read, receipt.accepted, receipt.rejected, receipt.duplicates) == (
        3,
        1,
        1,
        1,
    )
    folder = tmp_path / "archive" / "vasbyhem"
    receipt_csv = next(folder.glob("*.kvitto.csv"))
    lines = list(
        csv.reader(receipt_csv.read_text(encoding="utf-8-sig").splitlines(), delimiter=";")
    )
    summary = dict(line for line in lines if len(line) == 2)
    assert summary["Fil"] == "'=HYPERLINK(1).csv"
    assert summary["Rader i filen"] == "3" and summary["Mottagna"] == "1"
    assert summary["Avvisade"] == "1" and summary["Dubbletter"] == "1"
    rows = [line for line in lines if len(line) == 5][1:]
    assert [(r[0], r[2]) for r in rows] == [("3", "dubblett"), ("4", "avvisad")]
    assert rows[0][4] == "rad 2 i samma fil"  # a duplicate names the row it repeats
    assert rows[1][3] == "Okänd händelse '=cmd|calc'"
    # XLSX: the text as it is, in a string cell with Excel's hidden quote prefix, never a
    # formula and never a visible apostrophe; ordinary text gets no prefix.
    workbook = load_workbook(next(folder.glob("*.kvitto.xlsx")))
    cells = {c.value: c for row in workbook.active.iter_rows() for c in row if c.value}
    name = cells["=HYPERLINK(1).csv"]
    assert name.data_type == "s" and name.quotePrefix is True
    assert cells["Okänd händelse '=cmd|calc'"].quotePrefix is False
    assert not any(isinstance(v, str) and v.startswith("'") for v in cells)
    assert all(c.data_type != "f" for row in workbook.active.iter_rows() for c in row)


def test_two_ingests_of_the_same_file_at_once_store_it_once(db_engine, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    settings = make_settings(tmp_path)
    rows = [
        notice(**ANNA, event_type="termination_notice", event_date="2026-10-01", debt_amount="1000")
    ]
    rows += [
        notice(
            personnummer="19800101-1231",
            tenant_name="A",
            street_address=f"Gatan {i}",
            apartment=i,
            postal_code="12345",
            town="By",
            contract_ref=f"K{i}",
            event_type="termination_notice",
            event_date="2026-10-01",
            debt_amount="1",
        )
        for i in range(2, 400)
    ]
    content = canonical(*rows)
    paths = [write(tmp_path, f"copy{i}.csv", content) for i in range(2)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        receipts = list(
            pool.map(lambda p: ingest_file(db_engine, settings, p, "vasbyhem", move=False), paths)
        )
    assert sorted(r.already_received for r in receipts) == [False, True]
    assert all(r.accepted == 399 for r in receipts)
    assert count(db_engine, NoticeFile) == 1
    assert count(db_engine, Notice) == 399
    assert count(db_engine, Episode) == 399
