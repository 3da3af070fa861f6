"""Search the service knowledge: the same ranked passages the assistant answers from.

The index is loaded once per process (on start-up when ``KNOWLEDGE_PRELOAD=1``, otherwise on
the first request) from ``KNOWLEDGE_INDEX_DIR`` (default ``var/knowledge-index``). Fast enough
to run on every pause in typing (the agent console does).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from knowledge import get_index

router = APIRouter(prefix="/api/knowledge", tags=["knowledge"])

MAX_QUERY_CHARS = 10_000


class KnowledgeHit(BaseModel):
    id: str
    topic: str
    title: str
    score: float
    text: str


class KnowledgeSearch(BaseModel):
    query: str
    confident: bool
    reason: Literal["answer", "low_score", "empty", "not_english"]
    ranker: str
    hits: list[KnowledgeHit]


@router.get(
    "/search",
    response_model=KnowledgeSearch,
    summary="Search the knowledge base",
    description=(
        "Ranked passages for a question (dense and lexical ranking fused). `confident` says "
        "whether the best passage clears the calibrated threshold and may be given as an "
        "answer; `reason` is `answer`, `low_score`, `empty` (nothing to search for) or "
        "`not_english` (declined rather than matched to a random passage). Queries longer "
        "than 1,000 characters are cut to their first 1,000."
    ),
)
def search_knowledge(
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS, description="the question")] = "",
    k: Annotated[int, Query(ge=1, le=20, description="how many passages")] = 5,
    ranker: Annotated[Literal["fused", "dense", "lexical"], Query()] = "fused",
) -> KnowledgeSearch:
    # A plain `def`: encoding the query is CPU work, so FastAPI runs it in its thread pool.
    result = get_index().search(q, k=k, ranker=ranker)
    return KnowledgeSearch.model_validate(result.as_dict())
