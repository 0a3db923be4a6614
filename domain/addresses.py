"""Where a letter can reach someone: a usable email address, the postal address block.

One rule for every sender: the letter stage chooses email or print with
:func:`usable_email`, and delivery checks the recipient with the same function before
the SMTP conversation. The address block is what shows in the envelope window;
:func:`has_postal_address` says whether the post can find the household at all.
"""

from __future__ import annotations

import re
from email.errors import HeaderParseError
from email.headerregistry import Address
from typing import Protocol

_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[A-Za-z]{2,}$")


class Addressee(Protocol):
    """The address fields of an episode (or anything that has them)."""

    tenant_name: str | None
    co_tenant_name: str | None
    street_address: str | None
    apartment: str | None
    postal_code: str | None
    town: str | None


def usable_email(address: str | None) -> str | None:
    """The address (trimmed) when it looks deliverable, else None (the letter goes by post).

    Deliverable: one ``@``, no spaces or list separators, a domain with a dot and a
    top-level domain of letters, and an address that fits a To header as it is.
    """
    if address is None:
        return None
    address = address.strip()
    if not _EMAIL.match(address):
        return None
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError, TypeError, HeaderParseError):
        return None
    return address if parsed.username and "." in parsed.domain else None


def postal_line(postal_code: str | None, town: str | None) -> str:
    """``123 45 Exempelby``: a five-digit postcode written the Swedish way, then the town."""
    code = re.sub(r"\s", "", postal_code or "")
    if len(code) == 5 and code.isdigit():
        code = f"{code[:3]} {code[3:]}"
    return " ".join(part for part in (code, (town or "").strip()) if part)


def recipient_lines(addressee: Addressee) -> tuple[str, ...]:
    """The address block for the envelope window: names, street (and flat), postcode town."""
    street = (addressee.street_address or "").strip()
    if addressee.apartment and addressee.apartment not in street:
        street = f"{street} lgh {addressee.apartment}".strip()
    lines = (
        (addressee.tenant_name or "").strip(),
        (addressee.co_tenant_name or "").strip(),
        street,
        postal_line(addressee.postal_code, addressee.town),
    )
    return tuple(line for line in lines if line)


def tenant_email(
    landlord_email: str | None, given_by_tenant: str | None
) -> tuple[str | None, bool]:
    """The address to email the tenant at, and whether it came from the landlord's file.

    An address the tenant gave themselves comes first; then the landlord's. Returns
    ``(None, False)`` when neither is usable.
    """
    own = usable_email(given_by_tenant)
    if own is not None:
        return own, False
    landlord = usable_email(landlord_email)
    return landlord, landlord is not None


def has_postal_address(addressee: Addressee) -> bool:
    """A street and a postcode or town: enough for the post to find the household."""
    return bool((addressee.street_address or "").strip()) and bool(
        postal_line(addressee.postal_code, addressee.town)
    )


class EmailAddressee(Addressee, Protocol):
    """An addressee with the landlord's email address and the one the tenant gave."""

    email: str | None
    tenant_email: str | None


def gets_post_copy(addressee: EmailAddressee, post_when_from_landlord: bool) -> bool:
    """Whether a letter emailed to this household also goes by post.

    An address from the landlord's file may be old or read by someone else; one the
    tenant gave the advisor is trusted. ``post_when_from_landlord`` is
    ``letters.post_when_email_from_landlord``. The letter stage queues the copy and the
    booking gives such a letter the post's lead time, so the copy arrives in time.
    """
    address, from_landlord = tenant_email(addressee.email, addressee.tenant_email)
    return (
        post_when_from_landlord
        and address is not None
        and from_landlord
        and has_postal_address(addressee)
    )
