"""The held-out figures make test enforces: scores, rejection, fallback replay, entity spans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts import nlu_metrics
from scripts.nlu_metrics import Prediction


def _p(expected: str, predicted: str, confidence: float = 0.9, second: float = 0.05) -> Prediction:
    return Prediction("text", expected, predicted, confidence, predicted, second)


def test_scores_count_a_fallback_as_a_miss_for_the_expected_intent() -> None:
    predictions = [
        _p("track_shipment", "track_shipment"),
        _p("track_shipment", "nlu_fallback"),
        _p("greet", "greet"),
        _p("greet", "track_shipment"),
    ]
    scores = nlu_metrics.intent_scores(predictions)
    assert set(scores) == {"track_shipment", "greet"}
    assert scores["track_shipment"].precision == pytest.approx(0.5)
    assert scores["track_shipment"].recall == pytest.approx(0.5)
    assert scores["greet"].precision == pytest.approx(1.0)
    assert scores["greet"].f1 == pytest.approx(2 / 3)
    assert nlu_metrics.macro_f1(scores) == pytest.approx((0.5 + 2 / 3) / 2)
    assert nlu_metrics.accuracy(predictions) == pytest.approx(0.5)
    assert nlu_metrics.confusion_pairs(predictions) == [
        ("track_shipment", "nlu_fallback", 1),
        ("greet", "track_shipment", 1),
    ]


def test_off_topic_messages_are_rejected_by_out_of_scope_or_the_fallback() -> None:
    in_scope, off_topic = nlu_metrics.split(
        [
            _p("out_of_scope", "out_of_scope"),
            _p("out_of_scope", "nlu_fallback"),
            _p("out_of_scope", "file_complaint"),
            _p("out_of_scope", "ask_question"),
            _p("thank", "thank"),
        ]
    )
    assert [p.expected for p in in_scope] == ["thank"]
    assert nlu_metrics.rejection_rate(off_topic) == pytest.approx(0.5)


def test_a_service_question_the_index_cannot_answer_is_declined_as_the_shipper_sees_it() -> None:
    def off(predicted: str, text: str) -> Prediction:
        return Prediction(text, "out_of_scope", predicted, 0.9, predicted)

    off_topic = [
        off("out_of_scope", "what is the weather"),
        off("ask_question", "how do I claim universal credit"),  # not sure: declined
        off("ask_question", "how do I open a bank account"),  # answered: acted on
        off("file_complaint", "my card was charged twice"),  # a form: acted on
    ]
    answered = {"how do I open a bank account"}
    rate = nlu_metrics.declined_rate(off_topic, lambda text: text in answered)
    assert rate == pytest.approx(0.5)
    assert nlu_metrics.rejection_rate(off_topic) == pytest.approx(0.25)


def test_fallback_replay_applies_threshold_and_ambiguity() -> None:
    sure = _p("greet", "greet", confidence=0.9, second=0.05)
    low = _p("greet", "greet", confidence=0.55, second=0.1)
    close = _p("greet", "greet", confidence=0.72, second=0.68)
    replayed = nlu_metrics.with_fallback([sure, low, close], threshold=0.6, ambiguity=0.1)
    assert [p.predicted for p in replayed] == ["greet", "nlu_fallback", "nlu_fallback"]
    kept = nlu_metrics.with_fallback([sure, low, close], threshold=0.5, ambiguity=0.0)
    assert [p.predicted for p in kept] == ["greet", "greet", "greet"]


def test_entity_scores_need_the_exact_span(tmp_path: Path) -> None:
    rows = [
        {
            "text": "track LP954255502GB and [C-26-00123]",
            "expected": "track_shipment",
            "predicted": "track_shipment",
            "top_intent": "track_shipment",
            "top_confidence": 0.99,
            "second_confidence": 0.0,
            "expected_entities": [
                {"entity": "tracking_number", "start": 6, "end": 19},
                {"entity": "ticket_id", "start": 25, "end": 36},
            ],
            "entities": [
                {"entity": "tracking_number", "start": 6, "end": 19},
                {"entity": "ticket_id", "start": 25, "end": 33},
            ],
        },
        {
            "text": "order 4471203",
            "expected": "track_shipment",
            "predicted": "track_shipment",
            "top_intent": "track_shipment",
            "top_confidence": 0.9,
            "second_confidence": 0.0,
            "expected_entities": [],
            "entities": [{"entity": "tracking_number", "start": 6, "end": 13}],
        },
    ]
    file = tmp_path / "heldout.json"
    file.write_text(json.dumps(rows))
    figures = nlu_metrics.held_out(nlu_metrics.load_predictions(file))
    assert figures.tracking is not None and figures.ticket is not None
    assert (figures.tracking.precision, figures.tracking.recall) == (0.5, 1.0)
    assert figures.tracking.f1 == pytest.approx(2 / 3)
    assert figures.ticket.f1 == 0.0
    assert figures.ticket.support == 1


def test_did_you_mean_is_scored_on_the_messages_that_fell_back() -> None:
    number = (("tracking_number", 4, 17),)

    def fell(expected: str, best: str, confidence: float, entities: tuple = ()) -> Prediction:
        return Prediction("text", expected, "nlu_fallback", confidence, best, entities=entities)

    figures = nlu_metrics.suggested(
        [
            fell("change_delivery_address", "change_delivery_address", 0.7),  # right
            fell("inform", "inform", 0.6, number),  # a bare number: a look-up is right
            fell("track_shipment", "change_delivery_address", 0.5),  # another task
            fell("greet", "survey_answer", 0.6),  # nothing offered
            fell("file_complaint", "file_complaint", 0.2),  # too unsure to offer
            fell("out_of_scope", "track_shipment", 0.7),  # off-topic, offered
            fell("out_of_scope", "ask_question", 0.7),  # off-topic, not offered
            Prediction("hi", "greet", "greet", 0.9, "greet"),  # understood: not counted
        ]
    )
    assert figures == nlu_metrics.Suggested(right=2, other=1, none=2, off_topic=1)
