"""scripts/rule_coverage.py, run in the Rasa environment on a small assistant: a rule a test
story walks through is exercised, one no story reaches is listed as not exercised, a rule
whose second step no story reaches is partly exercised, and a step that tests reach but a
longer rule predicts is reported as shadowed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from scripts.paths import RASA_PYTHON, ROOT

DOMAIN = """
version: "3.1"
intents: [greet, goodbye, bot_challenge, thank, affirm]
responses:
  utter_offer: [{text: "shall I find you a person?"}]
  utter_handoff: [{text: "putting you through"}]
  utter_greet: [{text: "hi"}]
  utter_goodbye: [{text: "bye"}]
  utter_iamabot: [{text: "a bot"}]
  utter_anything_else: [{text: "anything else?"}]
  utter_welcome: [{text: "you're welcome"}]
"""
RULES = """
version: "3.1"
rules:
  - rule: greet back
    steps:
      - intent: greet
      - action: utter_greet
  - rule: say goodbye
    steps:
      - intent: goodbye
      - action: utter_goodbye
  - rule: thanked, then asked for more
    steps:
      - intent: thank
      - action: utter_welcome
      - action: utter_anything_else
  # Teaches "listen after the offer" in a longer, more specific form than the rule below.
  - rule: a bot question, then the offer of a person
    steps:
      - intent: bot_challenge
      - action: utter_iamabot
      - action: utter_offer
  # Its first step (listen after the offer) is always outmatched by the rule above.
  - rule: the offer accepted
    steps:
      - action: utter_offer
      - intent: affirm
      - action: utter_handoff
"""
STORIES = """
version: "3.1"
stories:
  - story: a greeting
    steps:
      - intent: greet
      - action: utter_greet
  - story: thanked, and the conversation moved on
    steps:
      - intent: thank
      - action: utter_welcome
      - intent: greet
      - action: utter_greet
  - story: a bot question, the offer accepted
    steps:
      - intent: bot_challenge
      - action: utter_iamabot
      - action: utter_offer
      - intent: affirm
      - action: utter_handoff
"""
CONFIG = """
policies:
  - name: RulePolicy
"""


def test_rules_are_sorted_by_what_the_test_stories_reach(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "stories").mkdir()
    (tmp_path / "domain.yml").write_text(DOMAIN)
    (tmp_path / "config.yml").write_text(CONFIG)
    (tmp_path / "rules" / "rules.yml").write_text(RULES)
    (tmp_path / "stories" / "stories.yml").write_text(STORIES)
    out = tmp_path / "coverage.json"
    done = subprocess.run(
        [
            str(RASA_PYTHON),
            "scripts/rule_coverage.py",
            *("--rules", str(tmp_path / "rules"), "--stories", str(tmp_path / "stories")),
            *("--domain", str(tmp_path / "domain.yml"), "--config", str(tmp_path / "config.yml")),
            *("--json", str(out)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["exercised"] == ["a bot question, then the offer of a person", "greet back"]
    assert result["not_exercised"] == ["say goodbye"]
    # name, steps used, steps taught, of the unused ones shadowed by a longer rule; the
    # welcome's follow-up is not shadowed: the test story listened instead.
    assert sorted(result["partly"]) == [
        ["thanked, then asked for more", 1, 3, 0],
        ["the offer accepted", 2, 3, 1],
    ]
    assert "2 of 5 fully, 2 partly, 1 not at all" in done.stdout
    assert "not exercised: say goodbye" in done.stdout
    assert "shadowed (1 of 1 steps left)" in done.stdout
