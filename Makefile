# Two commands do all set-up on a fresh machine:
#   make lab    create .venv (if needed), install the pinned course packages, open JupyterLab on your workspace
#   make test   create/refresh .venv with the test tools and run every test
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
LAB_PORT ?= 8888
# JupyterLab refuses to run as root unless told; CI and containers run as root.
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
PYTEST_WORKERS ?= 2

.PHONY: lab test loopback venv dev notebooks check-notebooks nbval clean-venv help test-portable

help:
	@echo "make lab   - set up (first time) and open the course in JupyterLab"
	@echo "make test  - set up with test tools and run the whole test suite"

$(PY):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "the course needs Python 3.10 or newer"'
	$(PYTHON) -m venv $(VENV)

# Stamps: reinstall only when a requirements file or pyproject.toml changed.
$(VENV)/.installed: requirements.txt pyproject.toml | $(PY)
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps --no-build-isolation -e .
	@touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PIP) install -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed
dev: $(VENV)/.installed-dev

lab: venv
	$(PY) -m utils.workspace
	$(PY) -m jupyter lab --ip=127.0.0.1 --port=$(LAB_PORT) --notebook-dir=my-work $(ROOT_FLAG)

notebooks: venv
	$(PY) -m utils.generate

check-notebooks: venv
	$(PY) -m utils.generate --check

# Unit, check, grader and browser tests; then every solution under nbval strict; then learner notebooks (lax); then the
# solutions again on one simulated other machine (tests/portability.py: forced faiss/torch code paths, thread count).
# With the network cut (`unshare -n make test`) the loopback interface of the new namespace starts down, and Jupyter
# kernels and JupyterLab talk over 127.0.0.1: bring it up when we may (nothing outside the machine becomes reachable).
loopback:
	@if command -v ip >/dev/null 2>&1 && ip link show lo 2>/dev/null | grep -q "state DOWN"; then \
		ip link set lo up 2>/dev/null && echo "loopback was down: brought it up" || true; fi

test: dev loopback
	$(PY) -m utils.generate --check
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile tests
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile -p no:cacheprovider --nbval --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=600 solutions
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile -p no:cacheprovider --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=600 notebooks
	$(PY) tests/portability.py --rotate -- -n $(PYTEST_WORKERS) --dist loadfile solutions

# Every solution under nbval strict on 8 simulated machines (faiss generic/avx2 x torch default/avx2 x 1/2 threads);
# `make test` runs one of them per day, this runs all (about 8 x 4 min on 2 cores).
test-portable: dev loopback
	$(PY) tests/portability.py -- -n $(PYTEST_WORKERS) --dist loadfile solutions

# The course as an offline website (executed solutions, math, widgets in their saved state) in _build/site.
.PHONY: site
site: venv
	$(PY) site/build.py

clean-venv:
	rm -rf $(VENV)
