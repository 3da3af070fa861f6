"""The soak on the production stack: 200 conversations, 32 at a time, through two Rasa servers
sharing PostgreSQL trackers and Redis locks, each filing a complaint or answering a survey to
the end; then every ticket and survey answer the bot confirmed is in the store exactly once,
in its own conversation, with the value the shipper gave."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from knowledge import index as kindex
from scripts import production_stack
from scripts.soak import print_soak, soak
from scripts.stack import Stack
from scripts.train import train

DATABASE = "parcelline_soak_test"
REDIS_DB = 10
CONVERSATIONS = 200
CONCURRENCY = 32


@pytest.fixture(scope="module")
def soak_store() -> Iterator[str]:
    try:
        with production_stack.seeded_database(DATABASE) as url:
            yield url
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable: {exc.orig}")


@pytest.fixture(scope="module")
def soak_stack(soak_store: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    try:
        production_stack.redis_command(REDIS_DB, "FLUSHDB")
    except OSError as exc:
        pytest.skip(f"Redis is not reachable: {exc}")
    model = train()
    kindex.ensure_built(echo=lambda _line: None)
    logs = Path(tmp_path_factory.mktemp("soak-logs"))
    env = {"CHAT_RATE_PER_CONVERSATION": "0", "CHAT_RATE_PER_IP": "0", "HANDOFF_HOURS": "always"}
    stack = production_stack.production_stack(model, soak_store, REDIS_DB, logs, 2, env)
    stack.start(timeout=420)
    try:
        yield stack
    finally:
        stack.stop()
        production_stack.redis_command(REDIS_DB, "FLUSHDB")


def test_every_confirmed_ticket_and_answer_is_stored_exactly_once(
    soak_stack: Stack, soak_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = soak_stack.backend_url.replace("http://", "ws://") + "/api/chat/ws"
    verdict, results = soak(url, soak_store, CONVERSATIONS, CONCURRENCY)
    with capsys.disabled():
        print_soak(verdict, results, CONCURRENCY, "2 Rasa servers")
    assert verdict.conversations == CONVERSATIONS
    assert sum(results.errors.values()) == 0, results.samples
    # Every conversation got to its end: a complaint reference or the survey's thank-you.
    assert verdict.finished == CONVERSATIONS, results.samples
    # Half complaints (one ticket each), half surveys (six answers each).
    assert verdict.tickets_confirmed == verdict.tickets_found == CONVERSATIONS // 2
    assert verdict.answers_confirmed == verdict.answers_found == 6 * CONVERSATIONS // 2
    assert verdict.tickets_missing == verdict.answers_missing == 0, verdict.problems
    assert verdict.tickets_duplicated == verdict.answers_duplicated == 0, verdict.problems
    assert verdict.tickets_misplaced == verdict.answers_misplaced == 0, verdict.problems
    assert verdict.tickets_unconfirmed == 0, verdict.problems
    assert verdict.surveys_completed_in_store == verdict.surveys_finished
    assert verdict.exactly_once
