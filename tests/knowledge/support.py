"""One knowledge index per test session, built into a temporary folder from the real passages."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

from knowledge import index as kindex
from knowledge.corpus import PASSAGES_DIR

_lock = threading.Lock()
_built: dict[str, Path] = {}


def session_index_dir() -> Path:
    """The folder of an index built from knowledge/passages once per test process."""
    with _lock:
        if "dir" not in _built:
            folder = Path(tempfile.mkdtemp(prefix="knowledge-index-"))
            kindex.build(PASSAGES_DIR, folder, echo=lambda _line: None)
            _built["dir"] = folder
        return _built["dir"]


def session_index() -> kindex.KnowledgeIndex:
    return kindex.get_index(PASSAGES_DIR, session_index_dir())
