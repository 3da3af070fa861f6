"""Reading answers in the user's words: digits, words, stars, buttons, yes/no, skip, nonsense."""

from __future__ import annotations

import pytest

from backend.surveys.answers import parse_answer


@pytest.mark.parametrize(
    ("question", "text", "score"),
    [
        ("csat", "4", 4),
        ("csat", " 5 ", 5),
        ("csat", "four", 4),
        ("csat", "Five!", 5),
        ("csat", "terrible", 1),
        ("csat", "it was great", 5),
        ("csat", "pretty good", 4),
        ("csat", "not good", 2),
        ("csat", "ok", 3),
        ("csat", "★★★★", 4),
        ("csat", "⭐⭐", 2),
        ("csat", "4 stars", 4),
        ("csat", "4/5", 4),
        ("csat", "3 out of 5", 3),
        ("courtesy", "1", 1),
        ("courtesy", "the driver was excellent", 5),
        ("nps", "0", 0),
        ("nps", "10", 10),
        ("nps", "seven", 7),
        ("nps", "8 out of 10", 8),
        ("nps", "definitely", 10),
        ("nps", "never", 0),
        ("nps", "great", 10),
        ("nps", "terrible", 0),
        # A turned-down recommendation or feeling is unhappy (NPS 6 or less opens a follow-up).
        ("nps", "not very likely", 2),
        ("nps", "wouldn't recommend you", 2),
        ("nps", "doubt I'd recommend you", 2),
        ("nps", "I want to recommend you", 8),
        ("nps", "9, would recommend", 9),
        ("csat", "not very good", 2),
        ("csat", "wasn't that great", 2),
        ("csat", "not bad", 3),
        ("csat", "very satisfied", 5),
        ("courtesy", "he was very polite", 5),
        ("courtesy", "a bit abrupt", 2),
    ],
)
def test_scores_in_every_format(question: str, text: str, score: int) -> None:
    parsed = parse_answer(question, text)
    assert (parsed.outcome, parsed.score) == ("value", score)


@pytest.mark.parametrize(
    ("question", "text", "score"),
    [
        ("on_time", "yes", 1),
        ("on_time", "yep, right on time", 1),
        ("on_time", "no", 0),
        ("on_time", "it was 2 days late", 0),
        ("on_time", "not late at all", 1),
        ("condition", "yes", 1),
        ("condition", "damaged", 0),
        ("condition", "the box was crushed", 0),
        ("condition", "no damage", 1),
        ("condition", "perfect", 1),
        ("condition", "nope", 0),
        ("on_time", "it was", 1),
        ("on_time", "came when it said it would", 1),
        ("on_time", "it was meant to come Tuesday and I got it Thursday", 0),
        ("condition", "box was a bit battered", 0),
    ],
)
def test_yes_and_no(question: str, text: str, score: int) -> None:
    parsed = parse_answer(question, text)
    assert (parsed.outcome, parsed.score) == ("value", score)


@pytest.mark.parametrize("text", ["skip", "Skip", "pass", "rather not say", "don't know", "n/a"])
@pytest.mark.parametrize("question", ["csat", "on_time", "nps", "comment"])
def test_skipping_any_question(question: str, text: str) -> None:
    assert parse_answer(question, text).outcome == "skip"


@pytest.mark.parametrize(
    ("question", "text"),
    [
        ("csat", "6"),
        ("csat", "0"),
        ("csat", "-1"),
        ("csat", "4.5"),
        ("csat", "asdfgh"),
        ("csat", ""),
        ("csat", "🙂"),
        ("csat", "<script>alert(1)</script>"),
        ("csat", "'; DROP TABLE survey_answers; --"),
        ("courtesy", "11"),
        ("nps", "11"),
        ("nps", "100"),
        ("nps", "purple"),
        ("on_time", "banana"),
        ("condition", "42"),
    ],
)
def test_nonsense_and_out_of_range_are_invalid(question: str, text: str) -> None:
    assert parse_answer(question, text).outcome == "invalid"


def test_out_of_range_keeps_the_number_for_the_retry() -> None:
    assert parse_answer("csat", "7").score == 7


@pytest.mark.parametrize("text", ["no", "nothing", "No thanks", "that's all", ""])
def test_nothing_more_to_say_skips_the_comment(text: str) -> None:
    assert parse_answer("comment", text).outcome == "skip"


def test_a_comment_is_kept_as_written() -> None:
    text = "The driver left it in the rain <b>again</b>"
    parsed = parse_answer("comment", text)
    assert (parsed.outcome, parsed.text) == ("value", text)


def test_a_very_long_comment_is_cut_to_the_column() -> None:
    assert len(parse_answer("comment", "x" * 5000).text or "") == 2000
