# Switchboard developer commands. `make help` lists them.
# Everything installs into .venv from this repo's own files; Kafka jars come from Maven Central.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help

help: ## List the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(STAMP) ## Create .venv and install Switchboard with its dev tools

kafka-jars: ## Fetch the pinned Apache Kafka jars with Maven (cached)
	@ls scripts/kafka/target/lib/kafka_2.13-*.jar >/dev/null 2>&1 || { \
		start=$$(date +%s); \
		echo "kafka-jars: fetching the Kafka jars with Maven into scripts/kafka/target/lib" \
			"(first run only: about 55 MB from Maven Central, a minute or so; then cached)"; \
		mvn -B -q -f scripts/kafka/pom.xml dependency:copy-dependencies && \
		echo "kafka-jars: done in $$(( $$(date +%s) - start )) s"; }

redis: ## Install redis-server (Debian's package) for the shared-state tests, once
	@command -v redis-server >/dev/null || (apt-get update -qq && apt-get install -y -qq redis-server)

dev: install kafka-jars ## Start Kafka, one stream worker and the gateway (Ctrl-C stops all)
	$(BIN)/switchboard dev

test: install kafka-jars promtool redis ## Lint, then run every test (unit, real-Kafka integration, deploy)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

promtool: ## Install promtool (Debian's prometheus package) for the alert rule tests
	@command -v promtool >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus)

lint: install ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy schemas gateway streams switchboard

clean: ## Remove local state (.dev, .kafka) but keep .venv and the jars
	rm -rf .dev .kafka

.PHONY: help install kafka-jars redis promtool dev test lint clean
