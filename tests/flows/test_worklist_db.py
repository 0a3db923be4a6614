"""Writing the daily worklists: files, XLSX read back, the advisor's email, reruns, the CLI."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

import openpyxl
import pytest
from outcome_factories import (
    NAME,
    PNR,
    STREET,
    appointment,
    caseworker,
    company,
    episode,
    settings_for,
    utc,
)
from pypdf import PdfReader
from sqlalchemy import func, select

from flows.cli import main
from flows.stages.outcomes import create_follow_up_tasks
from flows.stages.worklist import build_worklist, write_worklists
from models.db import session_scope
from models.tables import Activity, AuditLog, Episode, Letter, Match, WorklistRun

RUN = date(2026, 11, 23)  # Monday
EVIL = '=HYPERLINK("http://x","klicka")'


def _seed(engine) -> dict[str, int]:  # noqa: ANN001
    """One episode for every section, a caseworker's episode, and a formula-like name."""
    file_id = company(engine)
    del file_id
    with session_scope(engine) as s:
        caseworker(s)
        evict = episode(s, 1, status="eviction_scheduled", has_children=True, children_count=1,
                        eviction_at=utc(2026, 11, 30), opened_on=date(2026, 11, 1))  # fmt: skip
        # Booked before the eviction (Thursday 26th is the last day with the margin).
        appointment(s, evict.id, utc(2026, 11, 25, 9))
        meeting = episode(s, 2, tenant_name=EVIL, opened_on=date(2026, 11, 1))
        appointment(s, meeting.id, utc(2026, 11, 23, 10))
        new = episode(s, 3, opened_on=RUN)
        routed = episode(s, 4, opened_on=RUN, routing="caseworker", caseworker_id="hl1",
                         tenant_name="Kalle Känd")  # fmt: skip
        review = episode(s, 5, opened_on=date(2026, 11, 1), routing="review",
                         deadline_date=date(2027, 1, 15))  # not yet urgent  # fmt: skip
        s.add(Match(episode_id=review.id, snapshot_id=_snapshot(s), tier="possible", score=0.6,
                    decision="pending", reasons="adress"))  # fmt: skip
        failed = episode(s, 6, opened_on=date(2026, 11, 1))
        s.add(Letter(idempotency_key="appointment:6:1:v1", episode_id=failed.id,
                     kind="appointment", channel="email", status="failed",
                     created_on=RUN))  # fmt: skip
        quiet = episode(s, 7, opened_on=date(2026, 9, 1), follow_up_date=date(2026, 11, 1),
                        last_event_date=date(2026, 10, 2))  # fmt: skip
        s.flush()
        return {"evict": evict.id, "meeting": meeting.id, "new": new.id, "routed": routed.id,
                "review": review.id, "failed": failed.id, "quiet": quiet.id}  # fmt: skip


def _snapshot(s) -> int:  # noqa: ANN001
    from models.tables import CaseSnapshot

    snap = CaseSnapshot(taken_on=RUN, source="test")
    s.add(snap)
    s.flush()
    return snap.id


