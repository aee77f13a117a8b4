# The two commands of the README: `make demo` and `make test`. Both create .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PIP := $(VENV)/bin/python -m pip
# Every install goes through constraints.txt (torch pinned to the local CPU wheel).
INSTALL := $(PIP) install --quiet --constraint constraints.txt

.PHONY: demo test lint clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: $(VENV)/bin/python pyproject.toml constraints.txt
	$(INSTALL) -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(INSTALL) -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/convzoo tour

test: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check src tests tools
	$(VENV)/bin/python -m pytest -n 2

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check src tests tools

clean:
	rm -rf $(VENV) build src/*.egg-info
