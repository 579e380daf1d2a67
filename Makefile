# The two commands of the README:
#   make run    create .venv, install gaussdsm, run the default study to figures
#   make test   same set-up, then the whole test suite
PYTHON ?= python3
VENV   ?= .venv
CORES  ?= all
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install lint report clean-results help

help:
	@echo "make run     - set up $(VENV) and run the default study (snakemake --cores $(CORES))"
	@echo "make test    - set up $(VENV) and run the test suite (pytest)"
	@echo "make report  - build report.html from the finished default study"
	@echo "make lint    - snakemake --lint"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)

test: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/snakemake --lint

report: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --report report.html

clean-results:
	rm -rf results logs report.html
