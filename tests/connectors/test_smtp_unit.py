"""The SMTP connector's pure parts: Message-IDs, outcomes of failures, invitations."""

from __future__ import annotations

from datetime import datetime

import aiosmtplib
from icalendar import Calendar

from connectors.smtp import (
    Invite,
    Outcome,
    OutgoingEmail,
    build_message,
    classify,
    invite_bytes,
    message_id,
    redact,
)
from domain.addresses import usable_email
from domain.formatting import STOCKHOLM
from models.config import SmtpConfig


def test_message_id_is_stable_per_key_and_differs_between_keys() -> None:
    first = message_id("appointment:1:2:v1", "boenderadgivning@exempelby.se")
    assert first == message_id("appointment:1:2:v1", "boenderadgivning@exempelby.se")
    assert first != message_id("appointment:1:2:v2", "boenderadgivning@exempelby.se")
    assert first.startswith("<") and first.endswith("@exempelby.se>")


def test_failures_are_classified_and_reasons_carry_no_address() -> None:
    refused = aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(550, "No such user", "asa@example.se")]
    )
    assert classify(refused) == (Outcome.PERMANENT, "recipient refused (550)")
    busy = aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(452, "Mailbox full", "asa@example.se")]
    )
    assert classify(busy)[0] is Outcome.TEMPORARY
    outcome, reason = classify(aiosmtplib.SMTPDataError(554, "Mail for asa@example.se refused"))
    assert outcome is Outcome.PERMANENT and reason == "SMTP 554 Mail for <address> refused"
    assert classify(aiosmtplib.SMTPDataError(451, "Try later"))[0] is Outcome.TEMPORARY
    assert classify(aiosmtplib.SMTPServerDisconnected("gone"))[0] is Outcome.TEMPORARY
    assert classify(TimeoutError())[0] is Outcome.TEMPORARY
    assert redact("<a.b+c@d.se>: rejected") == "<<address>>: rejected"


def test_address_validation() -> None:
    assert usable_email("asa.oberg@example.se")
    for bad in ("asa", "asa@localhost", "a b@example.se", "", "asa@@example.se"):
        assert not usable_email(bad), bad


def _invite(cancel: bool = False) -> Invite:
    return Invite(
        uid="appointment-7@exempelby.se",
        starts_at=datetime(2026, 11, 9, 9, 0, tzinfo=STOCKHOLM),
        ends_at=datetime(2026, 11, 9, 9, 45, tzinfo=STOCKHOLM),
        summary="Möte med boenderådgivaren",
        location="Medborgarhuset, Storgatan 1, plan 2, Exempelby",
        description="Kallelse",
        sequence=2,
        cancel=cancel,
    )


def test_invitation_is_published_without_organizer_and_its_cancellation() -> None:
    request = Calendar.from_ical(invite_bytes(_invite()))
    event = request.walk("VEVENT")[0]
    assert request["METHOD"] == "PUBLISH" and event["STATUS"] == "CONFIRMED"
    assert event.decoded("DTSTART").isoformat() == "2026-11-09T08:00:00+00:00"
    assert str(event["UID"]) == "appointment-7@exempelby.se" and event["SEQUENCE"] == 2
    # Nobody to reply to: no organizer, no attendee (no accept/decline to a dead mailbox).
    assert "ORGANIZER" not in event and "ATTENDEE" not in event
    assert str(event["LOCATION"]) == "Medborgarhuset, Storgatan 1, plan 2, Exempelby"
    cancel = Calendar.from_ical(invite_bytes(_invite(True)))
    assert cancel["METHOD"] == "PUBLISH" and cancel.walk("VEVENT")[0]["STATUS"] == "CANCELLED"


def test_message_headers_and_parts() -> None:
    config = SmtpConfig(from_name="Boenderådgivningen, Exempelby kommun")
    message = build_message(
        config,
        OutgoingEmail(
            key="appointment:1:2:v1",
            to="asa@example.se",
            subject="Kallelse till möte om din hyresskuld",
            body="Hej!\n",
            pdf=b"%PDF-1.7\n",
            invite=_invite(),
        ),
    )
    import email
    import email.policy

    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "Kallelse till möte om din hyresskuld"
    assert parsed["From"].addresses[0].display_name == "Boenderådgivningen, Exempelby kommun"
    assert parsed["Message-ID"] == message_id("appointment:1:2:v1", config.from_address)
    kinds = [part.get_content_type() for part in parsed.iter_attachments()]
    assert kinds == ["application/pdf", "text/calendar"]
    calendar_part = list(parsed.iter_attachments())[1]
    assert calendar_part.get_param("method") == "PUBLISH"
    assert parsed.get_body(("plain",)).get_content() == "Hej!\n"
    assert parsed.get_body(("html",)) is None  # no HTML part unless one is given


def test_html_part_beside_the_text_escaped_with_the_facts_in_bold() -> None:
    import email
    import email.policy

    from connectors.smtp import html_body

    body = "Hej!\n\nTid: måndag 9 november kl. 09.00\nPlats: <Medborgarhuset>\n\nDin skuld & mer.\n"
    message = build_message(
        SmtpConfig(),
        OutgoingEmail(key="k", to="asa@example.se", subject="S", body=body, html=html_body(body)),
    )
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed.get_body(("plain",)).get_content() == body
    html = parsed.get_body(("html",)).get_content()
    assert "<strong>Tid:</strong> måndag 9 november kl. 09.00<br>" in html
    assert "<strong>Plats:</strong> &lt;Medborgarhuset&gt;" in html
    assert "<p>Din skuld &amp; mer.</p>" in html and '<html lang="sv">' in html
    with_pdf = build_message(
        SmtpConfig(),
        OutgoingEmail(key="k", to="a@b.se", subject="S", body=body, html=html, pdf=b"%PDF"),
    )
    parsed = email.message_from_bytes(with_pdf.as_bytes(), policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/mixed"
    assert parsed.get_body(("html",)) is not None
    assert [p.get_content_type() for p in parsed.iter_attachments()] == ["application/pdf"]
