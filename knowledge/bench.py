"""Measure the rankers on the evaluation questions: ``make bench-knowledge``.

    python -m knowledge.bench [--set eval|dev] [--index-dir DIR] [--tune]

For dense, lexical and fused ranking: recall@1 and recall@3 and MRR over the answerable
questions, the share of unanswerable questions declined (rejection), the share of answerable
questions wrongly declined, and the query latency (p50/p95, model warm). ``--tune`` searches the
fusion weight, BM25 saturation and threshold on the development set (never on eval.yml).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from knowledge import index as kindex  # noqa: E402

EVAL_DIR = Path(__file__).resolve().parent / "eval"


@dataclass(frozen=True)
class Question:
    text: str
    gold: tuple[str, ...]


@dataclass(frozen=True)
class Figures:
    ranker: str
    recall_at_1: float
    recall_at_3: float
    mrr: float
    rejection: float  # unanswerable questions declined
    false_rejection: float  # answerable questions declined
    p50_ms: float
    p95_ms: float
    answerable: int
    unanswerable: int


def load_questions(name: str = "eval") -> list[Question]:
    raw = yaml.safe_load((EVAL_DIR / f"{name}.yml").read_text(encoding="utf-8"))
    return [Question(str(q["q"]), tuple(q.get("gold") or ())) for q in raw["questions"]]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def measure(
    idx: kindex.KnowledgeIndex, questions: list[Question], ranker: kindex.Ranker
) -> Figures:
    for warm in ("warm up", "how much is express", "claim for damage"):
        idx.search(warm, ranker=ranker)
    r1 = r3 = rr = 0.0
    declined = wrongly_declined = 0
    latencies: list[float] = []
    answerable = [q for q in questions if q.gold]
    for question in questions:
        started = time.perf_counter()
        result = idx.search(question.text, k=10, ranker=ranker)
        latencies.append((time.perf_counter() - started) * 1000)
        if not question.gold:
            declined += not result.confident
            continue
        wrongly_declined += not result.confident
        ids = [h.id for h in result.hits]
        rank = next((i for i, hit_id in enumerate(ids, 1) if hit_id in question.gold), None)
        if rank is not None:
            r1 += rank == 1
            r3 += rank <= 3
            rr += 1 / rank
    n, m = len(answerable), len(questions) - len(answerable)
    return Figures(
        ranker=ranker,
        recall_at_1=r1 / n,
        recall_at_3=r3 / n,
        mrr=rr / n,
        rejection=declined / m if m else 1.0,
        false_rejection=wrongly_declined / n,
        p50_ms=statistics.median(latencies),
        p95_ms=percentile(latencies, 0.95),
        answerable=n,
        unanswerable=m,
    )


def table(rows: list[Figures]) -> str:
    head = "ranker    recall@1  recall@3    MRR  rejected  wrongly-declined  p50 ms  p95 ms"
    lines = [head, "-" * len(head)]
    for f in rows:
        lines.append(
            f"{f.ranker:<8}  {f.recall_at_1:>8.3f}  {f.recall_at_3:>8.3f}  {f.mrr:>5.3f}"
            f"  {f.rejection:>8.2f}  {f.false_rejection:>16.2f}  {f.p50_ms:>6.1f}  {f.p95_ms:>6.1f}"
        )
    return "\n".join(lines)


def tune(idx: kindex.KnowledgeIndex, questions: list[Question]) -> None:
    """Grid over fusion weight, BM25 saturation and threshold, on development questions."""
    english = [q for q in questions if idx.is_english(q.text)]
    dense = [idx.scores(q.text, "dense") for q in english]
    lexical = [idx.lexical_scores(q.text) for q in english]
    ids = [p.id for p in idx.passages]
    best: list[tuple[float, str]] = []
    for weight in (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
        for half in (3.0, 6.0, 10.0, 15.0):
            fused = [
                weight * d + (1 - weight) * lx / (lx + half)
                for d, lx in zip(dense, lexical, strict=True)
            ]
            for threshold in np.arange(0.10, 0.66, 0.025):
                hits1 = declined = wrong = 0
                for q, scores in zip(english, fused, strict=True):
                    top = int(np.argmax(scores))
                    ok = scores[top] >= threshold
                    if q.gold:
                        hits1 += ids[top] in q.gold
                        wrong += not ok
                    else:
                        declined += not ok
                n = sum(1 for q in english if q.gold)
                m = len(english) - n
                objective = hits1 / n + (declined / m if m else 0) - wrong / n
                best.append(
                    (
                        objective,
                        f"weight {weight:.1f} half {half:>4.1f} threshold {threshold:.3f}: "
                        f"r@1 {hits1 / n:.3f} rejected {declined}/{m} wrongly declined {wrong}/{n}",
                    )
                )
    shown: set[str] = set()
    for objective, line in sorted(best, reverse=True):
        weight = line.split(" half")[0]
        if weight not in shown:  # the best setting for each fusion weight
            shown.add(weight)
            print(f"{objective:.3f}  {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m knowledge.bench", description=__doc__)
    parser.add_argument("--set", default="eval", choices=("eval", "dev"))
    parser.add_argument("--index-dir", type=Path, default=None)
    parser.add_argument("--tune", action="store_true", help="grid search on the dev questions")
    args = parser.parse_args(argv)
    idx = kindex.get_index(index_dir=args.index_dir, echo=print)
    if args.tune:
        tune(idx, load_questions("dev"))
        return 0
    questions = load_questions(args.set)
    rows = [measure(idx, questions, ranker) for ranker in kindex.RANKERS]
    n, m = rows[0].answerable, rows[0].unanswerable
    print(f"{args.set}.yml: {len(questions)} questions ({n} answerable, {m} unanswerable), ")
    print(f"{len(idx)} passages; thresholds {kindex.THRESHOLDS}")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
