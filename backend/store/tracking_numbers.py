"""Tracking numbers in the UPU S10 format.

An S10 number has 13 characters::

    EE 12345678 5 GB
    │  │        │ └─ country code of the issuing post/carrier (two letters)
    │  │        └─── check digit
    │  └──────────── serial number (eight digits)
    └─────────────── service indicator (two letters)

This carrier issues ``LP`` (parcels), ``EE`` (express and same-day) and ``CP`` (freight) numbers
with country ``GB``; numbers from other S10 carriers validate the same way.

Check digit: multiply the eight serial digits by the weights 8, 6, 4, 2, 3, 5, 9, 7 and add the
products; the check digit is ``11 - (sum mod 11)``, except that 10 becomes 0 and 11 becomes 5.
Serial 12345678 gives 204; 204 mod 11 = 6; 11 - 6 = 5: ``EE123456785GB``.

The check digit catches every single mistyped serial digit, with one blind spot built into
S10: remainders 0 and 6 both give check digit 5, so in a number ending in 5 a typo that moves
the sum between those two remainders slips through (about 1 typo in 55 overall).

People type these numbers with spaces, dashes and lower case, and drop or double digits;
`validate` explains the first thing that looks wrong in words a customer can act on, and
`find_candidates` picks attempts out of free text, near misses included, so the assistant can
say what is wrong with them instead of ignoring them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
LENGTH = 13

_DASHES = "\\-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_SEPARATORS = re.compile(rf"[\s{_DASHES}]+")
_AROUND = ".,;:!?\"'()[]<>#"


@dataclass(frozen=True)
class Validation:
    number: str  # normalised input
    ok: bool
    problem: str | None  # a sentence for the customer when not ok


def normalise(raw: str) -> str:
    """Upper case without spaces or dashes: ``" ee-123 456 785 gb."`` → ``"EE123456785GB"``.

    Punctuation around the number (a full stop ending the sentence, quotes) goes too.
    """
    return _SEPARATORS.sub("", raw).strip(_AROUND).upper()


def check_digit(serial8: str) -> int:
    if len(serial8) != 8 or not serial8.isascii() or not serial8.isdigit():
        raise ValueError(f"an S10 serial is eight digits, not {serial8!r}")
    remainder = sum(int(d) * w for d, w in zip(serial8, WEIGHTS, strict=True)) % 11
    check = 11 - remainder
    return {10: 0, 11: 5}.get(check, check)


def make(prefix: str, serial: int | str, country: str = "GB") -> str:
    """A valid number from its parts: ``make("LP", 42, "GB")`` → ``"LP000000425GB"``."""
    serial8 = f"{int(serial):08d}" if isinstance(serial, int) else serial
    prefix, country = prefix.upper(), country.upper()
    for part, what in ((prefix, "service indicator"), (country, "country code")):
        if len(part) != 2 or not part.isascii() or not part.isalpha():
            raise ValueError(f"the {what} is two letters, not {part!r}")
    return f"{prefix}{serial8}{check_digit(serial8)}{country}"


def validate(raw: str) -> Validation:
    number = normalise(raw)
    return Validation(number, *_first_problem(number))


def _first_problem(number: str) -> tuple[bool, str | None]:
    if not number:
        return False, "I didn't catch a tracking number there — it looks like EE123456785GB."
    if not number.isascii() or not number.isalnum():
        return False, (
            "A tracking number only has letters and digits, like EE123456785GB — "
            "could you check for stray characters?"
        )
    if len(number) != LENGTH:
        return False, _length_problem(number, *_parts(number))
    if not number[:2].isalpha():
        return False, _NO_PREFIX
    if not number[-2:].isalpha():
        return False, _NO_COUNTRY
    if not number[2:11].isdigit():
        return False, (
            "The nine characters between the letters should all be digits — "
            "an O or an I may have slipped in for a 0 or a 1."
        )
    if check_digit(number[2:10]) != int(number[10]):
        return False, (
            "That number's check digit doesn't match — a digit may have been mistyped. "
            "Could you check it again?"
        )
    return True, None


_NO_PREFIX = "A tracking number should start with two letters, like the EE in EE123456785GB."
_NO_COUNTRY = (
    "A tracking number should end with a two-letter country code, like the GB in EE123456785GB."
)


def _parts(number: str) -> tuple[str, str, str]:
    """Letters, digits, letters when the number has that shape; empty strings otherwise."""
    shape = re.fullmatch(r"([A-Z]*)(\d+)([A-Z]*)", number)
    return (shape.group(1), shape.group(2), shape.group(3)) if shape else ("", "", "")


def _length_problem(number: str, prefix: str, digits: str, country: str) -> str:
    # Name the part that is off when only one is: that is the part the customer should fix.
    if len(digits) == 9 and len(country) == 2 and len(prefix) != 2:
        return _NO_PREFIX
    if len(digits) == 9 and len(prefix) == 2 and len(country) != 2:
        return _NO_COUNTRY
    found = f"this one has {len(number)}"
    if len(prefix) == 2 and len(country) == 2:  # the usual slip: a digit dropped or doubled
        found = f"this one has {len(digits)} digits between the letters instead of 9"
    return (
        "A tracking number has 13 characters — two letters, nine digits and two letters — "
        f"but {found}. Could you check it again?"
    )


# Two letters, 8 to 10 digits, two letters; single spaces or dashes may sit between any of
# them. One letter pair may be missing: that is still an attempt worth answering.
_SEP = rf"(?:[ \t]?[{_DASHES}][ \t]?|[ \t])?"
_CANDIDATE = re.compile(
    rf"(?<![A-Za-z0-9])(?:(?P<prefix>[A-Za-z]{{2}}){_SEP})?"
    rf"(?P<digits>\d(?:{_SEP}\d){{7,9}})"
    rf"(?:{_SEP}(?P<country>[A-Za-z]{{2}}))?(?![A-Za-z0-9])"
)
# Lower-case two-letter words next to a number are English, not letter codes ("it is 123...").
_WORDS = frozenset(
    ("am", "an", "as", "at", "be", "by", "do", "go", "he", "if", "in", "is", "it", "me", "my")
    + ("no", "of", "ok", "on", "or", "so", "to", "up", "us", "we")
)


def find_candidates(text: str) -> list[str]:
    """Attempts at tracking numbers in `text`, normalised, without duplicates, in order."""
    found: list[str] = []
    for match in _CANDIDATE.finditer(text):
        prefix = _letters(match, "prefix")
        country = _letters(match, "country")
        if not prefix and not country:
            continue  # bare digits are as likely a phone or order number
        number = normalise(prefix + match.group("digits") + country)
        if number not in found:
            found.append(number)
    return found


def _letters(match: re.Match[str], group: str) -> str:
    letters = match.group(group) or ""
    start, end = match.span(group)
    # The gap between these letters and the digits: after a prefix, before a country code.
    gap = match.string[end : end + 1] if group == "prefix" else match.string[start - 1 : start]
    if letters.lower() in _WORDS and not letters.isupper() and gap.isspace():
        return ""
    return letters
