"""How well the assistant understands: ``make bench-nlu``.

1. The model: the one ``make train`` builds for config.yml (reused when up to date), or an
   NLU-only model for another pipeline given with ``--config`` (to compare pipelines).
2. Two held-out sets never used in training: tests/assistant/nlu/, on which the pipeline's
   choices were made, and tests/assistant/nlu_fresh/, written after them and never tuned on.
   In-scope messages scored per intent, with the confusion pairs and entity F1 for
   tracking_number and ticket_id; off-topic messages scored by the share rejected
   (out_of_scope or nlu_fallback); what "did you mean …?" offers for those that fell back.
3. 5-fold cross-validation over the training data (assistant/), unless ``--no-cv``.

``python -m scripts.bench_nlu [--config other.yml] [--no-cv] [--folds 5]``
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

from scripts import nlu_metrics
from scripts.paths import LOG_DIR, MODEL_DIR, RASA_BIN, RASA_VENV, RESULTS_DIR, ROOT
from scripts.train import run_logged, train

# The set the pipeline was tuned on, and one written after every choice, never tuned on.
HELD_OUT = {
    "held-out, tuned on": ROOT / "tests" / "assistant" / "nlu",
    "fresh held-out, never tuned on": ROOT / "tests" / "assistant" / "nlu_fresh",
}
DEFAULT_CONFIG = ROOT / "config.yml"
RASA_PYTHON = RASA_VENV / "bin" / "python"
# Rasa log lines worth showing while a long step runs.
_TEST_MARKS = ("Cross validation", "Accumulated test folds")


def nlu_model(config: Path) -> Path:
    """The model to score: the assistant's own for config.yml, else an NLU-only one."""
    if config.resolve() == DEFAULT_CONFIG:
        return train()
    digest = hashlib.sha256(config.read_bytes())
    for file in sorted((ROOT / "assistant").rglob("*.yml")):
        digest.update(file.read_bytes())
    name = f"nlu-{config.stem}-{digest.hexdigest()[:12]}"
    target = MODEL_DIR / "bench" / f"{name}.tar.gz"
    if target.exists():
        print(f"  model up to date: {target.relative_to(ROOT)}")
        return target
    print(f"  training an NLU model for {config.name} ...", flush=True)
    started = time.monotonic()
    cmd = [
        str(RASA_BIN), "train", "nlu", "--config", str(config), "--nlu", "assistant",
        "--out", str(target.parent), "--fixed-model-name", name,
    ]  # fmt: skip
    if run_logged(cmd, LOG_DIR / f"bench-nlu-train-{config.stem}.log") != 0:
        raise SystemExit(f"training failed; see {LOG_DIR}")
    print(f"  NLU model trained in {time.monotonic() - started:.0f} s")
    return target


def predict_held_out(model: Path, data: Path, out: Path) -> list[nlu_metrics.Prediction]:
    """Parse every message of one held-out set with `model`, as the running assistant would."""
    print(f"  parsing {data.relative_to(ROOT)} ...", flush=True)
    started = time.monotonic()
    log = LOG_DIR / "nlu-predict.log"
    cmd = [
        str(RASA_PYTHON),
        str(ROOT / "scripts" / "nlu_predict.py"),
        str(model),
        str(data),
        str(out),
    ]
    if run_logged(cmd, log, ("parsed",)) != 0:
        raise SystemExit(f"parsing the held-out files failed; see {log}")
    print(f"  parsed in {time.monotonic() - started:.0f} s")
    return nlu_metrics.load_predictions(out)


