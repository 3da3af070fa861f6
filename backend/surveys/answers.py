"""The survey's questions, how an answer in the user's words becomes a score, and how
answers are kept: each one as it is given, so an abandoned survey keeps what it has.

Unhappy answers (CSAT 2 or less, damaged goods, NPS 6 or less) open a follow-up task the
moment they are saved, finished survey or not; for an A-tier customer the task asks for a
call back within four hours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from backend.crm.models import Tier
from backend.crm.tiers import current_tier
from backend.surveys.models import (
    FollowUpTask,
    InvitationStatus,
    SurveyAnswer,
    SurveyInvitation,
    SurveyKind,
)

# question: (lowest, highest) for scores, None for yes/no, "text" for free text.
QUESTIONS: dict[str, tuple[int, int] | str | None] = {
    "csat": (1, 5),
    "on_time": None,
    "condition": None,
    "courtesy": (1, 5),
    "nps": (0, 10),
    "comment": "text",
}
DELIVERY_QUESTIONS = ("csat", "on_time", "condition", "courtesy", "nps", "comment")
RELATIONSHIP_QUESTIONS = ("nps", "comment")
CALLBACK_WITHIN = timedelta(hours=4)


def questions_for(kind: SurveyKind) -> tuple[str, ...]:
    return RELATIONSHIP_QUESTIONS if kind is SurveyKind.relationship else DELIVERY_QUESTIONS


@dataclass(frozen=True)
class Parsed:
    outcome: str  # "value", "skip" or "invalid"
    score: int | None = None
    text: str | None = None


NUMBER_WORDS = {
    "zero": 0, "nought": 0, "none": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
# Words on a 1-5 scale (longest phrases are tried first).
FEELING_WORDS = {
    "very bad": 1, "terrible": 1, "awful": 1, "horrible": 1, "dreadful": 1, "appalling": 1,
    "useless": 1, "worst": 1, "rubbish": 1, "bad": 2, "poor": 2, "not great": 2,
    "not good": 2, "disappointing": 2, "meh": 3, "ok": 3, "okay": 3, "average": 3, "fine": 3,
    "alright": 3, "so so": 3, "so-so": 3, "decent": 3, "good": 4, "pretty good": 4,
    "nice": 4, "happy": 4, "very good": 5, "great": 5, "excellent": 5, "amazing": 5,
    "perfect": 5, "fantastic": 5, "brilliant": 5, "superb": 5, "outstanding": 5,
    "loved it": 5, "love it": 5, "wonderful": 5, "satisfied": 4, "very satisfied": 5,
    "dissatisfied": 2, "unsatisfied": 2, "chuffed": 5, "lovely": 5, "polite": 4,
    "very polite": 5, "friendly": 4, "helpful": 4, "rude": 1, "abrupt": 2, "grumpy": 2,
}  # fmt: skip
# "not", "never", "doubt" or a "n't" word up to two words before a feeling turns a good one
# bad ("not very good", "wasn't that friendly", "doubt I'd recommend") and a bad one middling
# ("not bad"). The apostrophe is often left out, so those words are listed without it too.
_NEGATION = re.compile(
    r"(?<![\w'])(?:not|never|hardly|doubt|\w+n't|dont|wont|wouldnt|didnt|isnt|wasnt|cant"
    r"|couldnt|doesnt)(?:\s+\S+){0,2}\s+$"
)
# How a feeling word reads on the 0-10 recommendation scale.
FEELING_TO_NPS = {1: 0, 2: 3, 3: 5, 4: 8, 5: 10}
NPS_WORDS = {
    "definitely": 10, "absolutely": 10, "certainly": 10, "for sure": 10, "likely": 7,
    "maybe": 5, "perhaps": 5, "unlikely": 2, "never": 0, "no way": 0, "not likely": 2,
    "very likely": 9, "extremely likely": 10, "would recommend": 9, "recommend": 8,
}  # fmt: skip
# A recommendation turned down ("not very likely", "wouldn't recommend you").
NPS_NEGATED = 2
SKIP_WORDS = (
    "skip", "pass", "next", "rather not say", "prefer not to say", "don't know",
    "dont know", "do not know", "not sure", "dunno", "no idea", "n/a", "na", "no comment",
    "can't say", "cant say", "no opinion", "not applicable",
)  # fmt: skip
NOTHING_MORE = (
    "no", "nope", "nothing", "nothing else", "no thanks", "no thank you", "that's all",
    "thats all", "that's it", "none", "all good", "no comments", "nah", "not really",
)  # fmt: skip
YES_PHRASES = (
    "no damage", "not damaged", "undamaged", "not late", "wasn't late", "was not late",
    "no problem", "no issues", "no problems", "nothing wrong",
)  # fmt: skip
NO_WORDS = (
    "no", "nope", "nah", "not", "late", "delayed", "damaged", "broken", "crushed", "wet",
    "dented", "smashed", "torn", "ripped", "leaking", "opened", "missing", "wasn't",
    "wasnt", "didn't", "didnt", "battered", "bashed", "squashed", "soggy", "scratched",
    "cracked", "leaked", "meant to", "supposed to", "should have", "a day after",
    "days after", "after they said",
)  # fmt: skip
YES_WORDS = (
    "yes", "yeah", "yep", "yup", "y", "sure", "correct", "on time", "early", "perfect",
    "fine", "ok", "okay", "good", "great", "intact", "absolutely", "definitely", "indeed",
    "of course", "spot on", "all good", "mint", "excellent", "when it said", "as promised",
    "when promised", "on the day",
)  # fmt: skip
# Yes only as the whole answer: "it was" says yes, "it was meant to come Tuesday" does not.
YES_ALONE = ("it was", "it did", "they were", "it came", "it arrived")
_STARS = re.compile(r"[★⭐✩☆]")
_CODE_LIKE = re.compile(r"[<>{}=;$\\]")  # markup or code, never an answer to a scale
_NUMBER = re.compile(r"(?<![\d.])-?\d+(?:[.,]\d+)?(?![\d.])")


def _normal(text: str) -> str:
    text = text.lower().replace("’", "'")
    text = re.sub(r"[!?.,;:()\"]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _has(words: str, phrase: str) -> bool:
    return re.search(rf"(?<![\w']){re.escape(phrase)}(?![\w'])", words) is not None


def _is_one_of(words: str, phrases: tuple[str, ...]) -> bool:
    return words in phrases


def parse_answer(question: str, raw: str) -> Parsed:
    """Read the user's answer to `question` (digits, words, stars, yes/no, skip)."""
    spec = QUESTIONS[question]
    text = (raw or "").strip()
    words = _normal(text)
    if spec == "text":
        if not words or _is_one_of(words, NOTHING_MORE) or _is_one_of(words, SKIP_WORDS):
            return Parsed("skip")
        return Parsed("value", text=text[:2000])
    if (not words and not _STARS.search(text)) or _CODE_LIKE.search(text):
        return Parsed("invalid", text=text[:2000] or None)
    if _is_one_of(words, SKIP_WORDS) or any(_has(words, w) for w in SKIP_WORDS if " " in w):
        return Parsed("skip")
    if spec is None:
        return _parse_yes_no(words, text)
    low, high = spec
    score = _parse_score(words, text, nps=question == "nps")
    if score is None or not low <= score <= high:
        return Parsed("invalid", score=score, text=text)
    return Parsed("value", score=score, text=text)


