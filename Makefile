# make train: install and fine-tune the embedded MiniLM (offline), the quick start: configs/train_quick.yaml
#             (the published configuration with its large sources capped harder), or configs/train.yaml
#             (TweetEval alone) without the sources. make train-full: the published configuration, chosen by
#             rule 5 (TweetEval hate + eight public sources with DynaHate, the large ones capped, temperature 2,
#             disguised spellings undone before the model reads them).
# make test:  install with test tools and run the test suite (the command CI runs).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
# Local TweetEval copy when present; otherwise train.py downloads cardiffnlp/tweet_eval from the Hub.
DATA_DIR ?= $(firstword $(wildcard ../shared/tweeteval/hate))
# Optional package index for torch, e.g. https://download.pytorch.org/whl/cpu on machines without it on disk.
TORCH_INDEX ?=
TRAIN_ARGS ?=
# The quick multi-source configuration when the sources are there, else TweetEval alone.
TRAIN_CONFIG ?= $(if $(wildcard ../shared/hate_sources),configs/train_quick.yaml,configs/train.yaml)

# The site's Mermaid diagrams render offline: mermaid from its npm package, served with the site (not from a CDN).
MERMAID_VERSION ?= 11.17.2
MERMAID_JS := docs/javascripts/mermaid.min.js

.PHONY: install install-dev browser postgres prometheus train train-full search search-worker test lint format clean serve docs

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The CPU build of torch first, so nothing below pulls a multi-GB CUDA wheel.
	$(PY) -m pip install --quiet $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) torch==2.13.0
	$(PY) -m pip install --quiet -r requirements.txt
	# The package itself, editable: scripts, benchmarks and experiments import it from anywhere.
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt pyproject.toml
	$(PY) -m pip install --quiet -r requirements-dev.txt
	# The optional extras, so that the suite covers them: Ray (predict.py --cluster) and MLflow (--report_to mlflow).
	$(PY) -m pip install --quiet -e ".[cluster,tracking]"
	touch $@

train: install
	$(PY) train.py --config $(TRAIN_CONFIG) $(if $(DATA_DIR),--data_dir $(DATA_DIR)) $(TRAIN_ARGS)

train-full: install
	$(PY) train.py --config configs/train_full.yaml $(if $(DATA_DIR),--data_dir $(DATA_DIR)) $(TRAIN_ARGS)

search: install
	$(PY) train.py --search $(if $(DATA_DIR),--data_dir $(DATA_DIR)) $(TRAIN_ARGS)

# An extra machine of a shared study: make search-worker STORAGE=postgresql+psycopg://... STUDY=hate N_TRIALS=40
search-worker: install
	@test -n "$(STORAGE)" || (echo "set STORAGE=<the study's database URL>, the same as the coordinator's" && exit 2)
	$(PY) train.py --search --search_only --storage "$(STORAGE)" --study_name $(or $(STUDY),hatespeech) \
		--n_trials $(or $(N_TRIALS),10) --output_dir outputs/search-worker $(if $(DATA_DIR),--data_dir $(DATA_DIR)) $(TRAIN_ARGS)

# Debian's chromium for the browser tests (playwright drives it; it cannot download its own here).
browser:
	@test -n "$$CHROMIUM_PATH" || command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium) \
		|| echo "chromium could not be installed (not root?): the browser test will be skipped"

# Debian's PostgreSQL for the shared-study tests (a throw-away cluster per test run, on loopback).
postgres:
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
		|| (apt-get update -q && apt-get install -y -q postgresql) \
		|| echo "postgresql could not be installed (not root?): the shared-study tests will be skipped"

# Debian's Prometheus: promtool for the alert-rule tests, the server for the end-to-end drift alert test.
prometheus:
	@command -v promtool >/dev/null || (apt-get update -q && apt-get install -y -q prometheus) \
		|| echo "prometheus could not be installed (not root?): the alerting tests will be skipped"

$(MERMAID_JS):
	@command -v npm >/dev/null || (apt-get update -q && apt-get install -y -q npm)
	mkdir -p $(dir $@)
	cd $$(mktemp -d) && npm pack --silent mermaid@$(MERMAID_VERSION) >/dev/null \
		&& tar -xzf mermaid-$(MERMAID_VERSION).tgz package/dist/mermaid.min.js && mv package/dist/mermaid.min.js $(CURDIR)/$@

test: install-dev browser postgres prometheus $(MERMAID_JS)
	$(PY) -m pytest

serve: install
	MODEL_ID=$${MODEL_ID:-outputs/model} $(PY) app.py

# The documentation site into site/ (mkdocs.yml; strict: a broken link or a missing page fails), offline.
docs: install-dev $(MERMAID_JS)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

lint: install-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	# The package's layering (contracts in pyproject.toml): stages import downwards, the server no training code.
	$(VENV)/bin/lint-imports
	$(VENV)/bin/hadolint Dockerfile
	$(VENV)/bin/actionlint .github/workflows/*.yml

format: install-dev
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

clean:
	rm -rf $(VENV) outputs site
