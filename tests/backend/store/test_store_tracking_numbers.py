"""UPU S10 tracking numbers: check digits, validation messages, finding numbers in chat text."""

from __future__ import annotations

import random

import pytest

from backend.store.tracking_numbers import (
    WEIGHTS,
    Validation,
    check_digit,
    find_candidates,
    make,
    normalise,
    validate,
)


def reference_check_digit(serial: str) -> int:
    """The S10 rule written out independently of the module."""
    weights = (8, 6, 4, 2, 3, 5, 9, 7)
    total = sum(int(digit) * weight for digit, weight in zip(serial, weights, strict=True))
    check = 11 - total % 11
    return 0 if check == 10 else 5 if check == 11 else check


def remainder(serial: str) -> int:
    return sum(int(digit) * weight for digit, weight in zip(serial, WEIGHTS, strict=True)) % 11


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        # 1·8 + 2·6 + 3·4 + 4·2 + 5·3 + 6·5 + 7·9 + 8·7 = 204; 204 mod 11 = 6; 11 − 6 = 5
        ("12345678", 5),
        # 4·8 + 7·6 + 3·4 + 1·2 + 2·3 + 4·5 + 8·9 + 2·7 = 200; 200 mod 11 = 2; 11 − 2 = 9
        ("47312482", 9),
        # sum 0: 11 − 0 = 11, which S10 turns into 5
        ("00000000", 5),
        # 9·5 = 45; 45 mod 11 = 1; 11 − 1 = 10, which S10 turns into 0
        ("00000900", 0),
        # 1·7 = 7; 11 − 7 = 4
        ("00000001", 4),
    ],
)
def test_check_digit_by_hand(serial: str, expected: int) -> None:
    assert check_digit(serial) == expected == reference_check_digit(serial)


def test_check_digit_matches_the_rule_for_many_serials() -> None:
    rng = random.Random(1)
    for serial in (f"{rng.randrange(10**8):08d}" for _ in range(5000)):
        assert check_digit(serial) == reference_check_digit(serial)


@pytest.mark.parametrize("bad", ["1234567", "123456789", "1234567a", "", "１２３４５６７８"])
def test_check_digit_wants_eight_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        check_digit(bad)


def test_make_builds_valid_numbers() -> None:
    assert make("EE", "12345678", "CN") == "EE123456785CN"
    assert make("RA", 12345678, "GB") == "RA123456785GB"
    # serial 00000042: 4·9 + 2·7 = 50; 50 mod 11 = 6; 11 − 6 = 5
    assert make("lp", 42, "gb") == "LP000000425GB"
    assert validate(make("CP", 99999999, "GB")).ok


@pytest.mark.parametrize(
    ("prefix", "serial", "country"), [("E", 1, "GB"), ("EE", 1, "G"), ("E1", 1, "GB")]
)
def test_make_refuses_malformed_parts(prefix: str, serial: int, country: str) -> None:
    with pytest.raises(ValueError):
        make(prefix, serial, country)


def test_make_refuses_serials_beyond_eight_digits() -> None:
    with pytest.raises(ValueError):
        make("LP", 10**8, "GB")


@pytest.mark.parametrize(
    "typed",
    [
        "EE123456785CN",
        "ee123456785cn",
        "EE 123 456 785 CN",
        "EE-123-456-785-CN",
        "ee–123 456–785 cn.",
    ],
)
def test_normalise_and_validate_accept_the_ways_people_type(typed: str) -> None:
    assert normalise(typed) == "EE123456785CN"
    assert validate(typed) == Validation("EE123456785CN", ok=True, problem=None)


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("EE12345678CN", "8 digits between the letters instead of 9"),
        ("EE1234567855CN", "10 digits between the letters instead of 9"),
        ("EE12345", "has 13 characters"),
        ("123456785CN", "should start with two letters"),
        ("E1123456785CN", "should start with two letters"),
        ("EE123456785", "should end with a two-letter country code"),
        ("EE123456785C1", "should end with a two-letter country code"),
        ("EE123456784CN", "check digit doesn't match — a digit may have been mistyped"),
        ("EE12345O785CN", "should all be digits"),
        ("EE#123456785CN", "only has letters and digits"),
        ("", "didn't catch a tracking number"),
    ],
)
def test_validate_says_what_looks_wrong(typed: str, says: str) -> None:
    result = validate(typed)
    assert not result.ok
    assert result.number == normalise(typed)
    assert result.problem is not None and says in result.problem
    assert result.problem[0].isupper() and result.problem.endswith((".", "?"))


def test_every_single_digit_substitution_is_caught_except_the_s10_blind_spot() -> None:
    """S10 maps remainder 0 (11) and remainder 6 (5) to the same check digit, 5.

    So a typo is missed exactly when it moves the weighted sum between those two remainders,
    which can only happen to numbers whose check digit is 5. Every other single-digit typo,
    and every typo at all in a number whose check digit is not 5, is caught.
    """
    rng = random.Random(7)
    missed_with_other_check = 0
    for serial_number in rng.sample(range(10**8), 2000):
        number = make("LP", serial_number, "GB")
        serial = number[2:10]
        for position in range(8):
            for digit in "0123456789":
                if digit == serial[position]:
                    continue
                typo = serial[:position] + digit + serial[position + 1 :]
                caught = not validate(f"LP{typo}{number[10]}GB").ok
                blind_spot = {remainder(serial), remainder(typo)} == {0, 6}
                assert caught != blind_spot, (number, typo)
                if number[10] != "5":
                    missed_with_other_check += not caught
    assert missed_with_other_check == 0


def test_a_typo_in_the_check_digit_itself_is_caught() -> None:
    number = make("EE", 31415926, "GB")
    for digit in "0123456789":
        if digit != number[10]:
            assert not validate(number[:10] + digit + number[11:]).ok


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Where is EE123456785GB?", ["EE123456785GB"]),
        ("my parcel ee 123 456 785 gb hasn't come", ["EE123456785GB"]),
        ("ref EE-123-456-785-GB please", ["EE123456785GB"]),
        ("it's EE12345678GB I think", ["EE12345678GB"]),  # a digit short
        ("LP1234567855GB", ["LP1234567855GB"]),  # a digit too many
        ("the number is 123456785 GB", ["123456785GB"]),  # "is" is a word, not a prefix
        ("EE123456785 is late", ["EE123456785"]),  # "is" is a word, not a country
        ("RR123456785 US", ["RR123456785US"]),  # capitals: a country code
        (
            "EE123456785GB and LP000000425GB, EE 123456785 GB again",
            ["EE123456785GB", "LP000000425GB"],
        ),
        ("call me on 07700 900123 or 0113 496 0001", []),
        ("order no 12345678 to Leeds", []),
        ("postcode LS6 2QT, flat 12", []),
        ("XEE123456785GBX", []),
        ("", []),
    ],
)
def test_find_candidates(text: str, found: list[str]) -> None:
    assert find_candidates(text) == found


def test_candidates_feed_validation() -> None:
    problems = [
        validate(c).problem for c in find_candidates("it's ee 1234 5678 gb or EE123456785GB")
    ]
    assert problems[0] is not None and "8 digits" in problems[0]
    assert problems[1] is None
