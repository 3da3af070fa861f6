"""`rasa run`, with the check of each action server response made once-compiled.

Rasa 3.6 validates every action server response with `jsonschema.validate`, which checks the
fixed response schema itself and builds a new validator each time; profiling a saturated stack
showed that as most of the Rasa server's time. The same schema is compiled once here, and a
response that fails goes through Rasa's own check, so errors read exactly as before.

Runs in the Rasa environment: `.venv/rasa/bin/python scripts/rasa_server.py run ...`.
"""

from __future__ import annotations

import sys
from typing import Any


def compile_response_check() -> None:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    validator = validator_for(schema)(schema)
    rasa_check = RemoteAction._validate_action_result

    def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        return True if validator.is_valid(result) else rasa_check(self, result)

    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]


if __name__ == "__main__":
    from rasa.__main__ import main

    compile_response_check()
    sys.exit(main())
