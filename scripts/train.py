"""Train the Rasa model when its inputs changed, and only then.

The model file is named after a hash of config.yml, domain.yml and assistant/, so an
unchanged assistant reuses the model it already has. ``python -m scripts.train``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from scripts.paths import LOG_DIR, MODEL_DIR, MODEL_INPUTS, RASA_BIN, ROOT

# Settings that change what training produces. TensorFlow's deterministic kernels: with the
# fixed seeds in config.yml the same inputs now train the same model, byte for byte in its
# predictions, however loaded the machine is (without them DIET's figures moved by about
# 0.015 from one training to the next, and an end-to-end test could pass on one model and
# fail on the next).
TRAINING_ENV = {"TF_DETERMINISTIC_OPS": "1"}

# Lines of Rasa's training log worth showing as progress.
_PROGRESS_MARKS = ("Starting to train component", "Your Rasa model is trained", "Epochs:")


def inputs_hash() -> str:
    digest = hashlib.sha256(json.dumps(TRAINING_ENV, sort_keys=True).encode())
    for name in MODEL_INPUTS:
        path = ROOT / name
        # Training data, and the code of the project's own NLU components.
        files = sorted([*path.rglob("*.yml"), *path.rglob("*.py")]) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def model_path() -> Path:
    return MODEL_DIR / f"assistant-{inputs_hash()}.tar.gz"


def rasa_env() -> dict[str, str]:
    """Environment for every Rasa command: quiet TensorFlow, no telemetry calls home."""
    env = dict(os.environ)
    env.update(
        {
            "RASA_TELEMETRY_ENABLED": "false",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            "PYTHONWARNINGS": "ignore",
        }
    )
    return env


def training_record(model: Path) -> Path:
    """Where the seconds the model took to train are kept, beside the model."""
    return model.with_name(model.name.removesuffix(".tar.gz") + ".train.json")


def train(force: bool = False, out_dir: Path | None = None) -> Path:
    """Train unless a model of the current inputs exists; `out_dir` trains afresh elsewhere
    (the benchmark times a training without replacing the model in use)."""
    target = model_path() if out_dir is None else out_dir / model_path().name
    if target.exists() and not force:
        print(f"  model up to date: {target.relative_to(ROOT)}")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_file = LOG_DIR / "train.log"
    print(f"  training the Rasa model (log: {log_file.relative_to(ROOT)}) ...", flush=True)
    started = time.monotonic()
    cmd = [
        str(RASA_BIN), "train", "--data", "assistant", "--config", "config.yml",
        "--domain", "domain.yml", "--out", str(target.parent),
        "--fixed-model-name", target.stem.removesuffix(".tar"),
    ]  # fmt: skip
    code = run_logged(cmd, log_file)
    if code != 0 or not target.exists():
        print(f"  training failed (exit {code}); see {log_file}", file=sys.stderr)
        raise SystemExit(1)
    seconds = time.monotonic() - started
    print(f"  model trained in {seconds:.0f} s: {target}")
    training_record(target).write_text(json.dumps({"seconds": round(seconds, 1)}))
    if out_dir is not None:
        return target
    # Older models can never be used again: their inputs no longer exist.
    for old in MODEL_DIR.glob("assistant-*"):
        if old not in (target, training_record(target)):
            old.unlink()
    return target


def run_logged(cmd: list[str], log_file: Path, marks: tuple[str, ...] = ()) -> int:
    """Run a Rasa command that trains (training, cross-validation, parsing) with its output in
    `log_file`, showing progress lines as they come.

    `marks` adds substrings worth showing to the training ones (a step starting, epochs).
    """
    shown_marks = _PROGRESS_MARKS + marks
    with log_file.open("w") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env={**rasa_env(), **TRAINING_ENV},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        last_shown = ""
        for line in proc.stdout:
            log.write(line)
            for chunk in line.replace("\r", "\n").splitlines():
                if any(mark in chunk for mark in shown_marks):
                    shown = _progress_line(chunk)
                    if shown and shown != last_shown:
                        print(f"    {shown}", flush=True)
                        last_shown = shown
        return proc.wait()


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _progress_line(chunk: str) -> str:
    chunk = _ANSI.sub("", chunk)
    if "Starting to train component" in chunk:
        return "training " + chunk.split("Starting to train component", 1)[1].strip(" '.")
    if "Epochs:" in chunk:
        # Show progress in quarters, not every tqdm refresh.
        percent = chunk.split("Epochs:", 1)[1].strip().split("%", 1)[0].strip()
        if percent.isdigit() and int(percent) % 25 == 0:
            return f"  epochs {percent}%"
        return ""
    return chunk.strip()


if __name__ == "__main__":
    train(force="--force" in sys.argv)
