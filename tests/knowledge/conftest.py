"""Fixtures for the knowledge tests: the real index in a temporary folder, and small corpora."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge import index as kindex
from tests.knowledge.support import session_index, session_index_dir

SMALL_CORPUS = {
    "delivery.md": """---
id: saturday
topic: weekend-holiday-delivery
title: Saturday delivery
keywords: [Saturday, weekend]
---
We deliver on Saturdays for £3.95 extra. We do not deliver on Sundays.
---
id: cod
topic: cash-on-delivery
title: Cash on delivery (COD)
---
The recipient pays by card when the parcel arrives. The COD fee is 2.5%.
""",
    "claims.md": """---
id: claims
topic: claims-damage-loss
title: Claims
---
Report damage within 7 days of delivery. Keep the packaging.
""",
}


@pytest.fixture(scope="session")
def index_dir() -> Path:
    return session_index_dir()


@pytest.fixture(scope="session")
def index() -> kindex.KnowledgeIndex:
    return session_index()


@pytest.fixture
def use_index(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Make the session index the default one (what `knowledge.search` and the API use)."""
    monkeypatch.setenv("KNOWLEDGE_INDEX_DIR", str(index_dir))
    yield index_dir


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "passages"
    folder.mkdir()
    for name, text in SMALL_CORPUS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder
