"""Staff emails point at the portal's pages ([web] public_url), never at server paths."""

from __future__ import annotations


def test_manager_email_links_to_the_report_page(settings) -> None:
    # Imported here, not at collection: importing a flow module before the session's
    # Prefect harness starts leaves Prefect's API log handler without the run's logs
    # (tests/models/test_privacy_logs.py then reads nothing back).
    from flows.monthly_report import manager_email_body

    settings.web.public_url = "https://kvarboende.exempelby.se/"
    body = manager_email_body(settings, "2026-10", [("Nya ärenden", "12")])
    assert "\nhttps://kvarboende.exempelby.se/chef?manad=2026-10\n" in body
    assert str(settings.paths.reports_dir) not in body and "kvarboende report" not in body
