"""STARTTLS, implicit TLS and login against a real aiosmtpd with a self-signed certificate."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from booking_helpers import add_episode
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr
from sqlalchemy import select

from connectors.local_smtp import _free_port, _KeepingHandler
from flows.stages.booking import book_appointments
from flows.stages.delivery import deliver_outbox
from flows.stages.letters import create_letters
from models.db import session_scope
from models.tables import Letter

RUN = date(2026, 11, 2)


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost; returns (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Authenticator:
    def __init__(self) -> None:
        self.logins: list[str] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):  # noqa: ANN001, ANN204
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login == b"kvarboende" and auth_data.password == b"hemligt"
        )
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[Callable[[bool], tuple[_KeepingHandler, int, Path]]]:
    controllers: list[Controller] = []
    cert, key = make_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    authenticator = Authenticator()

    def start(implicit: bool) -> tuple[_KeepingHandler, int, Path]:
        handler = _KeepingHandler(mail_dir=tmp_path / "mail")
        port = _free_port("127.0.0.1")
        kwargs: dict[str, object] = {
            "authenticator": authenticator,
            "auth_required": True,
            "auth_require_tls": True,
        }
        if implicit:
            # aiosmtpd only knows about TLS it negotiated itself (STARTTLS); on an
            # implicit-TLS port the whole connection is encrypted, so AUTH may be offered.
            kwargs["auth_require_tls"] = False
            controller = Controller(
                handler, hostname="127.0.0.1", port=port, ssl_context=context, server_kwargs=kwargs
            )
        else:
            kwargs.update(tls_context=context, require_starttls=True)
            controller = Controller(handler, hostname="127.0.0.1", port=port, server_kwargs=kwargs)
        controller.start()
        controllers.append(controller)
        handler.logins = authenticator.logins  # type: ignore[attr-defined]
        return handler, port, cert

    yield start
    for controller in controllers:
        controller.stop()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_encrypted_and_authenticated_delivery(db_engine, settings, tls_server, security) -> None:  # noqa: ANN001
    handler, port, cert = tls_server(security == "tls")
    settings.smtp.port, settings.smtp.security, settings.smtp.ca_file = port, security, str(cert)
    settings.smtp.username = "kvarboende"
    settings.smtp.password = SecretStr("hemligt")
    add_episode(db_engine, email="a@example.se")
    book_appointments(db_engine, settings, RUN)
    create_letters(db_engine, settings, RUN)
    assert deliver_outbox(db_engine, settings, RUN)["sent_email"] == 1
    assert [m["To"] for m in handler.messages] == ["a@example.se"]
    assert handler.logins == ["kvarboende"]  # type: ignore[attr-defined]


def test_wrong_password_defers_the_letter_with_one_clear_reason(
    db_engine, settings, tls_server
) -> None:  # noqa: ANN001
    handler, port, cert = tls_server(False)
    settings.smtp.port, settings.smtp.security, settings.smtp.ca_file = port, "starttls", str(cert)
    settings.smtp.username, settings.smtp.password = "kvarboende", SecretStr("fel")
    settings.smtp.max_attempts, settings.smtp.backoff_seconds = 2, 0.01
    settings.smtp.timeout_seconds = 5
    # The meeting on the last day the post still reaches (email's own two days would leave
    # the post no time: the letter would wait for the email, see test_delivery).
    settings.booking.min_lead_days_email = 3
    # The letter alone (a post copy would carry the post instead; see test_delivery).
    settings.letters.post_when_email_from_landlord = False
    add_episode(db_engine, email="a@example.se")
    book_appointments(db_engine, settings, RUN)
    create_letters(db_engine, settings, RUN)
    counts = deliver_outbox(db_engine, settings, RUN)
    assert counts["deferred"] == 1 and counts["sent_email"] == 0 and handler.messages == []
    with session_scope(db_engine) as session:
        letter = session.scalars(select(Letter)).one()
    # One attempt; the meeting is close, so the letter went by post the same day, flagged.
    assert letter.attempts == 1 and letter.channel == "print" and letter.flagged
    assert "SMTP login refused (535)" in letter.last_error
    assert "fel" not in letter.last_error


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_untrusted_certificate_is_refused(db_engine, settings, tls_server) -> None:  # noqa: ANN001
    _, port, _ = tls_server(True)
    settings.smtp.port, settings.smtp.security = port, "tls"  # no ca_file: not trusted
    settings.smtp.max_attempts, settings.smtp.backoff_seconds = 1, 0.01
    add_episode(db_engine, email="a@example.se")
    book_appointments(db_engine, settings, RUN)
    create_letters(db_engine, settings, RUN)
    assert deliver_outbox(db_engine, settings, RUN)["deferred"] == 1
