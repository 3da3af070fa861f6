"""scripts/rasa_server.py, run in the Rasa environment: valid action server responses pass the
once-compiled check, invalid ones are refused by Rasa's own check with its own message."""

from __future__ import annotations

import subprocess

from scripts.paths import RASA_PYTHON, ROOT

PROBE = """
import sys
sys.path.insert(0, "scripts")
import rasa_server
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
rasa_server.compile_response_check()
action = RemoteAction("action_probe", None)
print("valid", action._validate_action_result({"events": [], "responses": [{"text": "hi"}]}))
try:
    action._validate_action_result({"events": "not a list"})
except ValidationError as error:
    print("refused", "Failed to validate Action server response" in error.message)
"""


def test_responses_are_checked_once_compiled_and_refused_as_before() -> None:
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.split()
    assert lines[-4:] == ["valid", "True", "refused", "True"]
