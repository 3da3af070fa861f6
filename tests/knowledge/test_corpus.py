"""The knowledge files: enough passages, every topic covered, well-formed, consistent."""

from __future__ import annotations

import collections
import re
from pathlib import Path

import pytest

from backend.store.models import ServiceLevel
from backend.store.seed import PRICES
from knowledge.corpus import TOPICS, CorpusError, content_hash, load_passages, parse_file


def test_at_least_80_passages_and_every_topic_twice() -> None:
    passages = load_passages()
    assert len(passages) >= 80
    per_topic = collections.Counter(p.topic for p in passages)
    assert set(per_topic) == set(TOPICS)
    assert min(per_topic.values()) >= 2


def test_ids_are_unique_slugs_and_titles_are_set() -> None:
    passages = load_passages()
    assert len({p.id for p in passages}) == len(passages)
    for passage in passages:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", passage.id)
        assert passage.title and passage.text
        assert len(passage.sentences) >= 2


def test_prices_agree_with_the_rates_the_store_charges() -> None:
    text = next(p.text for p in load_passages() if p.id == "pricing-base-prices")
    names = {
        ServiceLevel.standard: "Standard",
        ServiceLevel.express: "Express",
        ServiceLevel.same_day: "Same Day",
        ServiceLevel.freight: "Freight",
    }
    for service, (base, per_kg) in PRICES.items():
        assert f"{names[service]} costs £{base:.2f} plus £{per_kg:.2f} per kg" in text


def test_promises_agree_with_the_seeded_delivery_times() -> None:
    text = next(p.text for p in load_passages() if p.id == "delivery-times-promise")
    assert "Standard takes 2 working days within the same region and 3 working days" in text
    assert "Express arrives the next working day" in text
    assert "Freight takes 3 working days within a region and 4–5 working days" in text


def test_support_hours_match_the_rest_of_the_assistant() -> None:
    text = next(p.text for p in load_passages() if p.id == "contact-phone-hours")
    assert "0330 123 4567" in text
    assert "Monday to Friday 8:00–20:00 and Saturday 9:00–14:00" in text


def test_content_hash_changes_with_any_edit(small_corpus: Path) -> None:
    before = content_hash(small_corpus)
    assert content_hash(small_corpus) == before
    path = small_corpus / "claims.md"
    path.write_text(path.read_text() + " Photos help.", encoding="utf-8")
    assert content_hash(small_corpus) != before


@pytest.mark.parametrize(
    "text, problem",
    [
        ("no front matter at all", "no passages"),
        ("---\nid: x\ntopic: t\n---\ntext\n", "lacks title"),
        ("---\nid: Bad Id\ntopic: t\ntitle: T\n---\ntext\n", "lower-case slug"),
        ("---\nid: x\ntopic: t\ntitle: a: b\n---\ntext\n", "not YAML"),
    ],
)
def test_malformed_files_are_refused_with_the_reason(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "bad.md"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CorpusError, match=problem):
        parse_file(path)


def test_duplicate_ids_are_refused(small_corpus: Path) -> None:
    (small_corpus / "again.md").write_text(
        "---\nid: cod\ntopic: returns\ntitle: Again\n---\nSome text. More text.\n"
    )
    with pytest.raises(CorpusError, match="used twice"):
        load_passages(small_corpus)
