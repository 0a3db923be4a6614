"""Retention on SQLite and PostgreSQL: statistics survive, the deleted person leaves no row.

The data: the Väsby 2006 year (tests/stats_fixtures.py, several hundred episodes
without personal numbers) plus a few people written with the ORM, each with every
kind of row retention must handle: a tenant to delete (born on the 18th), one born
on the 15th (kept for research), an open episode, and a closed one not due yet.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import stats_fixtures as fx
from sqlalchemy import Engine, String, Text, delete, func, select

import flows.stages.retention as stage
from domain import statistics as st
from flows.cli import main
from flows.stages.retention import RetentionError, apply_retention
from flows.stages.statistics import build_report, monthly_summary, refresh_stat_facts_for
from models.config import PathsConfig, Settings
from models.db import session_scope
from models.tables import (
    Activity,
    Appointment,
    AppointmentSlot,
    AuditLog,
    Base,
    CaseSnapshot,
    Episode,
    EpisodeTransition,
    HouseholdMember,
    Letter,
    Match,
    Notice,
    NoticeFile,
    RegisterCase,
    StatFact,
    Task,
)

REPO = Path(__file__).resolve().parents[2]  # not from conftest: tests/web has one too

GONE = "198112189876"  # born on the 18th: deleted
GONE_NAME = "Märta Raderasson"
GONE_EMAIL = "marta.raderasson@example.se"
GONE_CHILD = "201503189999"
KEPT = "198112159876"  # born on the 15th: kept for research
OPEN = "197001029876"
RECENT = "197001039876"
RUN = date(2032, 6, 1)  # the fixture's rows written "now" (2026) are due from 2032-01-01


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def retention_settings(tmp_path: Path, **statistics: object) -> Settings:
    """Väsby settings with every folder under tmp_path."""
    paths = {name: tmp_path / getattr(PathsConfig(), name) for name in PathsConfig.model_fields}
    return Settings(
        municipality={
            "name": "Upplands Väsby kommun",
            "inhabitants": fx.INHABITANTS,
            "children": fx.CHILDREN,
        },  # fmt: skip
        statistics={"suppress_threshold": 4, **statistics},
        companies=[
            {"id": "vasbyhem", "name": "Väsbyhem AB", "landlord_type": "municipal"},
            {"id": "privat", "name": "Privat Hyresvärd AB", "landlord_type": "private"},
        ],
        paths=paths,
    )


def _file(session, settings: Settings, name: str, received: date) -> NoticeFile:
    path = settings.paths.archive_dir / "vasbyhem" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"personnummer;tenant_name\n{GONE};{GONE_NAME}\n", encoding="utf-8")
    row = NoticeFile(
        company_id="vasbyhem",
        filename=name,
        content_hash=name.ljust(64, "0"),
        status="ingested",
        received_at=at(received),
        archive_path=str(path),
        rows_read=3,
        rows_accepted=3,
    )
    session.add(row)
    session.flush()
    return row


def _person(
    session,
    settings: Settings,
    n: int,
    number: str,
    day: date,
    file: NoticeFile,
    slot: AppointmentSlot,
    *,
    status: str = "closed",
    snapshot: CaseSnapshot | None = None,
    case: RegisterCase | None = None,
) -> Episode:
    """An episode with every kind of row that refers to an episode, all dated ``day``."""
    episode = Episode(
        company_id="vasbyhem",
        tenancy_key=f"vasbyhem|P{n}",
        contract_ref=f"P{n}",
        personnummer=number,
        personnummer_valid=True,
        tenant_name=f"{GONE_NAME} {n}" if number == GONE else f"Person {n}",
        street_address="Rosenvägen 17",
        postal_code="194 30",
        town="Upplands Väsby",
        email=GONE_EMAIL if number == GONE else None,
        status=status,
        opened_on=day,
        first_notice_date=day,
        last_event_date=day,
        routing="caseworker" if case else "advisor",
        snapshot_id=snapshot.id if snapshot else None,
        case_id=case.id if case else None,
        matched_at=at(day),
        outcome="settled_without_intervention" if status == "closed" else None,
        outcome_certainty="confirmed" if status == "closed" else None,
        outcome_date=day if status == "closed" else None,
        created_at=at(day),
        updated_at=at(day),
    )
    session.add(episode)
    session.flush()
    notice = Notice(
        natural_key=f"p{n}",
        file_id=file.id,
        row_number=n,
        company_id="vasbyhem",
        episode_id=episode.id,
        event_type="payment_order",
        event_date=day,
        personnummer=number,
        tenant_name=episode.tenant_name,
        email=episode.email,
        received_at=at(day),
    )
    session.add(notice)
    session.flush()
    session.add(
        EpisodeTransition(
            episode_id=episode.id,
            to_status="payment_order",
            at=at(day),
            effective_date=day,
            reason="notice",
            notice_id=notice.id,
        )
    )
    if snapshot is not None:
        session.add(
            Match(
                episode_id=episode.id,
                snapshot_id=snapshot.id,
                case_id=case.id if case else None,
                case_ref=case.case_ref if case else None,
                tier="exact",
                score=1.0,
                reasons="personnummer",
                decision="accepted",
                decided_at=at(day),
                created_at=at(day),
            )
        )
    appointment = Appointment(
        episode_id=episode.id,
        slot_id=slot.id,
        status="attended",
        booked_at=at(day),
        updated_at=at(day),
    )
    session.add(appointment)
    slot.booked += 1
    session.flush()
    pdf = settings.paths.letters_dir / f"p{n}.pdf"
    pdf.parent.mkdir(parents=True, exist_ok=True)
    pdf.write_bytes(b"%PDF-1.4 personal letter")
    session.add(
        Letter(
            idempotency_key=f"appointment:p{n}",
            episode_id=episode.id,
            appointment_id=appointment.id,
            kind="appointment",
            channel="print",
            recipient=episode.email,
            pdf_path=str(pdf),
            status="sent",
            print_batch=f"{day.isoformat()}-01",
            created_on=day,
            created_at=at(day),
            sent_at=at(day),
        )
    )
    session.add(
        Activity(
            episode_id=episode.id, kind="call", text="Ringde", on_date=day, by="anna", at=at(day)
        )  # fmt: skip
    )
    session.add(
        Task(
            episode_id=episode.id,
            kind="phone_call",
            due_date=day,
            created_at=at(day),
            done_at=at(day),
            status="done",
        )  # fmt: skip
    )
    session.flush()
    return episode


def build(engine: Engine, settings: Settings) -> dict[str, int]:
    """The Väsby year plus the people of this test; returns ids the assertions need."""
    day = date(2006, 3, 14)
    with session_scope(engine) as session:
        fx.build_vasby(session)
        old = CaseSnapshot(taken_on=date(2006, 1, 2), source="old.csv", imported_at=at(day))
        latest = CaseSnapshot(taken_on=date(2032, 5, 2), source="new.csv", imported_at=at(RUN))
        session.add_all([old, latest])
        session.flush()
        case = RegisterCase(snapshot_id=old.id, case_ref="A1", personnummer=GONE, name=GONE_NAME)
        other = RegisterCase(snapshot_id=latest.id, case_ref="B1", personnummer=KEPT, name="K")
        session.add_all([case, other])
        session.flush()
        session.add(
            HouseholdMember(
                snapshot_id=old.id,
                case_id=case.id,
                personnummer=GONE_CHILD,
                name="Barn Raderasson",
                relation="child",
                is_child=True,
            )  # fmt: skip
        )
        slot = AppointmentSlot(
            advisor_id="radgivare1",
            location="Boenderådgivningen",
            starts_at=at(day, 13),
            ends_at=at(day, 14),
            capacity=3,
            booked=0,
        )
        session.add(slot)
        session.flush()
        shared = _file(session, settings, "2006-03-14_shared.csv", day)
        with_open = _file(session, settings, "2006-03-14_open.csv", day)
        recent_file = _file(session, settings, "2027-06-01_recent.csv", date(2027, 6, 1))
        rejected = _file(session, settings, "2006-03-14_rejected.csv", day)
        rejected.status = "rejected"
        moved = settings.paths.rejected_dir / "vasbyhem" / rejected.filename
        moved.parent.mkdir(parents=True)
        Path(rejected.archive_path).rename(moved)
        rejected.archive_path = str(moved)
        elsewhere = _file(session, settings, "2006-03-14_elsewhere.csv", day)
        outside = tmp_path_of(settings) / "elsewhere.csv"
        Path(elsewhere.archive_path).rename(outside)
        elsewhere.archive_path = str(outside)
        gone = _person(session, settings, 1, GONE, day, shared, slot, snapshot=old, case=case)
        kept = _person(session, settings, 2, KEPT, day, shared, slot, snapshot=latest, case=other)
        still_open = _person(session, settings, 3, OPEN, day, with_open, slot, status="decision")
        recent = _person(session, settings, 4, RECENT, date(2027, 6, 1), recent_file, slot)
        recent.previous_episode_id = gone.id  # the same flat, a new tenant: a recurrence link
        recent.is_recurrence = True
        for name in ("2006-03-14-01", "2031-12-30-01"):
            for suffix in (".pdf", ".csv"):
                path = settings.paths.print_dir / f"{name}{suffix}"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"batch")
        return {
            "gone": gone.id,
            "kept": kept.id,
            "open": still_open.id,
            "recent": recent.id,
            "old_snapshot": old.id,
            "latest_snapshot": latest.id,
            "slot": slot.id,
            "shared_file": shared.id,
            "open_file": with_open.id,
            "recent_file": recent_file.id,
            "rejected_file": rejected.id,
            "elsewhere_file": elsewhere.id,
        }


def tmp_path_of(settings: Settings) -> Path:
    """The test's folder (every configured path is under it)."""
    return settings.paths.data_dir.parent


