"""Portal test helpers: notice files, CSRF tokens, a client that logs in."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import date

from fastapi.testclient import TestClient
from notice_rows import notice, notice_csv
from sqlalchemy import Engine

from domain.synthetic import make_personnummer
from models.config import Settings
from web.app import create_app

PASSWORD = "rätt-lösenord-1"
COLUMNS = (
    "personnummer", "tenant_name", "street_address", "apartment", "postal_code", "town",
    "contract_ref", "event_type", "event_date", "service_date", "debt_amount",
)  # fmt: skip
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def notice_file(rows: list[dict[str, str]]) -> bytes:
    return notice_csv(rows, columns=COLUMNS).encode("utf-8")


def sample_file(seed: int = 1) -> bytes:
    """Two good rows (one repeated), and one without personnummer and name (rejected)."""
    good = notice(
        personnummer=make_personnummer(random.Random(seed), date(1980, 5, 17)),
        tenant_name="Eva Berg", street_address="Storgatan 1", apartment="1101",
        postal_code="194 30", town="Exempelby", contract_ref=f"K-{seed}",
        event_type="termination_notice", event_date="2026-11-02", service_date="2026-11-04",
        debt_amount="12 345,50",
    )  # fmt: skip
    bad = notice(
        contract_ref="K-BAD", event_type="termination_notice", event_date="2026-11-02",
        debt_amount="100",
    )  # fmt: skip
    return notice_file([good, bad, good])


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


@dataclass
class Portal:
    engine: Engine
    settings: Settings
    company_a: str
    company_b: str

    def client(self) -> TestClient:
        """A browser of its own (cookies), on https so that Secure cookies are sent."""
        return TestClient(
            create_app(self.settings, self.engine),
            base_url="https://testserver",
            follow_redirects=False,
        )

    def login(self, username: str, password: str = PASSWORD, client: TestClient | None = None):
        """A logged-in client and its session's CSRF token."""
        client = client or self.client()
        page = client.get("/logga-in")
        answer = client.post(
            "/logga-in",
            data={"username": username, "password": password, "csrf_token": csrf_of(page.text)},
        )
        assert answer.status_code == 303, answer.text
        home = client.get("/", follow_redirects=True)
        return client, csrf_of(home.text)
