"""Words for the lexical ranker, and a cheap test of whether a query is English at all."""

from __future__ import annotations

import difflib
import re
import unicodedata


def _word_list(text: str) -> list[str]:
    return text.split()


_WORD = re.compile(r"[a-z0-9£]+(?:'[a-z]+)?")

STOPWORDS = frozenset(
    _word_list(
        """a about above after again all am an and any are as at be been before being below between
    both but by can could did do does doing don down during each few for from further had has have
    having he her here hers him his how i if in into is it its itself just me more most my myself
    no nor not now of off on once only or other our ours out over own same she should so some such
    than that the their theirs them then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours
    yourself hi hello please thanks thank hey ok okay i'm i've it's what's can't don't won't
    doesn't didn't isn't there's let's get got want need know tell us you're"""
    )
)

# Short common English words that are not in the corpus but show a query is English.
_ENGLISH_EXTRA = frozenset(
    _word_list(
        """yes yeah yep nope one two three four five six seven eight nine ten today tomorrow
    yesterday week month year time day morning evening night mum dad friend wife husband
    son daughter house home flat office work shop online order ordered bought buy buying sell seller
    thing stuff something anything nothing everything someone anyone still yet ago already
    again also even ever never always much many lot lots bit really actually maybe
    go going went gone come coming came say said says see saw look looking make made
    take took give gave put keep kept find found think thought mean try tried use used
    happen happened happens arrive arrived arriving left leave help helpful
    good bad great fine new old big small best worst last next first long short
    late early fast quick slow quickly cheap expensive free paid"""
    )
)

_ENDINGS = ("ations", "ation", "ings", "ing", "ed", "er", "ly")


def fold(text: str) -> str:
    """Lower case, accents removed, curly quotes straightened."""
    text = unicodedata.normalize("NFKD", text.lower()).replace("’", "'").replace("‘", "'")
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def stem(word: str) -> str:
    """A light suffix stripper: enough to match "claims"/"claim", "delivered"/"delivery"."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("ches", "shes", "xes", "sses")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 4:
            word = word[: -len(ending)]
            break
    if word.endswith(("y", "e")) and len(word) > 5:
        word = word[:-1]
    return word


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def tokens(text: str) -> list[str]:
    """Stemmed content words."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


def letters_share_latin(text: str) -> float:
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 1.0
    latin = sum(1 for ch in letters if "LATIN" in unicodedata.name(ch, ""))
    return latin / len(letters)


def english_share(text: str, vocabulary: frozenset[str]) -> float:
    """Share of the query's words that are English words the assistant knows (1.0 if none).

    A longer word one typo away from a known word ("wieght", "volumetrik") counts half, so a
    hurried English question is not mistaken for another language.
    """
    found = [w.strip("'") for w in words(text) if not w.isdigit()]
    found = [w for w in found if len(w) > 1]
    if not found:
        return 1.0
    known = 0.0
    for word in found:
        if word in STOPWORDS or word in _ENGLISH_EXTRA or {word, stem(word)} & vocabulary:
            known += 1
        elif len(word) >= 5 and _near_known(word, vocabulary):
            known += 0.5
    return known / len(found)


def _near_known(word: str, vocabulary: frozenset[str]) -> bool:
    candidates = [
        v for v in vocabulary if v[:1] == word[:1] and abs(len(v) - len(word)) <= 2 and len(v) > 3
    ]
    return bool(difflib.get_close_matches(word, candidates, n=1, cutoff=0.8))


def english_words() -> frozenset[str]:
    return STOPWORDS | _ENGLISH_EXTRA