def test_worklists_are_written_once_per_owner_and_date(db_engine, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    ids = _seed(db_engine)

    counts = write_worklists(db_engine, settings, RUN)
    assert counts == {
        "urgent_reviews": 0,
        "evictions": 1,
        "appointments": 1,
        "no_show_tasks": 0,
        "new_episodes": 2,  # the first list: episodes opened within the last week
        "matches_to_confirm": 1,
        "delivery_problems": 1,
        "past_follow_up": 1,
        "advisor_lists": 1,
        "caseworker_lists": 1,
        "caseworker_rows": 1,
        "emails_queued": 1,
    }
    folder = settings.paths.worklist_dir / RUN.isoformat()
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "handlaggare-hl1.csv", "handlaggare-hl1.pdf", "handlaggare-hl1.xlsx",
        "radgivare-radgivare1.csv", "radgivare-radgivare1.pdf", "radgivare-radgivare1.xlsx",
    ]  # fmt: skip
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    again = write_worklists(db_engine, settings, RUN)
    assert again == counts | {"emails_queued": 0}
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # byte for byte
    with session_scope(db_engine) as s:
        runs = s.execute(select(WorklistRun.owner, WorklistRun.for_date)).all()
        assert sorted(tuple(r) for r in runs) == [
            ("advisor:radgivare1", RUN),
            ("caseworker:hl1", RUN),
        ]
        assert s.scalar(select(func.count()).select_from(Letter).where(
            Letter.kind == "advisor_worklist")) == 1  # fmt: skip
        written = s.execute(
            select(AuditLog.actor, AuditLog.entity_id).where(AuditLog.action == "write_worklist")
        ).all()
        assert sorted(tuple(w) for w in written) == [
            ("kvarboende", "advisor:radgivare1"),
            ("kvarboende", "advisor:radgivare1"),
            ("kvarboende", "caseworker:hl1"),
            ("kvarboende", "caseworker:hl1"),
        ]
    assert ids  # the seed made every section