def print_declined(figures: nlu_metrics.HeldOut) -> None:
    """Off-topic messages read as service questions meet the knowledge index's threshold
    next: below it the assistant says it is not sure, which is a refusal to the shipper."""
    from knowledge import search

    def answers(text: str) -> bool:
        return search(text).confident

    taken = [p for p in figures.off_topic if p.predicted == nlu_metrics.KNOWLEDGE_INTENT]
    answered = sum(answers(p.text) for p in taken)
    declined = nlu_metrics.declined_rate(figures.off_topic, answers)
    print(
        f"  as the shipper sees it: of {len(taken)} off-topic messages read as service "
        f"questions, {answered} get a knowledge answer and {len(taken) - answered} \"I'm not "
        f'sure"; off-topic declined {declined:.3f}'
    )
    offered = nlu_metrics.suggested(figures.in_scope + figures.off_topic)
    fell_back = offered.right + offered.other + offered.none
    print(
        f'  "did you mean …?": of {fell_back} in-scope messages that fell back, {offered.right} '
        f"are offered the task they ask for, {offered.other} another task, {offered.none} "
        f"nothing; {offered.off_topic} off-topic messages are offered a task (a button)"
    )


def threshold_sweep(predictions: list[nlu_metrics.Prediction]) -> None:
    """What other fallback settings would trade: off-topic rejected against in-scope kept."""
    print("\n  fallback settings (the same predictions, no retraining):")
    print(f"    {'threshold':>9} {'ambiguity':>9} {'in-scope F1':>11} {'rejection':>9}")
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        for ambiguity in (0.0, 0.1, 0.2):
            figures = nlu_metrics.held_out(
                nlu_metrics.with_fallback(predictions, threshold, ambiguity)
            )
            print(
                f"    {threshold:9.2f} {ambiguity:9.2f} {figures.macro_f1:11.3f} "
                f"{figures.rejection:9.3f}"
            )


def cross_validate(config: Path, folds: int, out: Path) -> None:
    print(f"  {folds}-fold cross-validation over assistant/ (trains {folds} models) ...")
    started = time.monotonic()
    cmd = [
        str(RASA_BIN), "test", "nlu", "--config", str(config), "--nlu", "assistant",
        "--cross-validation", "--folds", str(folds), "--out", str(out),
        "--successes", "--no-plot",
    ]  # fmt: skip
    if run_logged(cmd, LOG_DIR / "bench-nlu-cv.log", _TEST_MARKS) != 0:
        raise SystemExit(f"cross-validation failed; see {LOG_DIR / 'bench-nlu-cv.log'}")
    print_cross_validation(out, f"{folds} folds, {time.monotonic() - started:.0f} s")


def print_cross_validation(out: Path, how: str) -> None:
    """Rasa's fold predictions; Rasa undoes the fallback here, so this is the classifier alone."""
    predictions = nlu_metrics.load_rasa_results(out)
    scores = nlu_metrics.intent_scores(predictions)
    print(f"\n== Cross-validation ({how}, {len(predictions)} training messages) ==")
    print(
        f"  accuracy {nlu_metrics.accuracy(predictions):.3f}, "
        f"macro-F1 {nlu_metrics.macro_f1(scores):.3f}"
    )
    nlu_metrics.print_intents(predictions, per_intent=True)
    for entity in ("tracking_number", "ticket_id"):
        score = nlu_metrics.rasa_entity_f1(out, entity)
        if score:
            print(f"  {entity} entity: F1 {score.f1:.3f} (support {score.support})")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--no-cv", action="store_true", help="held-out files only")
    parser.add_argument("--sweep", action="store_true", help="try other fallback settings")
    args = parser.parse_args(argv)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / "bench-nlu" / args.config.stem
    print(f"NLU benchmark for {args.config.name}")
    model = nlu_model(args.config)
    for title, data in HELD_OUT.items():
        predictions = predict_held_out(model, data, out / f"{data.name}.json")
        print(f"\n== {title.capitalize()} ({data.relative_to(ROOT)}) ==")
        figures = nlu_metrics.held_out(predictions)
        nlu_metrics.print_held_out(figures, per_intent=True)
        print_declined(figures)
        if args.sweep:
            threshold_sweep(predictions)
    if not args.no_cv:
        cross_validate(args.config, args.folds, out / "cv")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
