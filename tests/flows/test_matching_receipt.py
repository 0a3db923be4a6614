"""The housing company never learns whether a tenant is known to social services.

A file with a registered client and a file with a stranger are ingested, matched
and routed; the receipts the company gets (the returned Receipt and the receipt
files next to the archived notice file) are the same apart from the file's name
and hash, and none of them mentions matches, tiers or cases.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from notice_rows import notice, notice_csv
from register_helpers import pnr, write_register
from sqlalchemy import select

from flows.stages.cases import import_register
from flows.stages.matching import match_episodes
from models.config import CompanyConfig, Settings
from models.db import session_scope
from models.tables import Episode
from services.ingest import ingest_file

FORBIDDEN = (
    "match", "tier", "certain", "probable", "possible", "case", "caseworker", "routing",
    "känd", "handläggare", "socialtjänst", "socialsekreterare", "klient", "träff",
)  # fmt: skip


def test_receipts_are_identical_for_known_and_unknown_tenants(db_engine, tmp_path: Path) -> None:
    settings = Settings(
        companies=[CompanyConfig(id="bo", name="Bo AB")],
        paths={"archive_dir": tmp_path / "archive", "rejected_dir": tmp_path / "rejected"},
    ).resolve_paths(tmp_path)
    cases, household = write_register(tmp_path)
    import_register(db_engine, settings, cases, household, taken_on=date(2026, 11, 1))
    event = {
        "event_type": "termination_notice",
        "event_date": "2026-11-02",
        "debt_amount": "12345.50",
        "monthly_rent": "8000",
        "postal_code": "12345",
        "town": "By",
    }
    known = tmp_path / "known.csv"
    known.write_text(
        notice_csv([
            notice(
                personnummer=pnr("19800101123"), tenant_name="Anna Häggström",
                street_address="Storgatan 12", apartment="1102", contract_ref="K1", **event,
            )
        ]),
        encoding="utf-8",
    )  # fmt: skip
    stranger = tmp_path / "stranger.csv"
    stranger.write_text(
        notice_csv([
            notice(
                personnummer=pnr("19770707777"), tenant_name="Per Persson",
                street_address="Annan väg 1", apartment="1001", contract_ref="K2", **event,
            )
        ]),
        encoding="utf-8",
    )  # fmt: skip
    first = ingest_file(db_engine, settings, known, "bo", received_on=date(2026, 11, 2))
    second = ingest_file(db_engine, settings, stranger, "bo", received_on=date(2026, 11, 2))
    counts = match_episodes(db_engine, settings, date(2026, 11, 2))
    assert counts["certain"] == 1 and counts["none"] == 1
    with session_scope(db_engine) as session:
        routings = sorted(session.scalars(select(Episode.routing)))
    assert routings == ["advisor", "caseworker"]  # the matching really told them apart

    neutral = {"filename", "content_hash", "received_at"}
    assert first.model_dump(exclude=neutral) == second.model_dump(exclude=neutral)
    for receipt in (first, second):
        dumped = receipt.model_dump_json().lower()
        assert not any(word in dumped for word in FORBIDDEN)
    files = sorted((tmp_path / "archive").rglob("*.kvitto.csv"))
    assert len(files) == 2
    texts = []
    for path in files:
        text = path.read_text(encoding="utf-8-sig").lower()
        assert not any(word in text for word in FORBIDDEN), path.name
        texts.append(
            [
                line
                for line in text.splitlines()
                if "known" not in line
                and "stranger" not in line
                and not line.startswith(("sha-256;", "mottagen;"))
            ]
        )
    # Apart from the lines naming the file, its hash and time, the two receipts say the same.
    assert texts[0] == texts[1] and len(texts[0]) >= 5
