"""Which training rules the conversation tests exercise (runs in the Rasa venv).

The assistant's dialogue is trained from rules only (assistant/rules/, no training stories).
A rule is learned as one or more memorised steps: "in this state, do that". This trains
Rasa's own RulePolicy on the rules, remembers which steps came from which rule, then replays
every test story (tests/assistant/stories/) through it, as ``rasa test core`` does, and
notes the learned steps that predicted a test story's action. A rule is

- exercised when every step it taught predicted an action in some test story;
- partly exercised when only some did (its other steps are shared with no test);
- not exercised when none did.

A step no story used may still be *shadowed*: its situation arose in a test story, which took
the step's action, but a longer rule matching the same situation predicted it (RulePolicy uses
the most specific rule). The step's knowledge is then checked by the tests all the same; the
report says so beside the partly exercised rule.

``.venv/rasa/bin/python scripts/rule_coverage.py [--json OUT]``
(Imports only Rasa and the standard library: this file is not part of the app package.)
It relies on RulePolicy's own bookkeeping of Rasa 3.6 (`_rules_sources`,
`_run_prediction_on_trackers`), which is how Rasa itself finds rules "not in stories", and on
its rule matching (`_predicted_action_name`, `_get_possible_keys`) for shadowed steps.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _trackers(steps: list, domain: object) -> list:
    from rasa.shared.core.generator import TrainingDataGenerator
    from rasa.shared.core.training_data.structures import StoryGraph

    generator = TrainingDataGenerator(
        StoryGraph(steps), domain, augmentation_factor=0, remove_duplicates=False
    )
    return generator.generate()


def _record_agreeing_steps(policy: Any) -> set[str]:
    """Wraps the policy's prediction so that it also notes every learned step that matched a
    test story's situation where the story took that step's action (used or not)."""
    from rasa.core.policies.rule_policy import RULES

    agreeing: set[str] = set()
    predict = policy._predicted_action_name

    def predicted(tracker: Any, domain: Any, gold: str) -> tuple:
        result = predict(tracker, domain, gold)
        if result[0] == gold:
            lookup = policy.lookup[RULES]
            only = policy._get_rule_only_data()
            states = policy._prediction_states(tracker, domain, rule_only_data=only)
            matching = policy._get_possible_keys(lookup, states)
            agreeing.update(step for step in matching if lookup[step] == gold)
        return result

    policy._predicted_action_name = predicted
    return agreeing


def coverage(rules_dir: Path, stories_dir: Path, domain_file: Path, config_file: Path) -> dict:
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import (
        YAMLStoryReader,
    )
    from rasa.shared.utils.io import read_yaml_file

    domain = Domain.load(str(domain_file))

    def read(folder: Path) -> list:
        reader = YAMLStoryReader(domain)
        return [step for f in sorted(folder.glob("*.yml")) for step in reader.read_from_file(f)]

    rule_trackers = [t for t in _trackers(read(rules_dir), domain) if t.is_rule_tracker]
    test_trackers = _trackers(read(stories_dir), domain)

    policies = read_yaml_file(str(config_file)).get("policies", [])
    settings = next((p for p in policies if p.get("name") == "RulePolicy"), {})
    own = {key: value for key, value in settings.items() if key != "name"}
    config = {**RulePolicy.get_default_config(), **own}
    with tempfile.TemporaryDirectory() as storage_dir:
        policy = RulePolicy.create(
            config,
            LocalModelStorage(Path(storage_dir)),
            Resource("rule_coverage"),
            ExecutionContext(GraphSchema({}), "rule_coverage"),
        )
        # Training fills `_rules_sources`: learned step -> the rules that taught it.
        policy.train(rule_trackers, domain)
        agreeing = _record_agreeing_steps(policy)
        _errors, used = policy._run_prediction_on_trackers(
            test_trackers, domain, collect_sources=False
        )

    steps_of: dict[str, set[str]] = defaultdict(set)
    for step, sources in policy._rules_sources.items():
        for rule_name, _action in sources:
            steps_of[rule_name].add(step)
    names = sorted({t.sender_id for t in rule_trackers})
    result: dict[str, list] = {"exercised": [], "partly": [], "not_exercised": []}
    for name in names:
        taught = steps_of.get(name, set())
        hit = taught & used
        if taught and hit == taught:
            result["exercised"].append(name)
        elif hit:
            shadowed = (taught - hit) & agreeing
            result["partly"].append([name, len(hit), len(taught), len(shadowed)])
        else:
            result["not_exercised"].append(name)
    result["test_stories"] = len(test_trackers)
    return result


def print_report(result: dict) -> None:
    total = len(result["exercised"]) + len(result["partly"]) + len(result["not_exercised"])
    print(
        f"  rules exercised by the {result['test_stories']} test stories: "
        f"{len(result['exercised'])} of {total} fully, {len(result['partly'])} partly, "
        f"{len(result['not_exercised'])} not at all"
    )
    for name in result["not_exercised"]:
        print(f"    not exercised: {name}")
    for name, hit, taught, shadowed in result["partly"]:
        print(f"    partly ({hit} of {taught} steps): {name}")
        if shadowed:
            print(
                f"      shadowed ({shadowed} of {taught - hit} steps left): the tests reach "
                "them and take their action, which a longer rule predicts"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=Path, default=ROOT / "assistant" / "rules")
    parser.add_argument("--stories", type=Path, default=ROOT / "tests" / "assistant" / "stories")
    parser.add_argument("--domain", type=Path, default=ROOT / "domain.yml")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yml")
    parser.add_argument("--json", type=Path, help="also write the result as JSON")
    args = parser.parse_args()
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # RulePolicy's debug states would flood the report
    logging.disable(logging.WARNING)
    result = coverage(args.rules, args.stories, args.domain, args.config)
    print_report(result)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
