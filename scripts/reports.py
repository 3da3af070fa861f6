"""Print short summaries of Rasa's test results (``rasa test core`` / ``rasa test nlu``).

``python -m scripts.reports nlu var/results/nlu`` prints held-out intent accuracy and
macro-F1, the weakest intents and tracking-number entity F1, and fails below a floor.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# Regression floor for the held-out set; targets are tracked by the NLU benchmark.
MIN_INTENT_ACCURACY = 0.85


def nlu(results: Path) -> int:
    report = json.loads((results / "intent_report.json").read_text())
    accuracy = report["accuracy"]
    macro = report["macro avg"]["f1-score"]
    per_intent = {
        name: row for name, row in report.items() if isinstance(row, dict) and "support" in row
        and name not in {"macro avg", "weighted avg", "micro avg"}
    }  # fmt: skip
    total = sum(int(row["support"]) for row in per_intent.values())
    print(
        f"  held-out intents: accuracy {accuracy:.3f}, macro-F1 {macro:.3f} over {total} messages"
    )
    weakest = sorted(per_intent.items(), key=lambda item: item[1]["f1-score"])[:4]
    print("  weakest: " + ", ".join(f"{n} {r['f1-score']:.2f}" for n, r in weakest))
    entity_file = results / "RegexEntityExtractor_report.json"
    if entity_file.exists():
        entities = json.loads(entity_file.read_text())
        row = entities.get("tracking_number")
        if row:
            print(f"  tracking_number entity F1 {row['f1-score']:.3f} (support {row['support']})")
    if accuracy < MIN_INTENT_ACCURACY:
        print(f"  FAILED: accuracy below the floor of {MIN_INTENT_ACCURACY}")
        return 1
    return 0


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
    kind, folder = sys.argv[1], Path(sys.argv[2])
    sys.exit({"nlu": nlu, "core": core}[kind](folder))
