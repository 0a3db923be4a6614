"""Sending email with aiosmtplib: one reused connection, a rate limit, clear outcomes.

Every message gets a ``Message-ID`` derived from its outbox idempotency key, so the
single message that may be sent twice after a crash (the one in flight) carries the
same id both times and mail clients show it once. A send ends in one of three
outcomes: sent, temporary failure (4xx, timeout, dropped connection: try again later)
or permanent failure (5xx, invalid address: send it another way).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.encoders import encode_base64
from email.header import Header
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr
from enum import StrEnum
from html import escape

import aiosmtplib
from icalendar import Calendar, Event

from models.config import SmtpConfig
from models.errors import KvarboendeError
from models.privacy import mask


class Outcome(StrEnum):
    SENT = "sent"
    TEMPORARY = "temporary"
    PERMANENT = "permanent"


#: The reason of a send that got no answer within ``timeout_seconds``.
TIMEOUT = "timeout"


class SmtpUnavailable(KvarboendeError):
    """The SMTP server cannot be reached or refuses our login; no message can be sent now."""


@dataclass(frozen=True)
class Invite:
    """An appointment as a published iCalendar event (METHOD:PUBLISH), or the same event
    cancelled (STATUS:CANCELLED, a higher SEQUENCE): no organizer, no attendee, so a
    calendar never offers the tenant to accept or decline to a mailbox nobody reads."""

    uid: str
    starts_at: datetime
    ends_at: datetime
    summary: str
    location: str
    description: str
    sequence: int = 0
    cancel: bool = False


@dataclass(frozen=True)
class Attachment:
    """A file attached as it is (base64), e.g. a receipt as ``text/csv``."""

    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"


@dataclass(frozen=True)
class OutgoingEmail:
    key: str
    to: str
    subject: str
    body: str
    pdf: bytes | None = None
    pdf_name: str = "brev.pdf"
    invite: Invite | None = None
    attachments: tuple[Attachment, ...] = ()
    #: An HTML part beside the text (tenant emails); None: text only.
    html: str | None = None


def sender_domain(from_address: str) -> str:
    """The domain part of the sender address, for Message-IDs and calendar UIDs."""
    return from_address.rpartition("@")[2] or "localhost"


def message_id(key: str, from_address: str) -> str:
    """A Message-ID that is the same every time the same outbox letter is sent."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
    return f"<{digest}@{sender_domain(from_address)}>"


def invite_bytes(invite: Invite) -> bytes:
    """The iCalendar file of an appointment or its cancellation (RFC 5546 PUBLISH)."""
    calendar = Calendar()
    calendar.add("prodid", "-//kvarboende//boenderadgivning//SV")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", invite.uid)
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", invite.starts_at.astimezone(UTC))
    event.add("dtend", invite.ends_at.astimezone(UTC))
    event.add("summary", invite.summary)
    event.add("location", invite.location)
    event.add("description", invite.description)
    event.add("sequence", invite.sequence)
    event.add("status", "CANCELLED" if invite.cancel else "CONFIRMED")
    event.add("transp", "OPAQUE")
    calendar.add_component(event)
    return calendar.to_ical()


def html_body(text: str, language: str = "sv") -> str:
    """The HTML part beside the plain text: the same words, paragraphs kept, labels bold.

    Made from the text body (one wording, in the Jinja2 templates); everything is escaped.
    """
    paragraphs = []
    for block in text.strip().split("\n\n"):
        lines = []
        for line in block.splitlines():
            label, sep, rest = line.partition(": ")
            if sep and label in FACT_LABELS:
                lines.append(f"<strong>{escape(label)}:</strong> {escape(rest)}")
            else:
                lines.append(escape(line))
        paragraphs.append("<p>" + "<br>\n".join(lines) + "</p>")
    body = "\n".join(paragraphs)
    return (
        f'<!DOCTYPE html>\n<html lang="{escape(language)}">\n<head><meta charset="utf-8">'
        "<title></title></head>\n"
        '<body style="font-family: Arial, Helvetica, sans-serif; font-size: 16px; '
        'line-height: 1.5; color: #1a1a1a; max-width: 40em;">\n'
        f"{body}\n</body>\n</html>\n"
    )


#: The labels of the meeting's facts lines in the tenant emails, set in bold in HTML.
FACT_LABELS = frozenset({"Tid", "Plats", "Du träffar", "Time", "Place", "You will meet"})


