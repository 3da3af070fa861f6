"""Print short summaries of Rasa's test results (``rasa test core`` / ``rasa test nlu``).

``python -m scripts.reports nlu SET PREDICTIONS.json`` prints the figures of one held-out set
(``nlu`` or ``nlu_fresh`` under tests/assistant/: in-scope intents, off-topic rejection, entity
F1; see scripts.nlu_metrics) and fails when one falls below that set's floor.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from scripts import nlu_metrics

# Regression floors for each held-out set, about two points under what the model reaches
# (assistant/README.md, "Understanding, measured"). Training is deterministic, so the same
# inputs give the same figures; the margin is for a machine whose floating point differs.
# `nlu` is the set the pipeline was tuned on; `nlu_fresh` was written after every choice.
FLOORS = {
    "nlu": {
        "in-scope intent macro-F1": 0.93,
        "off-topic rejection rate": 0.93,
        "tracking_number entity F1": 0.99,
        "ticket_id entity F1": 0.99,
    },
    "nlu_fresh": {
        "in-scope intent macro-F1": 0.93,
        "off-topic rejection rate": 0.87,
        "tracking_number entity F1": 0.99,
        "ticket_id entity F1": 0.99,
    },
}


def nlu(held_out_set: str, predictions_file: Path) -> int:
    floors = FLOORS[held_out_set]
    figures = nlu_metrics.held_out(nlu_metrics.load_predictions(predictions_file))
    nlu_metrics.print_held_out(figures)
    reached = {
        "in-scope intent macro-F1": figures.macro_f1,
        "off-topic rejection rate": figures.rejection,
        "tracking_number entity F1": figures.tracking.f1 if figures.tracking else 0.0,
        "ticket_id entity F1": figures.ticket.f1 if figures.ticket else 0.0,
    }
    failed = [name for name, floor in floors.items() if reached[name] < floor]
    for name in failed:
        print(f"  FAILED: {name} {reached[name]:.3f} is below its floor of {floors[name]}")
    return 1 if failed else 0


def core(results: Path) -> int:
    report_file = results / "story_report.json"
    if report_file.exists():
        report = json.loads(report_file.read_text())
        print(f"  conversation actions: accuracy {report['accuracy']:.3f}")
    failed = results / "failed_test_stories.yml"
    text = failed.read_text() if failed.exists() else ""
    print("  no failed stories" if "story:" not in text else f"  failed stories in {failed}")
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "nlu":
        sys.exit(nlu(sys.argv[2], Path(sys.argv[3])))
    sys.exit(core(Path(sys.argv[2])))
