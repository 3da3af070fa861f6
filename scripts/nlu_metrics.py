"""NLU figures from per-message predictions.

Held-out predictions come from ``scripts/nlu_predict.py`` (the assistant's own parse, fallback
included); cross-validation ones from the files ``rasa test nlu --successes`` writes. An
in-scope message that ends in ``nlu_fallback`` or ``out_of_scope`` is a miss for its intent;
macro-F1 averages over the expected intents. Used by ``scripts.reports`` (``make test``) and
``scripts.bench_nlu`` (``make bench-nlu``), so both print the same figures.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from actions.suggestions import suggested_intent

# Where an off-topic message should end: the out-of-scope intent, or the fallback when the
# classifier is unsure. Either answer keeps the assistant out of a logistics flow.
REJECTED = frozenset({"out_of_scope", "nlu_fallback"})
FALLBACK = "nlu_fallback"
# Service questions: answered from the knowledge index only above its threshold.
KNOWLEDGE_INTENT = "ask_question"


@dataclass(frozen=True)
class Prediction:
    text: str
    expected: str
    predicted: str  # the final intent, after the FallbackClassifier
    confidence: float  # the classifier's top intent's confidence
    top_intent: str = ""
    second_confidence: float = 0.0
    expected_entities: tuple[tuple[str, int, int], ...] = ()
    entities: tuple[tuple[str, int, int], ...] = ()


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    f1: float
    support: int


def load_predictions(file: Path) -> list[Prediction]:
    """Rows written by ``scripts/nlu_predict.py``."""

    def spans(entities: list[dict]) -> tuple[tuple[str, int, int], ...]:
        return tuple((e["entity"], int(e["start"]), int(e["end"])) for e in entities)

    return [
        Prediction(
            text=row["text"],
            expected=row["expected"],
            predicted=row["predicted"],
            confidence=row["top_confidence"],
            top_intent=row["top_intent"],
            second_confidence=row["second_confidence"],
            expected_entities=spans(row["expected_entities"]),
            entities=spans(row["entities"]),
        )
        for row in json.loads(file.read_text())
    ]


def load_rasa_results(results: Path) -> list[Prediction]:
    """Intent predictions from ``rasa test nlu --successes`` (no fallback: Rasa undoes it)."""
    rows: list[dict] = []
    for name in ("intent_successes.json", "intent_errors.json"):
        file = results / name
        if file.exists():
            rows += json.loads(file.read_text())
    if not rows:
        raise SystemExit(f"no intent predictions in {results} (was --successes given?)")
    return [
        Prediction(
            text=row["text"],
            expected=row["intent"],
            predicted=row["intent_prediction"]["name"] or "",
            confidence=float(row["intent_prediction"]["confidence"] or 0.0),
        )
        for row in rows
    ]


def split(predictions: list[Prediction]) -> tuple[list[Prediction], list[Prediction]]:
    """In-scope and off-topic messages: off-topic ones are labelled ``out_of_scope``."""
    in_scope = [p for p in predictions if p.expected not in REJECTED]
    off_topic = [p for p in predictions if p.expected in REJECTED]
    return in_scope, off_topic


def intent_scores(predictions: list[Prediction]) -> dict[str, Score]:
    """Precision, recall and F1 per expected intent (a fallback counts as a miss)."""
    expected = Counter(p.expected for p in predictions)
    predicted = Counter(p.predicted for p in predictions)
    correct = Counter(p.expected for p in predictions if p.expected == p.predicted)
    scores = {}
    for intent, support in sorted(expected.items()):
        hit = correct[intent]
        precision = hit / predicted[intent] if predicted[intent] else 0.0
        recall = hit / support
        f1 = 2 * precision * recall / (precision + recall) if hit else 0.0
        scores[intent] = Score(precision, recall, f1, support)
    return scores


def macro_f1(scores: dict[str, Score]) -> float:
    return sum(s.f1 for s in scores.values()) / len(scores) if scores else 0.0


def accuracy(predictions: list[Prediction]) -> float:
    if not predictions:
        return 0.0
    return sum(p.expected == p.predicted for p in predictions) / len(predictions)


def rejection_rate(predictions: list[Prediction]) -> float:
    """Share of messages that end in ``out_of_scope`` or ``nlu_fallback``."""
    if not predictions:
        return 0.0
    return sum(p.predicted in REJECTED for p in predictions) / len(predictions)


def declined_rate(predictions: list[Prediction], answers: Callable[[str], bool]) -> float:
    """Share of messages the assistant does not act on, as the shipper sees it: rejected by
    the NLU, or read as a service question that the knowledge index (`answers`) cannot answer
    above its threshold, so the assistant says it is not sure instead of answering."""
    if not predictions:
        return 0.0
    acted = [
        p
        for p in predictions
        if p.predicted not in REJECTED
        and not (p.predicted == KNOWLEDGE_INTENT and not answers(p.text))
    ]
    return 1 - len(acted) / len(predictions)


@dataclass(frozen=True)
class Suggested:
    """What "did you mean …?" (actions/suggestions.py) offers for messages that fell back."""

    right: int  # in-scope, offered the task the message asked for
    other: int  # in-scope, offered another task
    none: int  # in-scope, nothing offered
    off_topic: int  # off-topic, offered a task (a button, nothing started)


def suggested(predictions: list[Prediction]) -> Suggested:
    in_scope, off_topic = split([p for p in predictions if p.predicted == FALLBACK])

    def has_number(p: Prediction) -> bool:
        return any(span[0] == "tracking_number" for span in p.entities)

    def offer(p: Prediction) -> str | None:
        return suggested_intent(p.top_intent, p.confidence, has_number(p))

    def asked(p: Prediction) -> str:
        # A bare number is answered with a look-up, so that is the task it asks for.
        return "track_shipment" if p.expected == "inform" and has_number(p) else p.expected

    offers = [(offer(p), asked(p)) for p in in_scope]
    return Suggested(
        right=sum(got == want for got, want in offers),
        other=sum(got is not None and got != want for got, want in offers),
        none=sum(got is None for got, _ in offers),
        off_topic=sum(offer(p) is not None for p in off_topic),
    )


def confusion_pairs(predictions: list[Prediction], top: int = 8) -> list[tuple[str, str, int]]:
    pairs = Counter((p.expected, p.predicted) for p in predictions if p.expected != p.predicted)
    return [(expected, got, n) for (expected, got), n in pairs.most_common(top)]


def entity_scores(predictions: list[Prediction], entity: str) -> Score | None:
    """Exact-span precision, recall and F1 of one entity over all messages."""
    expected = {(i, span) for i, p in enumerate(predictions) for span in p.expected_entities}
    found = {(i, span) for i, p in enumerate(predictions) for span in p.entities}
    expected = {item for item in expected if item[1][0] == entity}
    found = {item for item in found if item[1][0] == entity}
    if not expected and not found:
        return None
    hit = len(expected & found)
    precision = hit / len(found) if found else 0.0
    recall = hit / len(expected) if expected else 0.0
    f1 = 2 * precision * recall / (precision + recall) if hit else 0.0
    return Score(precision, recall, f1, len(expected))


def rasa_entity_f1(results: Path, entity: str) -> Score | None:
    """The regex extractor's score for one entity, from Rasa's entity report."""
    report = results / "RegexEntityExtractor_report.json"
    row = json.loads(report.read_text()).get(entity) if report.exists() else None
    if not row:
        return None
    return Score(row["precision"], row["recall"], row["f1-score"], int(row["support"]))


@dataclass(frozen=True)
class HeldOut:
    """The held-out figures ``make test`` enforces and ``make bench-nlu`` prints."""

    in_scope: list[Prediction]
    off_topic: list[Prediction]
    scores: dict[str, Score]
    tracking: Score | None
    ticket: Score | None

    @property
    def macro_f1(self) -> float:
        return macro_f1(self.scores)

    @property
    def rejection(self) -> float:
        return rejection_rate(self.off_topic)


def held_out(predictions: list[Prediction]) -> HeldOut:
    in_scope, off_topic = split(predictions)
    return HeldOut(
        in_scope=in_scope,
        off_topic=off_topic,
        scores=intent_scores(in_scope),
        tracking=entity_scores(predictions, "tracking_number"),
        ticket=entity_scores(predictions, "ticket_id"),
    )


def print_intents(predictions: list[Prediction], per_intent: bool, indent: str = "  ") -> None:
    scores = intent_scores(predictions)
    if per_intent:
        print(f"{indent}{'intent':<24} {'prec':>6} {'recall':>6} {'F1':>6} {'n':>5}")
        for name, s in scores.items():
            row = f"{s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} {s.support:5d}"
            print(f"{indent}{name:<24} {row}")
    else:
        weakest = sorted(scores.items(), key=lambda item: item[1].f1)[:4]
        print(f"{indent}weakest: " + ", ".join(f"{n} {s.f1:.2f}" for n, s in weakest))
    pairs = confusion_pairs(predictions)
    if pairs:
        print(f"{indent}top confusions (expected -> predicted): ")
        for expected, got, n in pairs:
            print(f"{indent}  {n:3d}  {expected} -> {got}")


def print_held_out(figures: HeldOut, per_intent: bool = False) -> None:
    n_in, n_off = len(figures.in_scope), len(figures.off_topic)
    print(
        f"  in-scope ({n_in} messages): accuracy {accuracy(figures.in_scope):.3f}, "
        f"macro-F1 {figures.macro_f1:.3f}, "
        f"falsely rejected {rejection_rate(figures.in_scope):.3f}"
    )
    print_intents(figures.in_scope, per_intent)
    print(f"  off-topic ({n_off} messages): rejection rate {figures.rejection:.3f}")
    leaks = Counter(p.predicted for p in figures.off_topic if p.predicted not in REJECTED)
    if leaks:
        print("    taken for: " + ", ".join(f"{name} {n}" for name, n in leaks.most_common()))
    for name, score in (("tracking_number", figures.tracking), ("ticket_id", figures.ticket)):
        if score is None:
            print(f"  {name} entity: no report")
        else:
            print(
                f"  {name} entity: F1 {score.f1:.3f} (precision {score.precision:.3f}, "
                f"recall {score.recall:.3f}, support {score.support})"
            )


def with_fallback(
    predictions: list[Prediction], threshold: float, ambiguity: float
) -> list[Prediction]:
    """Predictions as a FallbackClassifier with these settings would leave them."""

    def final(p: Prediction) -> str:
        unsure = p.confidence < threshold or p.confidence - p.second_confidence < ambiguity
        return "nlu_fallback" if unsure else p.top_intent

    return [replace(p, predicted=final(p)) for p in predictions]
