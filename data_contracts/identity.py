"""Finnish personal identity codes (henkilötunnus) found inside identifiers and codes.

A personal identity code is DDMMYY, a century sign, a three-digit individual number and a check
character: ``131052-308T``. Booking systems have been seen to send one in a field meant for a
pseudonymous reference, with the separator left out (``131052308T``), replaced (``131052_308T``)
or behind a prefix (``FI131052-308T``, ``hetu:131052-308T``), or with separators doubled or
inside the date (``131052--308T``, ``13-10-52-308T``). Every identifier and code field of the
service refuses a value that contains one, so that no code reaches the audit store in clear.

A run of characters is taken for a code when its first six digits are a real date and its check
character is right (a chance of 1 in 31 for digits that are not a code), and it is not part of a
longer run of digits, so that most running numbers, long numeric ids and dated references such as
``BK-20260101-0042`` pass. A code with a wrong check character
is not a valid code and is not caught.
"""

from __future__ import annotations

import re
from datetime import date

CHECK_CHARACTERS = "0123456789ABCDEFHJKLMNPRSTUVWXY"

# Inside a lookahead, so that overlapping candidates are all tried; never inside a longer run of
# digits, so that long numeric ids (16 or 19 digits) are not refused by chance.
_CANDIDATE = re.compile(
    r"(?<![0-9])(?=(?P<day>[0-9]{2})[-_ .:/]?(?P<month>[0-9]{2})[-_ .:/]?(?P<year>[0-9]{2})"
    r"(?P<sign>[-+A-FU-Y_ .:/]{0,3})(?P<number>[0-9]{3})(?P<check>[0-9A-Y])(?![0-9]))",
    re.IGNORECASE,
)


def check_character(birth_date_digits: str, individual_number: str) -> str:
    """The check character of DDMMYY + NNN (the remainder of the nine digits divided by 31)."""
    return CHECK_CHARACTERS[int(birth_date_digits + individual_number) % 31]


def contains_personal_identity_code(text: str) -> bool:
    """True when ``text`` holds something that reads as a personal identity code anywhere in it."""
    for found in _CANDIDATE.finditer(text):
        day, month, year = (int(found[part]) for part in ("day", "month", "year"))
        if not _is_date(day, month, year):
            continue
        digits = found["day"] + found["month"] + found["year"]
        if check_character(digits, found["number"]) == found["check"].upper():
            return True
    return False


def _is_date(day: int, month: int, year: int) -> bool:
    try:
        date(2000 + year, month, day)  # 2000 is a leap year, so 29 February always passes
    except ValueError:
        return False
    return True
