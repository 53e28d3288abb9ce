# SQSNet lab. `make app` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The torch pair this lab is tested with; override for your platform, e.g.
#   make test TORCH="torch torchvision"
TORCH ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.sqsnet-installed
PYTEST_ARGS ?=
# e.g. make app APP_ARGS="--gallery ../shared/data/ferplus/FER2013Valid --checkpoints runs"
APP_ARGS ?=

.PHONY: help install app test lab benchmarks app-load chromium clean

help:
	@echo "make app    - install (once) and launch the SQSNet lab app on 127.0.0.1"
	@echo "make test   - install (once) and run the whole test suite"
	@echo "make lab    - install (once) and open JupyterLab on notebooks/"
	@echo "make benchmarks - run the CPU benchmarks (writes JSON to benchmarks/results/)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml Makefile | $(BIN)/python
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[app,notebooks,dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

install: $(STAMP)

app: install
	$(BIN)/python apps/sqsnet_space/app.py $(APP_ARGS)

# Debian's Chromium for the browser tests; failure is tolerated (those tests then skip).
chromium:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
		|| echo "chromium not installed: browser tests will be skipped"; \
	fi

test: install chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lab: install
	$(BIN)/jupyter lab notebooks/

benchmarks: install
	$(BIN)/python benchmarks/train_step.py --json benchmarks/results/train_step_cpu.json

app-load: install
	$(BIN)/python benchmarks/app_load.py --json benchmarks/results/app_load.json

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info
