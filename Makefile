# Switchboard developer commands. `make help` lists them.
# Everything installs into .venv from this repo's own files; Kafka jars come from Maven Central.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The lowest versions pyproject.toml allows, in a venv of their own (see test-lowest).
LOWEST := .venv-lowest
# The whole dependency tree is pinned in requirements/: dev.lock (CI and .venv), runtime.lock
# (the image), lowest.lock (test-lowest). uv writes them; `make lock` refreshes them.
UV_PIN  = $$(grep -m1 '^uv==' requirements/dev.lock)
COMPILE = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 \
	--custom-compile-command 'make lock' pyproject.toml

.DEFAULT_GOAL := help

help: ## List the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# Installs exactly the pinned tree (sync also removes what the lock does not name), then
# Switchboard itself, editable, without resolving anything.
$(STAMP): pyproject.toml requirements/dev.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "$(UV_PIN)"
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements/dev.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

install: $(STAMP) ## Create .venv and install Switchboard with its dev tools (from requirements/dev.lock)

lock: install ## Re-resolve requirements/*.lock to the newest (and lowest) versions pyproject.toml allows
	$(COMPILE) --upgrade -o requirements/runtime.lock
	$(COMPILE) --upgrade --extra dev -o requirements/dev.lock
	$(COMPILE) --upgrade --extra dev --resolution lowest-direct -o requirements/lowest.lock

# Re-resolving without --upgrade keeps every pin that still satisfies pyproject.toml, so the
# result differs from the committed lock only when pyproject.toml changed without `make lock`.
lock-check: install ## Fail if requirements/*.lock no longer match pyproject.toml
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cp requirements/*.lock "$$tmp"/ && \
	$(COMPILE) -o "$$tmp"/runtime.lock && \
	$(COMPILE) --extra dev -o "$$tmp"/dev.lock && \
	$(COMPILE) --extra dev --resolution lowest-direct -o "$$tmp"/lowest.lock && \
	for f in runtime dev lowest; do \
		diff -u requirements/$$f.lock "$$tmp"/$$f.lock || \
		{ echo "requirements/$$f.lock is stale: run make lock"; exit 1; }; \
	done

kafka-jars: ## Fetch the pinned Apache Kafka jars with Maven (cached)
	@ls scripts/kafka/target/lib/kafka_2.13-*.jar >/dev/null 2>&1 || { \
		start=$$(date +%s); \
		echo "kafka-jars: fetching the Kafka jars with Maven into scripts/kafka/target/lib" \
			"(first run only: about 55 MB from Maven Central, a minute or so; then cached)"; \
		mvn -B -q -f scripts/kafka/pom.xml dependency:copy-dependencies && \
		echo "kafka-jars: done in $$(( $$(date +%s) - start )) s"; }

kustomize: ## Build the pinned kustomize into .tools/bin for the deployment tests, once (needs Go)
	@bash scripts/install-kustomize.sh >/dev/null

redis: ## Install redis-server (Debian's package) for the shared-state tests, once
	@command -v redis-server >/dev/null || (apt-get update -qq && apt-get install -y -qq redis-server)

dev: install kafka-jars ## Start Kafka, one stream worker and the gateway (Ctrl-C stops all)
	$(BIN)/switchboard dev

test: check kafka-jars kustomize promtool redis ## What CI runs: check, every test, then the unit tests on the lowest versions
	$(BIN)/pytest
	$(MAKE) --no-print-directory test-lowest

test-lowest: install ## The unit tests on the lowest versions pyproject.toml allows (requirements/lowest.lock)
	@test -x $(LOWEST)/bin/python || $(PYTHON) -m venv $(LOWEST)
	$(BIN)/uv pip sync --quiet --python $(LOWEST)/bin/python requirements/lowest.lock
	$(BIN)/uv pip install --quiet --python $(LOWEST)/bin/python --no-deps -e .
	$(LOWEST)/bin/pytest tests/unit -q -p no:cacheprovider

promtool: ## Install promtool (Debian's prometheus package) for the alert rule tests
	@command -v promtool >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus)

# One target for every static check, so CI and a developer run the same ones.
check: install lock-check ## ruff format, ruff, mypy --strict (packages, tests, bench, examples), import contracts
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

lint: check ## The same as check

clean: ## Remove local state (.dev, .kafka, .venv-lowest) but keep .venv and the jars
	rm -rf .dev .kafka $(LOWEST)

.PHONY: help install lock lock-check kafka-jars kustomize redis promtool dev check lint test test-lowest clean
