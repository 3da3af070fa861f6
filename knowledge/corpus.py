"""The knowledge itself: passages read from the Markdown files under ``knowledge/passages``.

Each file holds the passages of one topic. A passage is a front-matter block (``id``,
``topic``, ``title``, optional ``keywords`` and ``questions``, the ways customers ask for it)
followed by its text, up to the next front-matter block:

    ---
    id: claims-deadlines
    topic: claims-damage-loss
    title: Deadlines for claims
    keywords: [deadline, time limit]
    ---
    Report damage within 7 days of delivery, ...
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

PASSAGES_DIR = Path(__file__).resolve().parent / "passages"

TOPICS = (
    "service-levels", "delivery-times", "pricing-surcharges", "dimensional-weight", "packaging",
    "prohibited-items", "dangerous-goods", "insurance-declared-value", "claims-damage-loss",
    "compensation-refunds", "failed-delivery-redelivery", "address-change-redirect",
    "pickup-points-hold", "scheduling-pickup", "cash-on-delivery", "returns",
    "customs-international", "duties-taxes", "proof-of-delivery-signature", "tracking-statuses",
    "contact-hours", "business-accounts", "invoices-billing", "warehousing",
    "value-added-services", "privacy-data", "lost-tracking-number", "weekend-holiday-delivery",
    "weather-disruptions", "complaint-process", "customer-tiers-vip", "feedback-surveys",
)  # fmt: skip

_BLOCK = re.compile(r"^---[ \t]*\n(.*?)\n---[ \t]*\n(.*?)(?=^---[ \t]*\n|\Z)", re.S | re.M)
_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
# A sentence ends at . ! or ? followed by a space and a capital letter, digit or quote.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“(£])")


class CorpusError(ValueError):
    """A knowledge file that cannot be read as passages."""


@dataclass(frozen=True)
class Passage:
    id: str
    topic: str
    title: str
    text: str
    keywords: tuple[str, ...] = field(default=())
    questions: tuple[str, ...] = field(default=())  # how customers ask for it
    source: str = ""

    @property
    def sentences(self) -> list[str]:
        return split_sentences(self.text)


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(" ".join(text.split())) if s.strip()]


def knowledge_files(passages_dir: Path = PASSAGES_DIR) -> list[Path]:
    return sorted(passages_dir.rglob("*.md"))


def content_hash(passages_dir: Path = PASSAGES_DIR) -> str:
    """A hash over every knowledge file's name and bytes: any edit changes it."""
    digest = hashlib.sha256()
    for path in knowledge_files(passages_dir):
        digest.update(path.relative_to(passages_dir).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def parse_file(path: Path, root: Path | None = None) -> list[Passage]:
    raw = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    name = path.relative_to(root).as_posix() if root else path.name
    passages = []
    for match in _BLOCK.finditer(raw):
        try:
            meta = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError as exc:
            raise CorpusError(f"{name}: front matter is not YAML: {exc}") from exc
        missing = [k for k in ("id", "topic", "title") if not meta.get(k)]
        if missing:
            raise CorpusError(f"{name}: a passage lacks {', '.join(missing)}")
        text = " ".join(match.group(2).split())
        if not text:
            raise CorpusError(f"{name}: passage {meta['id']} has no text")
        if not _ID.fullmatch(str(meta["id"])):
            raise CorpusError(f"{name}: id {meta['id']!r} is not a lower-case slug")
        keywords = meta.get("keywords") or []
        questions = meta.get("questions") or []
        passages.append(
            Passage(
                id=str(meta["id"]),
                topic=str(meta["topic"]),
                title=str(meta["title"]),
                text=text,
                keywords=tuple(str(k) for k in keywords),
                questions=tuple(str(q) for q in questions),
                source=name,
            )
        )
    if not passages:
        raise CorpusError(f"{name}: no passages (each starts with a --- front matter block)")
    return passages


def load_passages(passages_dir: Path = PASSAGES_DIR) -> list[Passage]:
    passages = [p for f in knowledge_files(passages_dir) for p in parse_file(f, passages_dir)]
    seen: set[str] = set()
    for passage in passages:
        if passage.id in seen:
            raise CorpusError(f"passage id {passage.id} is used twice")
        seen.add(passage.id)
    return passages
