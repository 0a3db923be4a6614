"""Children: yes, no or unknown, from the register or recorded by the advisor (SQLite and PG).

A household not known to social services has unknown children until someone asks;
the worklist says "okänt", and what the advisor records drives children-first booking
and the home visit after a no-show.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from outcome_factories import appointment, company, episode, settings_for, utc
from pypdf import PdfReader
from register_helpers import RUN as MATCH_RUN
from register_helpers import add_episode, pnr, write_register
from sqlalchemy import select

from flows.cli import main
from flows.stages.cases import import_register
from flows.stages.matching import decide_match, match_episodes
from flows.stages.outcomes import create_follow_up_tasks, record_children
from flows.stages.worklist import build_worklist, write_worklists
from models.config import Settings
from models.db import session_scope
from models.tables import Appointment, AppointmentSlot, AuditLog, Episode, Match, Task

RUN = date(2026, 11, 23)  # Monday


def _children(engine, episode_id: int) -> tuple[bool, int, bool]:  # noqa: ANN001
    with session_scope(engine) as session:
        row = session.get(Episode, episode_id)
        return row.has_children, row.children_count, row.children_known


@pytest.fixture
def register(db_engine, tmp_path: Path):  # noqa: ANN001, ANN201
    cases, household = write_register(tmp_path)
    import_register(db_engine, Settings(), cases, household, taken_on=MATCH_RUN)
    return db_engine


def test_matching_knows_children_only_of_households_matched_to_a_case(register) -> None:
    engine = register
    client = add_episode(engine, "k1", pnr("19800101123"), "Anna Häggström")
    stranger = add_episode(engine, "k2", pnr("19770707777"), "Per Persson")
    asked = add_episode(engine, "k3", pnr("19660606661"), "Eva Ek")
    review = add_episode(
        engine, "k4", None, "Omar Alizadeh", street_address="Björkvägen 3", apartment="1001",
        postal_code="12346",
    )  # fmt: skip
    record_children(engine, asked, 1, by="anna")  # asked before the register came in
    match_episodes(engine, Settings(), MATCH_RUN)
    assert _children(engine, client) == (True, 2, True)  # from the register's household
    assert _children(engine, stranger) == (False, 0, False)  # nobody knows
    assert _children(engine, asked) == (True, 1, True)  # what was recorded is kept
    assert _children(engine, review) == (False, 0, False)
    with session_scope(engine) as session:
        match_id = session.scalars(select(Match.id).where(Match.episode_id == review)).one()
    decide_match(engine, match_id, confirm=True, by="anna")
    assert _children(engine, review) == (False, 0, True)  # the case has no children


def test_rejecting_the_case_the_children_came_from_makes_them_unknown(register) -> None:
    engine = register
    client = add_episode(engine, "k1", pnr("19800101123"), "Anna Häggström")
    match_episodes(engine, Settings(), MATCH_RUN)
    with session_scope(engine) as session:
        match_id = session.scalars(select(Match.id).where(Match.episode_id == client)).one()
    decide_match(engine, match_id, confirm=False, by="anna")
    assert _children(engine, client) == (False, 0, False)


def test_a_recorded_count_above_the_registers_wins_on_confirm(register) -> None:
    engine = register
    review = add_episode(
        engine, "k4", None, "Omar Alizadeh", street_address="Björkvägen 3", apartment="1001",
        postal_code="12346",
    )  # fmt: skip
    match_episodes(engine, Settings(), MATCH_RUN)
    record_children(engine, review, 3, by="anna")
    with session_scope(engine) as session:
        match_id = session.scalars(select(Match.id).where(Match.episode_id == review)).one()
    decide_match(engine, match_id, confirm=True, by="anna")
    assert _children(engine, review) == (True, 3, True)


def _config(tmp_path: Path, db_url: str) -> str:
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
    return str(path)


def test_cli_record_children_is_audit_logged(
    db_engine, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    company(db_engine)
    with session_scope(db_engine) as s:
        one, two = episode(s, 1).id, episode(s, 2).id
    config = _config(tmp_path, db_url)
    assert main(["--config", config, "record", "children", str(one), "--count", "2",
                 "--by", "anna"]) == 0  # fmt: skip
    assert main(["--config", config, "record", "children", str(two), "--count", "0"]) == 0
    assert _children(db_engine, one) == (True, 2, True)
    assert _children(db_engine, two) == (False, 0, True)  # known: no children
    with session_scope(db_engine) as s:
        entries = s.execute(
            select(AuditLog.actor, AuditLog.entity_id, AuditLog.detail).where(
                AuditLog.action == "record_children"
            )
        ).all()
    assert sorted(e[1] for e in entries) == sorted([str(one), str(two)])
    assert ("anna", str(one), None) in [tuple(e) for e in entries]
    capsys.readouterr()
    for argv, message in (
        (["record", "children", str(one)], "record children needs --count N"),
        (["record", "children", str(one), "--count", "-1"], "--count must be 0 or more"),
        (["record", "note", str(one), "--count", "1"], "--count is only for record children"),
        (["record", "children", "999999", "--count", "1"], "episode 999999 not found"),
    ):
        assert main(["--config", config, *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err and "Traceback" not in err
    assert _children(db_engine, one) == (True, 2, True)


def test_the_home_visit_follows_the_recorded_children(db_engine, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    company(db_engine)
    with session_scope(db_engine) as s:
        row = episode(s, 1)  # not known to social services: children unknown
        appointment(s, row.id, utc(2026, 11, 16), status="no_show")
        episode_id = row.id

    def kinds() -> list[str]:
        with session_scope(db_engine) as s:
            return sorted(s.scalars(select(Task.kind).where(Task.episode_id == episode_id)))

    with session_scope(db_engine) as s:
        none = episode(s, 2)
        appointment(s, none.id, utc(2026, 11, 16), status="no_show")
        none_id = none.id
    record_children(db_engine, none_id, 0, by="anna")  # the advisor knows: no children

    create_follow_up_tasks(db_engine, settings, RUN)
    # Unknown children count as children (the safe side, issue 15): the visit is planned.
    assert kinds() == ["home_visit", "phone_call"]
    with session_scope(db_engine) as s:
        assert s.scalars(select(Task.kind).where(Task.episode_id == none_id)).all() == [
            "phone_call"
        ]
    call = build_worklist(db_engine, settings, RUN).rows
    actions = call.filter(call["section"] == "no_show_tasks")["action"].to_list()
    assert any(f"antal barn på ärendesidan {episode_id}" in a for a in actions)


def test_booking_puts_recorded_children_first(db_engine, settings) -> None:  # noqa: ANN001
    from booking_helpers import add_episode as add_booking_episode

    from flows.stages.booking import book_appointments

    urgent = add_booking_episode(db_engine, deadline=date(2026, 11, 12))
    family = add_booking_episode(db_engine, deadline=date(2026, 11, 25))
    record_children(db_engine, family, 2, by="anna")
    assert book_appointments(db_engine, settings, date(2026, 11, 2))["booked"] == 2
    with session_scope(db_engine) as session:
        order = session.scalars(
            select(Appointment.episode_id)
            .join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
            .order_by(AppointmentSlot.starts_at, Appointment.id)
        ).all()
    assert order == [family, urgent]


def test_every_worklist_format_says_unknown(
    db_engine, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("COLUMNS", "200")
    settings = settings_for(tmp_path)
    company(db_engine)
    with session_scope(db_engine) as s:
        unknown = episode(s, 1, opened_on=RUN, deadline_date=date(2026, 12, 1)).id
        episode(s, 2, opened_on=RUN, has_children=True, children_count=1)
        episode(s, 3, opened_on=RUN, has_children=False)
    write_worklists(db_engine, settings, RUN)
    folder = settings.paths.worklist_dir / RUN.isoformat()

    text = (folder / "radgivare-radgivare1.csv").read_text(encoding="utf-8-sig")
    children = {row[1]: row[6] for row in csv.reader(io.StringIO(text), delimiter=";")}
    assert sorted(children.values()) == ["Barn", "ja", "nej", "okänt"]
    assert children[str(unknown)] == "okänt"

    sheet = openpyxl.load_workbook(folder / "radgivare-radgivare1.xlsx")["4 Nya ärenden"]
    cells = {sheet.cell(r, 1).value: sheet.cell(r, 6).value for r in range(4, 7)}
    assert cells[unknown] == "okänt"
    assert sorted(cells.values()) == ["ja", "nej", "okänt"]

    pdf = PdfReader(folder / "radgivare-radgivare1.pdf")
    assert "okänt" in " ".join(page.extract_text() for page in pdf.pages)

    config = _config(tmp_path, db_url)
    assert main(["--config", config, "worklist", "--date", RUN.isoformat()]) == 0
    assert "okänt" in capsys.readouterr().out
    assert main(["--config", config, "episodes", "show", str(unknown)]) == 0
    assert "barn okänt" in " ".join(capsys.readouterr().out.split())
    assert main(["--config", config, "episodes", "list", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    column = lines[0].split(";").index("has_children")
    assert [line.split(";")[column] for line in lines[1:]] == ["", "true", "false"]

    record_children(db_engine, unknown, 0, by="anna")
    rows = build_worklist(db_engine, settings, RUN).rows
    assert rows.filter(rows["episode_id"] == unknown)["has_children"].to_list() == [False]
    assert main(["--config", config, "episodes", "show", str(unknown)]) == 0
    assert "barn nej" in " ".join(capsys.readouterr().out.split())
