# Two commands matter: `make run` (the product) and `make test` (the checks).
# Both set everything up on a fresh machine; see README.md.

RASA_VENV := .venv/rasa
APP_VENV := .venv/app
APP_PY := $(APP_VENV)/bin/python
RASA := $(RASA_VENV)/bin/rasa

.PHONY: run run-prod test setup lint format train seed clean audit
.PHONY: bench-crm

run: setup
	@$(APP_PY) -m scripts.stack run

# Production mode (README "Production mode"): PostgreSQL, Redis, two Rasa servers with an
# action server each, a backend of two workers sharing the gateway's state in Redis.
run-prod: setup
	@PARCELLINE_MODE=production \
	 DATABASE_URL=$${DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/parcelline} \
	 $(APP_PY) -m scripts.stack run

test: setup
	@scripts/test.sh

setup:
	@scripts/venv.sh rasa 3.10 $(RASA_VENV) requirements/rasa.txt
	@scripts/venv.sh app 3.11 $(APP_VENV) requirements/app.txt

train: setup
	@$(APP_PY) -m scripts.train

seed: setup
	@$(APP_PY) -m backend.store.seed

bench-crm: setup
	@$(APP_PY) -m scripts.bench_crm

# Known vulnerabilities of both environments against requirements/audit-allowlist.toml.
audit: setup
	@$(APP_PY) -m scripts.audit

lint: setup
	@$(APP_VENV)/bin/ruff check . && $(APP_VENV)/bin/ruff format --check .

format: setup
	@$(APP_VENV)/bin/ruff format . && $(APP_VENV)/bin/ruff check --fix .

clean:
	rm -rf var .venv .rasa results

.PHONY: bench-knowledge
# Recall@1/@3, MRR, rejection and latency of the dense, lexical and fused knowledge rankers.
bench-knowledge: setup
	@HF_HUB_OFFLINE=1 $(APP_PY) -m knowledge.bench

.PHONY: bench-assist
# Call-assist latency through the real backend, Rasa and action server (median, p95, max).
bench-assist: setup
	@$(APP_PY) -m scripts.bench_assist
.PHONY: bench-nlu
# Held-out intent scores, off-topic rejection, entity F1 and 5-fold cross-validation.
# ARGS="--config scripts/pipelines/bow_bigrams.yml --no-cv --sweep" compares another pipeline.
bench-nlu: setup
	@$(APP_PY) -m scripts.bench_nlu $(ARGS)
.PHONY: bench
# Full-stack load: simulated shippers over the widget's WebSocket, conversational and saturation
# shapes; latency per turn type, turns/s, errors, memory. ARGS="--quick", "--profile var/profile",
# "--phase-seconds 120", "--time-training", "--save-baseline".
bench: setup
	@$(APP_PY) -m scripts.bench $(ARGS)
.PHONY: bench-prod
# Production mode on this machine's PostgreSQL and Redis: saturation with one and with two Rasa
# servers (turns/s, p95 per turn type), then the soak (200 conversations filing complaints and
# answering surveys, every confirmed ticket and answer checked in the store). ARGS="--quick",
# "--phase-seconds 90", "--shippers 32", "--conversations 400", "--concurrency 64".
bench-prod: setup
	@$(APP_PY) -m scripts.bench_prod $(ARGS)