def rows_containing(engine: Engine, needles: list[str]) -> list[str]:
    """``table.column`` of every text value in the database that contains a needle."""
    found = []
    with session_scope(engine) as session:
        for table in Base.metadata.sorted_tables:
            text_columns = [c for c in table.columns if isinstance(c.type, String | Text)]
            for column in text_columns:
                for needle in needles:
                    hits = session.scalar(
                        select(func.count()).select_from(table).where(column.contains(needle))
                    )
                    if hits:
                        found.append(f"{table.name}.{column.name}")
    return found


def table_counts(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as session:
        return {
            t.name: session.scalar(select(func.count()).select_from(t)) or 0
            for t in Base.metadata.sorted_tables
        }


@pytest.fixture
def world(db_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    settings = retention_settings(tmp_path)
    ids = build(db_engine, settings)
    monkeypatch.setattr(stage, "BATCH_SIZE", 97)  # several batches, one transaction each
    return db_engine, settings, ids


def test_reports_are_identical_and_the_person_is_gone(world, tmp_path: Path) -> None:
    engine, settings, ids = world
    months = st.month_range("2005-01", "2006-12")
    refresh_stat_facts_for(engine, settings, months, today=date(2007, 1, 2))
    before = build_report(engine, settings, year=2006)
    march_before = monthly_summary(engine, settings, "2006-03")
    assert before.figures["year"]["notices_total"] > 400
    # The facts were never stored (say the monthly flow was not run): retention stores them.
    with session_scope(engine) as session:
        session.execute(delete(StatFact))
    assert rows_containing(engine, [GONE])

    counts = apply_retention(engine, settings, RUN)

    after = build_report(engine, settings, year=2006)
    assert after.figures == before.figures
    assert after.suppressed == before.suppressed
    assert monthly_summary(engine, settings, "2006-03") == march_before
    # A later refresh leaves the months alone: they are frozen, their episodes gone.
    again = refresh_stat_facts_for(engine, settings, months, today=RUN)
    assert again["months_refreshed"] == 0
    assert build_report(engine, settings, year=2006).figures == before.figures

    # No row anywhere holds the deleted person's number, name, email or child.
    assert rows_containing(engine, [GONE, "811218-9876", GONE_NAME, GONE_EMAIL, GONE_CHILD]) == []
    assert counts["episodes_delete"] == counts["episodes"] > 400
    assert counts["stat_months_refreshed"] >= 12
    assert counts["episodes_research"] == 1
    assert counts["episodes_open"] == 1
    assert counts["episodes_not_due"] == 1
    assert counts["register_snapshots"] == 1 and counts["household_members"] == 1
    assert counts["letter_pdfs"] == 1

    with session_scope(engine) as session:
        remaining = set(session.scalars(select(Episode.id)))
        assert remaining == {ids["kept"], ids["open"], ids["recent"]}
        recent = session.get(Episode, ids["recent"])
        assert recent.previous_episode_id is None and recent.is_recurrence
        assert session.scalar(select(func.count()).select_from(Notice)) == 3
        for table in (EpisodeTransition, Appointment, Letter, Activity, Task):
            assert session.scalar(select(func.count()).select_from(table)) == 3, table
        assert session.scalar(select(func.count()).select_from(Match)) == 1  # the kept one
        # The slot held four places, one for each person: the deleted one is freed.
        assert session.get(AppointmentSlot, ids["slot"]).booked == 3
        assert {s.id for s in session.scalars(select(CaseSnapshot))} == {ids["latest_snapshot"]}
        assert session.scalar(select(func.count()).select_from(RegisterCase)) == 1
        files = {f.id: f for f in session.scalars(select(NoticeFile))}
        shared = files[ids["shared_file"]]
        assert shared.archive_deleted_on == RUN and shared.rows_accepted == 3
        assert files[ids["open_file"]].archive_deleted_on is None
        assert files[ids["recent_file"]].archive_deleted_on is None
        # A file rejected whole goes too; a path outside the configured folders is left.
        assert files[ids["rejected_file"]].archive_deleted_on == RUN
        assert files[ids["elsewhere_file"]].archive_deleted_on is None
        audits = session.scalars(select(AuditLog).where(AuditLog.actor == "retention")).all()
    assert not Path(shared.archive_path).exists()
    assert Path(files[ids["open_file"]].archive_path).exists()
    assert Path(files[ids["recent_file"]].archive_path).exists()
    assert not Path(files[ids["rejected_file"]].archive_path).exists()
    assert Path(files[ids["elsewhere_file"]].archive_path).exists()
    assert not (settings.paths.letters_dir / "p1.pdf").exists()
    assert (settings.paths.letters_dir / "p2.pdf").exists()
    assert not (settings.paths.print_dir / "2006-03-14-01.pdf").exists()
    assert (settings.paths.print_dir / "2031-12-30-01.pdf").exists()
    # One audit entry per batch and one for the run, with counts only.
    batches = [a for a in audits if a.action == "retention.delete"]
    assert len(batches) == -(-counts["episodes"] // 97)
    assert [a.action for a in audits].count("retention.run") == 1
    assert sum(json.loads(a.detail)["episodes"] for a in batches) == counts["episodes"]
    # The file kept for the open episode lost the deleted person's row.
    redactions = [json.loads(a.detail) for a in audits if a.action == "retention.redact"]
    assert redactions == [{"rows_removed": 1, "rows_kept": 0}]
    kept_file = Path(files[ids["open_file"]].archive_path).read_text(encoding="utf-8")
    assert GONE not in kept_file and GONE_NAME not in kept_file

    # A second run finds nothing more to delete.
    rerun = apply_retention(engine, settings, RUN)
    assert rerun["episodes_delete"] == 0 and rerun.get("episodes", 0) == 0


def test_dry_run_counts_and_changes_nothing(world) -> None:
    engine, settings, ids = world
    before = table_counts(engine)
    files = sorted(p for p in Path(settings.paths.data_dir).rglob("*") if p.is_file())
    dry = apply_retention(engine, settings, RUN, dry_run=True)
    assert table_counts(engine) == before
    assert sorted(p for p in Path(settings.paths.data_dir).rglob("*") if p.is_file()) == files
    assert dry["episodes"] == dry["episodes_delete"] > 400
    assert dry["notice_files_due"] == 2  # shared and rejected (open, 2027, elsewhere stay)
    real = apply_retention(engine, settings, RUN)
    for key in ("episodes", "notices", "letters", "appointments", "transitions", "matches",
                "activities", "tasks", "slot_places_freed", "letter_pdfs", "register_snapshots",
                "notice_files_due", "archive_files_redacted", "archive_rows_removed",
                "worklist_files"):  # fmt: skip
        assert dry[key] == real[key], key


def test_due_on_the_first_of_january_after_the_period(world) -> None:
    engine, settings, ids = world
    # The test's people were written in 2006: five years ran out in 2011.
    counts = apply_retention(engine, settings, date(2011, 12, 31))
    assert counts["episodes_delete"] == 0 and counts.get("episodes", 0) == 0
    assert rows_containing(engine, [GONE, GONE_NAME, GONE_EMAIL]) != []
    counts = apply_retention(engine, settings, date(2012, 1, 1))
    assert rows_containing(engine, [GONE, GONE_NAME, GONE_EMAIL]) == []
    # Väsby's notices were received "now" (2026): not due until 2032.
    assert counts["episodes_not_due"] > 400
    with session_scope(engine) as session:
        assert session.get(Episode, ids["gone"]) is None
        assert session.get(Episode, ids["kept"]) is not None


def test_a_freeze_longer_than_the_retention_period_is_refused(db_engine, tmp_path) -> None:
    settings = retention_settings(tmp_path, freeze_after_months=61)
    with pytest.raises(RetentionError, match="freeze_after_months"):
        apply_retention(db_engine, settings, RUN)


def test_cli_prints_counts(
    db_engine: Engine, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    config.write_text(text.replace('url = "sqlite:///data/kvarboende.db"', f'url = "{db_url}"'))
    with session_scope(db_engine) as session:
        fx.build_vasby(session)
    assert main(["--config", str(config), "retention", "--date", "2032-01-10", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Retention dry run" in out and "episodes to delete" in out
    assert table_counts(db_engine)["episode"] > 400
    assert main(["--config", str(config), "retention", "--date", "2032-01-10"]) == 0
    out = capsys.readouterr().out
    assert "episodes deleted" in out
    assert table_counts(db_engine)["episode"] == 0
    assert main(["--config", str(config), "retention", "--date", "2032-1-1x"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_frozen_month_is_never_recomputed_whatever_the_dates(world) -> None:
    """Retention dated ahead, then a report against an earlier clock: the figures stay.

    The report refreshes the months it shows against the real clock; seen from just
    after them (2007-01-02) they are recent, not frozen by age, and before the fix
    they were recomputed from the data retention had left (fewer episodes).
    """
    engine, settings, _ids = world
    months = st.month_range("2005-01", "2006-12")
    clock = date(2007, 1, 2)
    refresh_stat_facts_for(engine, settings, months, today=clock)
    before = build_report(engine, settings, year=2006)
    march_before = monthly_summary(engine, settings, "2006-03")

    counts = apply_retention(engine, settings, RUN)
    assert counts["episodes"] > 400

    # The report's refresh, against a clock long before the retention run's date.
    again = refresh_stat_facts_for(engine, settings, months, today=clock)
    assert again["months_refreshed"] == 0
    after = build_report(engine, settings, year=2006)
    assert after.figures == before.figures
    assert monthly_summary(engine, settings, "2006-03") == march_before
    # A forced recomputation is the operator's explicit choice; the marker survives it.
    refresh_stat_facts_for(engine, settings, ["2006-03"], force=True, today=clock)
    with session_scope(engine) as session:
        marked = session.scalars(
            select(StatFact.month).where(StatFact.metric == st.FROZEN_METRIC)
        ).all()
    assert "2006-03" in marked


def _mixed_rows() -> list[list[str]]:
    """A company's rows: the open episode's tenant, the deleted one, the researched one,
    and someone the database never kept (a row rejected at ingest)."""
    return [
        ["Personnummer", "Hyresgäst", "Händelse", "Datum", "Skuld"],
        ["19700102-9876", "Öppen Person", "Utslag", "2006-03-14", "12 345,50"],
        [GONE, GONE_NAME, "Utslag", "2006-03-14", "9 000"],
        ["811215-9876", "Kvar Forskning", "Utslag", "2006-03-14", "1 000"],
        ["196506061234", "Aldrig Lagrad", "Utslag", "2006-03-14", "500"],
    ]


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_kept_archive_file_loses_the_deleted_tenants_rows(world, kind: str) -> None:
    engine, settings, ids = world
    folder = settings.paths.archive_dir / "vasbyhem"
    if kind == "csv":  # Windows-1252 with a title row above the header, as companies send
        path = folder / "2006-03-14_open.csv"
        # Kept raw, not built with notice_rows: a title line above the header and the
        # company's own column names, which the canonical-column builder cannot write.
        lines = ["Uppsägningar mars 2006;;;;"] + [";".join(r) for r in _mixed_rows()]
        path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    else:
        import xlsxwriter

        path = folder / "2006-03-14_open.xlsx"
        book = xlsxwriter.Workbook(str(path))
        sheet = book.add_worksheet("Aviseringar")
        for r, row in enumerate(_mixed_rows()):
            sheet.write_row(r, 0, row)
        book.close()
        Path(folder / "2006-03-14_open.csv").unlink()
    with session_scope(engine) as session:
        session.get(NoticeFile, ids["open_file"]).archive_path = str(path)

    dry = apply_retention(engine, settings, RUN, dry_run=True)
    assert dry["archive_files_redacted"] == 1 and dry["archive_rows_removed"] == 2
    counts = apply_retention(engine, settings, RUN)

    assert counts["archive_files_redacted"] == 1 and counts["archive_rows_removed"] == 2
    with session_scope(engine) as session:
        row = session.get(NoticeFile, ids["open_file"])
        stored_hash, archived = row.content_hash, Path(row.archive_path)
        entries = session.scalars(
            select(AuditLog).where(AuditLog.action == "retention.redact")
        ).all()
    assert (
        archived.suffix == ".csv" and archived.exists() and not path.with_suffix(".xlsx").exists()
    )
    assert stored_hash == "2006-03-14_open.csv".ljust(64, "0")  # the original's, kept
    text = archived.read_text(encoding="utf-8")
    assert text.splitlines() == [
        "Personnummer;Hyresgäst;Händelse;Datum;Skuld",
        "19700102-9876;Öppen Person;Utslag;2006-03-14;12 345,50",
        "811215-9876;Kvar Forskning;Utslag;2006-03-14;1 000",
    ]
    assert [(e.entity, e.entity_id) for e in entries] == [("notice_file", str(ids["open_file"]))]
    assert json.loads(entries[0].detail) == {"rows_removed": 2, "rows_kept": 2}
    assert GONE not in entries[0].detail
    assert oct(archived.stat().st_mode & 0o777) == "0o600"
    # Run again: nothing more to remove, the file is left alone.
    again = apply_retention(engine, settings, RUN)
    assert again.get("archive_files_redacted", 0) == 0
    assert archived.read_text(encoding="utf-8") == text


def test_old_worklists_go_after_the_configured_days(world) -> None:
    engine, settings, _ids = world
    lists = settings.paths.worklist_dir
    for day in ("2032-01-01", "2032-03-03", "2032-03-04", "2032-05-31"):
        (lists / day).mkdir(parents=True)
        (lists / day / "radgivare.csv").write_text(f"{GONE};{GONE_NAME}\n", encoding="utf-8")
        (lists / day / "radgivare.pdf").write_bytes(b"%PDF")
    (lists / "anteckningar").mkdir()  # not a day's folder: not ours to judge
    # 2032-06-01 minus 90 days is 2032-03-03: that day's lists are exactly 90 days old.
    dry = apply_retention(engine, settings, RUN, dry_run=True)
    assert dry["worklist_folders"] == 1 and dry["worklist_files"] == 2
    assert (lists / "2032-01-01").exists()

    counts = apply_retention(engine, settings, RUN)

    assert counts["worklist_folders"] == 1 and counts["worklist_files"] == 2
    left = sorted(p.name for p in lists.iterdir())
    assert left == ["2032-03-03", "2032-03-04", "2032-05-31", "anteckningar"]
    settings.retention.worklist_days = 30
    assert apply_retention(engine, settings, RUN)["worklist_folders"] == 2
    assert sorted(p.name for p in lists.iterdir()) == ["2032-05-31", "anteckningar"]


def test_audit_log_entries_older_than_the_period_are_deleted(db_engine, tmp_path) -> None:
    """``[retention] audit_log_years`` (default 2): entries from before the same day two
    years earlier (Stockholm time) go, newer ones stay; the dry run only counts; the
    deletion is itself an entry."""
    from models.tables import AuditLog

    settings = retention_settings(tmp_path)
    assert settings.retention.audit_log_years == 2
    run = date(2027, 1, 15)
    times = {
        "old": datetime(2024, 6, 1, 10, tzinfo=UTC),
        "edge_old": datetime(2025, 1, 14, 22, 59, tzinfo=UTC),  # 23:59 on the 14th in Sweden
        "edge_new": datetime(2025, 1, 14, 23, 0, tzinfo=UTC),  # 00:00 on the 15th in Sweden
        "new": datetime(2026, 12, 1, 10, tzinfo=UTC),
    }
    with session_scope(db_engine) as session:
        for name, moment in times.items():
            session.add(AuditLog(at=moment, actor=name, action="read_episode", entity="episode"))
    dry = apply_retention(db_engine, settings, run, dry_run=True)
    assert dry["audit_entries"] == 2
    real = apply_retention(db_engine, settings, run)
    assert real["audit_entries"] == 2
    with session_scope(db_engine) as session:
        left = set(session.scalars(select(AuditLog.actor)))
        detail = session.scalar(
            select(AuditLog.detail).where(AuditLog.action == "delete_old_audit_entries")
        )
    assert {"edge_new", "new"} <= left and not {"old", "edge_old"} & left
    assert detail == "deleted=2 before=2025-01-15"
    assert apply_retention(db_engine, settings, run)["audit_entries"] == 0