def _parse_yes_no(words: str, text: str) -> Parsed:
    if any(_has(words, phrase) for phrase in YES_PHRASES):
        return Parsed("value", score=1, text=text)
    if any(_has(words, w) for w in NO_WORDS):
        return Parsed("value", score=0, text=text)
    if any(_has(words, w) for w in YES_WORDS) or _is_one_of(words, YES_ALONE):
        return Parsed("value", score=1, text=text)
    return Parsed("invalid", text=text)


def _negated(words: str, phrase: str) -> bool:
    """Whether `phrase` is found in `words` only after a negation ("not very likely")."""
    found = re.search(rf"(?<![\w']){re.escape(phrase)}(?![\w'])", words)
    return found is not None and _NEGATION.search(words[: found.start()]) is not None


def _parse_score(words: str, text: str, nps: bool) -> int | None:
    stars = len(_STARS.findall(text))
    if stars:
        return stars
    numbers = _NUMBER.findall(text.lower())
    if numbers:
        first = numbers[0].replace(",", ".")
        value = float(first)
        return int(value) if value.is_integer() else None
    for word, value in NUMBER_WORDS.items():
        if _has(words, word):
            return value
    if nps:
        for phrase in sorted(NPS_WORDS, key=len, reverse=True):
            if _has(words, phrase):
                value = NPS_WORDS[phrase]
                return NPS_NEGATED if value > 5 and _negated(words, phrase) else value
    for phrase in sorted(FEELING_WORDS, key=len, reverse=True):
        if _has(words, phrase):
            feeling = FEELING_WORDS[phrase]
            if _negated(words, phrase):
                feeling = 2 if feeling >= 3 else 3
            return FEELING_TO_NPS[feeling] if nps else feeling
    return None


