"""What a trained model makes of labelled messages, fallback included (runs in the Rasa venv).

``rasa test nlu`` undoes the FallbackClassifier's decision before scoring, so it cannot say
whether an off-topic message would have been rejected. This parses every message exactly as
the running assistant does and writes one JSON row per message: the expected and the final
intent, the classifier's top two intents with their confidences (so a different fallback
threshold can be tried without retraining), and the expected and extracted entities.

``.venv/rasa/bin/python scripts/nlu_predict.py MODEL DATA_PATH OUT.json``
(Imports only Rasa and the standard library: this file is not part of the app package.)
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path

FALLBACK = "nlu_fallback"
# The project's own NLU components (assistant/components) are found from the project root,
# as `rasa` finds them from its working directory.
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))


def _entities(entities: list[dict]) -> list[dict]:
    return [
        {"entity": e["entity"], "start": e["start"], "end": e["end"], "value": e.get("value")}
        for e in entities
    ]


async def predict(model: str, data: str) -> list[dict]:
    from rasa.core.agent import Agent
    from rasa.shared.nlu.training_data.loading import load_data

    agent = Agent.load(model)
    examples = [m for m in load_data(data).intent_examples if m.get("text")]
    rows = []
    for done, message in enumerate(examples, 1):
        parsed = await agent.parse_message(message.get("text"))
        ranking = [r for r in parsed.get("intent_ranking", []) if r["name"] != FALLBACK]
        top = ranking[0] if ranking else {"name": "", "confidence": 0.0}
        second = ranking[1]["confidence"] if len(ranking) > 1 else 0.0
        rows.append(
            {
                "text": message.get("text"),
                "expected": message.get("intent"),
                "predicted": parsed["intent"]["name"] or "",
                "top_intent": top["name"],
                "top_confidence": float(top["confidence"]),
                "second_confidence": float(second),
                "expected_entities": _entities(message.get("entities") or []),
                "entities": _entities(parsed.get("entities", [])),
            }
        )
        if done % 200 == 0:
            print(f"parsed {done}/{len(examples)} messages", flush=True)
    return rows


def main(argv: list[str]) -> int:
    model, data, out = argv
    from rasa.utils.log_utils import configure_structlog

    logging.basicConfig(level=logging.WARNING)
    configure_structlog(logging.WARNING)  # Rasa logs every parse at debug level otherwise
    rows = asyncio.run(predict(model, data))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(rows, indent=1))
    print(f"parsed {len(rows)} messages into {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
