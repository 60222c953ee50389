# One command to start the service on the embedded default, one to run the tests.
# Both set up .venv first (again whenever pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint clean

# The example roster goes only into an empty database: a restart never replaces (or switches
# off) the organizer's own hotlines. Set HOTLINE_ROSTER to keep a roster file in sync instead.
run: $(VENV)/.installed
	$(BIN)/hotline roster load --if-empty examples/roster.yaml
	$(BIN)/hotline serve

test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
	$(BIN)/pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) hotline.db hotline.db-wal hotline.db-shm
