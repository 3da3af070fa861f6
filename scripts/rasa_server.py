"""`rasa run`, with the check of each action server response made once-compiled, and the SQL
tracker store's connections checked before use.

Rasa 3.6 validates every action server response with `jsonschema.validate`, which checks the
fixed response schema itself and builds a new validator each time; profiling a saturated stack
showed that as most of the Rasa server's time. The same schema is compiled once here, and a
response that fails goes through Rasa's own check, so errors read exactly as before.

Rasa's SQL tracker store (production mode) pools PostgreSQL connections without checking them:
after the database restarted or the network cut the connections, the first turn on each dead
connection failed. They are now pinged on checkout (one round trip) and replaced when dead.

Rasa also wraps every tracker store in a FailSafeTrackerStore, which on a database error reads
an empty conversation and saves the turn to process memory: during a PostgreSQL outage a
shipper in the middle of a form was answered as a stranger. Here the error fails the turn
instead (the gateway apologises) and the stored conversation stays as it was, to go on from
there when the database is back.

Runs in the Rasa environment: `.venv/rasa/bin/python scripts/rasa_server.py run ...`.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

logger = logging.getLogger("rasa.core.tracker_store")


def compile_response_check() -> None:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    validator = validator_for(schema)(schema)
    rasa_check = RemoteAction._validate_action_result

    def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        return True if validator.is_valid(result) else rasa_check(self, result)

    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]


def check_tracker_connections() -> None:
    from rasa.core import tracker_store

    rasa_kwargs = tracker_store.create_engine_kwargs

    def create_engine_kwargs(url: Any) -> dict[str, Any]:
        kwargs = dict(rasa_kwargs(url))
        if tracker_store.is_postgresql_url(url):
            kwargs["pool_pre_ping"] = True
            # An unreachable host fails a turn in seconds instead of hanging it.
            connect_args = dict(kwargs.get("connect_args") or {})
            connect_args.setdefault("connect_timeout", 10)
            kwargs["connect_args"] = connect_args
        return kwargs

    tracker_store.create_engine_kwargs = create_engine_kwargs


def fail_turns_on_tracker_store_errors() -> None:
    from rasa.core.tracker_store import FailSafeTrackerStore

    def raise_error(self: FailSafeTrackerStore, error: Exception) -> None:
        logger.error("tracker store failed, the turn fails: %s", error)
        raise error

    FailSafeTrackerStore.on_tracker_store_error = raise_error  # type: ignore[method-assign]
    FailSafeTrackerStore.on_tracker_store_retrieve_error = raise_error  # type: ignore[method-assign]


if __name__ == "__main__":
    from rasa.__main__ import main

    compile_response_check()
    check_tracker_connections()
    fail_turns_on_tracker_store_errors()
    sys.exit(main())
