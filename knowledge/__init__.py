"""Parcelline's service knowledge and the retrieval index that answers from it.

    python -m knowledge build            # build the index (skipped when up to date)
    python -m knowledge search "how do I claim for a damaged parcel" --json

In-process: ``from knowledge import search``.
"""

from knowledge.index import Hit, SearchResult, get_index, search

__all__ = ["Hit", "SearchResult", "get_index", "search"]
