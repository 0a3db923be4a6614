"""Every file's receipt is emailed to the company's contact address, once per file.

Uploaded in the portal, by the API, or delivered to the inbox: one outbox email per file
(the same bytes again add none), with the counts and a link to the receipt page, and
nothing about a tenant. Sent by the real outbox to a real SMTP server.
"""

from __future__ import annotations

import csv
import io
import shutil
from datetime import date

import pytest
from notice_rows import notice
from portal_helpers import notice_file, sample_file
from sqlalchemy import select
from staff_helpers import personnummer, upload

from flows.stages.delivery import deliver_outbox
from flows.stages.ingest import ingest_inbox
from models.db import session_scope
from models.tables import Letter, NoticeFile
from services.companies import issue_token

CONTACT = "kvitton@exempelbyhem.se"
RUN = date(2026, 11, 23)


@pytest.fixture
def contact(portal):
    portal.settings.companies[0].contact_email = CONTACT
    portal.settings.web.public_url = "https://kvarboende.exempelby.se/"
    return portal


def _receipt_emails(portal) -> list[Letter]:
    with session_scope(portal.engine) as session:
        letters = session.scalars(
            select(Letter).where(Letter.kind == "company_receipt").order_by(Letter.id)
        ).all()
        session.expunge_all()
    return list(letters)


def _file_ids(portal) -> list[int]:
    with session_scope(portal.engine) as session:
        return list(session.scalars(select(NoticeFile.id).order_by(NoticeFile.id)))


def _no_personal_data(letter: Letter) -> None:
    text = f"{letter.subject}\n{letter.body}"
    for value in ("Eva Berg", "Storgatan", personnummer(1), "fil-1.csv", "K-1"):
        assert value not in text, value


def _attached_receipt(message) -> tuple[str, bytes]:
    """The one attachment of a sent receipt email: its file name and bytes."""
    [part] = list(message.iter_attachments())
    assert part.get_content_type() == "text/csv"
    return part.get_filename(), part.get_payload(decode=True)


def _rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, as Excel opens it
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


def test_sent_receipt_email_carries_the_receipt_csv_formula_safe(contact, smtp_server) -> None:
    """Uploaded in the portal, sent by the outbox: the CSV attached is the download's bytes,
    it parses, and a contract reference that looks like a formula stays text."""
    settings = contact.settings
    settings.smtp.port = smtp_server.port
    good = notice(
        personnummer=personnummer(1), tenant_name="Eva Berg", street_address="Storgatan 1",
        apartment="1101", postal_code="194 30", town="Exempelby", contract_ref="K-1",
        event_type="termination_notice", event_date="2026-11-02", service_date="2026-11-04",
        debt_amount="12 345,50",
    )  # fmt: skip
    formula = notice(  # no tenant: rejected
        contract_ref="=1+2", event_type="termination_notice", event_date="2026-11-02",
        debt_amount="100",
    )  # fmt: skip
    client, csrf = contact.login("bolag-a")
    answer = client.post(
        "/foretag/filer",
        data={"csrf_token": csrf},
        files={"filer": ("fil-1.csv", notice_file([good, formula]), "text/csv")},
    )
    assert answer.status_code == 303, answer.text
    [file_id] = _file_ids(contact)
    deliver_outbox(contact.engine, settings, RUN)
    [message] = [m for m in smtp_server.messages if m["To"] == CONTACT]
    name, content = _attached_receipt(message)
    assert name == f"kvitto-{file_id}.csv"
    download = client.get(f"/foretag/kvitton/{file_id}.csv")
    assert download.status_code == 200 and content == download.content
    rows = _rows(content)
    assert ["Mottagna", "1"] in rows and ["Avvisade", "1"] in rows
    header = rows.index(["Rad", "Kontraktsnummer", "Status", "Orsak", "Upprepar"])
    [rejected] = rows[header + 1 :]
    assert rejected[:3] == ["3", "'=1+2", "Avvisad"] and rejected[3]
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert f"kvitto-{file_id}.csv" in body and "Eva Berg" not in body


def test_portal_upload_queues_one_receipt_email_per_file(contact) -> None:
    upload(contact, 1)
    upload(contact, 1)  # the same file again: already received, no second email
    [letter] = _receipt_emails(contact)
    [file_id] = _file_ids(contact)
    assert letter.recipient == CONTACT and letter.status == "pending"
    assert letter.idempotency_key == f"company_receipt:{contact.company_a}:{file_id}"
    assert f"https://kvarboende.exempelby.se/foretag/kvitton/{file_id}" in letter.body
    assert "Mottagna: 1" in letter.body and "Avvisade: 0" in letter.body
    _no_personal_data(letter)
    upload(contact, 2)
    assert len(_receipt_emails(contact)) == 2


def test_api_upload_queues_the_receipt_email_once(contact) -> None:
    with session_scope(contact.engine) as session:
        token = issue_token(session, contact.company_a, by="test").token
    client = contact.client()
    for _ in range(2):
        answer = client.post(
            "/api/v1/notice-files?filename=export.csv",
            content=sample_file(),
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200
    [letter] = _receipt_emails(contact)
    assert "Avvisade: 1" in letter.body and "Dubbletter: 1" in letter.body


def test_inbox_delivery_queues_the_receipt_email_once_and_it_is_sent(
    contact, tmp_path, smtp_server
) -> None:
    settings = contact.settings
    settings.smtp.port = smtp_server.port
    inbox = settings.companies[0].inbox
    inbox.mkdir(parents=True, exist_ok=True)
    source = tmp_path / "export.csv"
    source.write_bytes(sample_file())
    shutil.copy(source, inbox / "export.csv")
    assert ingest_inbox(contact.engine, settings, RUN)["receipt_emails"] == 1
    shutil.copy(source, inbox / "export-igen.csv")  # delivered again: same file
    assert ingest_inbox(contact.engine, settings, RUN)["receipt_emails"] == 0
    [letter] = _receipt_emails(contact)
    assert letter.created_on == RUN
    _no_personal_data(letter)

    deliver_outbox(contact.engine, settings, RUN)
    deliver_outbox(contact.engine, settings, RUN)  # a rerun sends nothing twice
    sent = [m for m in smtp_server.messages if m["To"] == CONTACT]
    assert len(sent) == 1
    body = sent[0].get_body(preferencelist=("plain",)).get_content()
    [file_id] = _file_ids(contact)
    assert f"/foretag/kvitton/{file_id}" in body
    name, content = _attached_receipt(sent[0])  # inbox deliveries get the CSV too
    assert name == f"kvitto-{file_id}.csv"
    rows = _rows(content)
    assert ["Rader i filen", "3"] in rows and ["Dubbletter", "1"] in rows
    assert any(row[:3] == ["3", "K-BAD", "Avvisad"] for row in rows)
    assert any(row[:2] == ["4", "K-1"] and row[2] == "Dubblett" for row in rows)
    assert personnummer(1) not in content.decode("utf-8-sig")
    assert _receipt_emails(contact)[0].status == "sent"


def test_no_contact_address_no_email(portal) -> None:
    upload(portal, 1)
    assert _receipt_emails(portal) == []
