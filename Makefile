# The two commands of the README:
#   make run    create .venv, install gaussdsm, run the default study to figures
#   make test   same set-up, then the whole test suite
# and the documentation: make docs (same set-up plus the docs extra, then an offline Sphinx build).
PYTHON ?= python3
VENV   ?= .venv
CORES  ?= all
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.installed-docs

.PHONY: run test docs install lint report clean-results help FORCE

help:
	@echo "make run     - set up $(VENV) and run the default study (snakemake --cores $(CORES))"
	@echo "make test    - set up $(VENV) and run the test suite (pytest)"
	@echo "make docs    - set up $(VENV) with the docs extra and build the documentation into docs/_build/html"
	@echo "make report  - build report.html from the finished default study"
	@echo "make lint    - snakemake --lint"

# A venv is tied to its path (script shebangs, the editable install): if this one's gaussdsm is not this checkout's
# or its scripts point elsewhere (the clone was moved or copied), rebuild it from scratch.
HASH := \#
VENV_OK := $(shell test -f $(STAMP) \
	&& head -1 $(BIN)/snakemake 2>/dev/null | grep -qxF '$(HASH)!$(abspath $(BIN))/python' \
	&& $(BIN)/python -c 'import importlib.util as u, pathlib as p, sys; s = u.find_spec("gaussdsm"); \
	   sys.exit(not (s and p.Path(s.origin).resolve() == p.Path("src/gaussdsm/__init__.py").resolve()))' \
	   2>/dev/null && echo yes)
ifneq ($(VENV_OK),yes)
ifneq ($(wildcard $(STAMP)),)
$(info $(VENV) does not belong to this checkout ($(CURDIR)): the clone was moved or copied; rebuilding it)
endif
STAMP_FORCE := FORCE
VENV_CLEAR := --clear
endif

$(STAMP): pyproject.toml $(STAMP_FORCE)
	$(PYTHON) -m venv $(VENV_CLEAR) $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# The docs extra on top of the test install: its own stamp, redone when pyproject.toml changes or the venv is rebuilt.
$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test,docs]"
	touch $(DOCS_STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)

test: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest $(PYTEST_ARGS)

# Offline: no intersphinx, the examples run here (sphinx-gallery), warnings are errors.
docs: $(DOCS_STAMP)
	rm -rf docs/_build docs/auto_examples
	MPLBACKEND=Agg $(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html
	@echo "documentation: docs/_build/html/index.html"

lint: $(STAMP)
	$(BIN)/snakemake --lint

report: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --report report.html

clean-results:
	rm -rf results logs report.html

FORCE:
