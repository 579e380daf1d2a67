# The two commands of the README:
#   make run    create .venv, install gaussdsm, run the default study to figures
#   make test   same set-up, then the whole test suite
PYTHON ?= python3
VENV   ?= .venv
CORES  ?= all
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install lint report clean-results help FORCE

help:
	@echo "make run     - set up $(VENV) and run the default study (snakemake --cores $(CORES))"
	@echo "make test    - set up $(VENV) and run the test suite (pytest)"
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

FORCE:
