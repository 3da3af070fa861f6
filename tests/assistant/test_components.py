"""assistant/components: the number-masking tokenizer (run in the Rasa environment) and its
patterns, which must stay the training data's own."""

from __future__ import annotations

import json
import subprocess

import yaml

from scripts.paths import RASA_PYTHON, ROOT

PROBE = """
import json
from rasa.shared.nlu.training_data.message import Message
from assistant.components.number_masking_tokenizer import NumberMaskingTokenizer
import yaml
config = next(
    c for c in yaml.safe_load(open("config.yml"))["pipeline"]
    if c["name"].endswith("NumberMaskingTokenizer")
)
tokenizer = NumberMaskingTokenizer({**NumberMaskingTokenizer.get_default_config(), **config})
rows = {}
for text in [
    "parcel LP482913073GB was damaged",
    "is lp 453 805 805 gb late? see ticket C-26-00042",
    "my order is on its way",
]:
    tokens = tokenizer.tokenize(Message({"text": text}), "text")
    rows[text] = [[t.text, t.start, t.end] for t in tokens]
print(json.dumps(rows))
"""


def masks_in_config() -> dict[str, str]:
    pipeline = yaml.safe_load((ROOT / "config.yml").read_text())["pipeline"]
    tokenizer = next(c for c in pipeline if c["name"].endswith("NumberMaskingTokenizer"))
    return dict(tokenizer["masks"])


def regexes_in_training_data() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for file in sorted((ROOT / "assistant" / "nlu").glob("*.yml")):
        for block in yaml.safe_load(file.read_text()).get("nlu", []):
            if "regex" in block:
                found[block["regex"]] = [
                    line.removeprefix("- ").strip()
                    for line in block["examples"].splitlines()
                    if line.strip()
                ]
    return found


def test_masks_are_the_training_data_regexes() -> None:
    regexes = regexes_in_training_data()
    masks = masks_in_config()
    assert regexes["tracking_number"] == [masks["xxtnxx"]]
    assert regexes["ticket_id"] == [masks["xxtidxx"]]


def test_each_number_becomes_one_symbol_and_other_words_stay() -> None:
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    assert rows["parcel LP482913073GB was damaged"] == [
        ["parcel", 0, 6],
        ["xxtnxx", 7, 20],
        ["was", 21, 24],
        ["damaged", 25, 32],
    ]
    spaced = rows["is lp 453 805 805 gb late? see ticket C-26-00042"]
    assert [t[0] for t in spaced] == ["is", "xxtnxx", "late", "see", "ticket", "xxtidxx"]
    assert spaced[1][1:] == [3, 20]
    assert [t[0] for t in rows["my order is on its way"]] == [
        "my",
        "order",
        "is",
        "on",
        "its",
        "way",
    ]