class SurveyClosed(Exception):
    """The invitation cannot take answers: `reason` is unknown, completed, expired, opted_out."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _check_open(invitation: SurveyInvitation, now: datetime) -> None:
    from backend.surveys.invitations import closed_reason

    reason = closed_reason(invitation, now)
    if reason is not None:
        raise SurveyClosed(reason)


def start(
    session: Session, invitation: SurveyInvitation, conversation_id: str, now: datetime
) -> None:
    _check_open(invitation, now)
    if invitation.status is InvitationStatus.pending:
        invitation.status = InvitationStatus.started
        invitation.started_at = now
    invitation.conversation_id = conversation_id
    session.add(invitation)
    session.flush()


def record_answer(
    session: Session,
    invitation: SurveyInvitation,
    question: str,
    parsed: Parsed,
    now: datetime | None = None,
) -> SurveyAnswer:
    """Save one answer (a later answer to the same question replaces it until completion)."""
    now = now or datetime.now(UTC)
    if question not in QUESTIONS:
        raise ValueError(f"unknown question {question!r}")
    _check_open(invitation, now)
    answer = session.exec(
        select(SurveyAnswer).where(
            SurveyAnswer.invitation_id == invitation.id, SurveyAnswer.question == question
        )
    ).first() or SurveyAnswer(invitation_id=invitation.id, question=question)
    skipped = parsed.outcome != "value"
    answer.score = None if skipped else parsed.score
    answer.text = parsed.text
    answer.skipped = skipped
    answer.answered_at = now
    session.add(answer)
    if invitation.status is InvitationStatus.pending:
        invitation.status = InvitationStatus.started
        invitation.started_at = now
        session.add(invitation)
    session.flush()
    reasons = unhappy_reasons(answers_of(session, invitation))
    if reasons:
        ensure_follow_up(session, invitation, reasons, now)
    return answer


def answers_of(session: Session, invitation: SurveyInvitation) -> dict[str, SurveyAnswer]:
    rows = session.exec(select(SurveyAnswer).where(SurveyAnswer.invitation_id == invitation.id))
    return {row.question: row for row in rows}


def complete(session: Session, invitation: SurveyInvitation, now: datetime | None = None) -> None:
    """Close the survey; a second submission raises SurveyClosed("completed")."""
    now = now or datetime.now(UTC)
    _check_open(invitation, now)
    invitation.status = InvitationStatus.completed
    invitation.completed_at = now
    session.add(invitation)
    session.flush()


def unhappy_reasons(answers: dict[str, SurveyAnswer]) -> list[str]:
    reasons = []
    csat, condition, nps = answers.get("csat"), answers.get("condition"), answers.get("nps")
    if csat and csat.score is not None and csat.score <= 2:
        reasons.append(f"CSAT {csat.score}")
    if condition and condition.score == 0:
        reasons.append("damaged")
    if nps and nps.score is not None and nps.score <= 6:
        reasons.append(f"NPS {nps.score}")
    return reasons


def ensure_follow_up(
    session: Session, invitation: SurveyInvitation, reasons: list[str], now: datetime
) -> FollowUpTask:
    """The follow-up task of this invitation, created or brought up to date."""
    task = session.exec(
        select(FollowUpTask).where(FollowUpTask.invitation_id == invitation.id)
    ).first()
    if task is None:
        priority = invitation.customer_id is not None and (
            current_tier(session, invitation.customer_id) is Tier.A
        )
        task = FollowUpTask(
            invitation_id=invitation.id,
            reasons="",
            priority_callback=priority,
            due_at=now + CALLBACK_WITHIN if priority else None,
            created_at=now,
        )
    task.reasons = "; ".join(reasons)[:300]
    session.add(task)
    session.flush()
    return task


def follow_up_of(session: Session, invitation: SurveyInvitation) -> FollowUpTask | None:
    return session.exec(
        select(FollowUpTask).where(FollowUpTask.invitation_id == invitation.id)
    ).first()
