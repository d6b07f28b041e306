# Kofu: one entry for people. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: help demo test lint bench samples setup system-packages kiosk-voice clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 18

setup: system-packages $(STAMP) $(VENV)/kofu-wallclock.so kiosk-voice  ## create .venv and install Kofu with its dev tools

system-packages:
	@scripts/ensure-system-packages.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

# The wall-clock shift scripts/at-clock preloads (CI runs the end-to-end tests at night with it).
$(VENV)/kofu-wallclock.so: scripts/wallclock/wallclock.c $(STAMP)
	@scripts/wallclock/build $@

# The touch kiosk's voice guidance (espeak-ng clips into src/kofu/kiosk/web/voice; skipped when up to date).
kiosk-voice: $(STAMP)
	@$(BIN)/python -m kofu.kiosk.web.voice

demo: setup  ## start every service on loopback with sample data (Ctrl-C stops)
	$(BIN)/kofu demo $(DEMO_ARGS)

test: setup  ## run the whole test suite (SQLite and PostgreSQL)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup  ## ruff and mypy
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src/kofu

bench: setup  ## print benchmark figures (never fails the build)
	-$(BIN)/kofu bench all

samples: setup  ## render one page of each certificate kind to docs/images/*.png (for the README)
	$(BIN)/python scripts/samples.py docs/images

clean:  ## remove the virtual environment and demo data
	rm -rf $(VENV) var
