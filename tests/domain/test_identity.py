from datetime import date

import pytest

from domain.identity import normalise

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("text", "digits", "valid", "coordination"),
    [
        ("811218-9876", "198112189876", True, False),
        ("19811218-9876", "198112189876", True, False),
        ("198112189876", "198112189876", True, False),
        ("811218+9876", "188112189876", True, False),  # turned 100: the + form
        ("701063-2391", "197010632391", True, True),  # samordningsnummer
        ("811218-9875", "198112189875", False, False),  # wrong check digit: kept, flagged
        ("811318-9876", "198113189876", False, False),  # no 13th month
        ("hej", None, False, False),
        ("", None, False, False),
        (None, None, False, False),
    ],
)
def test_normalise(text, digits, valid, coordination) -> None:
    identity = normalise(text, today=TODAY)
    assert identity.digits == digits
    assert identity.valid is valid
    assert identity.coordination is coordination


def test_ten_digit_number_from_this_century() -> None:
    assert normalise("101010-1010", today=TODAY).digits.startswith("2010")


def test_only_ascii_digits_are_digits() -> None:
    # Arabic-Indic digits look like digits to Python's \d but are not a personnummer.
    assert normalise("٨١١٢١٨-٩٨٧٦", today=TODAY).digits is None