def build_message(config: SmtpConfig, outgoing: OutgoingEmail) -> Message:
    """The MIME message: the text body (and its HTML twin), the PDF letter, the calendar
    event and any other file (a receipt's CSV) attached.

    Built with the ``email.mime`` classes (compat32 policy): several times cheaper to
    build and to serialise than ``EmailMessage`` with the default policy, which matters
    when a day's letters go out one after another.
    """
    text = MIMEText(outgoing.body, "plain", "utf-8")
    content: Message = text
    if outgoing.html is not None:
        content = MIMEMultipart("alternative")
        content.attach(text)
        content.attach(MIMEText(outgoing.html, "html", "utf-8"))
    plain = outgoing.pdf is None and outgoing.invite is None and not outgoing.attachments
    message: Message = content if plain else MIMEMultipart("mixed")
    message["From"] = formataddr((str(Header(config.from_name, "utf-8")), config.from_address))
    message["To"] = outgoing.to
    # A Header object, so compat32 encodes the subject (typeshed only allows str here).
    message["Subject"] = Header(outgoing.subject, "utf-8")  # type: ignore[assignment]
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id(outgoing.key, config.from_address)
    message["Auto-Submitted"] = "auto-generated"
    if plain:
        return message
    message.attach(content)
    if outgoing.pdf is not None:
        pdf = MIMEApplication(outgoing.pdf, "pdf")
        pdf.add_header("Content-Disposition", "attachment", filename=outgoing.pdf_name)
        message.attach(pdf)
    if outgoing.invite is not None:
        data = invite_bytes(outgoing.invite)
        invite = MIMEText(data.decode("utf-8"), "calendar", "utf-8")
        invite.set_param("method", "PUBLISH")
        invite.add_header("Content-Disposition", "attachment", filename="tid.ics")
        message.attach(invite)
    for extra in outgoing.attachments:
        maintype, _, subtype = extra.mime_type.partition("/")
        part = MIMEBase(maintype, subtype or "octet-stream")
        part.set_payload(extra.content)
        encode_base64(part)  # bytes as they are: a CSV's BOM and å, ä, ö arrive intact
        part.add_header("Content-Disposition", "attachment", filename=extra.filename)
        message.attach(part)
    return message


def redact(text: str) -> str:
    """The server's reply without addresses or personnummer (servers quote the recipient)."""
    return mask(text)


def classify(exc: BaseException) -> tuple[Outcome, str]:
    """Temporary or permanent, with a one-line reason (no addresses, no content)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [error.code for error in exc.recipients]
        permanent = any(code >= 500 for code in codes)
        return (Outcome.PERMANENT if permanent else Outcome.TEMPORARY), (
            f"recipient refused ({', '.join(str(c) for c in codes)})"
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        outcome = Outcome.PERMANENT if exc.code >= 500 else Outcome.TEMPORARY
        reason = redact(str(exc.message).splitlines()[0]) if exc.message else ""
        return outcome, f"SMTP {exc.code} {reason}".strip()
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return Outcome.TEMPORARY, "connection dropped by the server"
    if isinstance(exc, asyncio.TimeoutError | aiosmtplib.SMTPTimeoutError | TimeoutError):
        return Outcome.TEMPORARY, TIMEOUT
    return Outcome.TEMPORARY, f"{type(exc).__name__}"


class SmtpSender:
    """One SMTP connection reused for many messages, reopened after a drop, rate limited."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._client: aiosmtplib.SMTP | None = None
        self._interval = 1.0 / config.rate_per_second
        self._last_send = 0.0

    async def _connect(self) -> aiosmtplib.SMTP:
        config = self.config
        client = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            timeout=config.timeout_seconds,
            use_tls=config.security == "tls",
            start_tls=config.security == "starttls",
            cert_bundle=config.ca_file or None,
        )
        try:
            await client.connect()
            if config.username:
                await client.login(config.username, config.password.get_secret_value())
        except aiosmtplib.SMTPAuthenticationError as exc:
            await self._quietly_close(client)
            raise SmtpUnavailable(f"SMTP login refused ({exc.code})") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self._quietly_close(client)
            where = f"{config.host}:{config.port}"
            raise SmtpUnavailable(f"cannot connect to SMTP {where}: {type(exc).__name__}") from None
        return client

    @staticmethod
    async def _quietly_close(client: aiosmtplib.SMTP) -> None:
        try:
            if client.is_connected:
                client.close()
        except Exception:  # noqa: BLE001 - closing a broken connection may fail in any way
            pass

    async def _throttle(self) -> None:
        wait = self._last_send + self._interval - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_send = time.monotonic()

    async def send(self, message: Message) -> tuple[Outcome, str]:
        """Send one message; raises SmtpUnavailable only when no connection can be made."""
        if self._client is None or not self._client.is_connected:
            self._client = await self._connect()
        await self._throttle()
        try:
            await self._client.send_message(message)
        except Exception as exc:  # noqa: BLE001 - every SMTP failure is classified below
            outcome, reason = classify(exc)
            refused = (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused)
            if isinstance(exc, refused):
                try:
                    await self._client.rset()  # keep the connection for the next message
                except Exception:  # noqa: BLE001 - a broken connection is reopened next time
                    await self._abort()
            else:
                # Timed out or dropped: a polite QUIT would wait another whole timeout.
                await self._abort()
            return outcome, reason
        return Outcome.SENT, ""

    async def _abort(self) -> None:
        """Drop the connection without a QUIT (the server is not answering)."""
        client, self._client = self._client, None
        if client is not None:
            await self._quietly_close(client)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if client.is_connected:
                await client.quit()
        except Exception:  # noqa: BLE001 - the server may already be gone
            await self._quietly_close(client)

    async def __aenter__(self) -> SmtpSender:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def check_connection(config: SmtpConfig) -> None:
    """Connect and log in (STARTTLS/TLS as configured), send nothing, quit.

    Raises :class:`SmtpUnavailable` with one line when the server cannot be used.
    """
    import asyncio

    async def probe() -> None:
        sender = SmtpSender(config)
        sender._client = await sender._connect()
        await sender.close()

    asyncio.run(probe())
