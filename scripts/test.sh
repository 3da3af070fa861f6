#!/bin/sh
# Everything `make test` checks, in order: lint, known vulnerabilities, training data, model,
# conversations, held-out NLU accuracy, then the pytest suites (store, actions, API, end to end).
set -eu
cd "$(dirname "$0")/.."
APP=.venv/app/bin
RASA=.venv/rasa/bin/rasa
export RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 HF_HUB_OFFLINE=1 PYTHONWARNINGS=ignore
mkdir -p var/log var/results

quiet() {  # run a command with its output in a log; show the log's tail if it fails
  log="$1"; shift
  if ! "$@" >"$log" 2>&1; then
    tail -n 40 "$log"; echo "FAILED: $* (full log: $log)"; exit 1
  fi
}

echo "[1/7] lint (ruff)"
$APP/ruff check .
$APP/ruff format --check .

echo "[2/7] known vulnerabilities in both environments (pip-audit; requirements/audit-allowlist.toml)"
$APP/python -m scripts.audit

echo "[3/7] training data (rasa data validate --fail-on-warnings)"
quiet var/log/validate.log $RASA data validate --data assistant --domain domain.yml \
  --config config.yml --fail-on-warnings

echo "[4/7] Rasa model"
$APP/python -m scripts.train
MODEL="$($APP/python -c 'from scripts.train import model_path; print(model_path())')"

echo "[5/7] conversation tests (rasa test core --fail-on-prediction-errors)"
quiet var/log/test-core.log $RASA test core --model "$MODEL" --stories tests/assistant/stories \
  --fail-on-prediction-errors --out var/results/core
$APP/python -m scripts.reports core var/results/core
# Which training rules no test story reaches (a report; it fails nothing).
.venv/rasa/bin/python scripts/rule_coverage.py --json var/results/core/rule_coverage.json 2>/dev/null

echo "[6/7] held-out NLU files (in-scope intents, off-topic rejection, entities)"
for SET in nlu nlu_fresh; do
  echo "  tests/assistant/$SET"
  quiet var/log/test-$SET.log .venv/rasa/bin/python scripts/nlu_predict.py "$MODEL" \
    "tests/assistant/$SET" "var/results/nlu/$SET.json"
  $APP/python -m scripts.reports nlu "$SET" "var/results/nlu/$SET.json"
done

echo "[7/7] pytest (store, actions, API, browser, end to end)"
scripts/ensure-chromium.sh
REQUIRE_BROWSER=1 $APP/pytest tests
