"""scripts/rule_coverage.py, run in the Rasa environment on a small assistant: a rule a test
story walks through is exercised, one no story reaches is listed as not exercised, and a rule
whose second step no story reaches is partly exercised."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from scripts.paths import RASA_PYTHON, ROOT

DOMAIN = """
version: "3.1"
intents: [greet, goodbye, bot_challenge, thank]
responses:
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
    assert result["exercised"] == ["greet back"]
    assert result["not_exercised"] == ["say goodbye"]
    assert [row[0] for row in result["partly"]] == ["thanked, then asked for more"]
    assert "1 of 3 fully, 1 partly, 1 not at all" in done.stdout
    assert "not exercised: say goodbye" in done.stdout
