"""Sending an SMS: an HTTP SMS gateway, or text files in a folder (the demo's "phone").

The gateway shape implemented is 46elks' (https://46elks.se/docs/send-sms):
``POST <base_url>/a1/sms`` with HTTP basic auth (API user and password) and the form
fields ``from`` (sender name, at most 11 letters/digits), ``to`` (E.164, ``+4670...``)
and ``message``; the answer is JSON with the message ``id``. Other Swedish gateways
take the same three things as form fields or as JSON under other names, so the body
is a template in the configuration (``[sms] body_format``, ``payload``), with
``{sender}``, ``{to}``, ``{message}``, ``{key}`` and ``{status_url}`` (where the
gateway posts its delivery report: 46elks' ``whendelivered``).

A send ends in one of three outcomes, as email does: sent (2xx), temporary (5xx, 429,
408, timeout, no connection: try again later) or permanent (any other 4xx: a wrong
number or a refused message, try another way). Each request carries the reminder's
idempotency key in ``[sms] idempotency_header`` for gateways that honour one, so the
one SMS that may be sent twice after a crash (the one in flight) is dropped by them.

Reasons are one line without the number or the text (they reach the database and the
worklist, never a log with personal data).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import httpx

from models.config import SmsConfig
from models.privacy import mask, write_private


class SmsOutcome(StrEnum):
    SENT = "sent"
    TEMPORARY = "temporary"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class SmsResult:
    """What the gateway answered: the outcome, a one-line reason and its message id."""

    outcome: SmsOutcome
    reason: str = ""
    gateway_id: str | None = None
    #: The gateway could not be reached or did not answer: no more tries in this run.
    unreachable: bool = False


#: A phone number a gateway may quote in its error text (never stored).
_PHONE = re.compile(r"\+?\d[\d \-]{5,}\d")

#: HTTP statuses in the 4xx range that are worth another try later.
_TEMPORARY_4XX = frozenset({408, 425, 429})


def payload(
    config: SmsConfig, *, key: str, to: str, message: str, status_url: str = ""
) -> dict[str, str]:
    """The request fields: ``[sms] payload`` with its placeholders filled in."""
    values = {
        "sender": config.sender,
        "to": to,
        "message": message,
        "key": key,
        "status_url": status_url,
    }
    return {field: template.format_map(values) for field, template in config.payload.items()}


def file_name(key: str) -> str:
    """The demo's file name of one SMS: its idempotency key in safe characters."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", key).strip("-") + ".txt"


class SmsSender:
    """Sends SMS through the configured transport; one HTTP client for a whole run."""

    def __init__(self, config: SmsConfig, sms_dir: Path, status_url: str = "") -> None:
        """``status_url``: where the gateway posts delivery reports (``{status_url}``)."""
        self.config = config
        self.sms_dir = sms_dir
        self.status_url = status_url
        self._client: httpx.Client | None = None

    def __enter__(self) -> SmsSender:
        if self.config.transport == "http":
            password = self.config.password.get_secret_value()
            auth = (self.config.username, password) if self.config.username else None
            self._client = httpx.Client(
                base_url=self.config.base_url,
                auth=auth,
                timeout=httpx.Timeout(self.config.timeout_seconds),
                headers={"User-Agent": "kvarboende"},
            )
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def send(self, *, key: str, to: str, message: str) -> SmsResult:
        """Send one SMS to ``to`` (E.164); the reminder's ``key`` makes a resend harmless."""
        if self.config.transport == "file":
            return self._write_file(key, to, message)
        if self.config.transport != "http" or self._client is None:
            return SmsResult(SmsOutcome.PERMANENT, "SMS is turned off ([sms] transport)")
        fields = payload(self.config, key=key, to=to, message=message, status_url=self.status_url)
        headers = {}
        if self.config.idempotency_header:
            headers[self.config.idempotency_header] = key
        try:
            if self.config.body_format == "json":
                response = self._client.post(self.config.path, json=fields, headers=headers)
            else:
                response = self._client.post(self.config.path, data=fields, headers=headers)
        except httpx.TimeoutException:
            return SmsResult(SmsOutcome.TEMPORARY, "SMS gateway: no answer (timeout)", None, True)
        except httpx.HTTPError as exc:
            reason = f"SMS gateway: cannot connect ({type(exc).__name__})"
            return SmsResult(SmsOutcome.TEMPORARY, reason, None, True)
        return self._classify(response)

    def _classify(self, response: httpx.Response) -> SmsResult:
        status = response.status_code
        if 200 <= status < 300:
            return SmsResult(SmsOutcome.SENT, "", self._gateway_id(response))
        body = response.text.strip()
        detail = _PHONE.sub("…", mask(body.splitlines()[0][:120])) if body else ""
        reason = f"SMS gateway HTTP {status} {detail}".strip()
        if status >= 500 or status in _TEMPORARY_4XX:
            return SmsResult(SmsOutcome.TEMPORARY, reason)
        return SmsResult(SmsOutcome.PERMANENT, reason)

    def _gateway_id(self, response: httpx.Response) -> str | None:
        try:
            answer = response.json()
        except (json.JSONDecodeError, ValueError):
            return None
        if isinstance(answer, dict) and answer.get(self.config.id_field) is not None:
            return str(answer[self.config.id_field])[:200]
        return None

    def _write_file(self, key: str, to: str, message: str) -> SmsResult:
        """The demo: the SMS as a text file, named by its key (a resend overwrites it)."""
        path = self.sms_dir / file_name(key)
        text = f"Från: {self.config.sender}\nTill: {to}\n\n{message}\n"
        try:
            write_private(path, text.encode("utf-8"))
        except OSError as exc:
            return SmsResult(SmsOutcome.TEMPORARY, f"SMS folder not writable ({exc.errno})")
        return SmsResult(SmsOutcome.SENT, "", path.name)