def test_new_episodes_means_since_the_last_worklist(db_engine, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    company(db_engine)
    with session_scope(db_engine) as s:
        episode(s, 1, opened_on=date(2026, 11, 20))
    assert write_worklists(db_engine, settings, date(2026, 11, 20))["new_episodes"] == 1
    with session_scope(db_engine) as s:
        second = episode(s, 2, opened_on=RUN).id
    assert write_worklists(db_engine, settings, RUN)["new_episodes"] == 1
    assert write_worklists(db_engine, settings, RUN)["new_episodes"] == 1  # a rerun: the same
    rows = build_worklist(db_engine, settings, RUN).rows
    assert rows.filter(rows["section"] == "new_episodes")["episode_id"].to_list() == [second]


def test_xlsx_has_one_formula_safe_sheet_per_section(db_engine, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    ids = _seed(db_engine)
    write_worklists(db_engine, settings, RUN)
    path = settings.paths.worklist_dir / RUN.isoformat() / "radgivare-radgivare1.xlsx"
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == [
        "0 Brådskande träffar", "1 Avhysningar", "2 Möten", "3 Uteblivna", "4 Nya ärenden",
        "5 Träffar", "6 Brev och sena möten", "7 Utan besked",
    ]  # fmt: skip
    evictions = book["1 Avhysningar"]
    assert [c.value for c in evictions[3]] == [
        "Ärende", "Namn", "Adress", "Betala senast", "Skuld", "Barn", "Att göra",
    ]  # fmt: skip
    row = [c.value for c in evictions[4]]
    assert row[0] == ids["evict"]
    assert row[1] == f"{NAME} 1"
    assert row[2] == f"{STREET}, lgh 1101, 123 45 Exempelby"
    assert row[3].date() == date(2026, 12, 1)
    assert row[4] == pytest.approx(12345.5)
    assert row[5] == "ja"
    assert row[6].startswith("Avhysning måndag 30 november kl. 09.00")
    assert book["3 Uteblivna"]["A4"].value == "Inget att göra i dag."
    meeting = book["2 Möten"]
    # The text as written, stored as a string (never a formula), with Excel's hidden
    # quote prefix so that editing the cell does not turn it into one either.
    assert meeting["B4"].value == EVIL
    assert meeting["B4"].data_type == "s"
    assert meeting["B4"].quotePrefix is True
    assert meeting["C4"].quotePrefix is False  # ordinary text: no prefix
    for sheet in book.worksheets:
        for line in sheet.iter_rows():
            for cell in line:
                assert cell.data_type != "f"


def test_csv_and_pdf_show_the_list(db_engine, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    _seed(db_engine)
    write_worklists(db_engine, settings, RUN)
    folder = settings.paths.worklist_dir / RUN.isoformat()
    text = (folder / "radgivare-radgivare1.csv").read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    assert lines[0] == "Avsnitt;Ärende;Namn;Adress;Betala senast;Skuld;Barn;Att göra"
    assert lines[1].startswith("Avhysningar inom kort;")
    assert "12 345,50 kr" in lines[1]
    cells = [cell for row in csv.reader(io.StringIO(text), delimiter=";") for cell in row]
    assert "'" + EVIL in cells and EVIL not in cells  # the formula is neutralised
    pdf = PdfReader(folder / "radgivare-radgivare1.pdf")
    content = " ".join(page.extract_text() for page in pdf.pages)
    assert "Arbetslista 23 november 2026" in content
    assert "Avhysningar inom kort (1)" in content
    assert f"{NAME} 1" in content
    caseworker_pdf = PdfReader(folder / "handlaggare-hl1.pdf")
    caseworker_text = " ".join(page.extract_text() for page in caseworker_pdf.pages)
    assert "Kalle Känd" in caseworker_text and NAME not in caseworker_text


def test_email_and_counts_hold_no_personal_data(db_engine, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    _seed(db_engine)
    counts = write_worklists(db_engine, settings, RUN)
    with session_scope(db_engine) as s:
        email = s.scalars(select(Letter).where(Letter.kind == "advisor_worklist")).one()
        names = [n for n in s.scalars(select(Episode.tenant_name)) if n]
        runs = s.scalars(select(WorklistRun.counts)).all()
    assert email.recipient == "anna@exempelby.se"
    assert email.channel == "email" and email.status == "pending"
    assert "Avhysningar inom kort: 1" in email.body
    # A link to the portal, never a server path or a command.
    assert f"\n{settings.web.link('/')}\n" in email.body
    assert "radgivare-radgivare1" not in email.body and "kvarboende " not in email.body
    forbidden = [PNR, PNR[2:], STREET, "Exempelby kommun", *names]
    for text in (email.subject, email.body, json.dumps(counts), json.dumps(runs)):
        for value in forbidden:
            assert value not in text


def test_caseworker_sees_only_their_routed_episodes(db_engine, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    ids = _seed(db_engine)
    rows = build_worklist(db_engine, settings, RUN, caseworker_id="hl1").rows
    assert set(rows["episode_id"].to_list()) == {ids["routed"]}
    advisor_rows = build_worklist(db_engine, settings, RUN).rows
    new = advisor_rows.filter(advisor_rows["section"] == "new_episodes")
    routed = new.filter(new["episode_id"] == ids["routed"])["action"][0]
    assert routed == "Känt ärende: överlämnat till handläggare Karin Handläggare"


def _config(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[database]
url = "{db_url}"
[paths]
worklist_dir = "{tmp_path / "cli-lists"}"
[[advisors]]
id = "radgivare1"
name = "Anna Lindqvist"
email = "anna@exempelby.se"
location = "Medborgarhuset"
""",
        encoding="utf-8",
    )
    return path


def test_cli_worklist_record_and_episodes(
    db_engine, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = _seed(db_engine)
    config = str(_config(tmp_path, db_url))
    assert main(["--config", config, "worklist", "--date", "2026-11-23", "--by", "anna"]) == 0
    out = capsys.readouterr().out
    assert "Avhysningar inom kort (1)" in out and "Arbetslista 2026-11-23" in out

    for fmt in ("csv", "xlsx", "pdf"):
        assert main(["--config", config, "worklist", "--date", "2026-11-23", "--format", fmt]) == 0
        assert (
            (tmp_path / "cli-lists" / "2026-11-23" / f"radgivare-radgivare1.{fmt}").stat().st_size
        )
    capsys.readouterr()
    assert (
        main(["--config", config, "worklist", "--date", "2026-11-23", "--caseworker", "hl1"]) == 0
    )
    caseworker_view = capsys.readouterr().out
    assert "Kalle Känd" in caseworker_view and NAME not in caseworker_view

    meeting = str(ids["meeting"])
    assert main(["--config", config, "record", "attended", meeting, "--by", "anna",
                 "--date", "2026-11-23", "--text", "Betalplan upprättad"]) == 0  # fmt: skip
    capsys.readouterr()
    # A second record of the same meeting, either outcome, is refused in one line.
    for again in ("no-show", "attended"):
        assert main(["--config", config, "record", again, meeting, "--by", "karin",
                     "--date", "2026-11-23"]) == 2  # fmt: skip
        err = capsys.readouterr().err.strip()
        assert "already recorded as attended; a meeting is recorded once" in err
        assert "\n" not in err and "Traceback" not in err
    assert main(["--config", config, "episodes", "close", str(ids["quiet"]), "--outcome",
                 "moved_out", "--by", "anna"]) == 0  # fmt: skip
    capsys.readouterr()
    # The tenant who came settled: "without intervention" is refused in one line, "settled"
    # stores what the record says.
    assert main(["--config", config, "episodes", "close", meeting, "--outcome",
                 "settled_without_intervention", "--date", "2026-11-24"]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert "an intervention is recorded on or before 2026-11-24 (attended)" in err
    assert "\n" not in err
    assert main(["--config", config, "episodes", "close", meeting, "--outcome", "settled",
                 "--date", "2026-11-24"]) == 0  # fmt: skip
    assert "outcome settled_with_support" in capsys.readouterr().out
    assert main(["--config", config, "episodes", "list", "--status", "closed",
                 "--format", "json"]) == 0  # fmt: skip
    listed = json.loads(capsys.readouterr().out)
    assert [(e["id"], e["outcome"], e["outcome_certainty"]) for e in listed] == [
        (ids["meeting"], "settled_with_support", "confirmed"),
        (ids["quiet"], "moved_out", "confirmed"),
    ]
    assert main(["--config", config, "episodes", "list", "--format", "csv"]) == 0
    csv_out = capsys.readouterr().out
    assert csv_out.splitlines()[0].startswith("id;status;routing")
    assert NAME not in csv_out and PNR not in csv_out
    with session_scope(db_engine) as s:
        activity = s.scalars(select(Activity)).one()
        assert (activity.kind, activity.by, activity.text) == (
            "attended", "anna", "Betalplan upprättad"
        )  # fmt: skip
        actions = set(s.scalars(select(AuditLog.action)))
        assert {
            "read_worklist_table",
            "record_attended",
            "close_episode",
            "list_episodes",
        } <= actions


def test_cli_errors_are_one_line(
    db_engine, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed(db_engine)
    config = str(_config(tmp_path, db_url))
    for argv, message in (
        (["record", "attended", "999999"], "episode 999999 not found"),
        (["worklist", "--date", "23/11/2026"], "is not a date"),
        (["worklist", "--caseworker", "nobody"], "unknown caseworker"),
        (["worklist", "--advisor", "nobody"], "unknown advisor"),
        (["episodes", "list", "--status", "open"], "unknown status"),
    ):
        assert main(["--config", config, *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err and "Traceback" not in err


def test_each_advisor_gets_the_episodes_booked_with_them(db_engine, tmp_path: Path) -> None:
    from models.config import AdvisorConfig

    settings = settings_for(tmp_path)
    settings.advisors.append(
        AdvisorConfig(id="radgivare2", name="Bo Berg", email="bo@exempelby.se", location="Hus 2")
    )
    company(db_engine)
    with session_scope(db_engine) as s:
        first = episode(s, 1, opened_on=RUN)
        second = episode(s, 2, opened_on=RUN)
        appointment(s, second.id, utc(2026, 11, 23, 11), advisor_id="radgivare2")
        ids = (first.id, second.id)
    counts = write_worklists(db_engine, settings, RUN)
    assert (counts["advisor_lists"], counts["emails_queued"], counts["new_episodes"]) == (2, 2, 2)
    one = build_worklist(db_engine, settings, RUN).rows
    two = build_worklist(db_engine, settings, RUN, advisor_id="radgivare2").rows
    assert set(one["episode_id"].to_list()) == {ids[0]}
    assert set(two["episode_id"].to_list()) == {ids[1]}
    assert two.filter(two["section"] == "appointments").height == 1


def test_the_advisor_email_arrives_without_personal_data(
    db_engine, tmp_path: Path, smtp_server
) -> None:
    from flows.stages.delivery import deliver_outbox
    from models.config import SmtpConfig

    settings = settings_for(tmp_path)
    settings.smtp = SmtpConfig(port=smtp_server.port, start_local=False)
    _seed(db_engine)
    write_worklists(db_engine, settings, RUN)
    deliver_outbox(db_engine, settings, RUN)
    write_worklists(db_engine, settings, RUN)  # a rerun sends nothing new
    deliver_outbox(db_engine, settings, RUN)
    worklist_mails = [m for m in smtp_server.messages if "Arbetslista" in m["Subject"]]
    assert len(worklist_mails) == 1
    message = worklist_mails[0]
    assert message["To"] == "anna@exempelby.se"
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "Avhysningar inom kort: 1" in body and settings.web.link("/") in body
    raw = message.as_string()
    with session_scope(db_engine) as s:
        names = [n for n in s.scalars(select(Episode.tenant_name)) if n]
    for value in [PNR, PNR[2:], STREET, *names]:
        assert value not in raw
    assert not any(part.get_filename() for part in message.walk())  # no attachment


def test_a_long_section_in_the_pdf_points_to_the_complete_files(tmp_path: Path) -> None:
    import polars as pl

    from domain.worklist import ROW_SCHEMA
    from letters.worklist import PDF_MAX_ROWS_PER_SECTION, Worklist, pdf_bytes

    n = PDF_MAX_ROWS_PER_SECTION + 5
    rows = pl.DataFrame(
        {
            "section": ["past_follow_up"] * n,
            "episode_id": list(range(1, n + 1)),
            "tenant_name": [f"Person {i}" for i in range(n)],
            "address": ["Gatan 1"] * n,
            "deadline_date": [RUN] * n,
            "debt_amount": [1000.0] * n,
            "has_children": [False] * n,
            "action": ["Fråga hyresvärden"] * n,
            "deadline_estimated": [False] * n,
        },
        schema=ROW_SCHEMA,
    )
    worklist = Worklist("advisor", "radgivare1", "Anna", RUN, rows)
    pdf = PdfReader(io.BytesIO(pdf_bytes(worklist, settings_for(tmp_path))))
    text = " ".join(page.extract_text() for page in pdf.pages)
    assert f"Ärenden utan besked ({n})" in text
    assert "och 5 rader till" in text and "radgivare-radgivare1.xlsx" in text
    assert f"Person {PDF_MAX_ROWS_PER_SECTION - 1}" in text
    assert f"Person {n - 1}" not in text  # the least urgent rows are only in the files


def test_cli_episodes_show_tells_the_whole_story(
    db_engine,
    db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    settings = settings_for(tmp_path)
    company(db_engine)
    with session_scope(db_engine) as s:
        row = episode(s, 1, has_children=True)
        appointment(s, row.id, utc(2026, 11, 16), status="no_show")
        episode_id = row.id
    create_follow_up_tasks(db_engine, settings, RUN)
    config = str(_config(tmp_path, db_url))
    assert main(["--config", config, "record", "contacted", str(episode_id), "--by", "anna",
                 "--date", "2026-11-17", "--text", "Betalar på fredag"]) == 0  # fmt: skip
    assert main(["--config", config, "episodes", "close", str(episode_id), "--outcome",
                 "settled_with_support", "--by", "anna", "--date", "2026-11-20"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["--config", config, "episodes", "show", str(episode_id), "--by", "karin"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"Ärende {episode_id}: {NAME} 1, {STREET}, lgh 1101, 123 45 Exempelby" in out
    assert "Utfall: reglerad med stöd (bekräftat), 2026-11-20, källa advisor" in out
    assert "2026-11-16 09:00" in out and "uteblev" in out
    assert "kontakt per telefon" in out and "Betalar på fredag" in out
    assert "│ Ring hushållet │ 1 │ 2026-11-17 │ klar" in out
    with session_scope(db_engine) as s:
        reads = s.execute(
            select(AuditLog.actor, AuditLog.entity_id).where(AuditLog.action == "read_episode")
        ).all()
    assert [tuple(r) for r in reads] == [("karin", str(episode_id))]
    assert main(["--config", config, "episodes", "show", "999999"]) == 2


def test_no_list_on_a_holiday_and_the_next_one_catches_up(db_engine, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    company(db_engine)
    with session_scope(db_engine) as s:
        episode(s, 1, opened_on=date(2026, 12, 23))
    assert write_worklists(db_engine, settings, date(2026, 12, 23))["new_episodes"] == 1
    with session_scope(db_engine) as s:
        episode(s, 2, opened_on=date(2026, 12, 24))  # Christmas Eve: the job runs, nobody reads
        episode(s, 3, opened_on=date(2026, 12, 25))
    for holiday in (date(2026, 12, 24), date(2026, 12, 25)):
        counts = write_worklists(db_engine, settings, holiday)
        assert counts["not_a_working_day"] == 1 and counts["advisor_lists"] == 0
        assert not (settings.paths.worklist_dir / holiday.isoformat()).exists()
    assert write_worklists(db_engine, settings, date(2026, 12, 28))["new_episodes"] == 2
    with session_scope(db_engine) as s:
        dates = sorted(s.scalars(select(WorklistRun.for_date)))
    assert dates == [date(2026, 12, 23), date(2026, 12, 28)]


def test_only_the_owner_can_read_the_files(db_engine, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    _seed(db_engine)
    write_worklists(db_engine, settings, RUN)
    folder = settings.paths.worklist_dir / RUN.isoformat()
    assert folder.stat().st_mode & 0o777 == 0o700
    files = list(folder.iterdir())
    assert len(files) == 6
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in files)
    assert not [f for f in files if f.name.endswith(".tmp")]


def test_back_from_leave_the_list_shows_everything_new_since_the_last_one(
    db_engine, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path)
    company(db_engine)
    assert write_worklists(db_engine, settings, date(2026, 10, 30))["new_episodes"] == 0
    with session_scope(db_engine) as s:
        episode(s, 1, opened_on=date(2026, 11, 2))
        episode(s, 2, opened_on=date(2026, 11, 3), status="closed", outcome="moved_out")
        episode(s, 3, opened_on=date(2026, 11, 20))
    assert write_worklists(db_engine, settings, RUN)["new_episodes"] == 3


def test_meetings_of_closed_episodes_stay_on_the_list_and_keep_their_slot(
    db_engine, tmp_path: Path
) -> None:
    from flows.stages.outcomes import apply_outcome_rules
    from models.tables import Appointment, AppointmentSlot

    settings = settings_for(tmp_path)
    company(db_engine)
    with session_scope(db_engine) as s:
        settled = episode(s, 1, status="closed", outcome="settled_without_intervention",
                          outcome_source="notice:settled", opened_on=date(2026, 9, 1))  # fmt: skip
        reported = episode(s, 2, status="settled", opened_on=date(2026, 9, 1))
        past = episode(s, 3, status="closed", outcome="moved_out", opened_on=date(2026, 9, 1))
        appointment(s, settled.id, utc(2026, 11, 23, 10))
        appointment(s, reported.id, utc(2026, 11, 24, 9))
        appointment(s, past.id, utc(2026, 11, 20, 9))  # before today: not shown
        ids = (settled.id, reported.id, past.id)
    apply_outcome_rules(db_engine, settings, RUN)
    create_follow_up_tasks(db_engine, settings, RUN)
    counts = write_worklists(db_engine, settings, RUN)
    assert counts["appointments"] == 2
    rows = build_worklist(db_engine, settings, RUN).rows
    meetings = rows.filter(rows["section"] == "appointments")
    assert meetings["episode_id"].to_list() == [ids[0], ids[1]]
    # The company's settlement report was closed by the outcome rules before the list.
    for action in meetings["action"]:
        assert action.endswith("registrera besöket (Ärendet avslutat: reglerad utan insats)")
    assert ids[2] not in rows["episode_id"].to_list()
    with session_scope(db_engine) as s:
        kept = s.execute(
            select(Appointment.status, AppointmentSlot.booked).join(
                AppointmentSlot, AppointmentSlot.id == Appointment.slot_id
            )
        ).all()
    assert [tuple(k) for k in kept] == [("booked", 1)] * 3  # nothing was cancelled


def test_a_caseworkers_list_speaks_to_the_caseworker(db_engine, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    company(db_engine)
    with session_scope(db_engine) as s:
        caseworker(s)
        routed = {"routing": "caseworker", "caseworker_id": "hl1"}
        episode(s, 1, opened_on=RUN, **routed)
        episode(s, 2, status="eviction_scheduled", eviction_at=utc(2026, 11, 30), **routed)
    write_worklists(db_engine, settings, RUN)
    own = build_worklist(db_engine, settings, RUN, caseworker_id="hl1").rows
    assert own["action"].to_list() == [
        "Avhysning måndag 30 november kl. 09.00: kontakta hushållet och hyresvärden i dag",
        "Nytt ärende hos dig (känt hos socialtjänsten): kontakta hushållet om skulden",
    ]
    text = (settings.paths.worklist_dir / RUN.isoformat() / "handlaggare-hl1.csv").read_text(
        encoding="utf-8-sig"
    )
    assert "Karin Handläggare" not in text and "handläggaren (" not in text


def test_postcodes_in_every_format_read_as_on_letters(
    db_engine, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(tmp_path)
    company(db_engine)
    with session_scope(db_engine) as s:
        episode_id = episode(s, 1, opened_on=RUN, postal_code="19453", town="Upplands Väsby").id
    write_worklists(db_engine, settings, RUN)
    folder = settings.paths.worklist_dir / RUN.isoformat()
    address = f"{STREET}, lgh 1101, 194 53 Upplands Väsby"
    assert address in (folder / "radgivare-radgivare1.csv").read_text(encoding="utf-8-sig")
    sheet = openpyxl.load_workbook(folder / "radgivare-radgivare1.xlsx")["4 Nya ärenden"]
    assert sheet["C4"].value == address
    pdf = PdfReader(folder / "radgivare-radgivare1.pdf")
    assert "194 53" in " ".join(page.extract_text() for page in pdf.pages)
    config = str(_config(tmp_path, db_url))
    assert main(["--config", config, "episodes", "show", str(episode_id)]) == 0
    assert "194 53 Upplands Väsby" in capsys.readouterr().out


def test_worklist_candidates(db_engine, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The worklist loads only the episodes it may show, and the lists are exactly those
    built from every episode: for every section's seed, quiet open episodes, a closed one,
    a late meeting, open tasks, a waiting letter, an eviction beyond the horizon, over
    several days (weekend, the next working day, a week later)."""
    from sqlalchemy import true

    from models.tables import Reminder, Task
    from services import worklists

    _seed(db_engine)
    settings = settings_for(tmp_path)
    with session_scope(db_engine) as s:
        for n in range(20, 40):  # open, nothing to do
            episode(s, n, opened_on=date(2026, 10, 1), deadline_date=date(2026, 12, 20))
        episode(s, 40, status="closed", opened_on=date(2026, 9, 1), outcome="settled")
        late = episode(s, 41, opened_on=date(2026, 10, 1), deadline_date=date(2026, 11, 20))
        appointment(s, late.id, utc(2026, 11, 27, 9), before_deadline=False)
        tasked = episode(s, 42, opened_on=date(2026, 10, 1), has_children=True)
        s.add(Task(episode_id=tasked.id, kind="home_visit", round=1, due_date=date(2026, 11, 20),
                   status="open"))  # fmt: skip
        waiting = episode(s, 43, opened_on=date(2026, 10, 1))
        s.add(Letter(idempotency_key="appointment:43:1:v1", episode_id=waiting.id,
                     kind="appointment", channel="email", status="pending",
                     created_on=date(2026, 11, 19)))  # fmt: skip
        episode(s, 44, status="eviction_scheduled", eviction_at=utc(2027, 2, 1),
                opened_on=date(2026, 10, 1))  # fmt: skip
        episode(
            s,
            45,
            status="eviction_scheduled",
            eviction_at=utc(2026, 12, 6, 23),
            opened_on=date(2026, 10, 1),
        )  # fmt: skip 00:00 on 7 December in Stockholm
        next_day = episode(s, 46, opened_on=date(2026, 10, 1))
        appointment(s, next_day.id, utc(2026, 11, 24, 8))
        # Passed meetings nobody recorded: on an open episode (asked about until recorded),
        # on a settled one (no longer asked about), and a caseworker's.
        unrecorded = episode(s, 47, opened_on=date(2026, 10, 1))
        appointment(s, unrecorded.id, utc(2026, 11, 10, 9))
        settled = episode(s, 48, status="settled", opened_on=date(2026, 9, 1), outcome="settled")
        appointment(s, settled.id, utc(2026, 11, 12, 9))
        handed = episode(s, 49, opened_on=date(2026, 10, 1), routing="caseworker",
                         caseworker_id="hl1")  # fmt: skip
        appointment(s, handed.id, utc(2026, 11, 13, 9))
        # An eviction far beyond the horizon that no meeting was booked for (section 6),
        # and one routed to the caseworker within the horizon.
        unbooked = episode(s, 50, status="eviction_scheduled", eviction_at=utc(2027, 3, 1),
                           opened_on=date(2026, 10, 1))  # fmt: skip
        theirs = episode(s, 51, status="eviction_scheduled", eviction_at=utc(2026, 12, 2),
                opened_on=date(2026, 10, 1), routing="caseworker", caseworker_id="hl1")  # fmt: skip
        # A reminder that failed, for a meeting still booked.
        reminded = episode(s, 52, opened_on=date(2026, 10, 1))
        meeting = appointment(s, reminded.id, utc(2026, 12, 3, 9))
        s.add(Reminder(idempotency_key=f"reminder:52:{meeting.id}:sms", episode_id=reminded.id,
                       appointment_id=meeting.id, channel="sms", recipient="+46701234567",
                       body="Hej!", status="failed", last_error="refused",
                       created_on=date(2026, 11, 20)))  # fmt: skip
        # No news after the company's rhythm (the outcome rules set the follow-up date).
        silent = episode(s, 53, opened_on=date(2026, 8, 1), follow_up_date=date(2026, 11, 20),
                         last_event_date=date(2026, 8, 1))  # fmt: skip
        seeded = [unrecorded.id, unbooked.id, reminded.id, silent.id]
        own_seeded = [handed.id, theirs.id]
        not_asked = settled.id
    days = [RUN, date(2026, 11, 22), date(2026, 11, 24), date(2026, 11, 30)]
    narrow: dict[date, tuple] = {}

    def lists(s, day: date) -> tuple:  # noqa: ANN001
        return (
            worklists.advisor_worklist(s, settings, day).rows,
            worklists.caseworker_worklist(s, settings, day, "hl1").rows,
        )

    with session_scope(db_engine) as s:
        for day in days:
            loaded = worklists.load_inputs(s, day - timedelta(days=7), day, settings)
            narrow[day] = (lists(s, day), loaded.episodes.height)
    monkeypatch.setattr(worklists, "_shown", lambda *args, **kwargs: true())
    with session_scope(db_engine) as s:
        for day in days:
            wide = lists(s, day)
            everything = worklists.load_inputs(s, day - timedelta(days=7), day, settings)
            (advisor, own), loaded = narrow[day]
            assert advisor.height > 0 and own.height > 0
            assert advisor.equals(wide[0]), day
            assert own.equals(wide[1]), day
            assert loaded < everything.episodes.height, day
    shown = set(narrow[RUN][0][0]["episode_id"].drop_nulls().to_list())
    assert set(seeded) <= shown  # each new seed is on the list it was made for
    assert not_asked not in shown
    assert set(own_seeded) <= set(narrow[RUN][0][1]["episode_id"].to_list())
