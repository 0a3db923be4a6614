"""A local SMTP server (aiosmtpd) that keeps every message as an ``.eml`` file.

The demo starts it so that a newcomer can open exactly what a tenant or a
caseworker would receive; the tests start it as the real SMTP peer.
"""

from __future__ import annotations

import email
import email.policy
import logging
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from models.privacy import private_dir


@dataclass
class _KeepingHandler:
    mail_dir: Path
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Files already in mail_dir (earlier runs): numbering continues after them, so a
    # server started again for the next day never overwrites the previous day's mail.
    offset: int = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else (raw or "").encode()
        message = email.message_from_bytes(data, policy=email.policy.default)
        with self.lock:
            number = self.offset + len(self.messages) + 1
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from or "", list(envelope.rcpt_tos)))
            private_dir(self.mail_dir)
            (self.mail_dir / f"{number:06d}.eml").write_bytes(data)
        return "250 Message accepted for delivery"


def _free_port(host: str) -> int:
    """A port the OS says is free (aiosmtpd cannot be started on port 0)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class LocalSmtpServer:
    """Start/stop wrapper around an aiosmtpd Controller on 127.0.0.1."""

    def __init__(self, mail_dir: Path, port: int = 8025, host: str = "127.0.0.1") -> None:
        self.handler = _KeepingHandler(mail_dir=Path(mail_dir))
        self.host = host
        self._requested_port = port
        self._controller: Controller | None = None

    @property
    def port(self) -> int:
        if self._controller is None:
            raise RuntimeError("server not started")
        return self._controller.port

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def start(self) -> LocalSmtpServer:
        # aiosmtpd logs every command (recipient addresses) at INFO and message lines at
        # DEBUG on "mail.log": keep personal data out of the application's logs.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        mail_dir = self.handler.mail_dir
        numbers = [int(p.stem) for p in mail_dir.glob("*.eml") if p.stem.isdigit()]
        self.handler.offset = max(numbers, default=0)
        port = self._requested_port or _free_port(self.host)
        self._controller = Controller(self.handler, hostname=self.host, port=port, ready_timeout=10)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> LocalSmtpServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
