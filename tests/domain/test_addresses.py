"""The one rule for email addresses and the postal address block (domain/addresses.py)."""

from __future__ import annotations

from types import SimpleNamespace

from domain.addresses import has_postal_address, postal_line, recipient_lines, usable_email


def test_usable_email_is_the_rule_of_both_the_letter_stage_and_delivery() -> None:
    assert usable_email(" asa.oberg@example.se ") == "asa.oberg@example.se"
    # Refused by the letter stage's pattern (the header parser alone took them) ...
    for bad in ("asa@example.s3", "asa@example.c"):
        assert usable_email(bad) is None, bad
    # ... and by the To-header check (the pattern alone took them).
    for bad in ('"asa@example.se', "asa.@example.se", "asa@exa(mple.se"):
        assert usable_email(bad) is None, bad
    for bad in (None, "", "asa", "asa@localhost", "a b@example.se", "a,b@example.se"):
        assert usable_email(bad) is None, bad


def test_address_block_and_postal_reachability() -> None:
    home = SimpleNamespace(
        tenant_name=" Åsa Öberg ",
        co_tenant_name=None,
        street_address="Ringvägen 12",
        apartment="1102",
        postal_code="12345",
        town="Exempelby",
    )
    assert recipient_lines(home) == ("Åsa Öberg", "Ringvägen 12 lgh 1102", "123 45 Exempelby")
    assert has_postal_address(home)
    assert not has_postal_address(SimpleNamespace(**{**vars(home), "street_address": " "}))
    assert postal_line(None, None) == ""
