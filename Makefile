# hypermicro: the two commands a new machine needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SHARED ?= ../shared/data
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo test test-fast lint evals servers stop-servers clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Python deps: torch==2.13.0 is pinned; pip picks a local CPU wheel from PIP_FIND_LINKS if one is there.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed
	bash deploy/local/kafka.sh install
	bash deploy/local/clickhouse.sh install
	bash deploy/local/browser.sh install

servers: setup
	bash deploy/local/kafka.sh start
	bash deploy/local/clickhouse.sh start

stop-servers:
	-bash deploy/local/kafka.sh stop
	-bash deploy/local/clickhouse.sh stop

## The main job end to end on embedded ClickHouse with the bundled sample.
demo: $(VENV)/.installed
	bash deploy/local/kafka.sh install
	$(BIN)/hypermicro demo

## The whole test suite (real Kafka + ClickHouse server), lint, and eval floors when shared data exists.
test: servers lint
	$(BIN)/pytest -q -p no:cacheprovider
	@if [ -d "$(SHARED)" ]; then $(BIN)/python benchmarks/check_evals.py --shared "$(SHARED)"; \
	  else echo "no $(SHARED): eval floors skipped"; fi

test-fast: $(VENV)/.installed
	$(BIN)/pytest -q -m "not slow and not kafka and not chserver and not browser"

evals: $(VENV)/.installed
	$(BIN)/python benchmarks/check_evals.py --shared "$(SHARED)"

## Style, types and the floor plan (import contracts in pyproject.toml, see docs/architecture.md).
lint: $(VENV)/.installed
	$(BIN)/ruff check pipeline connectors models tests benchmarks
	$(BIN)/mypy pipeline connectors models
	$(BIN)/lint-imports

clean:
	rm -rf .data .var
